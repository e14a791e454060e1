// The guarantee loop: solve, measure the whole configuration, tighten until
// the measured validation drop is within the budget.
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

constexpr double kWithinBudgetSlack = 1e-9;  // points

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

void check_measurement(const ConfigurationMeasurement& m) {
  if (!std::isfinite(m.top1_drop) || m.top1_drop < -100.0 || m.top1_drop > 100.0)
    throw Error(ErrorCode::invalid_argument, "guarantee: measure() returned a drop outside [-100, 100]");
  if (m.images == 0) {
    if (m.correct_to_wrong != 0 || m.wrong_to_correct != 0)
      throw Error(ErrorCode::invalid_argument, "guarantee: measure() returned flips without images");
    return;
  }
  if (m.correct_to_wrong > m.images || m.wrong_to_correct > m.images - m.correct_to_wrong)
    throw Error(ErrorCode::invalid_argument, "guarantee: measure() returned more flips than images");
  const double from_flips = 100.0 *
      (static_cast<double>(m.correct_to_wrong) - static_cast<double>(m.wrong_to_correct)) /
      static_cast<double>(m.images);
  if (std::fabs(from_flips - m.top1_drop) > 1e-6)
    throw Error(ErrorCode::invalid_argument,
                "guarantee: measure() returned a drop that disagrees with its flip counts");
}

// Among the lossy choices, the one with the most evidence of harm: most
// correct->wrong flips, then the largest measured drop, then the most bytes
// saved. -1 if every layer is already lossless.
long most_lossy_layer(const AssessmentTable& table, const std::vector<size_t>& choice) {
  long best = -1;
  auto key = [&](size_t l) {
    const Candidate& c = table.layers[l].candidates[choice[l]];
    const double saved = static_cast<double>(table.layers[l].candidates[0].total_bytes()) -
                         static_cast<double>(c.total_bytes());
    return std::make_tuple(c.correct_to_wrong, c.top1_drop, saved);
  };
  for (size_t l = 0; l < choice.size(); ++l) {
    if (choice[l] == 0) continue;
    if (best < 0 || key(l) > key(static_cast<size_t>(best))) best = static_cast<long>(l);
  }
  return best;
}

}  // namespace

