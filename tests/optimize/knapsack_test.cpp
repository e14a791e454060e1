#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "deepsz/optimize.h"
#include "synthetic_tables.h"

namespace deepsz {
namespace {

struct BruteForce {
  bool feasible = false;
  uint64_t cost = std::numeric_limits<uint64_t>::max();
  uint64_t weight = 0;  // least weight among the cheapest
};

BruteForce brute_force(const std::vector<std::vector<KnapsackItem>>& groups, uint64_t capacity) {
  BruteForce best;
  std::vector<size_t> index(groups.size(), 0);
  for (;;) {
    uint64_t cost = 0, weight = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
      cost += groups[i][index[i]].cost;
      weight += groups[i][index[i]].weight;
    }
    if (weight <= capacity &&
        (!best.feasible || cost < best.cost || (cost == best.cost && weight < best.weight)))
      best = {true, cost, weight};
    size_t i = 0;
    while (i < groups.size() && ++index[i] == groups[i].size()) index[i++] = 0;
    if (i == groups.size()) break;
  }
  return best;
}

TEST(Knapsack, given_random_groups_when_solved_expect_brute_force_optimum) {
  std::mt19937_64 rng(12345);
  int infeasible = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t g = 1 + rng() % 5;
    std::vector<std::vector<KnapsackItem>> groups(g);
    for (auto& group : groups) {
      const size_t n = 1 + rng() % 4;  // includes groups of one item
      for (size_t k = 0; k < n; ++k)
        group.push_back({rng() % 6 * 10, rng() % 7});  // small ranges: many ties
    }
    const uint64_t capacity = rng() % 15;
    const BruteForce expected = brute_force(groups, capacity);
    const auto got = solve_multiple_choice_knapsack(groups, capacity);
    ASSERT_EQ(got.has_value(), expected.feasible) << "trial " << trial;
    if (!got) {
      ++infeasible;
      continue;
    }
    uint64_t cost = 0, weight = 0;
    for (size_t i = 0; i < g; ++i) {
      ASSERT_LT((*got)[i], groups[i].size());
      cost += groups[i][(*got)[i]].cost;
      weight += groups[i][(*got)[i]].weight;
    }
    EXPECT_EQ(cost, expected.cost) << "trial " << trial;
    EXPECT_EQ(weight, expected.weight) << "trial " << trial;
    EXPECT_LE(weight, capacity);
  }
  EXPECT_GT(infeasible, 50);  // the infeasible case was exercised
}

TEST(Knapsack, given_no_groups_expect_empty_choice) {
  const auto got = solve_multiple_choice_knapsack({}, 3);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
}

TEST(Buckets, given_drops_expect_rounding_up_and_budget_rounding_down) {
  EXPECT_EQ(drop_to_buckets(-0.5, 0.01), 0u);
  EXPECT_EQ(drop_to_buckets(0.0, 0.01), 0u);
  EXPECT_EQ(drop_to_buckets(0.001, 0.01), 1u);
  EXPECT_EQ(drop_to_buckets(0.03, 0.01), 3u);
  EXPECT_EQ(drop_to_buckets(0.07, 0.01), 7u);   // 0.07 / 0.01 = 7.000000000000001
  EXPECT_EQ(drop_to_buckets(0.031, 0.01), 4u);
  EXPECT_EQ(budget_to_buckets(0.3, 0.01), 30u);  // 0.3 / 0.01 = 29.999999999999996
  EXPECT_EQ(budget_to_buckets(0.309, 0.01), 30u);
  EXPECT_EQ(budget_to_buckets(0.0, 0.01), 0u);
}

TEST(Envelope, given_random_tables_expect_monotone_nonnegative_and_above_measured) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const AssessmentTable table = testing::random_table(rng, 4, 8);
    for (DropModel model : {DropModel::monotone_envelope, DropModel::upper_confidence}) {
      const auto drops = effective_drops(table, model);
      for (size_t l = 0; l < drops.size(); ++l) {
        EXPECT_EQ(drops[l][0], 0.0);
        for (size_t k = 1; k < drops[l].size(); ++k) {
          EXPECT_GE(drops[l][k], drops[l][k - 1]);
          EXPECT_GE(drops[l][k], table.layers[l].candidates[k].top1_drop);
        }
      }
    }
    const auto measured = effective_drops(table, DropModel::measured);
    for (size_t l = 0; l < measured.size(); ++l)
      for (size_t k = 0; k < measured[l].size(); ++k)
        EXPECT_EQ(measured[l][k], std::max(0.0, table.layers[l].candidates[k].top1_drop));
  }
}

// Brute force over real-valued drops: the least bytes with the summed
// effective drop <= budget.
uint64_t brute_force_bytes(const AssessmentTable& table, const std::vector<std::vector<double>>& drops,
                           double budget) {
  uint64_t best = std::numeric_limits<uint64_t>::max();
  std::vector<size_t> index(table.layers.size(), 0);
  for (;;) {
    double drop = 0.0;
    for (size_t l = 0; l < index.size(); ++l) drop += drops[l][index[l]];
    if (drop <= budget + 1e-9) best = std::min(best, configuration_bytes(table, index));
    size_t l = 0;
    while (l < index.size() && ++index[l] == table.layers[l].candidates.size()) index[l++] = 0;
    if (l == index.size()) break;
  }
  return best;
}

