#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepsz/optimize.h"
#include "synthetic_tables.h"

namespace deepsz {
namespace {

constexpr uint64_t kImages = 10000;

// A whole-model measurement with `drop` points (rounded to whole images) and
// `noise` images flipping each way.
ConfigurationMeasurement measurement(double drop, uint64_t noise = 5) {
  const long net = std::lround(drop * kImages / 100.0);
  ConfigurationMeasurement m;
  m.images = kImages;
  m.correct_to_wrong = noise + static_cast<uint64_t>(std::max(net, 0L));
  m.wrong_to_correct = noise + static_cast<uint64_t>(std::max(-net, 0L));
  m.top1_drop = 100.0 * (static_cast<double>(m.correct_to_wrong) -
                         static_cast<double>(m.wrong_to_correct)) / kImages;
  return m;
}

double additive_drop(const AssessmentTable& table, const std::vector<size_t>& choice) {
  double sum = 0.0;
  for (size_t l = 0; l < choice.size(); ++l)
    sum += std::max(0.0, table.layers[l].candidates[choice[l]].top1_drop);
  return sum;
}

size_t lossy_layers(const std::vector<size_t>& choice) {
  size_t n = 0;
  for (size_t k : choice) n += k != 0;
  return n;
}

TEST(Guarantee, given_exact_additive_model_expect_one_measurement) {
  std::mt19937_64 rng(8);
  const AssessmentTable table = testing::random_table(rng, 4, 8, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.3;
  int calls = 0;
  const GuaranteeResult r = guarantee_configuration(table, options, [&](const std::vector<size_t>& c) {
    ++calls;
    return measurement(additive_drop(table, c));
  });
  EXPECT_TRUE(r.success);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.measurements, 1);
  EXPECT_LE(r.measured_drop, 0.3);
  EXPECT_GT(r.drop_upper_bound, r.measured_drop);
  EXPECT_EQ(r.history.size(), 1u);
  EXPECT_NE(r.statement.find("within the budget"), std::string::npos);
}

TEST(Guarantee, given_interaction_term_expect_measured_within_budget_and_termination) {
  std::mt19937_64 rng(31);
  int tightened = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const AssessmentTable table = testing::random_table(rng, 2 + rng() % 5, 10, kImages);
    GuaranteeOptions options;
    options.solve.budget = 0.05 * static_cast<double>(1 + rng() % 10);
    const double factor = 1.0 + 0.25 * static_cast<double>(rng() % 6);
    const double pair_term = 0.02 * static_cast<double>(rng() % 4);
    int calls = 0;
    const auto measure = [&](const std::vector<size_t>& c) {
      ++calls;
      const double n = static_cast<double>(lossy_layers(c));
      return measurement(factor * additive_drop(table, c) + pair_term * n * (n - 1) / 2);
    };
    const GuaranteeResult r = guarantee_configuration(table, options, measure);
    ASSERT_TRUE(r.success) << "trial " << trial;
    EXPECT_LE(r.measured_drop, options.solve.budget + 1e-9);
    EXPECT_LE(r.measurements, options.max_measurements);
    EXPECT_EQ(calls, r.measurements);
    EXPECT_EQ(r.history.back().choice, r.choice);
    EXPECT_TRUE(r.history.back().within_budget);
    for (size_t i = 0; i + 1 < r.history.size(); ++i) EXPECT_FALSE(r.history[i].within_budget);
    tightened += r.history.size() > 1;
  }
  EXPECT_GT(tightened, 50);  // the loop really had to tighten
}

// The additive envelope over-estimates: the true combined drop is a third of
// the sum. Loosening must find a smaller configuration, never return one
// measured over the budget, and stop at the first over-budget measurement.
TEST(Guarantee, given_pessimistic_additive_model_expect_loosening_to_smaller_within_budget) {
  std::mt19937_64 rng(12);
  int smaller = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const AssessmentTable table = testing::random_table(rng, 5, 10, kImages);
    GuaranteeOptions options;
    options.solve.budget = 0.3;
    auto truth = [&](const std::vector<size_t>& c) { return measurement(additive_drop(table, c) / 3.0); };
    const GuaranteeResult plain = guarantee_configuration(table, options, truth);
    options.loosen_steps = 4;
    const GuaranteeResult loose = guarantee_configuration(table, options, truth);
    ASSERT_TRUE(plain.success);
    ASSERT_TRUE(loose.success);
    EXPECT_LE(loose.bytes, plain.bytes);
    smaller += loose.bytes < plain.bytes;
    EXPECT_LE(loose.measured_drop, 0.3 + 1e-9);
    EXPECT_LE(loose.measurements, 1 + 4);
    // The returned configuration is one that was measured within budget.
    bool found = false;
    for (const auto& step : loose.history) found |= step.choice == loose.choice && step.within_budget;
    EXPECT_TRUE(found);
    // Every measured step after the first over-budget one: none.
    bool over = false;
    for (size_t i = 1; i < loose.history.size(); ++i) {
      EXPECT_FALSE(over) << "measured after an over-budget loosening";
      over |= !loose.history[i].within_budget;
    }
  }
  EXPECT_GE(smaller, 25) << "loosening should pay off on most tables";
}

