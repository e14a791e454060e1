// float_codec.cpp: the error-bounded float32 codec of deepsz/codec.h.
//
// Per chunk: quantise (linear bins of width 2*eb, each value checked as the
// decoder will rebuild it), map codes to a compact alphabet with one escape
// symbol, code the symbols with 4-way interleaved static rANS, store escaped
// values verbatim (zstd over byte planes when that pays): the chunked form,
// format version 1. An array of one chunk of at most 2^16 values may instead
// get the compact form, version 2 (varint header, symbols through an adaptive
// model and a range coder, no table, no checksum), when that is smaller.
// docs/CODEC.md describes both streams field by field.
#include <zstd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "adaptive_range_coder.h"
#include "byte_io.h"
#include "deepsz/codec.h"
#include "float_codec_internal.h"
#include "parallel_tasks.h"
#include "rans_coder.h"

namespace deepsz {

using namespace codec_detail;
using byte_io::ByteReader;
using byte_io::ByteWriter;
using byte_io::load_u16;
using byte_io::load_u32;
using byte_io::load_u64;
using byte_io::ReadFault;
using byte_io::store_u32;
using byte_io::store_u64;
using byte_io::VarintForm;

namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& what) { throw Error(code, what); }

// A reusable work buffer that is never zero-filled: get(n) keeps the old
// storage when it is large enough, so a worker pays for allocation (and page
// faults) once, not per chunk.
template <class T>
class ScratchBuffer {
 public:
  T* get(size_t n) {
    if (n > capacity_) {
      data_.reset(new T[n]);
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
};

constexpr int32_t kEscapeCode = std::numeric_limits<int32_t>::min();
constexpr uint8_t kExactZstd = 1;    // chunk flag: exact section is zstd over byte planes
constexpr uint8_t kSymbolsZstd = 2;  // chunk flag: symbols coded by zstd instead of rANS
constexpr size_t kStateBytes = 8 * kRansLanes;
// Smallest possible chunk payload: flags, scale, alphabet, min_code, the
// symbol section size and at least a minimal zstd frame (9 bytes).
constexpr size_t kMinChunkPayload = 1 + 1 + 2 + 4 + 4 + 9;
constexpr int kZstdLevel = 3;
// Compact stream (v2) flags byte: bit 0 predictor, bit 1 exact section is
// zstd over byte planes, bits 2-4 the prior of the adaptive model.
constexpr uint8_t kCompactExactZstd = 2;
constexpr int kCompactPriorShift = 2;
constexpr uint8_t kCompactReservedFlags = 0xE0;

// Round to nearest (ties to even, the default rounding mode), |q| < 2^30
// guaranteed by the caller.
inline int32_t round_to_int(double q) {
#if defined(__SSE2__)
  return _mm_cvtsd_si32(_mm_set_sd(q));
#else
  return int32_t(std::nearbyint(q));
#endif
}
inline int32_t round_to_int(float q) {
#if defined(__SSE2__)
  return _mm_cvtss_si32(_mm_set_ss(q));
#else
  return int32_t(std::nearbyint(q));
#endif
}

struct QuantParams {
  double eb;          // the bound
  double step;        // 2 * eb, the bin width (Lorenzo, double arithmetic)
  double inv_step;    // 1 / step (inf for eb == 0: every value escapes)
  float step_f;       // the same in float (predictor none)
  float inv_step_f;
};

QuantParams make_params(double eb) {
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

uint32_t float_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// Pass 1: codes (kEscapeCode for values stored exactly). Codes outside
// [lo_limit, hi_limit] escape. Returns the min and max of the kept codes.
struct CodeRange {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  bool empty() const { return lo > hi; }
};

// Predictor none quantises in float arithmetic (4 values per SSE2 step); the
// check of each value is in double, on the float the decoder will produce.
inline bool keep_none(float x, float rec, bool in_range, const QuantParams& q) {
  return in_range && std::fabs(double(rec) - double(x)) <= q.eb;
}

CodeRange quantise_none(const float* x, size_t n, const QuantParams& q, int32_t lo_limit,
                        int32_t hi_limit, int32_t* codes) {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  size_t i = 0;
#if defined(__SSE2__)
  {
    const __m128 inv = _mm_set1_ps(q.inv_step_f);
    const __m128 step = _mm_set1_ps(q.step_f);
    const __m128 limit = _mm_set1_ps(float(kMaxCode));
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
    const __m128d absmask_d = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    const __m128d eb = _mm_set1_pd(q.eb);
    const __m128i below = _mm_set1_epi32(lo_limit - 1);  // limits are within +-2^30
    const __m128i above = _mm_set1_epi32(hi_limit + 1);
    const __m128i esc = _mm_set1_epi32(kEscapeCode);
    const __m128i big = _mm_set1_epi32(std::numeric_limits<int32_t>::max());
    __m128i vmin = big, vmax = esc;  // kEscapeCode is INT32_MIN: neutral for max
    for (; i + 4 <= n; i += 4) {
      const __m128 xv = _mm_loadu_ps(x + i);
      __m128 t = _mm_mul_ps(xv, inv);
      const __m128 in_range = _mm_cmplt_ps(_mm_and_ps(t, absmask), limit);  // false for NaN
      t = _mm_and_ps(t, in_range);
      const __m128i c = _mm_cvtps_epi32(t);  // nearest, ties to even
      const __m128 rec = _mm_mul_ps(_mm_cvtepi32_ps(c), step);
      const __m128d e_lo =
          _mm_and_pd(_mm_sub_pd(_mm_cvtps_pd(rec), _mm_cvtps_pd(xv)), absmask_d);
      const __m128d e_hi = _mm_and_pd(
          _mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(rec, rec)), _mm_cvtps_pd(_mm_movehl_ps(xv, xv))),
          absmask_d);
      const __m128 ok_lo = _mm_castpd_ps(_mm_cmple_pd(e_lo, eb));
      const __m128 ok_hi = _mm_castpd_ps(_mm_cmple_pd(e_hi, eb));
      __m128i ok = _mm_castps_si128(
          _mm_and_ps(_mm_shuffle_ps(ok_lo, ok_hi, _MM_SHUFFLE(2, 0, 2, 0)), in_range));
      ok = _mm_and_si128(ok, _mm_and_si128(_mm_cmpgt_epi32(c, below), _mm_cmplt_epi32(c, above)));
      const __m128i code = _mm_or_si128(_mm_and_si128(ok, c), _mm_andnot_si128(ok, esc));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), code);
      const __m128i cmin = _mm_or_si128(_mm_and_si128(ok, c), _mm_andnot_si128(ok, big));
      const __m128i lt = _mm_cmplt_epi32(cmin, vmin);
      vmin = _mm_or_si128(_mm_and_si128(lt, cmin), _mm_andnot_si128(lt, vmin));
      const __m128i gt = _mm_cmpgt_epi32(code, vmax);
      vmax = _mm_or_si128(_mm_and_si128(gt, code), _mm_andnot_si128(gt, vmax));
    }
    alignas(16) int32_t mins[4], maxs[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(mins), vmin);
    _mm_store_si128(reinterpret_cast<__m128i*>(maxs), vmax);
    for (int l = 0; l < 4; ++l) {
      lo = std::min(lo, mins[l]);
      hi = std::max(hi, maxs[l]);
    }
  }
