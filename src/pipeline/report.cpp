// The compress report: JSON for machines, a table for people.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline_internal.h"

namespace deepsz::pipeline {

namespace {
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

std::string report_to_json(const CompressReport& r, int indent) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& t : r.tensors) {
    const nlohmann::json measured = t.measured;
    layers.push_back({{"name", t.name},
                      {"kind", t.kind},
                      {"shape", t.shape},
                      {"elements", t.elements},
                      {"density", t.density},
                      {"sparse", t.sparse},
                      {"coding", t.coding},
                      {"error_bound", t.error_bound},
                      {"index_bytes", t.index_bytes},
                      {"value_bytes", t.value_bytes},
                      {"assessed_drop_pp", t.assessed_drop},
                      {"candidates_measured", t.candidates},
                      {"candidates", measured}});
  }
  nlohmann::json j;
  j["format"] = "deepsz-compress-report";
  j["version"] = 1;
  j["input"] = r.input;
  j["output"] = r.output;
  j["method"] = r.method;
  j["architecture"] = r.architecture;
  j["ratio"] = r.ratio;
  j["dsz_bytes"] = r.dsz_bytes;
  j["original_bytes"] = r.original_bytes;
  j["tensor_bytes"] = r.tensor_bytes;
  j["metadata_bytes"] = r.metadata_bytes;
  j["images_val"] = r.images_val;
  j["torchscript_bytes"] = r.torchscript_bytes;
  j["images_assess"] = r.images_assess;
  j["images_holdout"] = r.images_holdout;
  j["val_drop_pp"] = r.val_drop_pp;
  j["holdout_drop_pp"] = r.holdout_drop_pp;
  j["images_test"] = r.images_test;
  j["dense_recorded"] = r.dense_recorded;
  j["val_top1_before"] = r.val_top1_before;
  j["test_top1_before"] = r.test_top1_before;
  j["input_val_top1"] = r.input_val_top1;
  j["input_test_top1"] = r.input_test_top1;
  j["val_top1_after"] = r.val_top1_after;
  j["test_top1_after"] = r.test_top1_after;
  j["max_loss_pp"] = r.max_loss_pp;
  j["pruning_loss_pp"] = r.pruning_loss_pp;
  j["budget_pp"] = r.budget_pp;
  j["budget_against"] = r.budget_against;
  j["estimated_drop_pp"] = r.estimated_drop_pp;
  j["measured_drop_pp"] = r.measured_drop_pp;
  j["drop_upper_bound_pp"] = number_or_null(r.drop_upper_bound_pp);
  j["drop_confidence"] = 0.95;
  j["test_drop_pp"] = r.test_drop_pp;
  j["val_drop_vs_dense_pp"] = r.val_drop_vs_dense_pp;
  j["test_drop_vs_dense_pp"] = r.test_drop_vs_dense_pp;
  j["within_budget"] = r.guarantee_success;
  j["measurements"] = r.measurements;
  j["statement"] = r.statement;
  j["workers"] = r.workers;
  j["assessment_reused"] = r.assessment_reused;
  j["assessed_candidates"] = r.assessed_candidates;
  j["seconds"] = {{"load", r.seconds_load},         {"assess", r.seconds_assess},
                  {"optimise", r.seconds_optimise}, {"generate", r.seconds_generate},
                  {"evaluate", r.seconds_evaluate},
                  {"total", r.seconds_load + r.seconds_assess + r.seconds_optimise + r.seconds_generate +
                                r.seconds_evaluate}};
  j["selection"] = {{"images", r.images_val},
                    {"drop_pp", r.val_drop_pp},
                    {"drop_vs_dense_pp", r.selection_drop_vs_dense_pp}};
  if (r.certified) {
    nlohmann::json c = {{"images", r.images_cert},
                        {"top1_before", r.cert_top1_before},
                        {"top1_after", r.cert_top1_after},
                        {"confidence", r.confidence},
                        {"drop_pp", r.cert_drop_pp},
                        {"upper_bound_pp", r.cert_upper_bound_pp},
                        {"correct_to_wrong", r.cert_correct_to_wrong},
                        {"wrong_to_correct", r.cert_wrong_to_correct},
                        {"looks", r.cert_looks},
                        {"max_looks", r.cert_max_looks},
                        {"candidates", r.cert_candidates},
                        {"passed", r.cert_upper_bound_pp <= r.max_loss_pp + 1e-9},
                        {"against", r.budget_against},
                        {"rule", "fixed-sequence, exact paired test on the discordant images"},
                        {"statement", r.cert_statement}};
    if (!r.certification_json.empty()) c["detail"] = nlohmann::json::parse(r.certification_json);
    j["certification"] = c;
  } else {
    j["certification"] = nullptr;
  }
  if (r.uncertified_tensor_bytes > 0)
    j["uncertified"] = {{"tensor_bytes", r.uncertified_tensor_bytes},
                        {"selection_drop_pp", r.uncertified_selection_drop_pp},
                        {"test_drop_vs_dense_pp", r.uncertified_test_drop_vs_dense_pp}};
  if (!r.prune_steps.empty()) {
    // "density:drop:reserve:accepted;..." as the model records it.
    nlohmann::json steps = nlohmann::json::array();
    std::stringstream ss(r.prune_steps);
    std::string item;
    while (std::getline(ss, item, ';')) {
      double d = 0, drop = 0, reserve = 0;
      int ok = 0;
      if (std::sscanf(item.c_str(), "%lf:%lf:%lf:%d", &d, &drop, &reserve, &ok) != 4) continue;
      steps.push_back({{"density", d},
                       {"drop_pp", drop},
                       {"reserve_pp", reserve},
                       {"selection_top1", r.val_top1_before - drop / 100.0},
                       {"accepted", ok != 0}});
    }
    j["prune"] = {{"steps", steps}};
  }
  if (!r.command_line.empty()) j["command_line"] = r.command_line;
  j["deepsz_version"] = DEEPSZ_VERSION_STRING;
  j["layers"] = layers;
  if (!r.guarantee_json.empty()) j["guarantee"] = nlohmann::json::parse(r.guarantee_json);
  return j.dump(indent);
}

