// float_quantiser.h: the quantiser of the float codec, shared by the
// encoder (which checks every value as the decoder will rebuild it) and the
// decoders (which rebuild it with the same functions).
//
// Linear bins of width 2*eb; predictor none quantises the value itself,
// predictor Lorenzo its difference from the previous decoded value. A value
// whose rebuilt form misses the bound, or whose code falls outside the
// window, escapes: it is stored exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "deepsz/codec.h"
#include "scratch_buffer.h"

namespace deepsz::codec_detail {

constexpr int32_t kEscapeCode = std::numeric_limits<int32_t>::min();

struct QuantParams {
  double eb;          // the bound
  double step;        // 2 * eb, the bin width (Lorenzo, double arithmetic)
  double inv_step;    // 1 / step (inf for eb == 0: every value escapes)
  float step_f;       // the same in float (predictor none)
  float inv_step_f;
};

inline QuantParams make_params(double eb) {
  QuantParams p;
  p.eb = eb;
  p.step = 2.0 * eb;
  p.inv_step = 1.0 / p.step;
  p.step_f = float(p.step);
  p.inv_step_f = float(p.inv_step);
  return p;
}

// The decoder's reconstructions, shared by encoder and decoder so that the
// check is made on exactly the value that will be decoded.
inline float rebuild_none(int32_t code, float step_f) { return float(code) * step_f; }
inline double code_delta(int32_t code, double step) { return double(code) * step; }
inline float rebuild_lorenzo(float prev, double delta) { return float(double(prev) + delta); }

inline uint32_t float_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// Codes outside [lo_limit, hi_limit] escape (kEscapeCode); returns the min
// and max of the kept codes.
struct CodeRange {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  bool empty() const { return lo > hi; }
};

CodeRange quantise(Predictor p, const float* x, size_t n, const QuantParams& q,
                   int32_t lo_limit, int32_t hi_limit, int32_t* codes);

struct QuantiseScratch {
  ScratchBuffer<int32_t> codes;
  ScratchBuffer<uint16_t> symbols;
  ScratchBuffer<uint32_t> exact;
  std::vector<uint32_t> counts;
};

// A chunk after quantisation: symbols (code - min_code, or the escape
// symbol ncodes), their histogram and the values stored exactly. Points into
// the scratch buffers.
struct QuantisedChunk {
  size_t n = 0;
  int32_t min_code = 0;
  uint32_t ncodes = 0;    // codes in the window; the escape symbol is ncodes
  uint32_t alphabet = 1;  // ncodes + 1 (format v1 always has the escape symbol)
  const uint16_t* symbols = nullptr;
  const uint32_t* counts = nullptr;  // alphabet entries
  const uint32_t* exact = nullptr;   // nexact float bit patterns, in order
  size_t nexact = 0;
};

QuantisedChunk quantise_chunk(const float* x, size_t n, Predictor pred, const QuantParams& q,
                              QuantiseScratch& sc);

}  // namespace deepsz::codec_detail
