// The certification candidates of one model (docs/PIPELINE.md,
// "Certification"): configurations chosen on the selection split alone.
#include <algorithm>
#include <cstdio>
#include <map>

#include "deepsz/optimize.h"

namespace deepsz {

std::vector<Rung> certification_ladder(const AssessmentTable& table, const GuaranteeResult& guarantee,
                                       const SolveOptions& solve, const MeasureConfiguration& measure,
                                       const std::vector<double>& rms) {
  std::map<std::vector<size_t>, Rung> rungs;
  Rung lossless;
  lossless.choice.assign(table.layers.size(), 0);
  lossless.bytes = lossless_bytes(table);
  lossless.selection.images = table.images;  // bit-exact: no image changes
  lossless.origin = "every tensor lossless";
  lossless.tier = 0;
  rungs[lossless.choice] = lossless;
  for (size_t k = 0; k < guarantee.history.size(); ++k) {
    const GuaranteeStep& s = guarantee.history[k];
    if (!s.within_budget || rungs.count(s.choice)) continue;
    rungs[s.choice] = Rung{s.choice, s.bytes, s.measured, "guarantee step " + std::to_string(k + 1)};
  }
  // Safer rungs than the guarantee's first acceptance: a certification that
  // refuses it still has somewhere to stop short of everything lossless.
  for (double f : {0.125, 0.25, 0.5}) {
    SolveOptions so = solve;
    so.budget = solve.budget * f;
    const Configuration c = solve_configuration(table, so);
    if (rungs.count(c.choice)) continue;
    const ConfigurationMeasurement m = measure(c.choice);
    if (m.top1_drop > solve.budget + 1e-9) continue;
    char origin[64];
    std::snprintf(origin, sizeof origin, "solved at %.3g of the budget", f);
    rungs[c.choice] = Rung{c.choice, c.bytes, m, origin};
  }
  // Uniform rungs: one bound relative to each tensor's spread for all of
  // them. Nothing in them was picked per tensor on the selection images
  // (the knapsack's choices were: each tensor at the bound where its own
  // reading happened to be lowest), so their selection readings carry no
  // winner's curse and their certification readings follow them closely.
  for (double f : {0.02, 0.04, 0.08, 0.113, 0.16, 0.226, 0.32}) {
    std::vector<size_t> choice(table.layers.size(), 0);
    for (size_t i = 0; i < table.layers.size() && i < rms.size(); ++i) {
      const auto& cands = table.layers[i].candidates;
      for (size_t k = 1; k < cands.size(); ++k)
        if (cands[k].abs_error_bound <= f * rms[i] * (1.0 + 1e-9)) choice[i] = k;
    }
    if (rungs.count(choice)) continue;
    const ConfigurationMeasurement m = measure(choice);
    if (m.top1_drop > solve.budget + 1e-9) continue;
    uint64_t bytes = 0;
    for (size_t i = 0; i < choice.size(); ++i) bytes += table.layers[i].candidates[choice[i]].total_bytes();
    char origin[64];
    std::snprintf(origin, sizeof origin, "every tensor at %.2g rms", f);
    rungs[choice] = Rung{choice, bytes, m, origin, f <= 0.08 + 1e-12 ? 0 : 1};
  }
  std::vector<Rung> out;
  for (auto& [choice, r] : rungs) out.push_back(std::move(r));
  // Safest first: most bytes; ties by the smaller measured drop.
  std::stable_sort(out.begin(), out.end(), [](const Rung& a, const Rung& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.selection.top1_drop < b.selection.top1_drop;
  });
  return out;
}

}  // namespace deepsz