// Tightening ended at a small effective budget (a zero-estimate candidate
// of layer B forbidden on the way); the cheaper candidate of layer A costs
// more than 1.5x that budget. Loosening once stopped there because the DP
// left capacity unused, as if every layer were at its cheapest (a LeNet-5
// kept 26,676 bytes where 22,401 measured within budget).
TEST(Guarantee, given_small_effective_budget_after_tightening_expect_loosening_past_unused_capacity) {
  AssessmentTable table;
  table.model = "two layers";
  table.images = kImages;
  table.reference_top1 = 90.0;
  LayerAssessment a;
  a.name = "A";
  a.elements = 1000;
  a.candidates = {lossless_candidate(2500, 7500, kImages), testing::candidate_with_flips(1e-3, 6000, 5, 5, kImages),
                  testing::candidate_with_flips(2e-3, 3000, 20, 5, kImages)};  // drop 0.15
  LayerAssessment b;
  b.name = "B";
  b.elements = 1000;
  b.candidates = {lossless_candidate(2500, 7500, kImages), testing::candidate_with_flips(1e-3, 5000, 3, 3, kImages),
                  testing::candidate_with_flips(2e-3, 2000, 20, 20, kImages)};  // drop 0, but see below
  table.layers = {a, b};
  GuaranteeOptions options;
  options.solve.budget = 0.2;
  options.loosen_steps = 4;
  // B's cheapest candidate breaks the model whatever its lone drop said; the
  // rest is a third of the additive estimate.
  const GuaranteeResult r = guarantee_configuration(table, options, [&](const std::vector<size_t>& c) {
    return measurement(c[1] == 2 ? 0.5 : additive_drop(table, c) / 3.0);
  });
  ASSERT_TRUE(r.success);
  EXPECT_EQ(r.choice, (std::vector<size_t>{2, 1}));
  EXPECT_EQ(r.bytes, 8000u);
  EXPECT_LE(r.measured_drop, 0.2 + 1e-9);
  EXPECT_NE(r.history.back().action.find("loosened"), std::string::npos) << r.history.back().action;
}

// A zero budget (pruning spent it all) once looped forever: 0 x 1.5 = 0.
TEST(Guarantee, given_zero_or_tiny_budget_with_loosening_expect_termination) {
  std::mt19937_64 rng(21);
  const AssessmentTable table = testing::random_table(rng, 4, 8, kImages);
  for (double budget : {0.0, 1e-9, 0.01}) {
    GuaranteeOptions options;
    options.solve.budget = budget;
    options.loosen_steps = 4;
    const GuaranteeResult r = guarantee_configuration(
        table, options, [&](const std::vector<size_t>& c) { return measurement(additive_drop(table, c) / 3.0, 0); });
    EXPECT_TRUE(r.success);
    EXPECT_LE(r.measured_drop, budget + 1e-9);
  }
}

