// Drop models and the multiple-choice knapsack over drop buckets.
#include <algorithm>
#include <cmath>
#include <limits>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

// Slack, in buckets, that absorbs binary rounding of drop / bucket.
constexpr double kBucketSlack = 1e-9;
constexpr double kMaxBudgetBuckets = 1e7;
// groups * (capacity + 1) choice indices kept for the back-trace.
constexpr uint64_t kMaxKnapsackCells = uint64_t(1) << 28;

void check_solve_options(const AssessmentTable& table, const SolveOptions& options) {
  if (!std::isfinite(options.budget) || options.budget < 0.0)
    throw Error(ErrorCode::invalid_argument, "solve: budget must be finite and >= 0");
  if (!std::isfinite(options.bucket) || options.bucket <= 0.0)
    throw Error(ErrorCode::invalid_argument, "solve: bucket must be finite and > 0");
  if (options.budget / options.bucket > kMaxBudgetBuckets)
    throw Error(ErrorCode::invalid_argument, "solve: budget / bucket beyond 1e7 buckets");
  if (!options.allowed.empty()) {
    if (options.allowed.size() != table.layers.size())
      throw Error(ErrorCode::invalid_argument, "solve: allowed has the wrong number of layers");
    for (size_t l = 0; l < table.layers.size(); ++l)
      if (options.allowed[l].size() != table.layers[l].candidates.size())
        throw Error(ErrorCode::invalid_argument,
                    "solve: allowed[" + std::to_string(l) + "] has the wrong number of candidates");
  }
}

}  // namespace

const char* drop_model_name(DropModel model) noexcept {
  switch (model) {
    case DropModel::measured: return "measured";
    case DropModel::monotone_envelope: return "monotone_envelope";
    case DropModel::upper_confidence: return "upper_confidence";
  }
  return "unknown";
}

std::vector<std::vector<double>> effective_drops(const AssessmentTable& table, DropModel model,
                                                 double dp_confidence) {
  validate_assessment(table);
  std::vector<std::vector<double>> out(table.layers.size());
  for (size_t l = 0; l < table.layers.size(); ++l) {
    const auto& candidates = table.layers[l].candidates;
    auto& drops = out[l];
    drops.resize(candidates.size());
    double envelope = 0.0;
    for (size_t k = 0; k < candidates.size(); ++k) {
      const Candidate& c = candidates[k];
      double d = std::max(c.top1_drop, 0.0);
      if (k == 0) {
        d = 0.0;  // lossless: the model is the reference
      } else if (model == DropModel::upper_confidence && c.images > 0) {
        d = std::max(paired_drop_upper_bound(c.correct_to_wrong, c.wrong_to_correct, c.images,
                                             dp_confidence),
                     0.0);
      }
      if (model != DropModel::measured) {
        envelope = std::max(envelope, d);
        d = envelope;
      }
      drops[k] = d;
    }
  }
  return out;
}

uint64_t drop_to_buckets(double drop, double bucket) {
  if (!(bucket > 0.0) || std::isnan(drop))
    throw Error(ErrorCode::invalid_argument, "drop_to_buckets: bad drop or bucket");
  if (drop <= 0.0) return 0;
  const double buckets = std::ceil(drop / bucket - kBucketSlack);
  if (buckets >= 9e15) return uint64_t(9e15);  // beyond any capacity
  return static_cast<uint64_t>(std::max(buckets, 0.0));
}

uint64_t budget_to_buckets(double budget, double bucket) {
  if (!(bucket > 0.0) || std::isnan(budget))
    throw Error(ErrorCode::invalid_argument, "budget_to_buckets: bad budget or bucket");
  if (budget <= 0.0) return 0;
  const double buckets = std::floor(budget / bucket + kBucketSlack);
  if (buckets >= 9e15) return uint64_t(9e15);
  return static_cast<uint64_t>(buckets);
}