GuaranteeResult guarantee_configuration(const AssessmentTable& table,
                                        const GuaranteeOptions& options,
                                        const MeasureConfiguration& measure) {
  validate_assessment(table);
  if (!measure) throw Error(ErrorCode::invalid_argument, "guarantee: no measure callback");
  if (!(options.confidence > 0.0 && options.confidence < 1.0))
    throw Error(ErrorCode::invalid_argument, "guarantee: confidence must be in (0, 1)");
  if (options.loosen_steps < 0 || (options.loosen_steps > 0 && !(options.loosen_factor > 1.0)))
    throw Error(ErrorCode::invalid_argument, "guarantee: loosen_steps must be >= 0 and loosen_factor > 1");
  if (options.max_measurements < 1)
    throw Error(ErrorCode::invalid_argument, "guarantee: max_measurements must be >= 1");
  const double budget = options.solve.budget;
  SolveOptions solve = options.solve;
  if (solve.allowed.empty()) {
    for (const LayerAssessment& layer : table.layers)
      solve.allowed.emplace_back(layer.candidates.size(), true);
  }
  solve_configuration(table, solve);  // checks the options before anything is measured

  GuaranteeResult result;
  result.budget = budget;
  result.confidence = options.confidence;
  result.lossless_bytes = lossless_bytes(table);
  const std::vector<size_t> all_lossless(table.layers.size(), 0);
  std::map<std::vector<size_t>, ConfigurationMeasurement> measured_before;

  auto run = [&](const Configuration& config, double effective_budget) -> GuaranteeStep& {
    GuaranteeStep step;
    step.choice = config.choice;
    step.bytes = config.bytes;
    step.effective_budget = effective_budget;
    step.estimated_drop = config.estimated_drop;
    auto cached = measured_before.find(config.choice);
    if (cached != measured_before.end()) {
      step.measured = cached->second;
    } else {
      step.measured = measure(config.choice);
      check_measurement(step.measured);
      measured_before.emplace(config.choice, step.measured);
      ++result.measurements;
    }
    if (step.measured.images > 0)
      step.drop_upper_bound = paired_drop_upper_bound(
          step.measured.correct_to_wrong, step.measured.wrong_to_correct, step.measured.images,
          options.confidence);
    // The slack absorbs binary rounding of 100 * flips / images only.
    step.within_budget = step.measured.top1_drop <= budget + kWithinBudgetSlack;
    result.history.push_back(std::move(step));
    return result.history.back();
  };

  bool accepted = false;
  while (!accepted) {
    // Keep one measurement for the all-lossless configuration. Configurations
    // never repeat (see the header), so counting steps counts measurements.
    const bool last_chance =
        static_cast<long>(result.history.size()) >= options.max_measurements - 1;
    Configuration config;
    if (last_chance) {
      config.choice = all_lossless;
      config.bytes = result.lossless_bytes;
    } else {
      config = solve_configuration(table, solve);
    }
    GuaranteeStep& step = run(config, last_chance ? 0.0 : solve.budget);
    if (step.within_budget) {
      step.action = "accepted: measured drop within the budget";
      accepted = true;
      break;
    }
    if (config.choice == all_lossless) {
      step.action = "failed: even every layer lossless measured over the budget "
                    "(the evaluation is not deterministic?)";
      break;
    }
    const double measured = step.measured.top1_drop;
    if (config.drop_buckets > 0) {
      // The additive model was optimistic: shrink the DP's budget by the
      // observed excess, and by at least one bucket below what it charged.
      const double shrunk = solve.budget * budget / measured;
      const double below = static_cast<double>(config.drop_buckets - 1) * solve.bucket;
      const double next = std::min(shrunk, below);
      step.action = "measured " + format("%.4g", measured) + " > budget: effective budget " +
                    format("%.4g", solve.budget) + " -> " + format("%.4g", next);
      solve.budget = next;
    } else {
      // Every choice already counts as zero drop: forbid the lossiest one and
      // every larger bound of its layer.
      const long l = most_lossy_layer(table, config.choice);
      const size_t k = config.choice[static_cast<size_t>(l)];
      for (size_t j = k; j < solve.allowed[static_cast<size_t>(l)].size(); ++j)
        solve.allowed[static_cast<size_t>(l)][j] = false;
      step.action = "measured " + format("%.4g", measured) +
                    " > budget with a zero estimate: forbid bounds >= " +
                    format("%.4g", table.layers[static_cast<size_t>(l)].candidates[k].abs_error_bound) +
                    " of layer '" + table.layers[static_cast<size_t>(l)].name + "'";
    }
  }

  size_t accepted_step = result.history.size() - 1;
  if (accepted) {
    // Loosen: the envelope's sum is pessimistic; a larger effective budget
    // gives smaller configurations, each kept only if measured within budget.
    double effective = solve.budget;
    uint64_t best_bytes = result.history[accepted_step].bytes;
    // Beyond the sum of every layer's largest effective drop the DP is free
    // to take the cheapest candidate everywhere: nothing more to widen.
    double most = 0.0;
    for (const auto& layer : effective_drops(table, solve.drop_model, solve.dp_confidence)) {
      double m = 0.0;
      for (double d : layer) m = std::max(m, d);
      most += m;
    }
    int tries = 0;
    while (budget > 0.0 && effective > 0.0 && tries < options.loosen_steps &&
           static_cast<long>(result.history.size()) < options.max_measurements) {
      if (effective > most) break;
      effective = std::min(effective * options.loosen_factor, most + solve.bucket);
      SolveOptions wider = solve;
      wider.budget = effective;
      Configuration config = solve_configuration(table, wider);
      if (config.bytes >= best_bytes) {
        // Every layer at its cheapest allowed candidate: widening cannot gain
        // anything. (Unused capacity alone does not say that: at a small
        // effective budget the next cheaper candidates may all cost more
        // than what is left; measured on a LeNet-5 whose tightening had
        // ended at 0.01, where this stopped the loosening at 26,676 bytes.)
        bool cheapest = true;
        for (size_t l = 0; l < table.layers.size() && cheapest; ++l) {
          const auto& cands = table.layers[l].candidates;
          for (size_t k = 0; k < cands.size(); ++k)
            if (solve.allowed[l][k] && cands[k].total_bytes() < cands[config.choice[l]].total_bytes()) {
              cheapest = false;
              break;
            }
        }
        if (cheapest) break;
        continue;  // same bytes at this budget: widen more (not a measurement)
      }
      ++tries;
      GuaranteeStep& step = run(config, effective);
      if (step.within_budget) {
        step.action = "loosened: measured drop within the budget, " + std::to_string(config.bytes) + " < " +
                      std::to_string(best_bytes) + " bytes";
        accepted_step = result.history.size() - 1;
        best_bytes = config.bytes;
      } else {
        step.action = "loosening over the budget: keeping the configuration of step " +
                      std::to_string(accepted_step + 1);
        break;
      }
    }
  }
  const GuaranteeStep& last = result.history[accepted_step];
  result.success = accepted;
  result.choice = accepted ? last.choice : all_lossless;
  result.bytes = configuration_bytes(table, result.choice);
  result.estimated_drop = accepted ? last.estimated_drop : 0.0;
  result.measured_drop = last.measured.top1_drop;
  result.drop_upper_bound = last.drop_upper_bound;

  std::string s = "Budget " + format("%.4g", budget) + " points of " + table.split + " top-1. ";
  if (accepted) {
    s += "Chosen configuration: " + std::to_string(result.bytes) + " bytes (every layer exact: " +
         std::to_string(result.lossless_bytes) + " bytes";
    if (result.bytes > 0)
      s += ", " + format("%.2f", static_cast<double>(result.lossless_bytes) /
                                     static_cast<double>(result.bytes)) + "x smaller";
    s += "). Additive estimate " + format("%.4g", result.estimated_drop) + " points (" +
         drop_model_name(options.solve.drop_model) + "); measured drop " +
         format("%.4g", result.measured_drop) + " points";
    if (last.measured.images > 0)
      s += " on " + std::to_string(last.measured.images) + " images (" +
           std::to_string(last.measured.correct_to_wrong) + " correct->wrong, " +
           std::to_string(last.measured.wrong_to_correct) + " wrong->correct)";
    s += ", within the budget after " + std::to_string(result.measurements) + " measurement" +
         (result.measurements == 1 ? "" : "s") + ".";
    if (last.measured.images > 0)
      s += " One-sided " + format("%.0f", 100.0 * options.confidence) +
           "% upper confidence bound on the true drop (exact, paired): " +
           format("%.4g", result.drop_upper_bound) + " points.";
  } else {
    s += "FAILED: every layer lossless measured a drop of " + format("%.4g", result.measured_drop) +
         " points, over the budget; the evaluation is not reproducible. Keeping every layer exact.";
  }
  result.statement = s;
  return result;
}