#endif
  for (; i < n; ++i) {
    float t = x[i] * q.inv_step_f;
    const bool in_range = std::fabs(t) < float(kMaxCode);
    t = in_range ? t : 0.0f;
    const int32_t c = round_to_int(t);
    const float rec = rebuild_none(c, q.step_f);
    const bool ok = keep_none(x[i], rec, in_range, q) && c >= lo_limit && c <= hi_limit;
    codes[i] = ok ? c : kEscapeCode;
    lo = std::min(lo, ok ? c : lo);
    hi = std::max(hi, ok ? c : hi);
  }
  return {lo, hi};
}

CodeRange quantise_lorenzo(const float* x, size_t n, const QuantParams& q, int32_t lo_limit,
                           int32_t hi_limit, int32_t* codes) {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  const uint32_t span = uint32_t(hi_limit) - uint32_t(lo_limit);
  float prev = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const double xd = x[i];
    double t = (xd - double(prev)) * q.inv_step;
    const bool in_range = std::fabs(t) < double(kMaxCode);
    t = in_range ? t : 0.0;
    const int32_t c = round_to_int(t);
    const float rec = rebuild_lorenzo(prev, code_delta(c, q.step));
    const bool ok = in_range && std::fabs(double(rec) - xd) <= q.eb &&
                    uint32_t(c) - uint32_t(lo_limit) <= span;
    codes[i] = ok ? c : kEscapeCode;
    prev = ok ? rec : x[i];
    lo = std::min(lo, ok ? c : lo);
    hi = std::max(hi, ok ? c : hi);
  }
  return {lo, hi};
}

CodeRange quantise(Predictor p, const float* x, size_t n, const QuantParams& q,
                   int32_t lo_limit, int32_t hi_limit, int32_t* codes) {
  return p == Predictor::lorenzo ? quantise_lorenzo(x, n, q, lo_limit, hi_limit, codes)
                                 : quantise_none(x, n, q, lo_limit, hi_limit, codes);
}

int ceil_log2(uint64_t v) {
  int b = 0;
  while ((uint64_t(1) << b) < v) ++b;
  return b;
}

struct EncodeScratch {
  ScratchBuffer<int32_t> codes;
  ScratchBuffer<uint16_t> symbols;
  ScratchBuffer<uint32_t> exact;
  std::vector<uint32_t> counts, freqs;
  std::vector<RansEncSymbol> enc;
  ScratchBuffer<uint8_t> words, planes, packed, exact_packed;
};

void byte_planes(const uint32_t* v, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t b = v[i];
    out[i] = uint8_t(b);
    out[n + i] = uint8_t(b >> 8);
    out[2 * n + i] = uint8_t(b >> 16);
    out[3 * n + i] = uint8_t(b >> 24);
  }
}

