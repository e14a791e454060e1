// IndexCoding::context: every cell of the mask that is not implied by what
// came before is coded as one bit with an adaptive probability chosen by a
// row/column model. docs/SPARSE_INDEX.md describes the model; this file is
// its reference implementation (encoder and decoder share run_model()).
#include "index_context.h"

#include <algorithm>
#include <array>
#include <string>

#include "deepsz/error.h"
#include "index_range_coder.h"

namespace deepsz {
namespace index_detail {
namespace {

using u128 = unsigned __int128;

// 64 * log2(1 + m / 256), rounded to an integer, computed with integers only
// (repeated squaring) so that every platform builds the same table.
constexpr std::array<int32_t, 256> make_log_table() {
  std::array<int32_t, 256> table{};
  for (int m = 0; m < 256; ++m) {
    uint64_t y = static_cast<uint64_t>(256 + m) << 22;  // Q30, in [1, 2)
    int32_t r = 0;
    for (int i = 0; i < 7; ++i) {
      y = (y * y) >> 30;
      r <<= 1;
      if (y >= (uint64_t{2} << 30)) {
        y >>= 1;
        r |= 1;
      }
    }
    table[m] = (r + 1) >> 1;
  }
  return table;
}
constexpr std::array<int32_t, 256> kLog64 = make_log_table();

// 64 * log2(x) for x >= 1, within about 1/100 octave.
inline int32_t qlog(uint64_t x) {
  const int e = 63 - __builtin_clzll(x);
  const uint32_t m = e >= 8 ? static_cast<uint32_t>(x >> (e - 8)) & 255u
                            : static_cast<uint32_t>(x << (8 - e)) & 255u;
  return e * 64 + kLog64[m];
}

// Buckets of the model's estimate p, by L = 64 log2 p:
//   0        p < 2^-20
//   1..76    quarter octaves of [2^-20, 1/2)
//   77..92   sixteenths of an octave of [1/2, 1)
//   93       p >= 1
constexpr int kBuckets = 94;
constexpr int32_t kLFloor = -1281;
constexpr int bucket_of_l(int32_t l) {
  if (l < -1280) return 0;
  if (l < -64) return 1 + ((l + 1280) >> 4);
  if (l < 0) return 77 + ((l + 64) >> 2);
  return 93;
}
constexpr int32_t bucket_center_l(int b) {
  if (b == 0) return -1300;
  if (b <= 76) return -1280 + 16 * (b - 1) + 8;
  if (b <= 92) return -64 + 4 * (b - 77) + 2;
  return -1;
}
constexpr std::array<uint8_t, 1282> make_bucket_table() {
  std::array<uint8_t, 1282> table{};
  for (int32_t l = kLFloor; l <= 0; ++l) table[l - kLFloor] = static_cast<uint8_t>(bucket_of_l(l));
  return table;
}
constexpr std::array<uint8_t, 1282> kBucketOfL = make_bucket_table();

inline int bucket_of(int32_t l) {
  l = l < kLFloor ? kLFloor : (l > 0 ? 0 : l);
  return kBucketOfL[l - kLFloor];
}

// Smallest p16 in [1, 65535] with 64 log2(p16 / 2^16) >= l.
uint32_t p16_of_l(int32_t l) {
  uint32_t lo = 1, hi = 65535;
  if (qlog(hi) - 1024 < l) return hi;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    if (qlog(mid) - 1024 >= l) hi = mid; else lo = mid + 1;
  }
  return lo;
}

// An adaptive probability: P(1) in units of 2^-32 and the number of
// observations so far (capped). After n observations the rate is
// 1 / (n + prior + 1): a count (Krichevsky-Trofimov for prior 1, start 1/2)
// until the cap, an exponential forgetting after it.
struct AdaptiveBit {
  uint32_t p;
  uint32_t n;
};

class RateTable {
 public:
  RateTable(uint32_t prior, uint32_t limit) : rate_(limit + 1), limit_(limit) {
    for (uint32_t n = 0; n <= limit; ++n) {
      const uint64_t d = uint64_t{n} + prior + 1;
      rate_[n] = static_cast<uint32_t>((uint64_t{1} << 32) / d >> 16);
    }
  }
  void update(AdaptiveBit& s, int bit) const {
    const uint64_t r = rate_[s.n];
    if (bit) {
      s.p += static_cast<uint32_t>(((0xFFFFFFFFull - s.p) * r) >> 16);
    } else {
      s.p -= static_cast<uint32_t>((uint64_t{s.p} * r) >> 16);
    }
    if (s.n < limit_) ++s.n;
  }

