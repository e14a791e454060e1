// float_chunk_decoder.cpp: decoding of one chunk of the chunked form
// (format version 1): frequency table, the interleaved rANS states through a
// decode table per predictor, escapes patched from the exact section. Every
// field is checked before it is used; see docs/CODEC.md.
#include <zstd.h>

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "float_codec_internal.h"
#include "float_stream_parts.h"

namespace deepsz::codec_detail {
using byte_io::ByteReader;
using byte_io::load_u16;
using byte_io::load_u32;
using byte_io::load_u64;
using byte_io::VarintForm;

namespace {

// Branch-free on purpose: whether a state needs a word is a coin flip at a
// few bits per symbol, and a mispredicted branch costs more than the select.
// (Written with masks because compilers turn a ternary here into a branch.)
inline uint64_t renorm(uint64_t x, const uint8_t*& wp) {
  const uint64_t w = load_u32(wp);
  const uint64_t r = x < kRansLow;
  const uint64_t m = uint64_t(0) - r;
  wp += r * 4;
  return (((x << 32) | w) & m) | (x & ~m);
}

// Checked variant for the last symbols of a chunk.
inline uint64_t renorm_checked(uint64_t x, const uint8_t*& wp, const uint8_t* wend) {
  if (x >= kRansLow) return x;
  if (wend - wp < 4) corrupt("rANS word stream exhausted");
  const uint32_t w = load_u32(wp);
  wp += 4;
  return (x << 32) | w;
}

constexpr uint32_t kEscapeMarker = 0x7FA5A5A5u;  // a signalling NaN: no arithmetic yields it

// Runs the 4 interleaved rANS states over n symbols: `step(state, index)`
// decodes one symbol and returns the state before renormalisation. Each
// symbol reads at most 4 bytes, so groups of 4 that fit in the remaining
// input run unchecked; the tail is bounds-checked.
template <class Step>
inline void run_interleaved_states(Step&& step, uint64_t* x, const uint8_t*& wp,
                                   const uint8_t* wend, size_t n) {
  const size_t n4 = n & ~size_t(3);
  size_t i = 0;
  uint64_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  const uint8_t* p = wp;
  for (;;) {
    const size_t groups = std::min((n4 - i) / 4, size_t(wend - p) / 16);
    if (groups == 0) break;
    const size_t stop = i + 4 * groups;
    for (; i < stop; i += 4) {
      x0 = renorm(step(x0, i), p);
      x1 = renorm(step(x1, i + 1), p);
      x2 = renorm(step(x2, i + 2), p);
      x3 = renorm(step(x3, i + 3), p);
    }
  }
  x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
  for (; i < n; ++i) x[i & 3] = renorm_checked(step(x[i & 3], i), p, wend);
  wp = p;
}

// The hot loop of predictor none: one table load gives the decoded value
// (written as is), the frequency and the bias; scale_bits is a template
// parameter so that shifts and masks are immediates.
template <int S>
void decode_none_symbols(const uint64_t* table, uint64_t* x, const uint8_t*& wp,
                         const uint8_t* wend, uint32_t* out, size_t n) {
  constexpr uint32_t mask = (1u << S) - 1;
  auto step = [table, out](uint64_t s, size_t idx) -> uint64_t {
    const uint64_t e = table[uint32_t(s) & mask];
    out[idx] = uint32_t(e);
    return ((e >> 32) & 0xFFFF) * (s >> S) + (e >> 48);
  };
  run_interleaved_states(step, x, wp, wend, n);
}

// Replaces the escape markers, in order, by the exact values.
void patch_escapes(uint32_t* out, size_t n, const uint8_t* exact, size_t nexact) {
  size_t k = 0;
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i marker = _mm_set1_epi32(int(kEscapeMarker));
  for (; i + 4 <= n; i += 4) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(out + i));
    if (!_mm_movemask_epi8(_mm_cmpeq_epi32(v, marker))) continue;
    for (size_t j = i; j < i + 4; ++j) {
      if (out[j] != kEscapeMarker) continue;
      if (k == nexact) corrupt("more escapes than exact values");
      out[j] = load_u32(exact + 4 * k++);
    }
  }
#endif
  for (; i < n; ++i) {
    if (out[i] != kEscapeMarker) continue;
    if (k == nexact) corrupt("more escapes than exact values");
    out[i] = load_u32(exact + 4 * k++);
  }
  if (k != nexact) corrupt("escape count disagrees with exact count");
}