void write_frequency_table(ByteWriter& w, const uint32_t* freqs, size_t alphabet) {
  size_t s = 0;
  while (s < alphabet) {
    if (freqs[s]) {
      w.varint(freqs[s]);
      ++s;
    } else {
      size_t run = 1;
      while (s + run < alphabet && freqs[s + run] == 0) ++run;
      w.u8(0);
      w.varint(run - 1);
      s += run;
    }
  }
}

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
                              EncodeScratch& sc) {
  int32_t* codes = sc.codes.get(n);

  CodeRange r = quantise(pred, x, n, q, -kMaxCode, kMaxCode, codes);
  if (!r.empty() && int64_t(r.hi) - int64_t(r.lo) + 1 > int64_t(kMaxAlphabet - 1)) {
    // Too many distinct codes for one table: keep a window around the median
    // code and store the rest exactly (rare: data far wider than the bound).
    std::vector<int32_t> kept;
    kept.reserve(n);
    for (size_t i = 0; i < n; ++i)
      if (codes[i] != kEscapeCode) kept.push_back(codes[i]);
    std::nth_element(kept.begin(), kept.begin() + kept.size() / 2, kept.end());
    const int64_t width = kMaxAlphabet - 1;
    int64_t lo = int64_t(kept[kept.size() / 2]) - width / 2;
    lo = std::max<int64_t>(lo, r.lo);
    lo = std::min<int64_t>(lo, int64_t(r.hi) - width + 1);
    r = quantise(pred, x, n, q, int32_t(lo), int32_t(lo + width - 1), codes);
  }
  const int32_t min_code = r.empty() ? 0 : r.lo;
  const uint32_t ncodes = r.empty() ? 0 : uint32_t(int64_t(r.hi) - int64_t(r.lo) + 1);
  const uint32_t alphabet = ncodes + 1;
  const uint32_t esc = ncodes;

  // Pass 2: symbols, histogram, exact values (branch-free gather). Four
  // interleaved histograms, so that runs of one symbol do not serialise on
  // a single counter in memory.
  sc.counts.assign(4 * size_t(alphabet), 0);
  uint32_t* counts = sc.counts.data();
  uint16_t* symbols = sc.symbols.get(n);
  uint32_t* exact = sc.exact.get(n + 1);
  size_t nexact = 0;
  {
    auto one = [&](size_t i, uint32_t* hist) {
      uint32_t s = uint32_t(codes[i]) - uint32_t(min_code);
      s = s < ncodes ? s : esc;
      symbols[i] = uint16_t(s);
      hist[s]++;
      exact[nexact] = float_bits(x[i]);
      nexact += (s == esc);
    };
    uint32_t* h1 = counts + alphabet;
    uint32_t* h2 = counts + 2 * size_t(alphabet);
    uint32_t* h3 = counts + 3 * size_t(alphabet);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      one(i, counts);
      one(i + 1, h1);
      one(i + 2, h2);
      one(i + 3, h3);
    }
    for (; i < n; ++i) one(i, counts);
    for (uint32_t k = 0; k < alphabet; ++k) counts[k] += h1[k] + h2[k] + h3[k];
  }
  QuantisedChunk c;
  c.n = n;
  c.min_code = min_code;
  c.ncodes = ncodes;
  c.alphabet = alphabet;
  c.symbols = symbols;
  c.counts = counts;
  c.exact = exact;
  c.nexact = nexact;
  return c;
}

// The exact section: raw little-endian floats, or zstd over their byte
// planes when there are at least 64 and that saves 3%.
struct ExactSection {
  const uint8_t* data;
  size_t bytes;
  bool zstd;
};

ExactSection pack_exact(const uint32_t* exact, size_t nexact, EncodeScratch& sc) {
  ExactSection e{reinterpret_cast<const uint8_t*>(exact), 4 * nexact, false};
  if (nexact >= 64) {
    uint8_t* planes = sc.planes.get(e.bytes);
    byte_planes(exact, nexact, planes);
    const size_t bound = ZSTD_compressBound(e.bytes);
    uint8_t* packed = sc.exact_packed.get(bound);
    const size_t z = ZSTD_compress(packed, bound, planes, e.bytes, kZstdLevel);
    if (!ZSTD_isError(z) && z < e.bytes - e.bytes / 32) e = {packed, z, true};
  }
  return e;
}

// Format v1: encodes one quantised chunk into `out` (appended). Returns the
// number of exact values.
uint32_t encode_chunk_v1(const QuantisedChunk& qc, EncodeScratch& sc, std::vector<uint8_t>& out) {
  const size_t n = qc.n;
  const uint32_t alphabet = qc.alphabet;
  const int32_t min_code = qc.min_code;
  const uint32_t* counts = qc.counts;
  const uint16_t* symbols = qc.symbols;
  const size_t nexact = qc.nexact;

  // Probability scale: the smallest one within 0.3% of the best coded size
  // (a 2^12-slot decode table of 8-byte entries fits the L1 cache; each
  // doubling beyond costs decoding speed for a gain of ~0.1% in size).
  uint32_t present = 0;
  for (uint32_t s = 0; s < alphabet; ++s) present += counts[s] != 0;
  sc.freqs.resize(alphabet);
  int scale_bits = std::max(kMinScaleBits, ceil_log2(present));
  {
    double best = std::numeric_limits<double>::infinity();
    int best_scale = scale_bits;
    std::vector<double> cost(kMaxScaleBits + 1, best);
    for (int sb = scale_bits; sb <= kMaxScaleBits; ++sb) {
      normalise_frequencies(counts, alphabet, n, sb, sc.freqs.data());
      cost[sb] = coded_bits(counts, sc.freqs.data(), alphabet, sb);
      if (cost[sb] < best) {
        best = cost[sb];
        best_scale = sb;
      }
    }
    int chosen = best_scale;
    for (int sb = scale_bits; sb <= best_scale; ++sb)
      if (cost[sb] <= best * 1.003 + 64.0) {
        chosen = sb;
        break;
      }
    scale_bits = chosen;
    normalise_frequencies(counts, alphabet, n, scale_bits, sc.freqs.data());
  }
  const uint32_t* freqs = sc.freqs.data();

  sc.enc.resize(alphabet);
  {
    uint32_t cum = 0;
    for (uint32_t s = 0; s < alphabet; ++s) {
      sc.enc[s] = make_enc_symbol(cum, freqs[s] ? freqs[s] : 1, scale_bits);
      cum += freqs[s];
    }
  }

  // Pass 3: rANS, symbols in reverse order, words written backwards.
  const size_t words_size = kStateBytes + 4 * n + 4;
  uint8_t* const wbegin = sc.words.get(words_size);
  uint8_t* const wend = wbegin + words_size;
  uint8_t* ptr = wend;
  {
    const RansEncSymbol* enc = sc.enc.data();
    uint64_t st[kRansLanes] = {kRansLow, kRansLow, kRansLow, kRansLow};
    size_t i = n;
    while (i & 3) {
      --i;
      st[i & 3] = rans_encode_step(st[i & 3], enc[symbols[i]], ptr);
    }
    uint64_t x0 = st[0], x1 = st[1], x2 = st[2], x3 = st[3];
    while (i) {
      i -= 4;
      x3 = rans_encode_step(x3, enc[symbols[i + 3]], ptr);
      x2 = rans_encode_step(x2, enc[symbols[i + 2]], ptr);
      x1 = rans_encode_step(x1, enc[symbols[i + 1]], ptr);
      x0 = rans_encode_step(x0, enc[symbols[i]], ptr);
    }
    ptr -= kStateBytes;
    store_u64(ptr, x0);
    store_u64(ptr + 8, x1);
    store_u64(ptr + 16, x2);
    store_u64(ptr + 24, x3);
  }
  const uint8_t* sym_data = ptr;
  size_t sym_bytes = size_t(wend - ptr);

  uint8_t flags = 0;
  // Below one bit per value the order-0 model may be far from the data
  // (runs, periodic patterns): then zstd on the symbols themselves is tried
  // and replaces rANS when it is smaller, table included.
  if (sym_bytes * 8 < n && n >= 1024) {
    const size_t width = alphabet <= 256 ? 1 : 2;
    uint8_t* narrow = sc.planes.get(n * width);
    if (width == 1) {
      for (size_t i = 0; i < n; ++i) narrow[i] = uint8_t(symbols[i]);
    } else {
      std::memcpy(narrow, symbols, 2 * n);
    }
    const size_t bound = ZSTD_compressBound(n * width);
    uint8_t* packed = sc.packed.get(bound);
    const size_t z = ZSTD_compress(packed, bound, narrow, n * width, kZstdLevel);
    const size_t table_bytes = 2 * size_t(present) + 8;  // rough size of the frequency table
    if (!ZSTD_isError(z) && z < sym_bytes + table_bytes - (sym_bytes + table_bytes) / 32) {
      flags |= kSymbolsZstd;
      sym_data = packed;
      sym_bytes = z;
    }
  }
  const ExactSection ex = pack_exact(qc.exact, nexact, sc);
  if (ex.zstd) flags |= kExactZstd;
  const uint8_t* exact_data = ex.data;
  const size_t exact_bytes = ex.bytes;

  ByteWriter w(out);
  w.u8(flags);
  w.u8(flags & kSymbolsZstd ? 0 : uint8_t(scale_bits));
  w.u16(uint16_t(alphabet));
  w.u32(uint32_t(min_code));
  if (!(flags & kSymbolsZstd)) write_frequency_table(w, freqs, alphabet);
  w.u32(uint32_t(sym_bytes));
  w.bytes(sym_data, sym_bytes);
  w.bytes(exact_data, exact_bytes);
  return uint32_t(nexact);
}

