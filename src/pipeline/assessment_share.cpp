// The assessment split over processes (docs/SCALE.md): which tensors each
// rank measures, and the gathering of the shares into one table. Torch-free.
#include <algorithm>
#include <numeric>
#include <string>

#include "deepsz/pipeline/collective.h"
#include "pipeline_internal.h"

namespace deepsz::pipeline::detail {

std::vector<int> assessment_owners(const std::vector<TensorPlan>& plans, const std::vector<size_t>& order,
                                   const std::vector<size_t>& candidates, uint64_t image_pixels, int ranks) {
  // A candidate reruns the network from the changed tensor's layer on, so a
  // pass costs about the work of the tensors from there to the output; a
  // convolution's weights are used once per output position (at most
  // image_pixels of them: an overestimate past the first pooling, enough to
  // put the convolutions first). Estimated, never timed: every rank must
  // reach the same shares without talking.
  std::vector<double> downstream(plans.size() + 1, 0.0);
  for (size_t j = plans.size(); j-- > 0;) {
    const bool conv = plans[j].info.kind == model::ParamKind::conv_weight;
    downstream[j] = downstream[j + 1] + double(plans[j].values.size()) * (conv ? double(image_pixels) : 1.0);
  }
  // Largest first, each to the least loaded rank (ties: the lower index and
  // rank): within 4/3 of the best split of these estimates.
  std::vector<size_t> by_cost(order.size());
  std::iota(by_cost.begin(), by_cost.end(), size_t{0});
  auto cost = [&](size_t k) { return double(candidates[k]) * downstream[order[k]]; };
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
  std::vector<double> load(size_t(std::max(1, ranks)), 0.0);
  std::vector<int> owner(order.size(), 0);
  for (size_t k : by_cost) {
    const size_t r = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    owner[k] = int(r);
    load[r] += cost(k);
  }
  return owner;
}

size_t gather_assessment(Collective& c, AssessmentTable& table, const std::vector<size_t>& order,
                         const std::vector<int>& owners, size_t measured_here) {
  // Each rank sends its whole table (its own tensors measured, the others'
  // lossless only) in the format of --assessment, so the parser and its
  // checks are the ones a saved table passes; doubles round-trip exactly.
  const std::vector<std::string> parts =
      c.all_gather(std::to_string(measured_here) + "\n" + assessment_to_json(table, -1));
  if (parts.size() != size_t(c.size()))
    throw Error(ErrorCode::corruption_detected, "assessment gather: " + std::to_string(parts.size()) + " parts from " +
                                               std::to_string(c.size()) + " ranks");
  std::vector<AssessmentTable> tables(parts.size());
  size_t measured = 0;
  for (size_t r = 0; r < parts.size(); ++r) {
    const std::string where = "assessment from rank " + std::to_string(r) + ": ";
    const size_t nl = parts[r].find('\n');
    if (nl == std::string::npos || nl == 0 || parts[r].find_first_not_of("0123456789") != nl)
      throw Error(ErrorCode::corruption_detected, where + "no count of measurements");
    measured += std::stoull(parts[r].substr(0, nl));
    tables[r] = assessment_from_json(parts[r].substr(nl + 1));
    if (tables[r].layers.size() != table.layers.size())
      throw Error(ErrorCode::corruption_detected, where + "another number of tensors");
    for (size_t i = 0; i < table.layers.size(); ++i)
      if (tables[r].layers[i].name != table.layers[i].name)
        throw Error(ErrorCode::corruption_detected, where + "tensor " + std::to_string(i) + " is " +
                                                        tables[r].layers[i].name + ", not " + table.layers[i].name);
  }
  for (size_t k = 0; k < order.size(); ++k)
    table.layers[order[k]].candidates = tables[size_t(owners[k])].layers[order[k]].candidates;
  return measured;
}

}  // namespace deepsz::pipeline::detail
