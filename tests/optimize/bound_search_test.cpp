#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

// drop(b) = budget * (b / edge)^power + noise in [-amplitude, amplitude].
struct SyntheticCurve {
  double budget, edge, power, amplitude;
  std::mt19937_64* rng;
  double operator()(double bound) const {
    std::uniform_real_distribution<double> noise(-amplitude, amplitude);
    return budget * std::pow(bound / edge, power) + (amplitude > 0 ? noise(*rng) : 0.0);
  }
};

std::vector<BoundMeasurement> run(const BoundSearchOptions& options, const SyntheticCurve& curve) {
  BoundSearch search(options);
  int guard = 0;
  while (auto bound = search.next()) {
    search.record(*bound, curve(*bound));
    if (++guard > 1000) break;
  }
  return search.measurements();
}

TEST(BoundSearch, given_noiseless_curves_expect_edge_within_refinement_step) {
  std::mt19937_64 rng(2024);
  // Reach of the defaults: 12 doublings, then one past the edge (2x budget).
  std::uniform_real_distribution<double> log_start(-3.3, -2.0);
  for (int trial = 0; trial < 300; ++trial) {
    BoundSearchOptions options;
    options.budget = 0.3;
    options.start_bound = std::pow(10.0, log_start(rng));  // edge is 100x to 2000x above
    const SyntheticCurve curve{options.budget, 1.0, 2.0, 0.0, &rng};
    const auto done = run(options, curve);
    ASSERT_LE(done.size(), static_cast<size_t>(options.max_candidates));
    const double step = std::pow(options.growth, std::ldexp(1.0, -options.refinements));
    const double found = largest_feasible_bound(done, options.budget);
    EXPECT_LE(found, curve.edge * (1 + 1e-12));
    EXPECT_GE(found, curve.edge / step * (1 - 1e-12)) << "start " << options.start_bound;
  }
}

TEST(BoundSearch, given_noisy_curves_expect_edge_within_noise_band_and_limit) {
  std::mt19937_64 rng(77);
  std::uniform_real_distribution<double> log_start(-3.5, -1.5);
  std::uniform_real_distribution<double> log_edge(-3.0, 0.0);
  for (int trial = 0; trial < 500; ++trial) {
    BoundSearchOptions options;
    options.budget = 0.3;
    options.noise_margin = 0.1;
    const double edge = std::pow(10.0, log_edge(rng));
    options.start_bound = edge * std::pow(10.0, log_start(rng));
    const SyntheticCurve curve{options.budget, edge, 2.0, 0.05, &rng};
    const auto done = run(options, curve);
    ASSERT_LE(done.size(), static_cast<size_t>(options.max_candidates));
    const double step = std::pow(options.growth, std::ldexp(1.0, -options.refinements));
    // Where the noisy curve is surely under / surely over the budget.
    const double surely_under = edge * std::sqrt(1.0 - curve.amplitude / options.budget);
    const double surely_over = edge * std::sqrt(1.0 + curve.amplitude / options.budget);
    const double found = largest_feasible_bound(done, options.budget);
    EXPECT_LE(found, surely_over);
    EXPECT_GE(found, surely_under / step) << "trial " << trial;
  }
}

TEST(BoundSearch, given_start_above_edge_expect_narrowing_then_refinement) {
  std::mt19937_64 rng(1);
  BoundSearchOptions options;
  options.budget = 0.3;
  options.start_bound = 0.5;
  const SyntheticCurve curve{options.budget, 0.01, 2.0, 0.0, &rng};
  const auto done = run(options, curve);
  EXPECT_LE(done.size(), 16u);
  const double step = std::pow(2.0, 1.0 / 8.0);
  const double found = largest_feasible_bound(done, options.budget);
  EXPECT_LE(found, 0.01 * (1 + 1e-12));
  EXPECT_GE(found, 0.01 / step);
}

// Measured on a pruned LeNet-300-100: the first candidate of fc1 flipped a
// net 2 images, the whole budget left for compression; without a cheaper
// drop-free option the optimiser stored the layer lossless (3.5 bytes a value).
TEST(BoundSearch, given_feasible_but_lossy_start_expect_narrowing_to_a_free_bound) {
  BoundSearchOptions options;
  options.budget = 0.04;
  options.start_bound = 2e-3;
  options.narrow_to_free = true;
  auto drop = [](double b) { return b >= 1e-3 ? 0.04 : 0.0; };
  BoundSearch search(options);
  while (auto b = search.next()) search.record(*b, drop(*b));
  bool free_found = false;
  for (const auto& m : search.measurements()) free_found |= m.abs_error_bound > 0 && m.top1_drop <= 0;
  EXPECT_TRUE(free_found);
  EXPECT_LE(search.measurements().size(), static_cast<size_t>(options.max_candidates));
  // Without the option the search never looks below the start.
  options.narrow_to_free = false;
  BoundSearch plain(options);
  while (auto b = plain.next()) plain.record(*b, drop(*b));
  for (const auto& m : plain.measurements()) EXPECT_GE(m.abs_error_bound, 2e-3);
}

TEST(BoundSearch, given_layer_too_sensitive_expect_stop_at_floor) {
  std::mt19937_64 rng(1);
  BoundSearchOptions options;
  options.budget = 0.3;
  options.start_bound = 1e-3;
  const SyntheticCurve curve{options.budget, 1e-12, 1.0, 0.0, &rng};
  const auto done = run(options, curve);
  EXPECT_LE(done.size(), 16u);
  EXPECT_EQ(largest_feasible_bound(done, options.budget), 0.0);
  for (const auto& m : done) EXPECT_GE(m.abs_error_bound, 1e-3 / 1024 * (1 - 1e-12));
}

TEST(BoundSearch, given_insensitive_layer_expect_stop_at_max_bound) {
  std::mt19937_64 rng(1);
  BoundSearchOptions options;
  options.budget = 0.3;
  options.start_bound = 1e-4;
  options.max_bound = 0.05;  // e.g. max |w|: beyond it every value codes to 0
  const SyntheticCurve curve{options.budget, 1e9, 1.0, 0.0, &rng};
  const auto done = run(options, curve);
  EXPECT_LE(done.size(), 16u);
  EXPECT_DOUBLE_EQ(largest_feasible_bound(done, options.budget), 0.05);
}

TEST(BoundSearch, given_far_start_expect_candidate_limit_respected) {
  std::mt19937_64 rng(1);
  for (int limit : {1, 2, 5, 16}) {
    BoundSearchOptions options;
    options.budget = 0.3;
    options.start_bound = 1e-9;
    options.max_candidates = limit;
    const SyntheticCurve curve{options.budget, 1.0, 2.0, 0.0, &rng};
    EXPECT_EQ(run(options, curve).size(), static_cast<size_t>(limit));
  }
}

TEST(BoundSearch, given_bad_options_expect_invalid_argument) {
  BoundSearchOptions options;
  EXPECT_THROW(BoundSearch{options}, Error);  // start_bound 0
  options.start_bound = 1e-3;
  EXPECT_THROW(BoundSearch{options}, Error);  // budget 0
  options.budget = 0.3;
  options.growth = 1.0;
  EXPECT_THROW(BoundSearch{options}, Error);
  options.growth = 2.0;
  BoundSearch ok(options);
  EXPECT_THROW(ok.record(NAN, 0.0), Error);
}

}  // namespace
}  // namespace deepsz