std::optional<std::vector<size_t>> solve_multiple_choice_knapsack(
    const std::vector<std::vector<KnapsackItem>>& groups, uint64_t capacity) {
  const size_t g = groups.size();
  if (g == 0) return std::vector<size_t>{};
  if (capacity >= kMaxKnapsackCells ||
      static_cast<uint64_t>(g) > kMaxKnapsackCells / (capacity + 1))
    throw Error(ErrorCode::invalid_argument, "knapsack: groups * (capacity + 1) beyond 2^28");
  constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
  constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  const size_t width = static_cast<size_t>(capacity) + 1;
  // best[w]: least cost of the groups so far with total weight exactly w.
  std::vector<uint64_t> best(width, kInfinity), next(width);
  best[0] = 0;
  std::vector<uint32_t> chosen(g * width, kNone);
  for (size_t i = 0; i < g; ++i) {
    if (groups[i].size() >= kNone)
      throw Error(ErrorCode::invalid_argument, "knapsack: too many items in a group");
    std::fill(next.begin(), next.end(), kInfinity);
    uint32_t* row = chosen.data() + i * width;
    for (size_t k = 0; k < groups[i].size(); ++k) {
      const KnapsackItem& item = groups[i][k];
      if (item.weight > capacity) continue;
      const size_t wk = static_cast<size_t>(item.weight);
      for (size_t w = wk; w < width; ++w) {
        const uint64_t before = best[w - wk];
        if (before == kInfinity) continue;
        if (item.cost > kInfinity - 1 - before)
          throw Error(ErrorCode::invalid_argument, "knapsack: total cost overflows");
        const uint64_t total = before + item.cost;
        if (total < next[w]) {  // strict: the earliest item wins a tie
          next[w] = total;
          row[w] = static_cast<uint32_t>(k);
        }
      }
    }
    best.swap(next);
  }
  size_t end = width;
  for (size_t w = 0; w < width; ++w)
    if (best[w] != kInfinity && (end == width || best[w] < best[end])) end = w;
  if (end == width) return std::nullopt;
  std::vector<size_t> choice(g);
  size_t w = end;
  for (size_t i = g; i-- > 0;) {
    const uint32_t k = chosen[i * width + w];
    choice[i] = k;
    w -= static_cast<size_t>(groups[i][k].weight);
  }
  return choice;
}

uint64_t configuration_bytes(const AssessmentTable& table, const std::vector<size_t>& choice) {
  if (choice.size() != table.layers.size())
    throw Error(ErrorCode::invalid_argument, "configuration: one choice per layer expected");
  uint64_t bytes = 0;
  for (size_t l = 0; l < choice.size(); ++l) {
    if (choice[l] >= table.layers[l].candidates.size())
      throw Error(ErrorCode::invalid_argument, "configuration: choice out of range");
    bytes += table.layers[l].candidates[choice[l]].total_bytes();
  }
  return bytes;
}

uint64_t lossless_bytes(const AssessmentTable& table) {
  return configuration_bytes(table, std::vector<size_t>(table.layers.size(), 0));
}

Configuration solve_configuration(const AssessmentTable& table, const SolveOptions& options) {
  validate_assessment(table);
  check_solve_options(table, options);
  const auto drops = effective_drops(table, options.drop_model, options.dp_confidence);
  std::vector<std::vector<KnapsackItem>> groups(table.layers.size());
  for (size_t l = 0; l < table.layers.size(); ++l) {
    const auto& candidates = table.layers[l].candidates;
    for (size_t k = 0; k < candidates.size(); ++k) {
      const bool allowed = k == 0 || options.allowed.empty() || options.allowed[l][k];
      // A forbidden candidate stays in its group (indices must match) but
      // weighs more than any capacity.
      KnapsackItem item{candidates[k].total_bytes(),
                        allowed ? drop_to_buckets(drops[l][k], options.bucket)
                                : std::numeric_limits<uint64_t>::max()};
      groups[l].push_back(item);
    }
  }
  const auto choice = solve_multiple_choice_knapsack(
      groups, budget_to_buckets(options.budget, options.bucket));
  if (!choice)  // cannot happen: the lossless candidates weigh nothing
    throw Error(ErrorCode::invalid_argument, "solve: no configuration fits the budget");
  Configuration out;
  out.choice = *choice;
  for (size_t l = 0; l < out.choice.size(); ++l) {
    const size_t k = out.choice[l];
    out.bytes += groups[l][k].cost;
    out.estimated_drop += drops[l][k];
    out.drop_buckets += groups[l][k].weight;
  }
  return out;
}

}  // namespace deepsz
