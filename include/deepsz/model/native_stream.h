// deepsz/model/native_stream.h: a deepsz-native model file written tensor by
// tensor, as the tensors are produced (torch-free; no tensor is held whole).
//
// The bytes are those Model::save writes for the same model: the PyTorch zip
// archive of torch::pickle_save (stored records, 64-byte aligned, data
// descriptors, zip64 end records; "archive/data/N", "archive/data.pkl",
// "archive/version") holding {format, version, metadata, parameters, masks}
// with the checksums of docs/MODEL.md. `deepsz decompress` writes a native
// model this way (docs/SCALE.md, "Memory"); tests/model compares it with
// Model::save byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "deepsz/model/model.h"

namespace deepsz::model {

// Receives a tensor's bytes, in order, a piece at a time.
using ByteSink = std::function<void(const void* bytes, size_t count)>;

struct StreamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  // Hands the tensor's row-major bytes to the sink: float32 for a parameter,
  // one byte (0 or 1) an element for a mask, exactly the shape's worth.
  std::function<void(const ByteSink&)> produce;
};

// What Model::create(architecture, input, classes) records, without making
// the tensors: its metadata and its parameters' names and shapes in file order.
struct NativeLayout {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, std::vector<int64_t>>> parameters;
};
NativeLayout native_layout(const std::string& architecture, const InputShape& input, int64_t classes);

// The largest file this writer writes (it writes no zip64 entries).
constexpr uint64_t kStreamedNativeLimit = (uint64_t(1) << 32) - (uint64_t(1) << 24);
// Bytes of tensor data the file of these tensors holds (float32 parameters,
// byte masks): the caller checks it against kStreamedNativeLimit first and
// saves through Model::save beyond it.
uint64_t native_tensor_bytes(const std::vector<StreamedTensor>& parameters, const std::vector<StreamedTensor>& masks);

// Writes the file through a temporary beside `path` renamed into place
// (deepsz::AtomicFileWriter): on any error, from a producer too, nothing is
// left at `path`. Masks may come in any order (the file holds them by name).
// Errors: invalid_argument (a producer handed the wrong byte count, a checksum
// key in the metadata, a mask of no parameter), too_large (beyond the limit),
// io_error.
void save_native_streamed(const std::string& path, const std::map<std::string, std::string>& metadata,
                          const std::vector<StreamedTensor>& parameters, const std::vector<StreamedTensor>& masks);

}  // namespace deepsz::model