// ---------------------------------------------------------------- compact form

inline uint32_t zigzag(int32_t v) { return (uint32_t(v) << 1) ^ uint32_t(v >> 31); }
inline int64_t unzigzag(uint64_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }

inline double prior_alpha(int prior) { return double(1u << prior) / double(kAdaptiveIncrement); }

// log Gamma(x) for x > 0: Stirling's series after shifting x to >= 8
// (error below 1e-10). std::lgamma writes the global `signgam`, a data race
// when streams are encoded on several threads.
double log_gamma(double x) {
  double acc = 0.0;
  while (x < 8.0) {
    acc -= std::log(x);
    x += 1.0;
  }
  const double inv = 1.0 / x, inv2 = inv * inv;
  return acc + (x - 0.5) * std::log(x) - x + 0.91893853320467274178 +
         inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260)));
}

// Bits the adaptive model with prior count `alpha` spends on a sequence with
// these symbol counts: the Dirichlet-multinomial code length, which does not
// depend on the order of the symbols. The fixed-point coder is within a few
// bits of it.
double adaptive_bits(const uint32_t* counts, uint32_t alphabet, uint64_t n, double alpha) {
  double nats = log_gamma(double(alphabet) * alpha + double(n)) -
                log_gamma(double(alphabet) * alpha);
  const double lg_alpha = log_gamma(alpha);
  for (uint32_t s = 0; s < alphabet; ++s)
    if (counts[s]) nats -= log_gamma(double(counts[s]) + alpha) - lg_alpha;
  return nats / std::log(2.0);
}

// Format v2, the compact single-chunk stream (docs/CODEC.md "Compact
// stream"): varint header, no chunk table, no checksum, the symbols coded by
// the adaptive model, so no frequency table either.
std::vector<uint8_t> encode_compact(uint64_t count, double eb, Predictor pred,
                                    const QuantisedChunk& qc, EncodeScratch& sc) {
  const uint32_t alphabet = qc.ncodes + (qc.nexact ? 1 : 0);
  int prior = 0;
  if (alphabet > 1) {
    double best = std::numeric_limits<double>::infinity();
    for (int p = 0; p < kAdaptivePriors; ++p) {
      const double bits = adaptive_bits(qc.counts, alphabet, count, prior_alpha(p));
      if (bits < best) {
        best = bits;
        prior = p;
      }
    }
  }
  const ExactSection ex = pack_exact(qc.exact, qc.nexact, sc);
  std::vector<uint8_t> out;
  out.reserve(32 + ex.bytes + count);
  ByteWriter w(out);
  w.u32(kFloatMagic);
  w.u8(kFloatVersionCompact);
  w.u8(uint8_t(uint8_t(pred) | (ex.zstd ? kCompactExactZstd : 0) | (prior << kCompactPriorShift)));
  w.varint(count);
  w.f64(eb);
  w.varint(qc.nexact);
  w.varint(qc.ncodes);
  if (qc.ncodes) w.varint(zigzag(qc.min_code));
  if (ex.zstd) w.varint(ex.bytes);
  w.bytes(ex.data, ex.bytes);
  if (alphabet > 1) {
    AdaptiveModel model;
    model.reset(alphabet, prior);
    WideRangeEncoder enc(out);
    for (size_t i = 0; i < count; ++i) {
      const uint32_t s = qc.symbols[i];
      enc.encode(model.cum(s), model.freq(s), model.total());
      model.update(s);
    }
    enc.finish();
  }
  return out;
}

