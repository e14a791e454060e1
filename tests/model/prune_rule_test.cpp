// The smoothing of prune()'s decision rule (docs/PRUNING.md), torch-free.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepsz/model/train.h"

namespace deepsz::model {
namespace {

TEST(Isotonic, given_monotone_input_expect_unchanged) {
  const std::vector<double> y{-0.3, -0.1, 0.0, 0.2, 0.2, 0.9};
  EXPECT_EQ(isotonic_non_decreasing(y), y);
}

// The run that motivated it (LeNet-300-100, erk power 1.4, fine steps):
// 0.17 accepted, 0.31 and 0.49 over, then a lucky 0.18 beyond them. The fit
// pools the lucky reading with its failed neighbours (0.335 > 0.2).
TEST(Isotonic, given_lucky_reading_beyond_failures_expect_it_pooled_over_the_bound) {
  const std::vector<double> y{0.13, 0.00, 0.17, 0.31, 0.49, 0.18, 0.86};
  const auto s = isotonic_non_decreasing(y);
  ASSERT_EQ(s.size(), y.size());
  EXPECT_NEAR(s[0], 0.065, 1e-12);
  EXPECT_NEAR(s[1], 0.065, 1e-12);
  EXPECT_NEAR(s[2], 0.17, 1e-12);
  EXPECT_NEAR(s[3], 0.31, 1e-12);
  EXPECT_NEAR(s[4], 0.335, 1e-12);
  EXPECT_NEAR(s[5], 0.335, 1e-12);
  EXPECT_GT(s[5], 0.2);
  EXPECT_LE(s[2], 0.2);
}

// Against the definition on random inputs: non-decreasing, same sum (the
// least-squares fit preserves the mean of every pooled block), and no
// better non-decreasing fit among small perturbations.
TEST(Isotonic, given_random_input_expect_monotone_least_squares_fit) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 0.3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> y(1 + trial % 17);
    for (size_t i = 0; i < y.size(); ++i) y[i] = 0.05 * static_cast<double>(i) + noise(rng);
    const auto s = isotonic_non_decreasing(y);
    ASSERT_EQ(s.size(), y.size());
    double sum_y = 0, sum_s = 0, sse = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      if (i) {
        EXPECT_LE(s[i - 1], s[i] + 1e-12);
      }
      sum_y += y[i];
      sum_s += s[i];
      sse += (y[i] - s[i]) * (y[i] - s[i]);
    }
    EXPECT_NEAR(sum_y, sum_s, 1e-9);
    // Any non-decreasing candidate: running max of a perturbed fit.
    for (int k = 0; k < 20; ++k) {
      std::vector<double> c(s);
      for (double& v : c) v += 0.05 * noise(rng);
      for (size_t i = 1; i < c.size(); ++i) c[i] = std::max(c[i], c[i - 1]);
      double sse_c = 0;
      for (size_t i = 0; i < y.size(); ++i) sse_c += (y[i] - c[i]) * (y[i] - c[i]);
      EXPECT_GE(sse_c, sse - 1e-9);
    }
  }
}

}  // namespace
}  // namespace deepsz::model