std::string guarantee_result_to_json(const AssessmentTable& table, const GuaranteeResult& result,
                                     int indent) {
  using nlohmann::json;
  auto bounds_of = [&](const std::vector<size_t>& choice) {
    json layers = json::array();
    for (size_t l = 0; l < choice.size() && l < table.layers.size(); ++l)
      layers.push_back({{"name", table.layers[l].name},
                        {"candidate", choice[l]},
                        {"bound", table.layers[l].candidates.at(choice[l]).abs_error_bound}});
    return layers;
  };
  auto number_or_null = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
  json history = json::array();
  for (const GuaranteeStep& step : result.history)
    history.push_back({{"layers", bounds_of(step.choice)},
                       {"bytes", step.bytes},
                       {"effective_budget", step.effective_budget},
                       {"estimated_drop", step.estimated_drop},
                       {"measured_drop", step.measured.top1_drop},
                       {"correct_to_wrong", step.measured.correct_to_wrong},
                       {"wrong_to_correct", step.measured.wrong_to_correct},
                       {"images", step.measured.images},
                       {"drop_upper_bound", number_or_null(step.drop_upper_bound)},
                       {"within_budget", step.within_budget},
                       {"action", step.action}});
  json doc = {{"success", result.success},
              {"budget", result.budget},
              {"layers", bounds_of(result.choice)},
              {"bytes", result.bytes},
              {"lossless_bytes", result.lossless_bytes},
              {"estimated_drop", result.estimated_drop},
              {"measured_drop", result.measured_drop},
              {"drop_upper_bound", number_or_null(result.drop_upper_bound)},
              {"confidence", result.confidence},
              {"measurements", result.measurements},
              {"statement", result.statement},
              {"history", std::move(history)}};
  return doc.dump(indent) + "\n";
}

}  // namespace deepsz