TEST(Guarantee, given_bad_loosen_options_expect_invalid_argument) {
  std::mt19937_64 rng(3);
  const AssessmentTable table = testing::random_table(rng, 2, 4, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.3;
  options.loosen_steps = 2;
  options.loosen_factor = 1.0;
  EXPECT_THROW(guarantee_configuration(table, options, [](const std::vector<size_t>&) { return measurement(0); }),
               Error);
}

TEST(Guarantee, given_every_lossy_configuration_over_budget_expect_all_lossless) {
  std::mt19937_64 rng(4);
  const AssessmentTable table = testing::random_table(rng, 4, 8, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.3;
  options.max_measurements = 1000;
  const GuaranteeResult r = guarantee_configuration(table, options, [&](const std::vector<size_t>& c) {
    return measurement(lossy_layers(c) > 0 ? 1.0 : 0.0, lossy_layers(c) > 0 ? 5 : 0);
  });
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.choice, std::vector<size_t>(4, 0));
  EXPECT_EQ(r.bytes, r.lossless_bytes);
  EXPECT_EQ(r.measured_drop, 0.0);
  size_t candidates = 0;
  for (const auto& layer : table.layers) candidates += layer.candidates.size();
  EXPECT_LE(r.history.size(), 30 + candidates + 1);  // buckets + forbids + lossless
}

TEST(Guarantee, given_measurement_cap_expect_lossless_as_last_measurement) {
  std::mt19937_64 rng(4);
  const AssessmentTable table = testing::random_table(rng, 4, 8, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.3;
  options.max_measurements = 3;
  const GuaranteeResult r = guarantee_configuration(table, options, [&](const std::vector<size_t>& c) {
    return measurement(lossy_layers(c) > 0 ? 1.0 : 0.0, 0);
  });
  EXPECT_TRUE(r.success);
  EXPECT_EQ(r.measurements, 3);
  EXPECT_EQ(r.choice, std::vector<size_t>(4, 0));
}

TEST(Guarantee, given_irreproducible_evaluation_expect_clear_failure) {
  std::mt19937_64 rng(4);
  const AssessmentTable table = testing::random_table(rng, 3, 5, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.1;
  const GuaranteeResult r = guarantee_configuration(
      table, options, [&](const std::vector<size_t>&) { return measurement(0.5); });
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.choice, std::vector<size_t>(3, 0));
  EXPECT_NE(r.statement.find("FAILED"), std::string::npos);
  EXPECT_NE(r.history.back().action.find("failed"), std::string::npos);
}

TEST(Guarantee, given_inconsistent_measurement_expect_invalid_argument) {
  std::mt19937_64 rng(4);
  const AssessmentTable table = testing::random_table(rng, 2, 3, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.1;
  EXPECT_THROW(guarantee_configuration(table, options,
                                       [](const std::vector<size_t>&) {
                                         ConfigurationMeasurement m = measurement(0.0);
                                         m.top1_drop = 0.07;
                                         return m;
                                       }),
               Error);
}

TEST(Guarantee, given_result_expect_json_report) {
  std::mt19937_64 rng(8);
  const AssessmentTable table = testing::random_table(rng, 2, 4, kImages);
  GuaranteeOptions options;
  options.solve.budget = 0.2;
  const GuaranteeResult r = guarantee_configuration(
      table, options, [&](const std::vector<size_t>& c) { return measurement(2 * additive_drop(table, c)); });
  const std::string json = guarantee_result_to_json(table, r);
  EXPECT_NE(json.find("\"history\""), std::string::npos);
  EXPECT_NE(json.find("\"drop_upper_bound\""), std::string::npos);
}

}  // namespace
}  // namespace deepsz
