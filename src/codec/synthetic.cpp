// synthetic.cpp: the generated data of deepsz/synthetic.h, defined exactly so
// that every run (and every engineer) gets the same arrays on a given
// platform (the draws are exact; log/sin/cos come from the C library).
#include "deepsz/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "deepsz/error.h"

namespace deepsz {

namespace {
// 53 random bits -> a double in [0, 1).
inline double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }
}  // namespace

// For each pair of values: u1, u2 = uniform01() twice (in this order),
// r = sqrt(-2 ln(1 - u1)), then sigma * r * cos(2 pi u2) and
// sigma * r * sin(2 pi u2), each rounded to float (an odd total drops the
// last sine). The kept values are those of the `keep` largest |w| (ties at
// the threshold broken by position, earliest first), in their original order.
std::vector<float> pruned_like_array(uint64_t total, uint64_t keep, double sigma, uint64_t seed) {
  if (!(std::isfinite(sigma) && sigma >= 0.0))
    throw Error(ErrorCode::invalid_argument, "sigma must be finite and >= 0");
  if (total > (uint64_t(1) << 34)) throw Error(ErrorCode::too_large, "total above 2^34");
  std::mt19937_64 rng(seed);
  std::vector<float> w(total);
  const double two_pi = 6.283185307179586476925286766559;
  for (uint64_t i = 0; i < total; i += 2) {
    const double u1 = uniform01(rng);
    const double u2 = uniform01(rng);
    const double r = std::sqrt(-2.0 * std::log(1.0 - u1));
    w[i] = float(sigma * r * std::cos(two_pi * u2));
    if (i + 1 < total) w[i + 1] = float(sigma * r * std::sin(two_pi * u2));
  }
  if (keep >= total) return w;
  if (keep == 0) return {};
  std::vector<float> mag(total);
  for (uint64_t i = 0; i < total; ++i) mag[i] = std::fabs(w[i]);
  std::nth_element(mag.begin(), mag.begin() + (keep - 1), mag.end(), std::greater<float>());
  const float threshold = mag[keep - 1];
  std::vector<float>().swap(mag);
  uint64_t above = 0;
  for (float v : w) above += std::fabs(v) > threshold;
  uint64_t ties = keep - above;  // how many values equal to the threshold to keep
  std::vector<float> out;
  out.reserve(keep);
  for (float v : w) {
    const float a = std::fabs(v);
    if (a > threshold) {
      out.push_back(v);
    } else if (a == threshold && ties) {
      out.push_back(v);
      --ties;
    }
  }
  return out;
}

// Position p (row-major, p = 0 .. rows*cols-1) is kept when the p-th
// uniform01() draw of std::mt19937_64(seed) is below `density`.
std::vector<uint64_t> random_mask_positions(uint64_t rows, uint64_t cols, double density,
                                            uint64_t seed) {
  if (!(density >= 0.0 && density <= 1.0))
    throw Error(ErrorCode::invalid_argument, "density must be in [0, 1]");
  if (cols && rows > (uint64_t(1) << 40) / cols)
    throw Error(ErrorCode::too_large, "rows * cols above 2^40");
  const uint64_t n = rows * cols;
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> pos;
  pos.reserve(size_t(std::min<double>(double(n), double(n) * density * 1.01 + 64)));
  for (uint64_t p = 0; p < n; ++p)
    if (uniform01(rng) < density) pos.push_back(p);
  return pos;
}

std::vector<float> pruned_laplacian_array(size_t n, uint64_t seed) {
  if (n == 0) return {};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<double> all(n * 20);
  for (auto& w : all) {
    const double x = u(rng);
    w = -0.05 * (x < 0 ? -1.0 : 1.0) * std::log(1.0 - 2.0 * std::fabs(x));
  }
  std::vector<double> mags(all.size());
  for (size_t i = 0; i < all.size(); ++i) mags[i] = std::fabs(all[i]);
  std::nth_element(mags.begin(), mags.begin() + (all.size() - n), mags.end());
  const double threshold = mags[all.size() - n];
  std::vector<float> v;
  for (double w : all)
    if (std::fabs(w) >= threshold && v.size() < n) v.push_back(float(w));
  return v;
}

}  // namespace deepsz
