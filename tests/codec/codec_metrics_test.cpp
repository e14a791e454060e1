// The yardsticks: distortion, entropy bound, relative bounds, names.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "deepsz/codec.h"

namespace deepsz {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(CodecMetrics, given_known_errors_expect_distortion_statistics) {
  const std::vector<float> x = {1.0f, -1.0f, 0.5f, kNaN, kInf, 0.25f};
  const std::vector<float> y = {1.1f, 1.0f, 0.5f, kNaN, -kInf, 0.25f};
  const Distortion d = measure_distortion(x.data(), y.data(), x.size(), 0.15);
  EXPECT_NEAR(d.max_abs_error, 2.0, 1e-12);
  EXPECT_EQ(d.over_bound, 1u);            // the sign flip; 1.0 -> 1.1 is within 0.15
  EXPECT_EQ(d.sign_flips, 1u);
  EXPECT_EQ(d.non_finite_mismatch, 1u);   // +Inf -> -Inf
  EXPECT_NEAR(d.mean_abs_error, (double(1.1f) - 1.0 + 2.0) / 4.0, 1e-9);
  EXPECT_NEAR(d.rmse, std::sqrt((std::pow(double(1.1f) - 1.0, 2) + 4.0) / 4.0), 1e-9);
}

TEST(CodecMetrics, given_nan_decoded_for_finite_value_expect_over_bound) {
  const std::vector<float> x = {1.0f};
  const std::vector<float> y = {kNaN};
  const Distortion d = measure_distortion(x.data(), y.data(), 1, 1.0);
  EXPECT_EQ(d.over_bound, 1u);
  EXPECT_TRUE(std::isinf(d.max_abs_error));
}

TEST(CodecMetrics, given_two_equiprobable_codes_expect_one_bit) {
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(i % 2 ? 0.0f : 1.0f);
  EXPECT_NEAR(quantisation_entropy_bits(x.data(), x.size(), 0.01), 1.0, 1e-12);
  // All in one bin: zero bits.
  const std::vector<float> same(100, 0.3f);
  EXPECT_EQ(quantisation_entropy_bits(same.data(), same.size(), 0.01), 0.0);
  // round(x / 2eb): 0.009 and 0.011 fall in bins 0 and 1 at eb = 0.01 ...
  const std::vector<float> two = {0.009f, 0.011f};
  EXPECT_NEAR(quantisation_entropy_bits(two.data(), two.size(), 0.01), 1.0, 1e-12);
  // ... and both in bin 1 at eb = 0.005.
  EXPECT_NEAR(quantisation_entropy_bits(two.data(), two.size(), 0.005), 0.0, 1e-12);
  EXPECT_THROW(quantisation_entropy_bits(x.data(), x.size(), -1.0), Error);
}

TEST(CodecMetrics, given_relative_bound_expect_fraction_of_finite_range) {
  const std::vector<float> x = {kNaN, -2.0f, 3.0f, kInf, 0.0f};
  EXPECT_DOUBLE_EQ(absolute_bound_from_relative(x.data(), x.size(), 1e-2), 0.05);
  const std::vector<float> same(10, 4.0f);
  EXPECT_EQ(absolute_bound_from_relative(same.data(), same.size(), 0.1), 0.0);
  EXPECT_EQ(absolute_bound_from_relative(nullptr, 0, 0.1), 0.0);
  EXPECT_THROW(absolute_bound_from_relative(x.data(), x.size(), -0.1), Error);
  EXPECT_THROW(absolute_bound_from_relative(x.data(), x.size(), double(kNaN)), Error);
}

TEST(CodecMetrics, given_predictors_expect_names) {
  EXPECT_STREQ(predictor_name(Predictor::none), "none");
  EXPECT_STREQ(predictor_name(Predictor::lorenzo), "lorenzo");
  EXPECT_STREQ(predictor_name(Predictor::automatic), "automatic");
  EXPECT_STREQ(predictor_name(Predictor(42)), "unknown");
}

}  // namespace
}  // namespace deepsz
