// rans_coder.h: the static rANS entropy coder of the float codec.
//
// 64-bit states kept in [2^31, 2^63), renormalised 32 bits at a time (the
// layout of F. Giesen's public-domain rans64.h), so a symbol moves at most one
// 32-bit word and the renormalisation is a conditional move rather than a
// loop; with 2^31 >> 2^15 >= the probability scale the coding loss of the
// finite state is negligible. Four states are interleaved over one word
// stream (symbol i belongs to state i % 4), which hides the latency of the
// table lookup and the multiply. Probabilities are quantised to
// 2^scale_bits with scale_bits in [10, 15]. See docs/CODEC.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace deepsz::codec_detail {

constexpr uint64_t kRansLow = uint64_t(1) << 31;  // lower end of the state interval
constexpr int kRansLanes = 4;            // interleaved states (fixed by format v1)
constexpr int kMinScaleBits = 10;
constexpr int kMaxScaleBits = 15;

// Scales `counts` (sum `total` > 0) to frequencies summing exactly to
// 2^scale_bits, every symbol with a nonzero count getting at least 1, close
// to the minimum of the coded size sum(count * log2(2^scale / freq)).
// Needs nonzero_symbols <= 2^scale_bits.
void normalise_frequencies(const uint32_t* counts, size_t alphabet, uint64_t total,
                           int scale_bits, uint32_t* freqs);

// Coded size in bits of `counts` under `freqs` (both over `alphabet`).
double coded_bits(const uint32_t* counts, const uint32_t* freqs, size_t alphabet,
                  int scale_bits);

// Encoder-side description of one symbol: the division by the frequency is
// a multiply-high with a reciprocal (Alverson's exact integer division, as in
// rans64.h), exact for states below 2^63.
struct RansEncSymbol {
  uint64_t x_max;      // renormalise (emit 32 bits) when state >= x_max
  uint64_t rcp_freq;   // fixed-point reciprocal of freq
  uint32_t rcp_shift;  // shift after the reciprocal multiply
  uint32_t bias;       // cumulative frequency, adjusted for freq == 1
  uint32_t cmpl_freq;  // 2^scale - freq
  uint32_t unused = 0;
};

inline RansEncSymbol make_enc_symbol(uint32_t start, uint32_t freq, int scale_bits) {
  RansEncSymbol s;
  s.x_max = uint64_t(freq) << (63 - scale_bits);
  s.cmpl_freq = (1u << scale_bits) - freq;
  if (freq < 2) {
    // freq == 1: q = x - 1 via rcp = 2^64 - 1, then x' = x * 2^scale + start.
    s.rcp_freq = ~uint64_t(0);
    s.rcp_shift = 0;
    s.bias = start + (1u << scale_bits) - 1;
  } else {
    uint32_t shift = 0;
    while (freq > (1u << shift)) shift++;
    // rcp = ceil(2^(shift + 63) / freq), computed in two 64-bit halves.
    uint64_t x0 = freq - 1;
    const uint64_t x1 = uint64_t(1) << (shift + 31);
    const uint64_t t1 = x1 / freq;
    x0 += (x1 % freq) << 32;
    const uint64_t t0 = x0 / freq;
    s.rcp_freq = t0 + (t1 << 32);
    s.rcp_shift = shift - 1;
    s.bias = start;
  }
  return s;
}

inline uint64_t mul_hi_u64(uint64_t a, uint64_t b) {
  return uint64_t((unsigned __int128)a * b >> 64);
}

// One encode step (state -> state), emitting at most one 32-bit word
// backwards before *ptr. The slot ptr[-4..-1] is always written
// (branch-free); the caller reserves one spare word before the output.
inline uint64_t rans_encode_step(uint64_t x, const RansEncSymbol& s, uint8_t*& ptr) {
  // Masks rather than a ternary: compilers emit a branch for the latter,
  // and whether a word is emitted is close to a coin flip.
  const uint64_t emit = x >= s.x_max;
  const uint64_t m = uint64_t(0) - emit;
  const uint32_t w = uint32_t(x);
  std::memcpy(ptr - 4, &w, 4);
  ptr -= emit * 4;
  x = ((x >> 32) & m) | (x & ~m);
  const uint64_t q = mul_hi_u64(x, s.rcp_freq) >> s.rcp_shift;
  return x + s.bias + q * s.cmpl_freq;
}

}  // namespace deepsz::codec_detail
