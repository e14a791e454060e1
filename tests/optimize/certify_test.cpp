// The certification statistic and the fixed-sequence rule (docs/PIPELINE.md,
// "Certification").
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

TEST(NormalQuantile, given_known_points_expect_published_values) {
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-12);
  EXPECT_NEAR(normal_quantile(0.9), 1.2815515655446004, 1e-10);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-10);
  EXPECT_NEAR(normal_quantile(0.001), -3.090232306167813, 1e-9);
  EXPECT_NEAR(normal_quantile(1 - 1e-9), 5.997807015007686, 1e-7);
  EXPECT_THROW(normal_quantile(0.0), Error);
  EXPECT_THROW(normal_quantile(1.0), Error);
}

TEST(DiscordantBound, given_no_flip_expect_zero) { EXPECT_EQ(discordant_drop_upper_bound(0, 0, 10000, 0.9), 0.0); }

TEST(DiscordantBound, given_known_binomial_cases_expect_exact_values) {
  // 5 of 100 discordant images right->wrong: the one-sided 97.5% Clopper-Pearson
  // upper bound on q is 0.112835 (the two-sided 95% interval's end), so the
  // bound is 100 x (100 / 1000) x (2 x 0.112835 - 1).
  EXPECT_NEAR(discordant_drop_upper_bound(5, 95, 1000, 0.975), 10.0 * (2 * 0.112835 - 1), 1e-4);
  // Every discordant image right->wrong: q_U = 1, the bound is the discordance.
  EXPECT_NEAR(discordant_drop_upper_bound(30, 0, 10000, 0.9), 0.3, 1e-12);
  // None: q_U = 1 - alpha^(1/m).
  const double q = 1 - std::pow(0.1, 1.0 / 20);
  EXPECT_NEAR(discordant_drop_upper_bound(0, 20, 10000, 0.9), 100.0 * 20 / 10000 * (2 * q - 1), 1e-9);
}

TEST(DiscordantBound, given_confidence_one_half_expect_about_one_image_above_the_estimate) {
  for (uint64_t c2w : {10u, 100u, 163u}) {
    const uint64_t w2c = 137, n = 10000;
    const double estimate = 100.0 * (double(c2w) - double(w2c)) / double(n);
    const double bound = discordant_drop_upper_bound(c2w, w2c, n, 0.5);
    EXPECT_GE(bound, estimate);
    EXPECT_LE(bound, estimate + 1.5 * 100.0 / double(n)) << c2w;  // about one image above
  }
}

TEST(DiscordantBound, given_higher_confidence_expect_a_larger_bound_than_the_estimate_and_below_bonferroni) {
  const double b90 = discordant_drop_upper_bound(180, 120, 10000, 0.9);
  const double b95 = discordant_drop_upper_bound(180, 120, 10000, 0.95);
  EXPECT_GT(b90, 0.6);
  EXPECT_GT(b95, b90);
  EXPECT_LT(b95, paired_drop_upper_bound(180, 120, 10000, 0.95));
}

TEST(DiscordantBound, given_bad_counts_or_confidence_expect_invalid_argument) {
  EXPECT_THROW(discordant_drop_upper_bound(1, 1, 0, 0.9), Error);
  EXPECT_THROW(discordant_drop_upper_bound(6, 5, 10, 0.9), Error);
  EXPECT_THROW(discordant_drop_upper_bound(1, 1, 10, 1.0), Error);
  EXPECT_THROW(discordant_drop_upper_bound(1, 1, 10, 0.0), Error);
}

// Paired images of a candidate whose true drop is `drop_pp` with a
// discordance `pi`, n images: (c2w, w2c) drawn as m ~ Bin(n, pi), then
// c2w ~ Bin(m, q).
CertificationCounts draw(std::mt19937_64& rng, uint64_t n, double pi, double drop_pp) {
  const double q = 0.5 * (1.0 + drop_pp / 100.0 / pi);
  const uint64_t m = std::binomial_distribution<uint64_t>(n, pi)(rng);
  const uint64_t c2w = m ? std::binomial_distribution<uint64_t>(m, q)(rng) : 0;
  return {c2w, m - c2w, n};
}

TEST(DiscordantBound, given_simulated_candidates_at_the_budget_expect_coverage_of_the_confidence) {
  // The case certification meets: 10,000 images, 3% of them discordant,
  // true drop exactly at a 0.3-point budget. A bound at 90% must reach the
  // true drop in about 90% of the draws (conditional on m it is exact; the
  // estimate m / n of the discordance is the approximation).
  std::mt19937_64 rng(2026);
  for (double confidence : {0.5, 0.9, 0.95}) {
    int covered = 0;
    const int trials = 4000;
    for (int t = 0; t < trials; ++t) {
      const CertificationCounts c = draw(rng, 10000, 0.03, 0.3);
      covered += discordant_drop_upper_bound(c.correct_to_wrong, c.wrong_to_correct, c.images, confidence) >= 0.3;
    }
    const double coverage = double(covered) / trials;
    EXPECT_GE(coverage, confidence - 0.025) << confidence;
    EXPECT_LE(coverage, confidence + 0.06) << confidence;  // exact, not a loose bound
  }
}