std::string report_to_text(const CompressReport& r) {
  std::ostringstream o;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s -> %s (%s): %llu -> %llu bytes, ratio %.1fx\n", r.input.c_str(),
                r.output.c_str(), r.method.c_str(), (unsigned long long)r.original_bytes,
                (unsigned long long)r.dsz_bytes, r.ratio);
  o << buf;
  std::snprintf(buf, sizeof buf, "  %-14s %9s %8s %-26s %10s %8s %8s %8s\n", "tensor", "elements", "density", "coding",
                "bound", "index", "values", "drop");
  o << buf;
  for (const auto& t : r.tensors) {
    std::snprintf(buf, sizeof buf, "  %-14s %9llu %7.3f%% %-26s %10.3g %8llu %8llu %8.3f\n", t.name.c_str(),
                  (unsigned long long)t.elements, 100.0 * t.density, t.coding.c_str(), t.error_bound,
                  (unsigned long long)t.index_bytes, (unsigned long long)t.value_bytes, t.assessed_drop);
    o << buf;
  }
  std::snprintf(buf, sizeof buf, "  streams %llu bytes, metadata %llu bytes, container %llu bytes\n",
                (unsigned long long)r.tensor_bytes, (unsigned long long)r.metadata_bytes,
                (unsigned long long)(r.dsz_bytes - std::min(r.dsz_bytes, r.tensor_bytes + r.metadata_bytes)));
  o << buf;
  std::snprintf(buf, sizeof buf, "  %-12s %10s %10s %10s\n", "top-1", r.dense_recorded ? "dense" : "input", "input",
                "decoded");
  o << buf;
  std::snprintf(buf, sizeof buf, "  %-12s %9.2f%% %9.2f%% %9.2f%%\n", "validation", 100 * r.val_top1_before,
                100 * r.input_val_top1, 100 * r.val_top1_after);
  o << buf;
  std::snprintf(buf, sizeof buf, "  %-12s %9.2f%% %9.2f%% %9.2f%%\n", "test", 100 * r.test_top1_before,
                100 * r.input_test_top1, 100 * r.test_top1_after);
  o << buf;
  std::snprintf(buf, sizeof buf,
                "  budget %.3g points against %s -> %.3g for compression; drop on validation: estimated %.3f, "
                "measured %.3f (95%% bound %.3f)%s; on test %.3f (reported only)\n",
                r.max_loss_pp, r.budget_against.c_str(), r.budget_pp, r.estimated_drop_pp, r.measured_drop_pp,
                r.drop_upper_bound_pp, r.guarantee_success ? "" : " OVER BUDGET", r.test_drop_pp);
  o << buf;
  if (r.certified) {
    std::snprintf(buf, sizeof buf,
                  "  certified: with %.0f%% confidence the decoded model loses at most %.2f points of top-1 "
                  "against the %s model (measured %.2f on %llu certification images no decision used; %zu of at "
                  "most %d looks at %zu candidates)\n",
                  100 * r.confidence, r.cert_upper_bound_pp, r.budget_against.c_str(), r.cert_drop_pp,
                  (unsigned long long)r.images_cert, r.cert_looks, r.cert_max_looks, r.cert_candidates);
    o << buf;
  }
  if (r.images_holdout > 0) {
    std::snprintf(buf, sizeof buf,
                  "  validation: bounds assessed on %llu images; drop on the %llu held-out images %.3f, on all %llu "
                  "%.3f\n",
                  (unsigned long long)r.images_assess, (unsigned long long)r.images_holdout, r.holdout_drop_pp,
                  (unsigned long long)r.images_val, r.val_drop_pp);
  } else {
    buf[0] = 0;
  }
  o << buf;
  std::snprintf(buf, sizeof buf, "  time: load %.2f s, assess %.2f s (%zu candidates, %d workers%s), optimise %.2f s, "
                "generate %.2f s, evaluate %.2f s\n",
                r.seconds_load, r.seconds_assess, r.assessed_candidates, r.workers,
                r.assessment_reused ? ", reused" : "", r.seconds_optimise, r.seconds_generate, r.seconds_evaluate);
  o << buf;
  return o.str();
}

}  // namespace deepsz::pipeline
