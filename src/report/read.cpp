// Reading the compress report (and an assessment table) for the renderer:
// every field's type is checked where it is read, absence is kept as absence.
#include <algorithm>
#include <cmath>
#include <map>

#include "deepsz/error.h"
#include "report_internal.h"

namespace deepsz::report::detail {

namespace {

// "report field 'layers[2].index_bytes'", "assessment table field '...'".
std::string field_name(const std::string& where, const char* key) {
  const bool table = where.rfind("assessment", 0) == 0;
  return std::string(table ? "assessment table field '" : "report field '") +
         (where.empty() ? std::string() : where + ".") + key + "'";
}

[[noreturn]] void not_object(const std::string& at) {
  const bool table = at.rfind("assessment", 0) == 0;
  throw Error(ErrorCode::corruption_detected,
              std::string(table ? "assessment table field '" : "report field '") + at + "' is not an object");
}

[[noreturn]] void wrong(const std::string& where, const char* key, const char* expected) {
  throw Error(ErrorCode::corruption_detected, field_name(where, key) + " is not " + expected);
}

const json* find(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void missing(const std::string& where, const char* key) {
  throw Error(ErrorCode::corruption_detected, field_name(where, key) + " is missing");
}

}  // namespace

std::optional<double> number_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong(where, key, "a number");
  // 1e999 parses as infinity: no report holds one, and no axis can show it.
  if (!std::isfinite(v->get<double>())) wrong(where, key, "a finite number");
  return v->get<double>();
}

std::optional<uint64_t> count_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) {
    if (v->get<int64_t>() < 0) wrong(where, key, "a count (it is negative)");
    return uint64_t(v->get<int64_t>());
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d >= 0 && d < 1.8e19 && std::floor(d) == d) return uint64_t(d);
  }
  wrong(where, key, "a count");
}

std::optional<std::string> string_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong(where, key, "a string");
  return v->get<std::string>();
}

std::optional<bool> bool_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong(where, key, "true or false");
  return v->get<bool>();
}

const json* object_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (v && !v->is_object()) wrong(where, key, "an object");
  return v;
}

const json* array_at(const json& object, const char* key, const std::string& where) {
  const json* v = find(object, key);
  if (v && !v->is_array()) wrong(where, key, "an array");
  return v;
}

double need_number(const json& object, const char* key, const std::string& where) {
  auto v = number_at(object, key, where);
  if (!v) missing(where, key);
  return *v;
}

uint64_t need_count(const json& object, const char* key, const std::string& where) {
  auto v = count_at(object, key, where);
  if (!v) missing(where, key);
  return *v;
}

std::string need_string(const json& object, const char* key, const std::string& where) {
  auto v = string_at(object, key, where);
  if (!v) missing(where, key);
  return *v;
}

std::optional<size_t> Layer::chosen() const {
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double b = candidates[i].bound;
    if (error_bound == 0 ? b == 0 : std::fabs(b - error_bound) <= 1e-9 * error_bound) return i;
  }
  return std::nullopt;
}

namespace {

std::vector<CandidatePoint> read_candidates(const json& list, const std::string& where) {
  std::vector<CandidatePoint> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const json& c = list[i];
    if (!c.is_object()) not_object(at);
    CandidatePoint p;
    p.bound = need_number(c, "bound", at);
    if (!(p.bound >= 0) || !std::isfinite(p.bound)) wrong(at, "bound", "a bound >= 0");
    p.drop = need_number(c, "top1_drop", at);
    p.index_bytes = need_count(c, "index_bytes", at);
    p.value_bytes = need_count(c, "value_bytes", at);
    p.correct_to_wrong = count_at(c, "correct_to_wrong", at);
    p.wrong_to_correct = count_at(c, "wrong_to_correct", at);
    p.images = count_at(c, "images", at);
    out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const CandidatePoint& a, const CandidatePoint& b) { return a.bound < b.bound; });
  return out;
}

}  // namespace