const uint8_t* read_exact_section(ByteReader& r, uint8_t flags, size_t nexact, DecodeScratch& sc) {
  const size_t rest = r.remaining();
  const uint8_t* e = r.take(rest);
  return unpack_exact(e, rest, (flags & kExactZstd) != 0, nexact, sc);
}

// Symbols that zstd coded directly (low-entropy chunks with repeats).
void decode_zstd_symbols(const uint8_t* sym, size_t sym_bytes, size_t n, uint32_t alphabet,
                         int32_t min_code, Predictor pred, const QuantParams& q,
                         const uint8_t* exact, size_t nexact, float* out, DecodeScratch& sc) {
  const size_t width = alphabet <= 256 ? 1 : 2;
  uint8_t* raw = sc.symbols_raw.get(n * width);
  const size_t got = ZSTD_decompress(raw, n * width, sym, sym_bytes);
  if (ZSTD_isError(got) || got != n * width) corrupt("symbol section zstd frame is damaged");
  const uint32_t esc = alphabet - 1;
  size_t k = 0;
  float prev = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = width == 1 ? raw[i] : load_u16(raw + 2 * i);
    if (s >= alphabet) corrupt("symbol beyond the alphabet");
    float v;
    if (s == esc) {
      if (k == nexact) corrupt("more escapes than exact values");
      std::memcpy(&v, exact + 4 * k++, 4);
    } else if (pred == Predictor::none) {
      v = rebuild_none(min_code + int32_t(s), q.step_f);
    } else {
      v = rebuild_lorenzo(prev, code_delta(min_code + int32_t(s), q.step));
    }
    out[i] = v;
    prev = v;
  }
  if (k != nexact) corrupt("escape count disagrees with exact count");
}

void decode_lorenzo_symbols(const LorenzoEntry* table, const double* deltas, uint32_t esc,
                            int scale_bits, uint64_t* x, const uint8_t*& wp, const uint8_t* wend,
                            const uint8_t* exact, size_t nexact, float* out, size_t n) {
  const uint32_t mask = (1u << scale_bits) - 1;
  size_t k = 0;
  float prev = 0.0f;
  auto step = [&](uint64_t s, size_t idx) -> uint64_t {
    const LorenzoEntry e = table[uint32_t(s) & mask];
    float v;
    if (e.symbol == esc) {
      if (k == nexact) corrupt("more escapes than exact values");
      std::memcpy(&v, exact + 4 * k++, 4);
    } else {
      v = rebuild_lorenzo(prev, deltas[e.symbol]);
    }
    out[idx] = v;
    prev = v;
    return uint64_t(e.freq) * (s >> scale_bits) + e.bias;
  };
  run_interleaved_states(step, x, wp, wend, n);
  if (k != nexact) corrupt("escape count disagrees with exact count");
}

}  // namespace

