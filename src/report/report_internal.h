// What the renderer reads from a compress report, and the figures it draws.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "deepsz/html_report.h"

namespace deepsz::report::detail {

using nlohmann::json;

// Field access that tells absent (missing or null: nullopt / nullptr) from
// wrong (present with another type: Error(corruption_detected) naming the
// field by its path, e.g. "layers[2].index_bytes").
std::optional<double> number_at(const json& object, const char* key, const std::string& where);
std::optional<uint64_t> count_at(const json& object, const char* key, const std::string& where);
std::optional<std::string> string_at(const json& object, const char* key, const std::string& where);
std::optional<bool> bool_at(const json& object, const char* key, const std::string& where);
const json* object_at(const json& object, const char* key, const std::string& where);
const json* array_at(const json& object, const char* key, const std::string& where);
// The same, where absence is an error too.
double need_number(const json& object, const char* key, const std::string& where);
uint64_t need_count(const json& object, const char* key, const std::string& where);
std::string need_string(const json& object, const char* key, const std::string& where);

// One measured error bound of one tensor (an assessment-table candidate).
struct CandidatePoint {
  double bound = 0;  // 0 = lossless
  double drop = 0;   // points of top-1 on the assessment images
  uint64_t index_bytes = 0, value_bytes = 0;
  std::optional<uint64_t> correct_to_wrong, wrong_to_correct, images;
  uint64_t bytes() const { return index_bytes + value_bytes; }
};

struct Layer {
  std::string name, kind, coding;
  std::vector<uint64_t> shape;
  uint64_t elements = 0;
  std::optional<double> density;
  std::optional<bool> sparse;
  double error_bound = 0;  // of the written tensor; 0 = lossless
  uint64_t index_bytes = 0, value_bytes = 0;
  std::optional<double> assessed_drop;
  std::optional<uint64_t> candidate_count;  // when the report holds a count only
  std::vector<CandidatePoint> candidates;   // sorted by bound; empty = not in the inputs
  std::string candidates_from;              // "report" | "assessment table" | ""
  std::optional<uint64_t> assessment_images;  // the table's "images" when the curve comes from it
  // The candidate written (bound equal to error_bound), if measured.
  std::optional<size_t> chosen() const;
  bool is_weight() const { return kind == "fc_weight" || kind == "conv_weight" || kind == "fc" || kind == "conv"; }
  bool is_fc() const { return kind == "fc_weight" || kind == "fc"; }
};

struct PruneStep {
  std::optional<double> density, selection_top1, drop_pp;
  std::optional<bool> accepted;
};

// Reads report["layers"] (required) and merges the curves of `assessment`
// (may be null) into the layers without their own.
std::vector<Layer> read_layers(const json& report, const json* assessment);
std::vector<PruneStep> read_prune_steps(const json& prune, const std::string& where);

struct CurveContext {
  std::optional<double> budget_pp;  // the compression step's budget, for the reference line
  std::string file_name;
};
Figure drop_vs_bound_figure(const Layer& layer, const CurveContext& context);
Figure bytes_per_layer_figure(const std::vector<Layer>& layers, std::optional<uint64_t> metadata_bytes,
                              std::optional<uint64_t> dsz_bytes);
Figure prune_trajectory_figure(const std::vector<PruneStep>& steps);

// The SVG root of a figure without its XML declaration, for inlining.
std::string inline_svg(const Figure& figure);

}  // namespace deepsz::report::detail
