// codec_metrics.cpp: the yardsticks around the codec (bounds from relative
// bounds, distortion of a decoded array, the zero-order entropy bound).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "deepsz/codec.h"

namespace deepsz {

namespace {
void check_bound(double eb, const char* what) {
  if (!(std::isfinite(eb) && eb >= 0.0))
    throw Error(ErrorCode::invalid_argument, std::string(what) + " must be finite and >= 0");
}
}  // namespace

double absolute_bound_from_relative(const float* data, size_t count, double relative) {
  check_bound(relative, "relative error bound");
  if (count && !data) throw Error(ErrorCode::invalid_argument, "null input");
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) {
    const float v = data[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(hi > lo)) return 0.0;  // no finite value, or all equal
  return relative * (double(hi) - double(lo));
}

Distortion measure_distortion(const float* original, const float* decoded, size_t count,
                              double abs_error_bound) {
  if (count && (!original || !decoded)) throw Error(ErrorCode::invalid_argument, "null input");
  Distortion d;
  double sum_abs = 0, sum_sq = 0;
  uint64_t finite = 0;
  for (size_t i = 0; i < count; ++i) {
    const float x = original[i], y = decoded[i];
    if (!std::isfinite(x)) {
      uint32_t bx, by;
      std::memcpy(&bx, &x, 4);
      std::memcpy(&by, &y, 4);
      d.non_finite_mismatch += bx != by;
      continue;
    }
    const double e = std::fabs(double(y) - double(x));  // NaN if y is NaN
    ++finite;
    if (!(e <= abs_error_bound)) d.over_bound++;
    if (std::isnan(e)) {
      d.max_abs_error = std::numeric_limits<double>::infinity();
      continue;
    }
    d.max_abs_error = std::max(d.max_abs_error, e);
    sum_abs += e;
    sum_sq += e * e;
    d.sign_flips += (x > 0 && y < 0) || (x < 0 && y > 0);
  }
  if (finite) {
    d.mean_abs_error = sum_abs / double(finite);
    d.rmse = std::sqrt(sum_sq / double(finite));
  }
  return d;
}

double quantisation_entropy_bits(const float* data, size_t count, double abs_error_bound) {
  check_bound(abs_error_bound, "error bound");
  if (count && !data) throw Error(ErrorCode::invalid_argument, "null input");
  if (abs_error_bound == 0.0) return 32.0;  // no quantisation: the float itself
  const double step = 2.0 * abs_error_bound;
  std::vector<double> codes;
  codes.reserve(count);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(data[i])) continue;
    const double c = std::round(double(data[i]) / step);
    codes.push_back(c);
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  if (codes.empty()) return 0.0;
  const double n = double(codes.size());
  double h = 0;
  if (hi - lo < double(1 << 24)) {
    std::vector<uint32_t> hist(size_t(hi - lo) + 1, 0);
    for (double c : codes) hist[size_t(c - lo)]++;
    for (uint32_t k : hist)
      if (k) h += double(k) * std::log2(n / double(k));
  } else {
    std::sort(codes.begin(), codes.end());
    for (size_t i = 0; i < codes.size();) {
      size_t j = i;
      while (j < codes.size() && codes[j] == codes[i]) ++j;
      h += double(j - i) * std::log2(n / double(j - i));
      i = j;
    }
  }
  return h / n;
}

}  // namespace deepsz
