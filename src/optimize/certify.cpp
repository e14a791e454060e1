// Certification of finished candidates on images no decision saw: fixed-
// sequence testing with the exact paired statistic (docs/PIPELINE.md,
// "Certification").
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "deepsz/optimize.h"

namespace deepsz {

std::vector<size_t> planned_looks(size_t n, size_t max_looks) {
  std::vector<size_t> out;
  if (n == 0 || max_looks == 0) return out;
  if (n <= max_looks) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  if (max_looks == 1) return {n - 1};
  for (size_t k = 0; k < max_looks; ++k) {
    const size_t i = static_cast<size_t>(std::llround(static_cast<double>(k) * static_cast<double>(n - 1) /
                                                      static_cast<double>(max_looks - 1)));
    if (out.empty() || i > out.back()) out.push_back(i);
  }
  return out;
}

CertificationResult certify_in_sequence(size_t candidates, double budget, double confidence, size_t max_looks,
                                        const MeasureCertification& measure, const std::vector<uint64_t>& bytes) {
  if (!(budget >= 0.0 && budget <= 100.0))
    throw Error(ErrorCode::invalid_argument, "certification: the budget must be in [0, 100] points");
  if (!(confidence > 0.0 && confidence < 1.0))
    throw Error(ErrorCode::invalid_argument, "certification: confidence must be in (0, 1)");
  if (max_looks == 0) throw Error(ErrorCode::invalid_argument, "certification: at least one look is needed");
  if (!bytes.empty() && bytes.size() != candidates)
    throw Error(ErrorCode::invalid_argument, "certification: one byte count per candidate is needed");
  CertificationResult r;
  r.budget = budget;
  r.confidence = confidence;
  r.candidates = candidates;
  r.planned = planned_looks(candidates, max_looks);
  for (size_t i : r.planned) {
    CertificationLook look;
    look.candidate = i;
    look.counts = measure(i);
    const CertificationCounts& c = look.counts;
    if (c.images == 0 || c.correct_to_wrong > c.images || c.wrong_to_correct > c.images - c.correct_to_wrong)
      throw Error(ErrorCode::invalid_argument, "certification: measure() returned counts that do not fit");
    look.drop = 100.0 * (static_cast<double>(c.correct_to_wrong) - static_cast<double>(c.wrong_to_correct)) /
                static_cast<double>(c.images);
    look.upper_bound = discordant_drop_upper_bound(c.correct_to_wrong, c.wrong_to_correct, c.images, confidence);
    look.passed = look.upper_bound <= budget + 1e-9;
    r.looks.push_back(look);
    if (!look.passed) break;
    if (!r.certified || bytes.empty() || bytes[i] <= bytes[r.chosen]) r.chosen = i;
    r.certified = true;
  }
  char buf[640];
  if (r.certified) {
    const CertificationLook* last = nullptr;
    for (const auto& l : r.looks)
      if (l.passed && l.candidate == r.chosen) last = &l;
    std::snprintf(buf, sizeof buf,
                  "With %.0f%% confidence the chosen model loses at most %.2f points of top-1 against the "
                  "reference (budget %.3g): measured %.2f points on %llu certification images that no decision "
                  "used (%llu right->wrong, %llu wrong->right; exact paired test), candidate %zu of %zu, %zu "
                  "look(s) in a fixed order from the safest (fixed-sequence testing: no share of the confidence "
                  "is spent on the looks).",
                  100.0 * confidence, last->upper_bound, budget, last->drop,
                  static_cast<unsigned long long>(last->counts.images),
                  static_cast<unsigned long long>(last->counts.correct_to_wrong),
                  static_cast<unsigned long long>(last->counts.wrong_to_correct), r.chosen + 1, candidates,
                  r.looks.size());
  } else if (!r.looks.empty()) {
    const CertificationLook& first = r.looks.front();
    std::snprintf(buf, sizeof buf,
                  "Not certified: even the safest candidate reads %.2f points on %llu certification images, "
                  "bound %.2f at %.0f%% confidence, over the budget of %.3g points.",
                  first.drop, static_cast<unsigned long long>(first.counts.images), first.upper_bound,
                  100.0 * confidence, budget);
  } else {
    std::snprintf(buf, sizeof buf, "Not certified: no candidate was offered.");
  }
  r.statement = buf;
  return r;
}

std::string certification_result_to_json(const CertificationResult& r, int indent) {
  using nlohmann::json;
  json looks = json::array();
  for (const auto& l : r.looks)
    looks.push_back({{"candidate", l.candidate},
                     {"correct_to_wrong", l.counts.correct_to_wrong},
                     {"wrong_to_correct", l.counts.wrong_to_correct},
                     {"images", l.counts.images},
                     {"drop_pp", l.drop},
                     {"upper_bound_pp", l.upper_bound},
                     {"passed", l.passed}});
  json doc = {{"certified", r.certified},
              {"chosen", r.certified ? json(r.chosen) : json(nullptr)},
              {"budget_pp", r.budget},
              {"confidence", r.confidence},
              {"candidates", r.candidates},
              {"planned", r.planned},
              {"looks", looks},
              {"rule", "fixed-sequence"},
              {"statement", r.statement}};
  return doc.dump(indent);
}

}  // namespace deepsz
