// The assessment table: validation and JSON (format "deepsz-assessment" 1).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "deepsz/optimize.h"

namespace deepsz {
namespace {

using nlohmann::json;

// The model side computes the drop from the same counts; only binary
// rounding separates the two.
constexpr double kDropConsistencySlack = 1e-6;

std::string candidate_problem(const Candidate& c, bool lossless) {
  if (!std::isfinite(c.abs_error_bound) || c.abs_error_bound < 0.0)
    return "bound must be finite and >= 0";
  if (!std::isfinite(c.top1_drop) || c.top1_drop < -100.0 || c.top1_drop > 100.0)
    return "top1_drop must be finite and in [-100, 100]";
  if (c.index_bytes > kMaxCandidateBytes || c.value_bytes > kMaxCandidateBytes)
    return "byte count beyond 2^48";
  if (lossless) {
    if (c.abs_error_bound != 0.0) return "the first candidate must be lossless (bound 0)";
    if (c.top1_drop != 0.0 || c.correct_to_wrong != 0 || c.wrong_to_correct != 0)
      return "the lossless candidate must have drop 0 and no flips";
  } else if (c.abs_error_bound == 0.0) {
    return "only the first candidate may have bound 0";
  }
  if (c.images == 0) {
    if (c.correct_to_wrong != 0 || c.wrong_to_correct != 0)
      return "flip counts given without an image count";
  } else {
    if (c.correct_to_wrong > c.images || c.wrong_to_correct > c.images - c.correct_to_wrong)
      return "more flipped images than images";
    const double from_flips = 100.0 *
        (static_cast<double>(c.correct_to_wrong) - static_cast<double>(c.wrong_to_correct)) /
        static_cast<double>(c.images);
    if (std::fabs(from_flips - c.top1_drop) > kDropConsistencySlack)
      return "top1_drop disagrees with 100 * (correct_to_wrong - wrong_to_correct) / images";
  }
  return {};
}

}  // namespace

std::string assessment_problem(const AssessmentTable& table) {
  if (!std::isfinite(table.reference_top1) || table.reference_top1 < 0.0 ||
      table.reference_top1 > 100.0)
    return "reference_top1 must be in [0, 100]";
  if (table.layers.empty()) return "no layers";
  if (table.layers.size() > kMaxAssessedLayers) return "too many layers";
  std::set<std::string> names;
  for (size_t l = 0; l < table.layers.size(); ++l) {
    const LayerAssessment& layer = table.layers[l];
    const std::string where = "layers[" + std::to_string(l) + "]";
    if (layer.name.empty()) return where + ": empty name";
    if (!names.insert(layer.name).second) return where + ": duplicate name '" + layer.name + "'";
    if (layer.elements == 0) return where + ": elements must be > 0";
    if (!std::isfinite(layer.density) || layer.density < 0.0 || layer.density > 1.0)
      return where + ": density must be in [0, 1]";
    if (layer.candidates.empty()) return where + ": no candidates (the lossless one is required)";
    if (layer.candidates.size() > kMaxCandidatesPerLayer) return where + ": too many candidates";
    for (size_t k = 0; k < layer.candidates.size(); ++k) {
      const std::string problem = candidate_problem(layer.candidates[k], k == 0);
      if (!problem.empty())
        return where + ".candidates[" + std::to_string(k) + "]: " + problem;
      if (k > 0 && !(layer.candidates[k].abs_error_bound >
                     layer.candidates[k - 1].abs_error_bound))
        return where + ".candidates[" + std::to_string(k) + "]: bounds not strictly increasing";
    }
  }
  return {};
}

void validate_assessment(const AssessmentTable& table) {
  const std::string problem = assessment_problem(table);
  if (!problem.empty()) throw Error(ErrorCode::invalid_argument, "assessment table: " + problem);
}

Candidate lossless_candidate(uint64_t index_bytes, uint64_t value_bytes, uint64_t images) {
  Candidate c;
  c.index_bytes = index_bytes;
  c.value_bytes = value_bytes;
  c.images = images;
  return c;
}

void to_json(nlohmann::json& j, const Candidate& c) {
  j = {{"bound", c.abs_error_bound},
       {"index_bytes", c.index_bytes},
       {"value_bytes", c.value_bytes},
       {"top1_drop", c.top1_drop},
       {"correct_to_wrong", c.correct_to_wrong},
       {"wrong_to_correct", c.wrong_to_correct},
       {"images", c.images}};
}

std::string assessment_to_json(const AssessmentTable& table, int indent) {
  validate_assessment(table);
  json layers = json::array();
  for (const LayerAssessment& layer : table.layers) {
    layers.push_back({{"name", layer.name},
                      {"elements", layer.elements},
                      {"density", layer.density},
                      {"candidates", layer.candidates}});
  }
  json doc = {{"format", kAssessmentFormatName},
              {"version", kAssessmentFormatVersion},
              {"model", table.model},
              {"split", table.split},
              {"images", table.images},
              {"reference_top1", table.reference_top1},
              {"layers", std::move(layers)}};
  return doc.dump(indent) + "\n";
}

namespace {

[[noreturn]] void corrupt(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::corruption_detected, "assessment file: " + where + ": " + what);
}

const json& field(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) corrupt(where, std::string("missing field '") + key + "'");
  return *it;
}