TEST(Solve, given_random_tables_expect_optimum_of_conservative_problem) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 400; ++trial) {
    // 10000 images: every drop is a multiple of 0.01 points, so 0.01
    // buckets lose nothing and the DP must match the real-valued optimum.
    const AssessmentTable table = testing::random_table(rng, 1 + rng() % 4, 6);
    for (DropModel model : {DropModel::measured, DropModel::monotone_envelope}) {
      SolveOptions options;
      options.budget = 0.01 * static_cast<double>(rng() % 200);
      options.drop_model = model;
      const Configuration got = solve_configuration(table, options);
      const auto drops = effective_drops(table, model);
      double true_drop = 0.0;
      for (size_t l = 0; l < got.choice.size(); ++l) true_drop += drops[l][got.choice[l]];
      EXPECT_LE(true_drop, options.budget + 1e-9);
      EXPECT_NEAR(got.estimated_drop, true_drop, 1e-12);
      EXPECT_EQ(got.bytes, configuration_bytes(table, got.choice));
      EXPECT_EQ(got.bytes, brute_force_bytes(table, drops, options.budget)) << "trial " << trial;
    }
  }
}

TEST(Solve, given_coarse_buckets_expect_conservative_choice) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const AssessmentTable table = testing::random_table(rng, 1 + rng() % 4, 6, 7919);  // odd image count
    SolveOptions options;
    options.budget = 0.013 * static_cast<double>(rng() % 100);
    options.bucket = 0.01 + 0.05 * static_cast<double>(rng() % 3);
    const Configuration got = solve_configuration(table, options);
    const auto drops = effective_drops(table, options.drop_model);
    double true_drop = 0.0;
    for (size_t l = 0; l < got.choice.size(); ++l) true_drop += drops[l][got.choice[l]];
    EXPECT_LE(true_drop, options.budget + 1e-12);  // rounding never understates
    EXPECT_LE(got.drop_buckets * options.bucket, options.budget + 1e-9);
    EXPECT_GE(got.bytes, brute_force_bytes(table, drops, options.budget));
  }
}

TEST(Solve, given_zero_budget_expect_only_zero_drop_candidates) {
  std::mt19937_64 rng(3);
  const AssessmentTable table = testing::random_table(rng, 5, 8);
  SolveOptions options;
  options.budget = 0.0;
  const Configuration got = solve_configuration(table, options);
  const auto drops = effective_drops(table, options.drop_model);
  for (size_t l = 0; l < got.choice.size(); ++l) EXPECT_EQ(drops[l][got.choice[l]], 0.0);
}

TEST(Solve, given_forbidden_candidates_expect_them_avoided) {
  std::mt19937_64 rng(11);
  const AssessmentTable table = testing::random_table(rng, 3, 6);
  SolveOptions options;
  options.budget = 100.0;
  for (const auto& layer : table.layers) options.allowed.emplace_back(layer.candidates.size(), false);
  const Configuration got = solve_configuration(table, options);
  for (size_t l = 0; l < got.choice.size(); ++l) EXPECT_EQ(got.choice[l], 0u);  // lossless stays
}

TEST(Solve, given_winners_curse_table_expect_envelope_to_refuse_lucky_bound) {
  // Bound 2e-3 measured a lucky -0.02 between two bounds that cost 0.1.
  AssessmentTable table;
  table.images = 10000;
  LayerAssessment layer;
  layer.name = "fc1";
  layer.elements = 1000;
  layer.candidates = {lossless_candidate(100, 4000, 10000),
                      testing::candidate_with_flips(1e-3, 2000, 10, 0, 10000),
                      testing::candidate_with_flips(2e-3, 1000, 0, 2, 10000),
                      testing::candidate_with_flips(4e-3, 500, 30, 0, 10000)};
  table.layers = {layer};
  SolveOptions options;
  options.budget = 0.05;
  options.drop_model = DropModel::measured;
  EXPECT_EQ(solve_configuration(table, options).choice[0], 2u);  // the lucky one
  options.drop_model = DropModel::monotone_envelope;
  EXPECT_EQ(solve_configuration(table, options).choice[0], 0u);  // its envelope is 0.1
}

TEST(Solve, given_bad_options_expect_invalid_argument) {
  std::mt19937_64 rng(1);
  const AssessmentTable table = testing::random_table(rng, 2, 3);
  SolveOptions options;
  options.budget = -1.0;
  EXPECT_THROW(solve_configuration(table, options), Error);
  options.budget = 0.3;
  options.bucket = 0.0;
  EXPECT_THROW(solve_configuration(table, options), Error);
  options.bucket = 0.01;
  options.allowed = {{true}};
  EXPECT_THROW(solve_configuration(table, options), Error);
  AssessmentTable broken = table;
  broken.layers[0].candidates[0].abs_error_bound = 1e-3;
  try {
    solve_configuration(broken, SolveOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

}  // namespace
}  // namespace deepsz
