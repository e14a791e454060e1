// deepsz/interchange.h: model files in the formats people exchange
// (safetensors here, ONNX in deepsz/onnx.h) taken apart into a frame and
// tensors, and the weights-only compression of them into a .dsz container
// (docs/FORMATS.md). Torch-free: needs the format and the codec only.
//
// A model file is seen as a *frame* (everything but the tensor bytes: the
// safetensors header verbatim, the ONNX model without the data of its float
// initializers) and a list of tensors with their bytes as the file holds
// them. Float tensors (f32, f16, bf16) are coded within a bound that holds
// for the value as written back in its own dtype; every other tensor, and the
// frame, is stored bit-exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepsz/container.h"

namespace deepsz::interchange {

// How a tensor's bytes are held: as values of one of the three float types
// (coded within the bound), or as bytes (lossless).
enum class Storage : uint8_t { f32, f16, bf16, bytes };
const char* storage_name(Storage s) noexcept;
size_t storage_element_bytes(Storage s) noexcept;  // 0 for bytes

struct RawTensor {
  std::string name;
  std::string dtype;            // as the source format spells it ("F16", "FLOAT", ...)
  Storage storage = Storage::bytes;
  std::vector<uint64_t> shape;  // the file's shape (any rank)
  std::vector<uint8_t> bytes;   // little-endian, exactly as in the file

  uint64_t element_count() const;
};

struct WeightsFile {
  std::string format;           // "safetensors" or "onnx"
  std::vector<uint8_t> frame;   // the rest of the file (see above)
  std::vector<RawTensor> tensors;
};

// ---- safetensors ----------------------------------------------------------
// Refuses (Error, one line, naming the tensor) a header length past the end,
// a header that is not a JSON object of well-formed entries, duplicate keys,
// an unknown dtype, a byte count other than shape x dtype size, offsets past
// the end of the data, begin > end, overlapping tensors, gaps between them
// and bytes after the last one.
WeightsFile parse_safetensors(const uint8_t* data, size_t size);
// The file again: the stored header verbatim, each tensor at its offsets.
// Refuses tensors that do not match the header (names, dtypes, shapes, sizes).
std::vector<uint8_t> serialize_safetensors(const WeightsFile& w);

// ---- Float conversions (round to nearest, ties to even; NaN payloads kept)
float half_to_float(uint16_t h) noexcept;
uint16_t float_to_half(float f) noexcept;
float bfloat16_to_float(uint16_t h) noexcept;
uint16_t float_to_bfloat16(float f) noexcept;

// The values of an f32, f16 or bf16 tensor as float32, each exactly.
std::vector<float> float_values(const RawTensor& t);

// ---- Weights-only compression ---------------------------------------------
struct BoundRule {
  enum class Kind { absolute, relative_range, relative_rms };
  Kind kind = Kind::absolute;
  double value = 0.0;  // finite, >= 0; 0 = lossless
  std::string text() const;  // "abs 0.001", "rel-range 0.01", "rel-rms 0.05"
};

struct WeightsOptions {
  BoundRule bound;
  unsigned threads = 1;
  std::string creator = "dsz";
};

// What happened to one tensor.
struct TensorSummary {
  std::string name, dtype;
  Storage storage = Storage::bytes;
  std::vector<uint64_t> shape;
  uint64_t original_bytes = 0, stored_bytes = 0;  // stored: its streams
  double bound = 0.0;        // promised on every value, in its own dtype (0: bit-exact)
  double coded_bound = 0.0;  // given to the codec (smaller for f16/bf16)
  std::string codec;         // lossless, dsz
  bool sparse = false;
  double max_abs_error = -1;  // measured for f16/bf16 (each value checked), -1 if not
};

struct WeightsReport {
  std::vector<TensorSummary> tensors;
  uint64_t original_bytes = 0;  // tensor bytes of the source
  uint64_t frame_bytes = 0;
};

// The container of a model file. For f16/bf16 each value is decoded and
// rounded to its dtype as the decoder will, and checked against the bound;
// a tensor that fails (it cannot after the bound's reduction, but the check
// does not rely on that) is stored losslessly instead.
Container compress_weights(const WeightsFile& w, const WeightsOptions& o, WeightsReport* report = nullptr);

// True for a container written by compress_weights.
bool is_weights_container(const Container& c);
std::string weights_container_format(const Container& c);  // "" if not one

// The frame and tensors back (values in their dtypes). Refuses a container
// whose records do not agree with its metadata. The format's serializer then
// checks them against the frame.
WeightsFile decompress_weights(const Container& c, unsigned threads = 1,
                               uint64_t max_output_bytes = kDefaultMaxDecodedBytes);

// Per tensor: name, dtype, shape, bytes before and after, bound, codec.
nlohmann::json describe_weights_container(const Container& c, uint64_t file_bytes);
nlohmann::json describe_weights_file(const WeightsFile& w, uint64_t file_bytes);

// The name of the container tensor that holds the frame; no tensor of a
// model may have it.
constexpr const char* kFrameTensorName = "@frame";

}  // namespace deepsz::interchange