// ---------------------------------------------------------------- decoding

struct LorenzoEntry {
  uint16_t freq;
  uint16_t bias;
  uint16_t symbol;
  uint16_t unused;
};

struct DecodeScratch {
  std::vector<uint32_t> freqs;
  ScratchBuffer<uint64_t> none_table;
  ScratchBuffer<LorenzoEntry> lorenzo_table;
  std::vector<double> deltas;
  ScratchBuffer<uint8_t> symbols_raw, exact_raw, exact_planes;
  AdaptiveModel model;
};

[[noreturn]] void corrupt(const std::string& what) {
  fail(ErrorCode::corruption_detected, "float stream: " + what);
}

// The errors of the float stream readers, named by section ("float chunk").
std::string read_message(ReadFault fault, const char* section, const char* /*field*/) {
  switch (fault) {
    case ReadFault::truncated: return std::string(section) + ": stream ends early";
    case ReadFault::varint_not_shortest: return "float stream: varint not in its shortest form";
    default: return std::string(section) + ": overlong varint";
  }
}

struct ChunkRef {
  size_t offset;
  uint32_t bytes;
  uint32_t exact;
  uint64_t first;  // index of the first value
  uint32_t values;
};

struct ParsedStream {
  FloatStreamInfo info;
  uint32_t chunk_values = 0;
  std::vector<ChunkRef> chunks;
};

// Magic and version, common to both forms: returns the version (1 or 2).
uint8_t stream_version(const uint8_t* stream, size_t size) {
  if (!stream && size) fail(ErrorCode::invalid_argument, "float stream: null pointer");
  if (size < 4) fail(ErrorCode::truncated, "float stream: shorter than its magic number");
  if (load_u32(stream) != kFloatMagic)
    fail(ErrorCode::foreign_format, "float stream: bad magic (not a deepsz float stream)");
  if (size < 5) fail(ErrorCode::truncated, "float stream header: stream ends early");
  const uint8_t version = stream[4];
  if (version != kFloatVersion && version != kFloatVersionCompact)
    fail(ErrorCode::unsupported_version, "float stream: version " + std::to_string(version) +
                                             " not supported (this build reads 1 and 2)");
  return version;
}

// Format v1 (chunked) header and chunk table.
ParsedStream parse_stream(const uint8_t* stream, size_t size) {
  ByteReader r(stream, size, read_message, "float stream header");
  r.u32();
  r.u8();  // version, checked by stream_version
  const uint8_t predictor = r.u8();
  if (predictor > 1)
    fail(ErrorCode::unsupported_version,
         "float stream: unknown predictor id " + std::to_string(predictor));
  if (r.u8() != 0 || r.u8() != 0) corrupt("reserved header bytes are not zero");
  ParsedStream ps;
  ps.info.predictor = Predictor(predictor);
  ps.info.count = r.u64();
  ps.info.abs_error_bound = r.f64();
  ps.chunk_values = r.u32();
  ps.info.chunks = r.u32();
  ps.info.exact_values = r.u64();
  if (!(std::isfinite(ps.info.abs_error_bound) && ps.info.abs_error_bound >= 0.0))
    corrupt("error bound is negative or not finite");
  if (ps.chunk_values == 0 || ps.chunk_values > kMaxChunkValues)
    corrupt("chunk size out of range");
  if (ps.info.count > kMaxFloatCount) fail(ErrorCode::too_large, "float stream: count too large");
  const uint64_t expect_chunks = (ps.info.count + ps.chunk_values - 1) / ps.chunk_values;
  if (expect_chunks != ps.info.chunks) corrupt("chunk count does not match the value count");
  if (ps.info.exact_values > ps.info.count) corrupt("more exact values than values");
  // Every chunk needs a table entry and a minimal payload: the count cannot
  // claim more than the stream can hold, checked before allocating.
  const uint64_t fixed = kFloatHeaderSize + kChecksumSize;
  if (size < fixed) fail(ErrorCode::truncated, "float stream: stream ends early");
  if (uint64_t(ps.info.chunks) * (kChunkEntrySize + kMinChunkPayload) > size - fixed)
    fail(ErrorCode::too_large, "float stream: declares more values than the stream can hold");
  ps.chunks.resize(ps.info.chunks);
  size_t offset = kFloatHeaderSize + kChunkEntrySize * size_t(ps.info.chunks);
  uint64_t exact_total = 0;
  for (uint32_t c = 0; c < ps.info.chunks; ++c) {
    ChunkRef& ch = ps.chunks[c];
    ch.bytes = r.u32();
    ch.exact = r.u32();
    ch.first = uint64_t(c) * ps.chunk_values;
    ch.values = uint32_t(std::min<uint64_t>(ps.chunk_values, ps.info.count - ch.first));
    ch.offset = offset;
    if (ch.exact > ch.values) corrupt("chunk declares more exact values than values");
    if (ch.bytes < kMinChunkPayload) corrupt("chunk payload too small");
    if (uint64_t(ch.bytes) > size - kChecksumSize - offset)
      fail(ErrorCode::truncated, "float stream: chunk payload beyond the end");
    offset += ch.bytes;
    exact_total += ch.exact;
  }
  if (offset != size - kChecksumSize) {
    if (offset > size - kChecksumSize) fail(ErrorCode::truncated, "float stream: stream ends early");
    corrupt("trailing bytes after the last chunk");
  }
  if (exact_total != ps.info.exact_values) corrupt("exact value counts disagree");
  return ps;
}