TEST(PlannedLooks, given_few_candidates_expect_all_of_them) {
  EXPECT_EQ(planned_looks(3, 8), (std::vector<size_t>{0, 1, 2}));
  EXPECT_TRUE(planned_looks(0, 8).empty());
}

TEST(PlannedLooks, given_many_candidates_expect_both_ends_and_evenly_spaced_distinct_ones) {
  const std::vector<size_t> p = planned_looks(20, 5);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p.front(), 0u);
  EXPECT_EQ(p.back(), 19u);
  for (size_t i = 1; i < p.size(); ++i) EXPECT_GT(p[i], p[i - 1]);
  EXPECT_EQ(planned_looks(20, 1), (std::vector<size_t>{19}));
}

TEST(Certify, given_a_refusal_expect_the_last_passed_candidate_and_no_look_after_it) {
  // Upper bounds 0 (lossless), then drops that grow with the candidate.
  const std::vector<CertificationCounts> counts = {{0, 0, 10000}, {20, 15, 10000}, {40, 20, 10000}, {90, 20, 10000},
                                                   {30, 10, 10000}};
  std::vector<size_t> seen;
  const CertificationResult r = certify_in_sequence(counts.size(), 0.3, 0.9, 8, [&](size_t i) {
    seen.push_back(i);
    return counts[i];
  });
  EXPECT_TRUE(r.certified);
  EXPECT_EQ(r.chosen, 2u);  // candidate 3 reads 0.7: refused, so candidate 4 (which would pass) is never looked at
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2, 3}));
  ASSERT_EQ(r.looks.size(), 4u);
  EXPECT_TRUE(r.looks[2].passed);
  EXPECT_FALSE(r.looks[3].passed);
  EXPECT_NEAR(r.looks[1].drop, 0.05, 1e-12);
  EXPECT_NE(r.statement.find("candidate 3 of 5"), std::string::npos) << r.statement;
}

TEST(Certify, given_byte_counts_expect_the_smallest_passed_candidate_chosen_not_the_last) {
  // Two models in the sequence: the denser one's compressed file (candidate
  // 1, 30 KB) is smaller than the sparser one's lossless (candidate 2, 80 KB).
  const std::vector<CertificationCounts> counts = {{0, 0, 10000}, {20, 15, 10000}, {25, 20, 10000}, {90, 20, 10000}};
  const std::vector<uint64_t> bytes = {110000, 30000, 80000, 20000};
  const CertificationResult r =
      certify_in_sequence(counts.size(), 0.3, 0.9, 8, [&](size_t i) { return counts[i]; }, bytes);
  ASSERT_TRUE(r.certified);
  EXPECT_EQ(r.chosen, 1u);
  ASSERT_EQ(r.looks.size(), 4u);
  EXPECT_TRUE(r.looks[2].passed);
  EXPECT_FALSE(r.looks[3].passed);  // the smallest, refused: never chosen
  EXPECT_NE(r.statement.find("candidate 2 of 4"), std::string::npos) << r.statement;
  EXPECT_THROW(certify_in_sequence(2, 0.3, 0.9, 8, [&](size_t i) { return counts[i]; }, bytes), Error);
}

TEST(Certify, given_the_safest_candidate_refused_expect_not_certified) {
  const CertificationResult r =
      certify_in_sequence(4, 0.3, 0.9, 8, [](size_t) { return CertificationCounts{80, 10, 10000}; });
  EXPECT_FALSE(r.certified);
  EXPECT_EQ(r.looks.size(), 1u);
  EXPECT_NE(r.statement.find("Not certified"), std::string::npos);
}

TEST(Certify, given_bad_arguments_expect_invalid_argument) {
  auto ok = [](size_t) { return CertificationCounts{0, 0, 10}; };
  EXPECT_THROW(certify_in_sequence(2, -0.1, 0.9, 8, ok), Error);
  EXPECT_THROW(certify_in_sequence(2, 0.3, 1.0, 8, ok), Error);
  EXPECT_THROW(certify_in_sequence(2, 0.3, 0.9, 0, ok), Error);
  EXPECT_THROW(certify_in_sequence(2, 0.3, 0.9, 8, [](size_t) { return CertificationCounts{5, 6, 10}; }), Error);
}

TEST(Certify, given_a_sequence_crossing_the_budget_expect_a_false_pass_at_most_one_minus_confidence) {
  // True drops 0, 0.1, ..., 0.7 points at a 0.3 budget, fresh images every
  // trial: the family-wise error (any candidate over the budget passed) is
  // at most 1 - confidence although up to 8 candidates are looked at.
  std::mt19937_64 rng(7);
  const int trials = 3000;
  int false_pass = 0;
  for (int t = 0; t < trials; ++t) {
    const CertificationResult r = certify_in_sequence(8, 0.3, 0.9, 8, [&](size_t i) {
      return draw(rng, 10000, 0.03, 0.1 * double(i));
    });
    bool bad = false;
    for (const auto& l : r.looks) bad |= l.passed && 0.1 * double(l.candidate) > 0.3 + 1e-9;
    false_pass += bad;
  }
  EXPECT_LE(double(false_pass) / trials, 0.1 + 0.015);
}

}  // namespace
}  // namespace deepsz
