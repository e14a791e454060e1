// Masks for the sparse index tests. Bits come from std::mt19937_64's raw
// output (specified by the standard) compared as integers, so the masks, and
// therefore the streams whose checksums the tests store, are the same on
// every platform.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace deepsz_index_test {

// 2^64 * p, for comparisons against raw 64-bit draws.
inline uint64_t threshold(double p) {
  if (p >= 1.0) return ~uint64_t{0};
  return static_cast<uint64_t>(std::ldexp(p, 64));
}

// Every cell kept independently with probability p.
inline std::vector<uint64_t> random_mask(uint64_t rows, uint64_t cols, double p, uint64_t seed) {
  std::mt19937_64 g(seed);
  const uint64_t th = threshold(p);
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < rows * cols; ++i)
    if (g() < th) v.push_back(i);
  return v;
}

// Every second column dead; the others at density 2p.
inline std::vector<uint64_t> half_columns_dead(uint64_t rows, uint64_t cols, double p, uint64_t seed) {
  std::mt19937_64 g(seed);
  const uint64_t th = threshold(2 * p);
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j)
      if (g() < th && j % 2 == 0) v.push_back(i * cols + j);
  return v;
}

// Row i at density p * 8^u, u uniform in [-1, 1): from p/8 to 8p.
inline std::vector<uint64_t> rows_of_different_density(uint64_t rows, uint64_t cols, double p,
                                                       uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < rows; ++i) {
    const double u = static_cast<double>(g() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
    const uint64_t th = threshold(std::min(1.0, p * std::pow(8.0, u)));
    for (uint64_t j = 0; j < cols; ++j)
      if (g() < th) v.push_back(i * cols + j);
  }
  return v;
}

// Magnitude pruning (keep the fraction p of largest |w|) of
// w_ij = s_i t_j g_ij, with s, t log-normal(sigma) row and column scales and g
// standard normal: the structure of a trained layer whose inputs and outputs
// matter unequally. Uses std::log etc.: for ratio tests, not checksums.
inline std::vector<uint64_t> magnitude_pruned(uint64_t rows, uint64_t cols, double p, double sigma,
                                              uint64_t seed) {
  std::mt19937_64 g(seed);
  auto uniform = [&g] { return (static_cast<double>(g() >> 11) + 0.5) * 0x1.0p-53; };
  auto normal = [&] { return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); };
  std::vector<double> s(rows), t(cols), w(rows * cols);
  for (auto& x : s) x = std::exp(sigma * normal());
  for (auto& x : t) x = std::exp(sigma * normal());
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j) w[i * cols + j] = std::fabs(s[i] * t[j] * normal());
  const uint64_t keep = std::max<uint64_t>(1, static_cast<uint64_t>(p * static_cast<double>(rows * cols)));
  std::vector<double> sorted = w;
  std::nth_element(sorted.begin(), sorted.begin() + (rows * cols - keep), sorted.end());
  const double cut = sorted[rows * cols - keep];
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < rows * cols; ++i)
    if (w[i] >= cut) v.push_back(i);
  return v;
}

}  // namespace deepsz_index_test