void verify_checksum(const uint8_t* stream, size_t size) {
  const uint64_t stored = load_u64(stream + size - kChecksumSize);
  if (XXH64(stream, size - kChecksumSize, 0) != stored)
    fail(ErrorCode::checksum_wrong, "float stream: XXH64 checksum mismatch");
}

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

// The hot loop of predictor none: one table load gives the decoded value
// (written as is), the frequency and the bias; scale_bits is a template
// parameter so that shifts and masks are immediates.
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

// Exact section: raw little-endian floats, or zstd over their 4 byte planes.
const uint8_t* unpack_exact(const uint8_t* e, size_t rest, bool zstd, size_t nexact,
                           DecodeScratch& sc) {
  const size_t exact_raw = 4 * nexact;
  if (!zstd) {
    if (rest != exact_raw) corrupt("exact section size disagrees with exact count");
    return e;
  }
  if (nexact == 0) corrupt("compressed exact section without exact values");
  uint8_t* pl = sc.exact_planes.get(exact_raw);
  const size_t got = ZSTD_decompress(pl, exact_raw, e, rest);
  if (ZSTD_isError(got) || got != exact_raw) corrupt("exact section zstd frame is damaged");
  uint8_t* raw = sc.exact_raw.get(exact_raw);
  const size_t m = nexact;
  for (size_t i = 0; i < m; ++i) {
    const uint32_t b = uint32_t(pl[i]) | uint32_t(pl[m + i]) << 8 | uint32_t(pl[2 * m + i]) << 16 |
                       uint32_t(pl[3 * m + i]) << 24;
    store_u32(raw + 4 * i, b);
  }
  return raw;
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

// ---------------------------------------------------------------- compact form

struct CompactStream {
  FloatStreamInfo info;
  bool exact_zstd = false;
  int prior = 0;
  uint32_t ncodes = 0;
  int32_t min_code = 0;
  uint32_t alphabet = 0;  // ncodes + 1 if there are exact values
  const uint8_t* exact = nullptr;
  size_t exact_bytes = 0;
  const uint8_t* symbols = nullptr;
  size_t symbol_bytes = 0;
};

// Header and section bounds of a compact stream; everything but the symbol
// section is checked, before anything is allocated (count <= 2^16). Its
// varints must be in their shortest form (the reader's default).
CompactStream parse_compact(const uint8_t* stream, size_t size) {
  ByteReader r(stream, size, read_message, "compact float stream");
  r.u32();
  r.u8();  // magic and version, checked by stream_version
  CompactStream cs;
  const uint8_t flags = r.u8();
  if (flags & kCompactReservedFlags) corrupt("reserved flag bits are set");
  cs.info.format_version = kFloatVersionCompact;
  cs.info.predictor = Predictor(flags & 1);
  cs.exact_zstd = (flags & kCompactExactZstd) != 0;
  cs.prior = (flags >> kCompactPriorShift) & (kAdaptivePriors - 1);
  cs.info.count = r.varint("count", 3);
  if (cs.info.count > kCompactMaxCount) corrupt("compact stream declares more than 65536 values");
  cs.info.abs_error_bound = r.f64();
  if (!(std::isfinite(cs.info.abs_error_bound) && cs.info.abs_error_bound >= 0.0))
    corrupt("error bound is negative or not finite");
  cs.info.chunks = cs.info.count ? 1 : 0;
  cs.info.exact_values = r.varint("exact_count", 3);
  if (cs.info.exact_values > cs.info.count) corrupt("more exact values than values");
  const uint64_t ncodes = r.varint("ncodes", 2);
  if (ncodes > kMaxAlphabet - 1) corrupt("alphabet size out of range");
  cs.ncodes = uint32_t(ncodes);
  // No codes exactly when every value is stored exactly (or there is none).
  if ((cs.ncodes == 0) != (cs.info.exact_values == cs.info.count))
    corrupt("code count disagrees with exact count");
  if (cs.ncodes) {
    const uint64_t z = r.varint("min_code", 5);
    if (z > 0xFFFFFFFFull) corrupt("code range out of bounds");
    const int64_t min_code = unzigzag(z);
    if (min_code < -kMaxCode || min_code + int64_t(cs.ncodes) - 1 > kMaxCode)
      corrupt("code range out of bounds");
    cs.min_code = int32_t(min_code);
  }
  cs.alphabet = cs.ncodes + (cs.info.exact_values ? 1 : 0);
  if (cs.alphabet <= 1 && cs.prior != 0) corrupt("prior given without symbols to code");
  if (cs.exact_zstd) {
    if (cs.info.exact_values == 0) corrupt("compressed exact section without exact values");
    cs.exact_bytes = size_t(r.varint("exact_bytes", 3));
  } else {
    cs.exact_bytes = size_t(4 * cs.info.exact_values);
  }
  cs.exact = r.take(cs.exact_bytes);
  cs.symbol_bytes = r.remaining();
  cs.symbols = r.take(cs.symbol_bytes);
  if (cs.alphabet <= 1 && cs.symbol_bytes) corrupt("trailing bytes after the last section");
  if (cs.symbol_bytes && cs.symbols[cs.symbol_bytes - 1] == 0)
    corrupt("symbol section ends with a zero byte");
  return cs;
}

void decode_compact(const CompactStream& cs, float* out, DecodeScratch& sc) {
  const size_t n = size_t(cs.info.count);
  const size_t nexact = size_t(cs.info.exact_values);
  const Predictor pred = cs.info.predictor;
  const QuantParams q = make_params(cs.info.abs_error_bound);
  const uint8_t* exact = unpack_exact(cs.exact, cs.exact_bytes, cs.exact_zstd, nexact, sc);
  if (cs.ncodes == 0) {  // every value stored exactly
    if (n) std::memcpy(out, exact, 4 * n);
    return;
  }
  const uint32_t esc = cs.ncodes;  // the escape symbol, when alphabet > ncodes
  size_t k = 0;
  float prev = 0.0f;
  auto emit = [&](size_t i, uint32_t s) {
    float v;
    if (s == esc) {
      if (k == nexact) corrupt("more escapes than exact values");
      std::memcpy(&v, exact + 4 * k++, 4);
    } else if (pred == Predictor::none) {
      v = rebuild_none(cs.min_code + int32_t(s), q.step_f);
    } else {
      v = rebuild_lorenzo(prev, code_delta(cs.min_code + int32_t(s), q.step));
    }
    out[i] = v;
    prev = v;
  };
  if (cs.alphabet == 1) {  // a single code, no escape: nothing was coded
    for (size_t i = 0; i < n; ++i) emit(i, 0);
    return;
  }
  AdaptiveModel& model = sc.model;
  model.reset(cs.alphabet, cs.prior);
  WideRangeDecoder dec(cs.symbols, cs.symbol_bytes);
  if (!dec.valid()) corrupt("range coder start out of range");
  for (size_t i = 0; i < n; ++i) {
    const uint32_t total = model.total();
    const uint32_t t = dec.target(total);
    if (t >= total) corrupt("range coder value out of range");
    uint32_t cum;
    const uint32_t s = model.find(t, &cum);
    dec.consume(cum, model.freq(s));
    model.update(s);
    emit(i, s);
  }
  if (k != nexact) corrupt("escape count disagrees with exact count");
  if (dec.consumed() < cs.symbol_bytes) corrupt("unused bytes after the symbols");
}

void check_options(const CodecOptions& o) {
  if (!(std::isfinite(o.abs_error_bound) && o.abs_error_bound >= 0.0))
    fail(ErrorCode::invalid_argument, "error bound must be finite and >= 0");
  if (o.threads == 0) fail(ErrorCode::invalid_argument, "threads must be >= 1");
  if (o.chunk_values == 0 || o.chunk_values > kMaxChunkValues)
    fail(ErrorCode::invalid_argument, "chunk_values must be in [1, 2^24]");
  if (o.predictor != Predictor::none && o.predictor != Predictor::lorenzo &&
      o.predictor != Predictor::automatic)
    fail(ErrorCode::invalid_argument, "unknown predictor");
}

}  // namespace

