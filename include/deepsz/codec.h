// deepsz/codec.h: the error-bounded lossy compressor for float32 arrays.
//
// Guarantee: for every finite input x the decoded x' satisfies
// |double(x') - double(x)| <= abs_error_bound. NaN, +-Inf, values whose
// quantisation code would be out of range and values that fail the check as
// the decoder will rebuild them are stored exactly (bit for bit).
// abs_error_bound == 0 means lossless (every value bit-exact).
//
// The stream is self-describing (magic, version, count, bound, predictor,
// chunk table); see docs/CODEC.md. It is cut into chunks that are coded
// independently, so encoding and decoding run on N threads and the output is
// byte-identical for any N. Small arrays (one chunk of at most 65,536 values)
// get the compact form (version 2) when it is smaller: a varint header, an
// adaptive entropy coder with no stored frequency table, and no checksum of
// its own (the .dsz container checks every stream with an XXH64).
//
// This library links only zstd, xxhash and the C++ standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "deepsz/error.h"

namespace deepsz {

enum class Predictor : uint8_t {
  none = 0,          // code each value on its own (pruned weights)
  lorenzo = 1,       // 1-D previous-value prediction (smooth data)
  automatic = 0xFF,  // encoder picks per stream from a sample estimate
};

const char* predictor_name(Predictor p) noexcept;

struct CodecOptions {
  double abs_error_bound = 0.0;  // >= 0 and finite; 0 = lossless
  Predictor predictor = Predictor::automatic;
  unsigned threads = 1;          // >= 1; does not change the output
  // Values per independently coded chunk; part of the format (changes the
  // output), so keep the default unless measuring.
  uint32_t chunk_values = 1u << 18;
  // Allow the compact form (format version 2) for an array that is a single
  // chunk of at most 65,536 values; it is used only when smaller than the
  // chunked form. It has no checksum of its own: set false for a stream that
  // is stored outside a checksummed container and must detect damage itself.
  bool compact_small_streams = true;
};

// eb = relative * (max - min) over the finite values (0 if none or all equal).
double absolute_bound_from_relative(const float* data, size_t count, double relative);

std::vector<uint8_t> compress_floats(const float* data, size_t count,
                                     const CodecOptions& options);

struct FloatStreamInfo {
  uint64_t count = 0;
  double abs_error_bound = 0.0;
  Predictor predictor = Predictor::none;  // the one actually used
  uint32_t chunks = 0;
  uint64_t exact_values = 0;  // values stored verbatim (unpredictable)
  uint8_t format_version = 1;  // 1: chunked, checksummed; 2: compact (no checksum)
};

// Parses and validates the stream header and chunk table (not the payload).
FloatStreamInfo inspect_float_stream(const uint8_t* stream, size_t size);

// Throws deepsz::Error on any malformed stream; never reads out of bounds.
// A damaged compact stream (no checksum) may instead decode to other values.
std::vector<float> decompress_floats(const uint8_t* stream, size_t size,
                                     unsigned threads = 1);
// Decodes into caller memory; `count` must equal the stream's count.
void decompress_floats_into(const uint8_t* stream, size_t size, float* out,
                            size_t count, unsigned threads = 1);

// A float stream decoded a range at a time, for writing a large array out
// without holding it all: the stream is parsed and its checksum verified once,
// on construction (deepsz::Error as decompress_floats throws); then any range
// of whole pieces decodes on its own. A piece is a chunk of the chunked form
// (chunk_values, 2^18 by default); a compact stream is one piece. The stream's
// bytes must outlive the reader.
class FloatStreamReader {
 public:
  FloatStreamReader(const uint8_t* stream, size_t size);
  ~FloatStreamReader();
  FloatStreamReader(const FloatStreamReader&) = delete;
  FloatStreamReader& operator=(const FloatStreamReader&) = delete;

  uint64_t count() const noexcept;
  uint64_t piece_values() const noexcept;
  // Values [first, first + n): `first` a multiple of piece_values(), `n` too
  // unless the range ends at count(); out holds n floats.
  void decode(uint64_t first, size_t n, float* out, unsigned threads = 1) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Distortion of a decoded array against its original, as a first-class
// object (max error, how many values broke the bound, ...).
struct Distortion {
  double max_abs_error = 0.0;   // over finite originals
  double mean_abs_error = 0.0;
  double rmse = 0.0;
  uint64_t over_bound = 0;      // finite values with |x'-x| > bound
  uint64_t non_finite_mismatch = 0;  // NaN/Inf not reproduced bit-exactly
  uint64_t sign_flips = 0;
};
Distortion measure_distortion(const float* original, const float* decoded,
                              size_t count, double abs_error_bound);

// Zero-order entropy bound on the ratio: 32 / H(round(x / 2eb)) bits, the
// yardstick of docs/BENCHMARKS.md.
double quantisation_entropy_bits(const float* data, size_t count, double abs_error_bound);

}  // namespace deepsz