 private:
  std::vector<uint32_t> rate_;
  uint32_t limit_;
};

inline uint32_t p16(const AdaptiveBit& s) {
  const uint32_t p = s.p >> 16;
  return p < 1 ? 1 : (p > 65535 ? 65535 : p);
}

[[noreturn]] void corrupt(const char* what) {
  throw Error(ErrorCode::corruption_detected, std::string("sparse index (context): ") + what);
}

// Codes which rows (or columns) hold at least one nonzero, one adaptive bit
// each, in the context of the previous flag (dead inputs come in runs). The
// last flag is implied when all others were 0: count > 0.
template <class Coder>
std::vector<uint64_t> code_alive(Coder& rc, const std::vector<uint8_t>& alive, uint64_t n) {
  const RateTable rate(1, 1023);
  AdaptiveBit ctx[2] = {{1u << 31, 0}, {1u << 31, 0}};
  std::vector<uint64_t> list;  // grows with the work done, not with n
  int prev = 1;
  for (uint64_t i = 0; i < n; ++i) {
    int bit;
    if (i + 1 == n && list.empty()) {
      bit = 1;
    } else {
      int in = 0;
      if constexpr (Coder::kEncoding) in = alive[i];
      bit = rc.code(in, p16(ctx[prev]));
      rate.update(ctx[prev], bit);
    }
    if (bit) list.push_back(i);
    prev = bit;
  }
  return list;
}

// Encoder: `positions` is the valid input, `out` unused. Decoder: the reverse.
template <class Coder>
void run_model(Coder& rc, const uint64_t* positions, std::vector<uint64_t>* out, uint64_t count,
               uint64_t rows, uint64_t cols, const ContextParams& prm) {
  constexpr bool kEnc = Coder::kEncoding;
  std::vector<uint8_t> row_flag, col_flag;  // the encoder's only
  if constexpr (kEnc) {
    row_flag.assign(rows, 0);
    col_flag.assign(cols, 0);
    for (uint64_t j = 0; j < count; ++j) {
      row_flag[positions[j] / cols] = 1;
      col_flag[positions[j] % cols] = 1;
    }
  }
  const std::vector<uint64_t> alive_rows = code_alive(rc, row_flag, rows);
  const std::vector<uint64_t> alive_cols = code_alive(rc, col_flag, cols);
  std::vector<uint8_t>().swap(row_flag);
  std::vector<uint8_t>().swap(col_flag);

  const uint64_t nr = alive_rows.size(), nc = alive_cols.size();
  const uint64_t cells = nr * nc;  // <= rows * cols: no overflow
  if (count > cells || count < std::max(nr, nc)) corrupt("count does not fit the live rows and columns");

  if (count == cells) {  // every live cell is a nonzero: nothing more coded
    if constexpr (!kEnc) {
      for (uint64_t i : alive_rows)
        for (uint64_t j : alive_cols) out->push_back(i * cols + j);
    }
    return;
  }

  // Density of the live submatrix, 2^-32 units (>= 1 so that logs exist).
  uint64_t p0 = static_cast<uint64_t>((static_cast<u128>(count) << 32) / cells);
  if (p0 == 0) p0 = 1;
  const int32_t log_p0 = qlog(p0) - 32 * 64;
  const uint64_t kc = prm.column_prior, kr = prm.row_prior;
  // Expected ones after n cells, in 1/256 units, plus the prior.
  auto expected = [p0](uint64_t n, uint64_t prior) {
    return static_cast<uint64_t>((static_cast<u128>(n) * p0) >> 24) + prior;
  };

  // The estimate for cell (t-th live row, k-th live column) is
  //   p = p0 * [(c + kc) / (t p0 + kc)] * [(r + kr) / (k p0 + kr)]
  // with c the ones above it in its column and r the ones left of it in its
  // row: the column's and the row's density relative to the average, each
  // shrunk toward it. 64 log2 p = col_term[k] + row_term, kept up to date
  // with one qlog per nonzero.
  std::vector<int32_t> den_row_log(nc), col_term(nc);
  std::vector<uint64_t> col_ones(nc, 0);
  const int32_t log_kc = qlog(kc), log_kr = qlog(kr);
  for (uint64_t k = 0; k < nc; ++k) {
    den_row_log[k] = qlog(expected(k, kr));
    col_term[k] = log_kc - den_row_log[k];
  }

  std::vector<AdaptiveBit> sse(kBuckets);
  for (int b = 0; b < kBuckets; ++b) sse[b] = {p16_of_l(bucket_center_l(b)) << 16, 0};
  const RateTable sse_rate(prm.sse_prior, prm.sse_limit);

  // A copy whose address does not escape, so that the compiler keeps the
  // coder's state in registers across the output's push_back (the decoder
  // runs twice as fast).
  Coder coder = rc;
  uint64_t rem_ones = count, zeros_left = cells - count, cursor = 0, rows_with_ones = 0;
  const uint64_t last_k = nc - 1;
  // Cells implied by what came before are not coded: once no zero is left
  // every remaining cell is a one; the last live column of a row that has no
  // one yet, and the last live row of a column that has none, hold a one;
  // after the count-th one every cell is a zero.
  for (uint64_t t = 0; t < nr; ++t) {
    const uint64_t base = alive_rows[t] * cols;
    const bool last_row = t + 1 == nr;
    const int32_t row_const = log_p0 - qlog(expected(t, kc));
    uint64_t r = 0;
    int32_t row_term = row_const + log_kr;
    for (uint64_t k = 0; k < nc; ++k) {
      const uint64_t flat = base + alive_cols[k];
      int bit;
      if (zeros_left == 0 || (k == last_k && r == 0) || (last_row && col_ones[k] == 0)) {
        bit = 1;
      } else {
        AdaptiveBit& s = sse[bucket_of(col_term[k] + row_term)];
        int in = 0;
        if constexpr (kEnc) in = positions[cursor] == flat;  // cursor < count: rem_ones > 0
        bit = coder.code(in, p16(s));
        sse_rate.update(s, bit);
      }
      if (!bit) {
        --zeros_left;
        continue;
      }
      if (r++ == 0) ++rows_with_ones;
      row_term = row_const + qlog(r * 256 + kr);
      ++col_ones[k];
      col_term[k] = qlog(col_ones[k] * 256 + kc) - den_row_log[k];
      if constexpr (kEnc) {
        ++cursor;
      } else {
        out->push_back(flat);
      }
      if (--rem_ones == 0) goto done;
    }
  }
done:
  rc = coder;
  if constexpr (!kEnc) {
    if (rem_ones != 0) corrupt("fewer nonzeros decoded than declared");
    if (rows_with_ones != nr) corrupt("a row flagged live has no nonzero");
    for (uint64_t k = 0; k < nc; ++k)
      if (col_ones[k] == 0) corrupt("a column flagged live has no nonzero");
  }
}

}  // namespace

void context_encode(const uint64_t* positions, uint64_t count, uint64_t rows, uint64_t cols,
                    std::vector<uint8_t>& out, const ContextParams& params) {
  RangeEncoder rc(out);
  rc.set_start();
  run_model(rc, positions, nullptr, count, rows, cols, params);
  rc.finish();
}

std::vector<uint64_t> context_decode(const uint8_t* payload, size_t size, uint64_t count,
                                     uint64_t rows, uint64_t cols, const ContextParams& params) {
  RangeDecoder rc(payload, size);
  if (!rc.valid()) corrupt("range coder start value out of range");
  // Reserve what the payload can plausibly hold (a byte codes at most a few
  // dozen nonzeros of any mask that is not nearly full); beyond that the
  // vector grows with the cells actually decoded, not with `count`.
  std::vector<uint64_t> out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(count, (uint64_t{1} << 16) + uint64_t{64} * size)));
  run_model(rc, nullptr, &out, count, rows, cols, params);
  return out;
}

}  // namespace index_detail
}  // namespace deepsz