double number_field(const json& object, const char* key, const std::string& where) {
  const json& v = field(object, key, where);
  if (!v.is_number()) corrupt(where, std::string("'") + key + "' must be a number");
  return v.get<double>();
}

uint64_t count_field(const json& object, const char* key, const std::string& where) {
  const json& v = field(object, key, where);
  if (!v.is_number_unsigned())
    corrupt(where, std::string("'") + key + "' must be a non-negative integer");
  return v.get<uint64_t>();
}

std::string string_field(const json& object, const char* key, const std::string& where,
                         bool required) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) corrupt(where, std::string("missing field '") + key + "'");
    return {};
  }
  if (!it->is_string()) corrupt(where, std::string("'") + key + "' must be a string");
  return it->get<std::string>();
}

const json& array_field(const json& object, const char* key, const std::string& where,
                        size_t max_size) {
  const json& v = field(object, key, where);
  if (!v.is_array()) corrupt(where, std::string("'") + key + "' must be an array");
  if (v.size() > max_size) corrupt(where, std::string("'") + key + "' has too many entries");
  return v;
}

}  // namespace

AssessmentTable assessment_from_json(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    throw Error(ErrorCode::foreign_format, "assessment file: not a JSON document");
  if (!doc.is_object())
    throw Error(ErrorCode::foreign_format, "assessment file: not a JSON object");
  auto format = doc.find("format");
  if (format == doc.end() || !format->is_string() ||
      format->get<std::string>() != kAssessmentFormatName)
    throw Error(ErrorCode::foreign_format,
                std::string("assessment file: \"format\" is not \"") + kAssessmentFormatName + "\"");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer())
    corrupt("top level", "'version' must be an integer");
  if (version->get<int64_t>() > kAssessmentFormatVersion)
    throw Error(ErrorCode::unsupported_version,
                "assessment file: version " + std::to_string(version->get<int64_t>()) +
                    " is newer than this reader (" + std::to_string(kAssessmentFormatVersion) + ")");
  if (version->get<int64_t>() != kAssessmentFormatVersion)
    corrupt("top level", "unknown version " + std::to_string(version->get<int64_t>()));

  AssessmentTable table;
  table.model = string_field(doc, "model", "top level", false);
  table.split = string_field(doc, "split", "top level", false);
  table.images = count_field(doc, "images", "top level");
  table.reference_top1 = number_field(doc, "reference_top1", "top level");
  const json& layers = array_field(doc, "layers", "top level", kMaxAssessedLayers);
  table.layers.reserve(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    const std::string where = "layers[" + std::to_string(l) + "]";
    const json& jl = layers[l];
    if (!jl.is_object()) corrupt(where, "must be an object");
    LayerAssessment layer;
    layer.name = string_field(jl, "name", where, true);
    layer.elements = count_field(jl, "elements", where);
    layer.density = number_field(jl, "density", where);
    const json& candidates = array_field(jl, "candidates", where, kMaxCandidatesPerLayer);
    layer.candidates.reserve(candidates.size());
    for (size_t k = 0; k < candidates.size(); ++k) {
      const std::string cw = where + ".candidates[" + std::to_string(k) + "]";
      const json& jc = candidates[k];
      if (!jc.is_object()) corrupt(cw, "must be an object");
      Candidate c;
      c.abs_error_bound = number_field(jc, "bound", cw);
      c.index_bytes = count_field(jc, "index_bytes", cw);
      c.value_bytes = count_field(jc, "value_bytes", cw);
      c.top1_drop = number_field(jc, "top1_drop", cw);
      c.correct_to_wrong = count_field(jc, "correct_to_wrong", cw);
      c.wrong_to_correct = count_field(jc, "wrong_to_correct", cw);
      c.images = count_field(jc, "images", cw);
      layer.candidates.push_back(c);
    }
    table.layers.push_back(std::move(layer));
  }
  const std::string problem = assessment_problem(table);
  if (!problem.empty()) throw Error(ErrorCode::corruption_detected, "assessment file: " + problem);
  return table;
}

void save_assessment(const std::string& path, const AssessmentTable& table) {
  const std::string text = assessment_to_json(table);
  // Write then rename, so a reader never sees half a table.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::io_error, "cannot open '" + temporary + "' for writing");
    out << text;
    out.flush();
    if (!out) throw Error(ErrorCode::io_error, "cannot write '" + temporary + "'");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw Error(ErrorCode::io_error, "cannot rename '" + temporary + "' to '" + path + "'");
  }
}

AssessmentTable load_assessment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io_error, "cannot open '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::io_error, "cannot read '" + path + "'");
  return assessment_from_json(buffer.str());
}

}  // namespace deepsz