// ---------------------------------------------------------------- public API

const char* predictor_name(Predictor p) noexcept {
  switch (p) {
    case Predictor::none: return "none";
    case Predictor::lorenzo: return "lorenzo";
    case Predictor::automatic: return "automatic";
  }
  return "unknown";
}

namespace codec_detail {

double estimate_sample_bits(const float* data, size_t count, double abs_error_bound,
                            Predictor predictor) {
  // Up to 32 blocks of 128 consecutive values spread over the array, coded
  // exactly as the encoder would; cost = order-0 entropy + 32 bits per escape.
  constexpr size_t kBlocks = 32, kBlock = 128;
  const QuantParams q = make_params(abs_error_bound);
  std::vector<int32_t> codes, block(kBlock);
  std::vector<float> tmp;
  const size_t blocks = count <= kBlocks * kBlock ? 1 : kBlocks;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t start = blocks == 1 ? 0 : size_t(double(b) * double(count - kBlock) / double(blocks - 1));
    const size_t len = blocks == 1 ? count : kBlock;
    block.resize(len);
    quantise(predictor, data + start, len, q, -kMaxCode, kMaxCode, block.data());
    // The first value of a Lorenzo block has no predecessor; leave it out.
    codes.insert(codes.end(), block.begin() + (predictor == Predictor::lorenzo && len > 1),
                 block.end());
  }
  if (codes.empty()) return 0.0;
  std::sort(codes.begin(), codes.end());
  double bits = 0;
  const double n = double(codes.size());
  for (size_t i = 0; i < codes.size();) {
    size_t j = i;
    while (j < codes.size() && codes[j] == codes[i]) ++j;
    const double c = double(j - i);
    bits += c * std::log2(n / c);
    if (codes[i] == kEscapeCode) bits += 32.0 * c;
    i = j;
  }
  return bits;
}

Predictor choose_predictor(const float* data, size_t count, double abs_error_bound) {
  if (count < 2 || abs_error_bound == 0.0) return Predictor::none;
  const double none_bits = estimate_sample_bits(data, count, abs_error_bound, Predictor::none);
  const double lorenzo_bits =
      estimate_sample_bits(data, count, abs_error_bound, Predictor::lorenzo);
  // The Lorenzo decoder is slower (a dependency chain through every value):
  // take it only for a clear gain.
  return lorenzo_bits < 0.95 * none_bits ? Predictor::lorenzo : Predictor::none;
}

void decompress_floats_unchecked(const uint8_t* stream, size_t size, float* out, size_t count,
                                 unsigned threads, bool verify) {
  if (stream_version(stream, size) == kFloatVersionCompact) {
    const CompactStream cs = parse_compact(stream, size);
    if (cs.info.count != count)
      fail(ErrorCode::invalid_argument, "float stream: output count differs from the stream's");
    if (count && !out) fail(ErrorCode::invalid_argument, "float stream: null output");
    DecodeScratch scratch;
    decode_compact(cs, out, scratch);
    return;
  }
  const ParsedStream ps = parse_stream(stream, size);
  if (ps.info.count != count)
    fail(ErrorCode::invalid_argument, "float stream: output count differs from the stream's");
  if (count && !out) fail(ErrorCode::invalid_argument, "float stream: null output");
  if (verify) verify_checksum(stream, size);
  const QuantParams q = make_params(ps.info.abs_error_bound);
  const unsigned workers = std::max(1u, std::min<unsigned>(threads ? threads : 1, ps.info.chunks));
  std::vector<DecodeScratch> scratch(workers);
  run_parallel(ps.chunks.size(), workers, [&](size_t c, unsigned worker) {
    const ChunkRef& ch = ps.chunks[c];
    decode_chunk(stream + ch.offset, ch.bytes, ch, ps.info.predictor, q, out + ch.first,
                 scratch[worker]);
  });
}

}  // namespace codec_detail

