// The generated data of synthetic.h: reproducible and as documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "deepsz/synthetic.h"
#include "deepsz/error.h"

namespace deepsz {
namespace {

TEST(Synthetic, given_same_seed_expect_same_pruned_array) {
  const auto a = pruned_like_array(100000, 10000, 0.05, 3);
  const auto b = pruned_like_array(100000, 10000, 0.05, 3);
  const auto c = pruned_like_array(100000, 10000, 0.05, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Synthetic, given_keep_expect_the_largest_magnitudes_in_original_order) {
  const auto all = pruned_like_array(50000, 50000, 0.05, 1);  // keep >= total: everything
  ASSERT_EQ(all.size(), 50000u);
  const auto kept = pruned_like_array(50000, 5000, 0.05, 1);
  ASSERT_EQ(kept.size(), 5000u);
  std::vector<float> mags;
  for (float v : all) mags.push_back(std::fabs(v));
  std::sort(mags.begin(), mags.end(), std::greater<float>());
  const float threshold = mags[4999];
  // The kept values are the subsequence of `all` with |w| >= threshold.
  std::vector<float> expected;
  for (float v : all)
    if (std::fabs(v) >= threshold) expected.push_back(v);
  EXPECT_EQ(kept, expected);
  // Gaussian(0, 0.05): the top 10% lie beyond ~1.645 sigma.
  EXPECT_NEAR(threshold, 1.645 * 0.05, 0.004);
}

TEST(Synthetic, given_odd_total_expect_sample_statistics_of_gaussian) {
  const auto v = pruned_like_array(200001, 200001, 2.0, 9);
  ASSERT_EQ(v.size(), 200001u);
  double m = 0, s2 = 0;
  for (float x : v) m += x;
  m /= double(v.size());
  for (float x : v) s2 += (x - m) * (x - m);
  EXPECT_NEAR(m, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(s2 / double(v.size())), 2.0, 0.02);
  EXPECT_TRUE(pruned_like_array(10, 0).empty());
  EXPECT_THROW(pruned_like_array(10, 5, -1.0), Error);
}

TEST(Synthetic, given_density_expect_sorted_reproducible_mask) {
  const auto p = random_mask_positions(300, 500, 0.08, 5);
  EXPECT_EQ(p, random_mask_positions(300, 500, 0.08, 5));
  EXPECT_TRUE(std::is_sorted(p.begin(), p.end()));
  EXPECT_TRUE(std::adjacent_find(p.begin(), p.end()) == p.end());
  EXPECT_LT(p.back(), 300u * 500u);
  EXPECT_NEAR(double(p.size()) / 150000.0, 0.08, 0.005);
  EXPECT_TRUE(random_mask_positions(10, 10, 0.0).empty());
  EXPECT_EQ(random_mask_positions(10, 10, 1.0).size(), 100u);
  EXPECT_THROW(random_mask_positions(10, 10, 1.5), Error);
}

}  // namespace
}  // namespace deepsz