void decode_chunk(const uint8_t* payload, size_t size, const ChunkRef& ch, Predictor pred,
                  const QuantParams& q, float* out, DecodeScratch& sc) {
  ByteReader r(payload, size, read_message, "float chunk");
  const size_t n = ch.values;
  const uint8_t flags = r.u8();
  if (flags & ~(kExactZstd | kSymbolsZstd)) corrupt("unknown chunk flags");
  const int scale_bits = r.u8();
  const uint32_t alphabet = r.u16();
  if (alphabet == 0 || alphabet > kMaxAlphabet) corrupt("alphabet size out of range");
  const int32_t min_code = int32_t(r.u32());
  const uint32_t ncodes = alphabet - 1;
  const uint32_t esc = ncodes;
  if (ncodes && (min_code < -kMaxCode || int64_t(min_code) + ncodes - 1 > kMaxCode))
    corrupt("code range out of bounds");
  if (!ncodes && min_code != 0) corrupt("code range out of bounds");

  if (flags & kSymbolsZstd) {
    if (scale_bits != 0) corrupt("probability scale given for zstd-coded symbols");
    const uint32_t sym_bytes = r.u32();
    const uint8_t* sym = r.take(sym_bytes);
    const uint8_t* exact = read_exact_section(r, flags, ch.exact, sc);
    decode_zstd_symbols(sym, sym_bytes, n, alphabet, min_code, pred, q, exact, ch.exact, out, sc);
    return;
  }

  if (scale_bits < kMinScaleBits || scale_bits > kMaxScaleBits) corrupt("bad probability scale");
  const uint32_t total = 1u << scale_bits;
  sc.freqs.assign(alphabet, 0);
  uint32_t* freqs = sc.freqs.data();
  {
    uint64_t sum = 0;
    uint32_t s = 0;
    while (s < alphabet) {
      // Varints of at most 3 bytes; version 1 does not ask for the shortest form.
      const uint64_t v = r.varint("frequency", 3, VarintForm::any);
      if (v == 0) {
        const uint64_t run = r.varint("zero run", 3, VarintForm::any) + 1;
        if (run > alphabet - s) corrupt("frequency table overruns the alphabet");
        s += uint32_t(run);
      } else {
        if (v > total) corrupt("frequency above the scale");
        sum += v;
        freqs[s++] = uint32_t(v);
      }
    }
    if (sum != total) corrupt("frequencies do not sum to the scale");
  }
  if ((ch.exact == 0) != (freqs[esc] == 0)) corrupt("escape frequency disagrees with exact count");

  const uint32_t sym_bytes = r.u32();
  if (sym_bytes < kStateBytes || sym_bytes > kStateBytes + 4 * uint64_t(n) || sym_bytes % 4)
    corrupt("bad symbol section size");
  const uint8_t* sym = r.take(sym_bytes);
  const uint8_t* exact = read_exact_section(r, flags, ch.exact, sc);

  uint64_t x[kRansLanes];
  for (int l = 0; l < kRansLanes; ++l) {
    x[l] = load_u64(sym + 8 * l);
    if (x[l] < kRansLow || x[l] >> 63) corrupt("rANS state out of range");
  }
  const uint8_t* wp = sym + kStateBytes;
  const uint8_t* const wend = sym + sym_bytes;

  if (freqs[esc] == total) {
    // Only the escape symbol (lossless, or nothing quantisable): rANS moves
    // no bits, the values are the exact section.
    if (ch.exact != n) corrupt("escape count disagrees with exact count");
    std::memcpy(out, exact, 4 * n);
  } else if (pred == Predictor::none) {
    uint64_t* table = sc.none_table.get(total);
    uint32_t cum = 0;
    for (uint32_t s = 0; s < alphabet; ++s) {
      const uint32_t v =
          s == esc ? kEscapeMarker : float_bits(rebuild_none(min_code + int32_t(s), q.step_f));
      for (uint32_t j = 0; j < freqs[s]; ++j)
        table[cum + j] = uint64_t(v) | uint64_t(freqs[s]) << 32 | uint64_t(j) << 48;
      cum += freqs[s];
    }
    uint32_t* out_bits = reinterpret_cast<uint32_t*>(out);
    switch (scale_bits) {
      case 10: decode_none_symbols<10>(table, x, wp, wend, out_bits, n); break;
      case 11: decode_none_symbols<11>(table, x, wp, wend, out_bits, n); break;
      case 12: decode_none_symbols<12>(table, x, wp, wend, out_bits, n); break;
      case 13: decode_none_symbols<13>(table, x, wp, wend, out_bits, n); break;
      case 14: decode_none_symbols<14>(table, x, wp, wend, out_bits, n); break;
      default: decode_none_symbols<15>(table, x, wp, wend, out_bits, n); break;
    }
    if (ch.exact) patch_escapes(out_bits, n, exact, ch.exact);
  } else {
    LorenzoEntry* table = sc.lorenzo_table.get(total);
    sc.deltas.resize(alphabet);
    double* deltas = sc.deltas.data();
    uint32_t cum = 0;
    for (uint32_t s = 0; s < alphabet; ++s) {
      deltas[s] = s == esc ? 0.0 : code_delta(min_code + int32_t(s), q.step);
      for (uint32_t j = 0; j < freqs[s]; ++j)
        table[cum + j] = LorenzoEntry{uint16_t(freqs[s]), uint16_t(j), uint16_t(s), 0};
      cum += freqs[s];
    }
    decode_lorenzo_symbols(table, deltas, esc, scale_bits, x, wp, wend, exact, ch.exact, out, n);
  }
  if (wp != wend) corrupt("unused rANS words");
  for (int l = 0; l < kRansLanes; ++l)
    if (x[l] != kRansLow) corrupt("rANS final state mismatch");
}

}  // namespace deepsz::codec_detail