namespace {

// Format v1: header, chunk table, payloads, checksum.
std::vector<uint8_t> assemble_chunked(uint64_t count, double eb, Predictor pred, uint32_t cv,
                                      std::vector<std::vector<uint8_t>>& payloads,
                                      const std::vector<uint32_t>& exact_counts) {
  const size_t nchunks = payloads.size();
  uint64_t exact_total = 0;
  size_t total = kFloatHeaderSize + kChunkEntrySize * nchunks + kChecksumSize;
  for (size_t c = 0; c < nchunks; ++c) {
    exact_total += exact_counts[c];
    total += payloads[c].size();
  }
  std::vector<uint8_t> out;
  out.reserve(total);
  ByteWriter w(out);
  w.u32(kFloatMagic);
  w.u8(kFloatVersion);
  w.u8(uint8_t(pred));
  w.u8(0);
  w.u8(0);
  w.u64(count);
  w.f64(eb);
  w.u32(cv);
  w.u32(uint32_t(nchunks));
  w.u64(exact_total);
  for (size_t c = 0; c < nchunks; ++c) {
    w.u32(uint32_t(payloads[c].size()));
    w.u32(exact_counts[c]);
  }
  for (size_t c = 0; c < nchunks; ++c) {
    w.bytes(payloads[c].data(), payloads[c].size());
    std::vector<uint8_t>().swap(payloads[c]);
  }
  w.u64(XXH64(out.data(), out.size(), 0));
  return out;
}

}  // namespace

std::vector<uint8_t> compress_floats(const float* data, size_t count, const CodecOptions& options) {
  check_options(options);
  if (count && !data) fail(ErrorCode::invalid_argument, "null input");
  if (count > kMaxFloatCount) fail(ErrorCode::too_large, "more than 2^48 values");
  const double eb = options.abs_error_bound;
  Predictor pred = options.predictor;
  if (pred == Predictor::automatic) pred = choose_predictor(data, count, eb);
  const QuantParams q = make_params(eb);
  const uint32_t cv = options.chunk_values;
  const uint64_t nchunks = (uint64_t(count) + cv - 1) / cv;
  if (nchunks > 0xFFFFFFFFull) fail(ErrorCode::too_large, "too many chunks");

  std::vector<std::vector<uint8_t>> payloads(nchunks);
  std::vector<uint32_t> exact_counts(nchunks);
  if (options.compact_small_streams && count <= kCompactMaxCount && nchunks <= 1) {
    // One small chunk: both forms from one quantisation, the smaller kept
    // (the chunked form wins only where zstd finds repeats in the symbols).
    EncodeScratch sc;
    const QuantisedChunk qc = quantise_chunk(data, count, pred, q, sc);
    std::vector<uint8_t> compact = encode_compact(count, eb, pred, qc, sc);
    if (nchunks) exact_counts[0] = encode_chunk_v1(qc, sc, payloads[0]);
    std::vector<uint8_t> chunked = assemble_chunked(count, eb, pred, cv, payloads, exact_counts);
    return compact.size() < chunked.size() ? compact : chunked;
  }

  const unsigned workers = unsigned(std::max<uint64_t>(1, std::min<uint64_t>(options.threads, nchunks)));
  std::vector<EncodeScratch> scratch(workers);
  run_parallel(nchunks, workers, [&](size_t c, unsigned worker) {
    const uint64_t first = uint64_t(c) * cv;
    const size_t n = size_t(std::min<uint64_t>(cv, count - first));
    const QuantisedChunk qc = quantise_chunk(data + first, n, pred, q, scratch[worker]);
    exact_counts[c] = encode_chunk_v1(qc, scratch[worker], payloads[c]);
    if (payloads[c].size() > 0xFFFFFFFFull) fail(ErrorCode::too_large, "chunk payload over 4 GiB");
  });
  return assemble_chunked(count, eb, pred, cv, payloads, exact_counts);
}

FloatStreamInfo inspect_float_stream(const uint8_t* stream, size_t size) {
  if (stream_version(stream, size) == kFloatVersionCompact)
    return parse_compact(stream, size).info;
  return parse_stream(stream, size).info;
}

std::vector<float> decompress_floats(const uint8_t* stream, size_t size, unsigned threads) {
  if (stream_version(stream, size) == kFloatVersionCompact) {
    // No checksum; the count is at most 2^16, so the output is at most 256 KiB.
    const CompactStream cs = parse_compact(stream, size);
    std::vector<float> out(cs.info.count);
    DecodeScratch scratch;
    decode_compact(cs, out.data(), scratch);
    return out;
  }
  const ParsedStream ps = parse_stream(stream, size);
  verify_checksum(stream, size);  // before allocating the output
  std::vector<float> out(ps.info.count);
  decompress_floats_unchecked(stream, size, out.data(), out.size(), threads, false);
  return out;
}

void decompress_floats_into(const uint8_t* stream, size_t size, float* out, size_t count,
                            unsigned threads) {
  decompress_floats_unchecked(stream, size, out, count, threads, true);
}

}  // namespace deepsz
