// float_quantiser.cpp: pass 1 of the encoder (codes, with the bound checked
// on the value as it will be decoded), pass 2 (symbols, histogram, exact
// values) and the choice of predictor from a sample of the data.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "float_codec_internal.h"
#include "float_quantiser.h"

namespace deepsz::codec_detail {
namespace {

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

}  // namespace

CodeRange quantise(Predictor p, const float* x, size_t n, const QuantParams& q,
                   int32_t lo_limit, int32_t hi_limit, int32_t* codes) {
  return p == Predictor::lorenzo ? quantise_lorenzo(x, n, q, lo_limit, hi_limit, codes)
                                 : quantise_none(x, n, q, lo_limit, hi_limit, codes);
}

QuantisedChunk quantise_chunk(const float* x, size_t n, Predictor pred, const QuantParams& q,
                              QuantiseScratch& sc) {
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

}  // namespace deepsz::codec_detail
