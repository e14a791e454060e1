// The optimiser and the certification statistics for deepsz.compress: the
// same exact paired bound, knapsack, guarantee loop and fixed-sequence test as
// the deepsz tool (docs/OPTIMIZE.md, docs/PIPELINE.md), not a re-implementation.
// Tables cross the boundary as assessment JSON (format deepsz-assessment), so
// the reader's checks apply to what Python built. The callbacks run Python
// (the user's evaluate): the GIL stays held; the optimiser's own work is
// small next to an evaluation.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "deepsz/optimize.h"

namespace py = pybind11;

namespace deepsz::python {

namespace {

using Counts = std::tuple<uint64_t, uint64_t, uint64_t>;  // correct->wrong, wrong->correct, images

ConfigurationMeasurement to_measurement(const Counts& c) {
  ConfigurationMeasurement m;
  m.correct_to_wrong = std::get<0>(c);
  m.wrong_to_correct = std::get<1>(c);
  m.images = std::get<2>(c);
  if (m.images > 0)
    m.top1_drop = 100.0 * (double(m.correct_to_wrong) - double(m.wrong_to_correct)) / double(m.images);
  return m;
}

MeasureConfiguration measure_of(const std::function<Counts(const std::vector<size_t>&)>& measure) {
  return [&measure](const std::vector<size_t>& choice) { return to_measurement(measure(choice)); };
}

GuaranteeOptions guarantee_options(double budget, double confidence, int loosen_steps, int max_measurements) {
  GuaranteeOptions go;
  go.solve.budget = budget;
  go.confidence = confidence;
  go.loosen_steps = loosen_steps;
  go.max_measurements = max_measurements;
  return go;
}

}  // namespace

void bind_optimize(py::module_& m) {
  m.def("paired_drop_upper_bound", &paired_drop_upper_bound, py::arg("correct_to_wrong"),
        py::arg("wrong_to_correct"), py::arg("images"), py::arg("confidence") = 0.95,
        "One-sided upper confidence bound (points) on the true drop: Clopper-Pearson on both flip rates.");
  m.def("discordant_drop_upper_bound", &discordant_drop_upper_bound, py::arg("correct_to_wrong"),
        py::arg("wrong_to_correct"), py::arg("images"), py::arg("confidence"),
        "The exact one-sided paired test on the discordant images (the certification statistic), in points.");

  m.def(
      "propose_next_bound",
      [](const std::vector<std::pair<double, double>>& done, double start_bound, double budget,
         double noise_margin, double max_bound, int max_candidates, double growth, int refinements,
         bool narrow_to_free) -> std::optional<double> {
        BoundSearchOptions o;
        o.start_bound = start_bound;
        o.budget = budget;
        o.noise_margin = noise_margin;
        o.max_bound = max_bound;
        o.max_candidates = max_candidates;
        o.growth = growth;
        o.refinements = refinements;
        o.narrow_to_free = narrow_to_free;
        BoundSearch check(o);  // validates the options
        std::vector<BoundMeasurement> measured;
        for (const auto& [b, d] : done) measured.push_back(BoundMeasurement{b, d});
        return propose_next_bound(o, measured);
      },
      py::arg("done"), py::arg("start_bound"), py::arg("budget"), py::arg("noise_margin") = -1.0,
      py::arg("max_bound") = std::numeric_limits<double>::infinity(), py::arg("max_candidates") = 16,
      py::arg("growth") = 2.0, py::arg("refinements") = 3, py::arg("narrow_to_free") = false,
      "The next error bound to measure for one tensor given [(bound, drop), ...] so far, or None.");

  m.def(
      "solve_configuration",
      [](const std::string& table_json, double budget) {
        const AssessmentTable table = assessment_from_json(table_json);
        SolveOptions so;
        so.budget = budget;
        const Configuration c = solve_configuration(table, so);
        return py::make_tuple(c.choice, c.bytes, c.estimated_drop);
      },
      py::arg("table_json"), py::arg("budget"),
      "(choice, bytes, estimated_drop): the knapsack on the monotone envelope of the measured drops.");

  m.def(
      "guarantee_configuration",
      [](const std::string& table_json, double budget, double confidence, int loosen_steps,
         int max_measurements, const std::function<Counts(const std::vector<size_t>&)>& measure) {
        const AssessmentTable table = assessment_from_json(table_json);
        const GuaranteeResult g = guarantee_configuration(
            table, guarantee_options(budget, confidence, loosen_steps, max_measurements), measure_of(measure));
        return guarantee_result_to_json(table, g, -1);
      },
      py::arg("table_json"), py::arg("budget"), py::arg("confidence") = 0.95, py::arg("loosen_steps") = 4,
      py::arg("max_measurements") = 32, py::arg("measure"),
      "The guarantee loop; measure(choice) -> (correct_to_wrong, wrong_to_correct, images). Result as JSON.");

  m.def(
      "certification_ladder",
      [](const std::string& table_json, double budget, double confidence, int loosen_steps, int max_measurements,
         const std::function<Counts(const std::vector<size_t>&)>& measure, const std::vector<double>& rms) {
        const AssessmentTable table = assessment_from_json(table_json);
        const GuaranteeOptions go = guarantee_options(budget, confidence, loosen_steps, max_measurements);
        const MeasureConfiguration measure_config = measure_of(measure);
        const GuaranteeResult g = guarantee_configuration(table, go, measure_config);
        py::list rungs;
        for (const Rung& r : certification_ladder(table, g, go.solve, measure_config, rms)) {
          py::dict d;
          d["choice"] = py::tuple(py::cast(r.choice));
          d["bytes"] = r.bytes;
          d["origin"] = r.origin;
          d["tier"] = r.tier;
          d["selection"] = Counts{r.selection.correct_to_wrong, r.selection.wrong_to_correct, r.selection.images};
          rungs.append(d);
        }
        return py::make_tuple(guarantee_result_to_json(table, g, -1), rungs);
      },
      py::arg("table_json"), py::arg("budget"), py::arg("confidence"), py::arg("loosen_steps"),
      py::arg("max_measurements"), py::arg("measure"), py::arg("rms"),
      "The guarantee loop, then the certification ladder of the deepsz tool (certification_ladder): "
      "(guarantee as JSON, rungs as dicts of choice, bytes, origin, tier, selection counts).");

  m.def(
      "certify_in_sequence",
      [](size_t candidates, double budget, double confidence, size_t max_looks,
         const std::function<Counts(size_t)>& measure, const std::vector<uint64_t>& bytes) {
        const CertificationResult r = certify_in_sequence(
            candidates, budget, confidence, max_looks,
            [&](size_t k) {
              const Counts c = measure(k);
              return CertificationCounts{std::get<0>(c), std::get<1>(c), std::get<2>(c)};
            },
            bytes);
        return certification_result_to_json(r, -1);
      },
      py::arg("candidates"), py::arg("budget"), py::arg("confidence"), py::arg("max_looks"), py::arg("measure"),
      py::arg("bytes") = std::vector<uint64_t>{},
      "Fixed-sequence certification of ordered candidates; measure(k) -> counts. Result as JSON.");
}

}  // namespace deepsz::python
