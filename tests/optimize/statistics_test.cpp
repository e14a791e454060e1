#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

TEST(ClopperPearson, given_known_intervals_expect_published_values) {
  // Two-sided 95% Clopper-Pearson intervals (one-sided 2.5% each).
  EXPECT_NEAR(binomial_lower_bound(5, 100, 0.025), 0.016431, 2e-6);
  EXPECT_NEAR(binomial_upper_bound(5, 100, 0.025), 0.112835, 2e-6);
  EXPECT_NEAR(binomial_lower_bound(50, 100, 0.025), 0.398321, 2e-6);
  EXPECT_NEAR(binomial_upper_bound(50, 100, 0.025), 0.601679, 2e-6);
  EXPECT_NEAR(binomial_upper_bound(0, 10000, 0.05), 1 - std::pow(0.05, 1e-4), 1e-12);
  EXPECT_EQ(binomial_lower_bound(0, 10, 0.05), 0.0);
  EXPECT_EQ(binomial_upper_bound(10, 10, 0.05), 1.0);
}

TEST(PairedBound, given_no_flips_expect_rule_of_three_scale) {
  const double bound = paired_drop_upper_bound(0, 0, 10000, 0.95);
  EXPECT_NEAR(bound, 100.0 * (1 - std::pow(0.025, 1e-4)), 1e-9);  // about 0.037 points
}

TEST(PairedBound, given_simulated_flips_expect_coverage_at_least_confidence) {
  std::mt19937_64 rng(17);
  const uint64_t n = 2000;
  const double p_c2w = 0.012, p_w2c = 0.006;
  const double true_drop = 100.0 * (p_c2w - p_w2c);
  std::discrete_distribution<int> image({p_c2w, p_w2c, 1 - p_c2w - p_w2c});
  int covered = 0;
  const int trials = 1000;
  for (int t = 0; t < trials; ++t) {
    uint64_t b = 0, c = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const int kind = image(rng);
      b += kind == 0;
      c += kind == 1;
    }
    covered += paired_drop_upper_bound(b, c, n, 0.95) >= true_drop;
  }
  EXPECT_GE(covered, static_cast<int>(0.95 * trials) - 10);  // binomial slack of the simulation
}

TEST(PairedBound, given_bad_arguments_expect_invalid_argument) {
  EXPECT_THROW(paired_drop_upper_bound(1, 1, 0), Error);
  EXPECT_THROW(paired_drop_upper_bound(6, 5, 10), Error);
  EXPECT_THROW(paired_drop_upper_bound(1, 1, 10, 1.0), Error);
}

}  // namespace
}  // namespace deepsz
