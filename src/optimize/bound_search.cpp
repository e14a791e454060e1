// Adaptive choice of the error bounds to measure for one layer: narrow,
// widen geometrically, then bisect the feasibility edge in log space. The
// proposal depends on the measurements only, so a caller may resume, reorder
// or measure in parallel batches without hidden state.
#include <algorithm>
#include <cmath>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

constexpr double kRelativeSlack = 1e-9;
constexpr int kMaxRefinements = 30;

void check_options(const BoundSearchOptions& o) {
  auto bad = [](const char* what) {
    throw Error(ErrorCode::invalid_argument, std::string("bound search: ") + what);
  };
  if (!std::isfinite(o.start_bound) || o.start_bound <= 0.0) bad("start_bound must be finite and > 0");
  if (!std::isfinite(o.budget) || o.budget <= 0.0) bad("budget must be finite and > 0");
  if (std::isnan(o.noise_margin) || std::isinf(o.noise_margin)) bad("noise_margin must be finite");
  if (!std::isfinite(o.growth) || o.growth <= 1.0) bad("growth must be finite and > 1");
  if (o.refinements < 0 || o.refinements > kMaxRefinements) bad("refinements must be in [0, 30]");
  if (o.max_candidates < 1) bad("max_candidates must be >= 1");
  if (std::isnan(o.max_bound) || o.max_bound <= 0.0) bad("max_bound must be > 0");
  if (!std::isfinite(o.min_bound) || o.min_bound < 0.0) bad("min_bound must be finite and >= 0");
}

// Lossy measurements sorted by bound; a bound measured twice keeps its worst drop.
std::vector<BoundMeasurement> sorted_lossy(const std::vector<BoundMeasurement>& done) {
  std::vector<BoundMeasurement> out;
  for (const BoundMeasurement& m : done) {
    if (!std::isfinite(m.abs_error_bound) || m.abs_error_bound < 0.0 || !std::isfinite(m.top1_drop))
      throw Error(ErrorCode::invalid_argument, "bound search: measurement not finite");
    if (m.abs_error_bound > 0.0) out.push_back(m);  // the lossless one is not a candidate
  }
  std::sort(out.begin(), out.end(), [](const BoundMeasurement& a, const BoundMeasurement& b) {
    return a.abs_error_bound < b.abs_error_bound ||
           (a.abs_error_bound == b.abs_error_bound && a.top1_drop > b.top1_drop);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const BoundMeasurement& a, const BoundMeasurement& b) {
                          return a.abs_error_bound == b.abs_error_bound;
                        }),
            out.end());
  return out;
}

// Index of the largest bound whose envelope drop is <= budget, or -1.
long feasible_edge(const std::vector<BoundMeasurement>& sorted, double budget) {
  long edge = -1;
  double envelope = 0.0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    envelope = std::max(envelope, sorted[i].top1_drop);
    if (envelope > budget) break;
    edge = static_cast<long>(i);
  }
  return edge;
}

}  // namespace

std::optional<double> propose_next_bound(const BoundSearchOptions& options,
                                         const std::vector<BoundMeasurement>& done) {
  check_options(options);
  const std::vector<BoundMeasurement> m = sorted_lossy(done);
  const double start = std::min(options.start_bound, options.max_bound);
  if (m.empty()) return start;
  const long n = static_cast<long>(m.size());
  if (n >= options.max_candidates) return std::nullopt;

  const long edge = feasible_edge(m, options.budget);
  if (edge < 0) {
    // Even the smallest bound costs too much: look lower, down to a floor.
    const double floor = options.min_bound > 0.0 ? options.min_bound : options.start_bound / 1024.0;
    const double lower = m.front().abs_error_bound / options.growth;
    if (lower < floor * (1.0 - kRelativeSlack)) return std::nullopt;  // only lossless fits
    return lower;
  }

  if (options.narrow_to_free && m.front().top1_drop > 0.0) {
    // The smallest bound is feasible but not free: look for one that flips
    // no net image, a factor growth^2 lower, so that the optimiser has a
    // cheap option between lossless and this one (a tiny leftover budget
    // otherwise forces whole layers to lossless floats).
    const double floor = options.min_bound > 0.0 ? options.min_bound : options.start_bound / 1024.0;
    const double lower = m.front().abs_error_bound / (options.growth * options.growth);
    if (lower >= floor * (1.0 - kRelativeSlack)) return lower;
  }

  const double margin = options.noise_margin < 0.0 ? options.budget : options.noise_margin;
  const bool clearly_over = std::any_of(m.begin(), m.end(), [&](const BoundMeasurement& x) {
    return x.top1_drop > options.budget + margin;
  });
  const double largest = m.back().abs_error_bound;
  const bool at_cap = largest >= options.max_bound * (1.0 - kRelativeSlack);
  const long widening_limit = std::max(1L, static_cast<long>(options.max_candidates) - options.refinements);
  // Slots kept for refining are spent on widening while nothing measured is
  // infeasible (there is no edge to refine yet).
  if (!clearly_over && !at_cap && (n < widening_limit || edge == n - 1))
    return std::min(largest * options.growth, options.max_bound);

  if (edge == n - 1) return std::nullopt;  // everything measured fits: nothing to refine
  const double lo = m[static_cast<size_t>(edge)].abs_error_bound;
  const double hi = m[static_cast<size_t>(edge) + 1].abs_error_bound;
  const double target = std::pow(options.growth, std::ldexp(1.0, -options.refinements));
  if (hi / lo <= target * (1.0 + kRelativeSlack)) return std::nullopt;
  return std::sqrt(lo * hi);
}

double largest_feasible_bound(const std::vector<BoundMeasurement>& done, double budget) {
  const std::vector<BoundMeasurement> m = sorted_lossy(done);
  const long edge = feasible_edge(m, budget);
  return edge < 0 ? 0.0 : m[static_cast<size_t>(edge)].abs_error_bound;
}

BoundSearch::BoundSearch(const BoundSearchOptions& options) : options_(options) {
  check_options(options_);
}

void BoundSearch::record(double abs_error_bound, double top1_drop) {
  if (!std::isfinite(abs_error_bound) || abs_error_bound < 0.0 || !std::isfinite(top1_drop))
    throw Error(ErrorCode::invalid_argument, "bound search: measurement not finite");
  done_.push_back({abs_error_bound, top1_drop});
}

}  // namespace deepsz