std::vector<Layer> read_layers(const json& report, const json* assessment) {
  const json* list = array_at(report, "layers", "");
  if (!list) missing("", "layers");
  std::vector<Layer> layers;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = "layers[" + std::to_string(i) + "]";
    const json& j = (*list)[i];
    if (!j.is_object()) not_object(at);
    Layer l;
    l.name = need_string(j, "name", at);
    l.kind = string_at(j, "kind", at).value_or("");
    l.coding = string_at(j, "coding", at).value_or("");
    if (const json* shape = array_at(j, "shape", at))
      for (size_t d = 0; d < shape->size(); ++d) {
        if (!(*shape)[d].is_number_unsigned() && !((*shape)[d].is_number_integer() && (*shape)[d].get<int64_t>() >= 0))
          wrong(at, "shape", "a list of counts");
        l.shape.push_back((*shape)[d].get<uint64_t>());
      }
    l.elements = need_count(j, "elements", at);
    l.density = number_at(j, "density", at);
    l.sparse = bool_at(j, "sparse", at);
    l.error_bound = need_number(j, "error_bound", at);
    l.index_bytes = need_count(j, "index_bytes", at);
    l.value_bytes = need_count(j, "value_bytes", at);
    l.assessed_drop = number_at(j, "assessed_drop_pp", at);
    auto it = j.find("candidates");
    if (it != j.end() && !it->is_null()) {
      if (it->is_array()) {
        l.candidates = read_candidates(*it, at + ".candidates");
        if (!l.candidates.empty()) l.candidates_from = "report";
      } else {
        l.candidate_count = count_at(j, "candidates", at);
      }
    }
    layers.push_back(std::move(l));
  }
  if (!assessment) return layers;

  const json& table = *assessment;
  const json* table_layers = array_at(table, "layers", "assessment");
  if (!table_layers) missing("assessment", "layers");
  const std::optional<uint64_t> table_images = count_at(table, "images", "assessment");
  std::map<std::string, const json*> by_name;
  for (const json& tl : *table_layers) {
    if (!tl.is_object()) throw Error(ErrorCode::corruption_detected, "assessment table: a layer is not an object");
    by_name[need_string(tl, "name", "assessment.layers")] = &tl;
  }
  for (Layer& l : layers) {
    if (!l.candidates.empty()) continue;
    auto found = by_name.find(l.name);
    if (found == by_name.end()) continue;
    const json& tl = *found->second;
    const std::string at = "assessment.layers[" + l.name + "]";
    const uint64_t elements = need_count(tl, "elements", at);
    if (elements != l.elements)
      throw Error(ErrorCode::corruption_detected, "assessment table: " + l.name + " has " + std::to_string(elements) +
                                                      " elements, the report " + std::to_string(l.elements) +
                                                      ": not the table of this run");
    const json* cands = array_at(tl, "candidates", at);
    if (!cands) missing(at, "candidates");
    std::vector<CandidatePoint> points = read_candidates(*cands, at + ".candidates");
    if (l.candidate_count && *l.candidate_count != points.size())
      throw Error(ErrorCode::corruption_detected,
                  "assessment table: " + l.name + " has " + std::to_string(points.size()) +
                      " candidates, the report counts " + std::to_string(*l.candidate_count) +
                      ": not the table of this run");
    l.candidates = std::move(points);
    l.candidates_from = "assessment table";
    l.assessment_images = table_images;
  }
  return layers;
}

std::vector<PruneStep> read_prune_steps(const json& prune, const std::string& where) {
  std::vector<PruneStep> steps;
  const json* list = array_at(prune, "steps", where);
  if (!list) return steps;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = where + ".steps[" + std::to_string(i) + "]";
    const json& s = (*list)[i];
    if (!s.is_object()) not_object(at);
    PruneStep p;
    p.density = number_at(s, "density", at);
    p.selection_top1 = number_at(s, "selection_top1", at);
    p.drop_pp = number_at(s, "drop_pp", at);
    p.accepted = bool_at(s, "accepted", at);
    steps.push_back(p);
  }
  return steps;
}

}  // namespace deepsz::report::detail
