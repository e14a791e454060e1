// deepsz/container.h: the .dsz container (docs/FORMAT.md).
//
// A .dsz file holds named tensors, each with dtype, shape, codec, error bound
// and its streams (index of nonzeros, values), an XXH64 per tensor and one for
// the header, and model metadata as key/value pairs. The reader checks every
// count, size and offset against the file before allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deepsz/codec.h"
#include "deepsz/error.h"
#include "deepsz/sparse_index.h"

namespace deepsz {

// Version 2: compact directory (LEB128 varints, offsets implied by the
// layout). Version 1 files are rejected as unsupported_version.
constexpr uint32_t kContainerVersion = 2;

// Limits of format version 2 (docs/FORMAT.md). The writer refuses and the
// reader rejects anything beyond them.
constexpr size_t kContainerHeaderSize = 40;
constexpr uint32_t kMaxTensorRank = 8;
constexpr size_t kMaxTensorNameBytes = 1024;     // UTF-8, at least 1 byte
constexpr size_t kMaxMetadataKeyBytes = 256;     // UTF-8, at least 1 byte
constexpr size_t kMaxMetadataValueBytes = size_t(16) << 20;  // UTF-8, may be empty
// 2^20 tensors: a record may be as small as 7 bytes (an empty tensor), and
// the reader holds a few hundred bytes per record (docs/FORMAT.md, "Memory").
constexpr uint32_t kMaxTensors = 1u << 20;
constexpr uint32_t kMaxMetadataEntries = 1u << 16;
constexpr uint64_t kMaxTensorElements = uint64_t(1) << 48;

enum class DType : uint8_t { float32 = 1 };

enum class ValueCodec : uint8_t {
  lossless = 0,  // float32 bytes through zstd
  dsz = 1,       // our error-bounded codec (codec.h)
  zfp = 2,       // ZFP fixed-accuracy, 1-D (Debian's libzfp)
};

const char* value_codec_name(ValueCodec c) noexcept;

struct TensorEntry {
  std::string name;
  DType dtype = DType::float32;
  std::vector<uint64_t> shape;
  ValueCodec value_codec = ValueCodec::lossless;
  double error_bound = 0.0;          // absolute; 0 for lossless
  bool sparse = false;               // true: values are the nonzeros only
  std::vector<uint8_t> index_stream; // sparse_index.h stream (sparse only)
  std::vector<uint8_t> value_stream;

  uint64_t element_count() const;    // product of shape (1 for a scalar)
};

struct Container {
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<TensorEntry> tensors;

  const TensorEntry* find(const std::string& name) const;
  // Value of a metadata key, or `fallback` when absent.
  std::string meta(const std::string& key, const std::string& fallback = "") const;
  void set_meta(const std::string& key, const std::string& value);
};

// Throws Error(invalid_argument) when `entry` breaks a rule of the format
// (name, shape, codec id, bound, sparse flag vs. streams); the writer and
// decode_tensor call it, the reader applies the same rules to the bytes.
void validate_tensor_entry(const TensorEntry& entry);

// Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF); NUL refused.
bool is_valid_utf8(const std::string& s) noexcept;

std::vector<uint8_t> serialize_container(const Container& c);
// The header and directory of serialize_container's bytes: the tensors'
// streams follow them back to back (index, then values, in order).
std::vector<uint8_t> serialize_container_head(const Container& c);
// Validates magic, version, every size and offset, and both checksums.
Container parse_container(const uint8_t* data, size_t size);

// Writes to a temporary file beside `path`, then renames it into place; on
// any failure nothing is left at `path`.
// The streams are written from the entries, not copied into one buffer first.
void write_container_file(const Container& c, const std::string& path);
Container read_container_file(const std::string& path);
// Whether the file at `path` holds exactly serialize_container(c), read and
// compared a few MB at a time (the check after writing a large model's .dsz,
// without a second copy of its streams).
bool container_file_matches(const Container& c, const std::string& path);

// Whole-file helpers shared with the tools. write_file_atomically writes a
// temporary file in the directory of `path` (mode 0666 & ~umask), fsyncs it,
// renames it into place and fsyncs the directory; on failure the temporary is
// removed and Error(io_error) is thrown.
std::vector<uint8_t> read_file_bytes(const std::string& path);
void write_file_atomically(const std::string& path, const uint8_t* data, size_t size);

// The same, written as it is produced: the constructor creates the temporary
// (registered with interrupt.h), write() appends to it, commit() fsyncs it,
// renames it into place and fsyncs the directory. Destroyed uncommitted (an
// exception on the way), the temporary is removed and `path` is untouched.
// Errors are Error(io_error) naming `path`.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(const void* data, size_t size);
  void commit();
  uint64_t bytes_written() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- Tensor encoding on top of the codecs --------------------------------

struct TensorEncodeOptions {
  ValueCodec codec = ValueCodec::dsz;
  double abs_error_bound = 0.0;      // for dsz / zfp
  bool sparse = false;               // store an index of nonzeros + values
  IndexCoding index_coding = IndexCoding::context;
  Predictor predictor = Predictor::automatic;
  unsigned threads = 1;
};

TensorEntry encode_tensor(const std::string& name, const std::vector<uint64_t>& shape,
                          const float* data, const TensorEncodeOptions& options);
// Dense row-major values; pruned positions are exactly 0.0f.
//
// The dense output of a sparse tensor is not bounded by the file (a fully
// pruned layer of 2^40 elements takes a few bytes): decode_tensor refuses,
// with Error(too_large) and before allocating, a tensor whose dense output
// (4 bytes an element) exceeds `max_output_bytes`. 0 means no limit.
constexpr uint64_t kDefaultMaxDecodedBytes = uint64_t(16) << 30;  // 16 GiB
std::vector<float> decode_tensor(const TensorEntry& entry, unsigned threads = 1,
                                 uint64_t max_output_bytes = kDefaultMaxDecodedBytes);
// Decodes into caller memory of exactly element_count() floats (a NumPy
// array's buffer, say): the caller's allocation is its memory limit. On a
// failure the buffer holds unspecified values.
void decode_tensor_into(const TensorEntry& entry, float* out, size_t count, unsigned threads = 1);

// The same values as decode_tensor, handed to `sink` in order, a piece at a
// time (at most about kTensorPieceValues of them, for every codec), so that a
// tensor far larger than memory can be written out: the dense output is never
// held whole. A sparse tensor's index (8 bytes a kept value) and, for the
// lossless and zfp codecs, its kept values are. The index, the streams'
// framing and a dsz stream's checksum are checked before the first piece is
// handed over; a damaged zstd payload is found as it is read (Error either
// way, as decode_tensor throws; the container's own checksum covers both).
constexpr size_t kTensorPieceValues = size_t(1) << 20;
void decode_tensor_pieces(const TensorEntry& entry, unsigned threads,
                          const std::function<void(const float* values, size_t count)>& sink);

// The flat positions of a sparse tensor's kept values, checked as every
// decode checks them: as many as its value stream holds, strictly
// increasing, each below its element count (Error(corruption_detected)
// otherwise). The masks of a decoded model are made from them.
std::vector<uint64_t> sparse_positions(const TensorEntry& entry);

// ---- ZFP (fixed-accuracy, 1-D), the peer codec ---------------------------
std::vector<uint8_t> zfp_compress_floats(const float* data, size_t count, double tolerance);
std::vector<float> zfp_decompress_floats(const uint8_t* stream, size_t size);

}  // namespace deepsz
