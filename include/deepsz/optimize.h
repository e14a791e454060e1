// deepsz/optimize.h: choosing one error bound per layer under an accuracy
// budget (docs/OPTIMIZE.md).
//
// Three parts, all plain C++ and testable without a network:
//   1. AssessmentTable: what was measured per layer and candidate bound
//      (bytes, validation top-1 drop, paired flip counts); JSON in and out.
//      BoundSearch proposes which bounds to measure.
//   2. solve_configuration: a multiple-choice knapsack (minimise bytes,
//      summed per-layer drops <= budget) by dynamic programming over the drop
//      in buckets, on a conservative drop model (monotone envelope by default).
//   3. guarantee_configuration: solve, measure the whole configuration, and
//      tighten until the *measured* validation drop is within the budget; the
//      result carries a one-sided confidence bound on the true drop.
//
// Drops are in percentage points of top-1 accuracy, reference (every layer
// exact) minus candidate, on the same images: positive = worse. Errors are
// thrown as deepsz::Error (invalid_argument for bad parameters or tables
// built in memory, foreign_format / unsupported_version / corruption_detected
// for files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "deepsz/error.h"

namespace deepsz {

// ---------------------------------------------------------------------------
// 1. The assessment table
// ---------------------------------------------------------------------------

constexpr const char* kAssessmentFormatName = "deepsz-assessment";
constexpr int kAssessmentFormatVersion = 1;

// Limits enforced on every table (in memory and read from a file), so that
// the DP's memory and the byte sums stay bounded.
constexpr size_t kMaxAssessedLayers = 1u << 16;
constexpr size_t kMaxCandidatesPerLayer = 1024;
constexpr uint64_t kMaxCandidateBytes = uint64_t(1) << 48;

// One measured error bound of one layer, with every other layer exact.
struct Candidate {
  double abs_error_bound = 0.0;  // 0 = lossless (the layer stays exact)
  uint64_t index_bytes = 0;      // coded positions of the surviving weights
  uint64_t value_bytes = 0;      // coded values at this bound
  // Validation top-1 drop in points; may be negative (noise).
  double top1_drop = 0.0;
  // Paired evidence on the same images as the reference: images the
  // reference got right and this candidate got wrong, and the reverse.
  // When images > 0, top1_drop must equal
  // 100 * (correct_to_wrong - wrong_to_correct) / images.
  uint64_t correct_to_wrong = 0;
  uint64_t wrong_to_correct = 0;
  uint64_t images = 0;  // 0 = no paired evidence recorded

  uint64_t total_bytes() const { return index_bytes + value_bytes; }
};

// {bound, index_bytes, value_bytes, top1_drop, correct_to_wrong,
// wrong_to_correct, images}: the assessment file's and the report's form.
void to_json(nlohmann::json& j, const Candidate& c);

struct LayerAssessment {
  std::string name;       // unique, non-empty (the tensor name)
  uint64_t elements = 0;  // dense element count, > 0
  double density = 1.0;   // fraction of surviving weights, in [0, 1]
  // Sorted by strictly increasing bound. candidates[0] is the lossless
  // option: bound 0, drop 0, no flips, so a layer can always stay exact.
  std::vector<Candidate> candidates;
};

struct AssessmentTable {
  std::string model;            // free text (e.g. "lenet-300-100")
  std::string split = "validation";
  uint64_t images = 0;          // size of the split the drops come from
  double reference_top1 = 0.0;  // accuracy (%) of the exact model on it
  std::vector<LayerAssessment> layers;
};

// Empty string if the table satisfies every rule above; else the first
// violation ("layers[1].candidates[3]: bounds not strictly increasing").
std::string assessment_problem(const AssessmentTable& table);
// Throws Error(invalid_argument) with assessment_problem() if not empty.
void validate_assessment(const AssessmentTable& table);

// The lossless candidate of a layer, built from its stored bytes.
Candidate lossless_candidate(uint64_t index_bytes, uint64_t value_bytes,
                             uint64_t images = 0);

// JSON, format "deepsz-assessment" version 1 (docs/OPTIMIZE.md). Unknown keys
// are ignored (new metadata comes as new keys); everything read is checked.
//   not JSON, or no/other "format"      -> foreign_format
//   "version" > 1                        -> unsupported_version
//   missing field, wrong type, a rule broken -> corruption_detected
std::string assessment_to_json(const AssessmentTable& table, int indent = 2);
AssessmentTable assessment_from_json(const std::string& text);
void save_assessment(const std::string& path, const AssessmentTable& table);  // io_error
AssessmentTable load_assessment(const std::string& path);

// ---------------------------------------------------------------------------
// Adaptive choice of the bounds to measure for one layer
// ---------------------------------------------------------------------------

struct BoundMeasurement {
  double abs_error_bound = 0.0;
  double top1_drop = 0.0;
};

struct BoundSearchOptions {
  // A bound expected to change nothing, > 0. Suggested: 1e-4 * max|w| of the
  // layer's surviving weights (the model side's choice; documented there).
  double start_bound = 0.0;
  double budget = 0.0;  // the whole model's budget in points, > 0
  // Widening stops once a drop exceeds budget + noise_margin; < 0 means
  // "use budget" (stop past 2x budget). A few images' worth is the least
  // that makes sense (100 * 3 / images).
  double noise_margin = -1.0;
  double growth = 2.0;     // widening factor, > 1
  int refinements = 3;     // log-space bisections of the feasibility edge
  int max_candidates = 16; // measurements per layer, lossless not counted
  double max_bound = std::numeric_limits<double>::infinity();  // e.g. max|w|
  double min_bound = 0.0;  // narrowing floor; 0 = start_bound / 1024
  // Also narrow (by growth^2) while the smallest bound measured has a
  // positive drop, until one reads <= 0 or the floor is reached.
  bool narrow_to_free = false;
};

// Given every measurement so far (any order), the next bound to measure, or
// nullopt when done. Phases, decided from the measurements alone:
//   narrow: the smallest measured bound is infeasible -> smallest / growth
//           (with narrow_to_free, also while its drop is > 0: / growth^2)
//   widen:  no drop beyond budget + margin yet -> largest * growth
//   refine: sqrt(lo * hi) where lo is the largest bound whose envelope drop
//           (max drop at any bound <= it) is <= budget and hi the next
//           measured bound, until hi / lo <= growth^(1 / 2^refinements).
// Widening leaves `refinements` measurements of the limit for refining (once
// some bound measured infeasible). Reach of the defaults: the edge is found
// to a factor 2^(1/8) if it lies within about 2^12 / 1.4 ~ 2900x above the
// start; further away, the search ends with the largest bound it measured.
std::optional<double> propose_next_bound(const BoundSearchOptions& options,
                                         const std::vector<BoundMeasurement>& done);

// The largest measured bound whose envelope drop is <= budget (0 if none).
double largest_feasible_bound(const std::vector<BoundMeasurement>& done, double budget);

// The caller's loop:  BoundSearch s(opt);
//   while (auto b = s.next()) s.record(*b, measure(*b));
class BoundSearch {
 public:
  explicit BoundSearch(const BoundSearchOptions& options);  // invalid_argument
  std::optional<double> next() const { return propose_next_bound(options_, done_); }
  void record(double abs_error_bound, double top1_drop);
  const std::vector<BoundMeasurement>& measurements() const { return done_; }

 private:
  BoundSearchOptions options_;
  std::vector<BoundMeasurement> done_;
};

// ---------------------------------------------------------------------------
// Paired statistics
// ---------------------------------------------------------------------------

// One-sided upper confidence bound, in points, on the true top-1 drop
// 100 * (P(correct->wrong) - P(wrong->correct)), from the flip counts of n
// paired images. Exact (no normal approximation): Clopper-Pearson upper bound
// on P(c->w) minus Clopper-Pearson lower bound on P(w->c), each at
// (1 - confidence) / 2 (Bonferroni), so the coverage is >= confidence for any
// n. With no flips at all it is about 100 * 3.7 / n at 95%.
double paired_drop_upper_bound(uint64_t correct_to_wrong, uint64_t wrong_to_correct,
                               uint64_t images, double confidence = 0.95);

// The exact paired test on the discordant images (McNemar's, conditional on
// their number m = correct_to_wrong + wrong_to_correct): given m, the number
// of correct->wrong flips is Binomial(m, q) and the drop is (m / n)(2q - 1).
// The bound is 100 (m / n)(2 q_U - 1) with q_U the one-sided Clopper-Pearson
// upper bound on q at 1 - confidence: exact given m, no Bonferroni split, so
// at confidence 0.5 it sits about half an image above the point estimate
// (q_U is the median), where paired_drop_upper_bound is far above it. 0
// when no image flipped. This is the certification statistic
// (docs/PIPELINE.md, "Certification").
double discordant_drop_upper_bound(uint64_t correct_to_wrong, uint64_t wrong_to_correct,
                                   uint64_t images, double confidence);

// The standard normal quantile (Acklam's rational approximation refined by
// one Halley step; relative error < 1e-12 on (0, 1)).
double normal_quantile(double p);

// Clopper-Pearson one-sided bounds on a binomial proportion (k of n):
// P(X <= k | upper) = alpha, P(X >= k | lower) = alpha.
double binomial_upper_bound(uint64_t k, uint64_t n, double alpha);
double binomial_lower_bound(uint64_t k, uint64_t n, double alpha);

// ---------------------------------------------------------------------------
// 2. The knapsack
// ---------------------------------------------------------------------------

// How a measured per-layer drop becomes the drop the DP adds up. Negative
// drops always count as zero, and the lossless candidate always as zero.
enum class DropModel {
  measured,           // max(drop, 0) as measured
  monotone_envelope,  // max over this and every smaller bound of the layer
  upper_confidence,   // envelope of paired_drop_upper_bound at dp_confidence
};

const char* drop_model_name(DropModel model) noexcept;

// effective[layer][candidate] under `model`.
std::vector<std::vector<double>> effective_drops(const AssessmentTable& table,
                                                 DropModel model,
                                                 double dp_confidence = 0.9);

struct KnapsackItem {
  uint64_t cost = 0;    // bytes
  uint64_t weight = 0;  // drop in buckets
};

// Multiple-choice knapsack: one item per group, minimum total cost with total
// weight <= capacity. Ties: smaller total weight, then the earliest items.
// nullopt if no choice fits. Memory: groups * (capacity + 1) indices.
std::optional<std::vector<size_t>> solve_multiple_choice_knapsack(
    const std::vector<std::vector<KnapsackItem>>& groups, uint64_t capacity);

// drop -> buckets, rounding up (a drop of 0.031 at 0.01 costs 4 buckets), so
// the summed bucket drop never understates the summed drop. A relative slack
// of 1e-9 bucket absorbs binary rounding (0.07 / 0.01 = 7.000000000000001).
uint64_t drop_to_buckets(double drop, double bucket);
// budget -> capacity, rounding down with the same slack.
uint64_t budget_to_buckets(double budget, double bucket);

struct SolveOptions {
  double budget = 0.0;          // points, >= 0
  double bucket = 0.01;         // points, > 0; budget / bucket <= 1e7
  DropModel drop_model = DropModel::monotone_envelope;
  double dp_confidence = 0.9;   // for DropModel::upper_confidence
  // Optional: allowed[layer][candidate] == false excludes a candidate (the
  // lossless one is always allowed). Empty = everything allowed.
  std::vector<std::vector<bool>> allowed;
};

struct Configuration {
  std::vector<size_t> choice;   // candidate index per layer
  uint64_t bytes = 0;           // sum of the chosen candidates' bytes
  double estimated_drop = 0.0;  // sum of the chosen effective drops (points)
  uint64_t drop_buckets = 0;    // what the DP charged
};

// Always feasible for budget >= 0 (all lossless is). invalid_argument on a
// bad table or options.
Configuration solve_configuration(const AssessmentTable& table, const SolveOptions& options);

uint64_t configuration_bytes(const AssessmentTable& table, const std::vector<size_t>& choice);
uint64_t lossless_bytes(const AssessmentTable& table);  // every layer exact

// ---------------------------------------------------------------------------
// 3. The guarantee
// ---------------------------------------------------------------------------

// The whole configuration measured on the validation split against the
// reference, on the same images.
struct ConfigurationMeasurement {
  double top1_drop = 0.0;  // points
  uint64_t correct_to_wrong = 0;
  uint64_t wrong_to_correct = 0;
  uint64_t images = 0;     // 0 = no paired evidence (no confidence bound)
};

using MeasureConfiguration =
    std::function<ConfigurationMeasurement(const std::vector<size_t>& choice)>;

struct GuaranteeOptions {
  SolveOptions solve;          // solve.budget is the budget to guarantee
  double confidence = 0.95;    // of the reported upper bound
  int max_measurements = 32;   // then the all-lossless configuration is measured
  // After acceptance: up to this many configurations solved with the
  // effective budget multiplied by loosen_factor each time, each measured
  // and kept while its measured drop stays within the budget (the additive
  // envelope over-estimates the combined drop several-fold on the LeNets).
  int loosen_steps = 0;
  double loosen_factor = 1.5;
};

struct GuaranteeStep {
  std::vector<size_t> choice;
  uint64_t bytes = 0;
  double effective_budget = 0.0;  // what the DP was given
  double estimated_drop = 0.0;
  ConfigurationMeasurement measured;
  double drop_upper_bound = std::numeric_limits<double>::quiet_NaN();  // NaN if no evidence
  bool within_budget = false;
  std::string action;  // what was done next and why
};

struct GuaranteeResult {
  bool success = false;  // measured drop of the returned choice <= budget
  double budget = 0.0;
  std::vector<size_t> choice;  // the accepted one (all lossless on failure)
  uint64_t bytes = 0;
  uint64_t lossless_bytes = 0;
  double estimated_drop = 0.0;
  double measured_drop = 0.0;
  double drop_upper_bound = std::numeric_limits<double>::quiet_NaN();
  double confidence = 0.95;
  int measurements = 0;
  std::vector<GuaranteeStep> history;  // every configuration measured, in order
  std::string statement;  // one paragraph for a user
};

// Solve with an effective budget B (initially the budget), measure; while the
// measured drop D exceeds the budget:
//   B <- min(B * budget / D, estimate - bucket)     while B >= 0
//   then, with only zero-drop candidates left, forbid the chosen candidate
//   that flipped most images correct->wrong, one per measurement;
//   at the end (or after max_measurements) all layers lossless.
// Then (loosen_steps > 0) loosen: B <- B * loosen_factor, solve; a smaller
// configuration is measured and replaces the accepted one when its measured
// drop is within the budget; the first one over it ends the loosening.
// Terminates: each step lowers the estimate by a bucket or removes a
// candidate. success == false only if even all-lossless was measured over
// the budget (a non-deterministic evaluation). Exceptions of `measure`
// propagate.
GuaranteeResult guarantee_configuration(const AssessmentTable& table,
                                        const GuaranteeOptions& options,
                                        const MeasureConfiguration& measure);

// The result with its history as JSON (for reports and the CLI).
std::string guarantee_result_to_json(const AssessmentTable& table,
                                     const GuaranteeResult& result, int indent = 2);

// ---------------------------------------------------------------------------
// 4. Certification
// ---------------------------------------------------------------------------

// A finished candidate measured on the certification split against the
// dense reference, image by image.
struct CertificationCounts {
  uint64_t correct_to_wrong = 0;
  uint64_t wrong_to_correct = 0;
  uint64_t images = 0;
};

struct CertificationLook {
  size_t candidate = 0;  // index into the caller's ordered list
  CertificationCounts counts;
  double drop = 0.0;          // points, the point estimate
  double upper_bound = 0.0;   // discordant_drop_upper_bound at the confidence
  bool passed = false;        // upper_bound <= budget
};

struct CertificationResult {
  bool certified = false;  // some candidate passed
  size_t chosen = 0;       // the passed candidate of fewest bytes, else the last passed (valid when certified)
  double budget = 0.0;
  double confidence = 0.0;
  size_t candidates = 0;   // offered
  std::vector<size_t> planned;  // the candidates to be looked at, in order, fixed before any look
  std::vector<CertificationLook> looks;  // as made; the first failure ends them
  std::string statement;   // one paragraph for a user
};

using MeasureCertification = std::function<CertificationCounts(size_t candidate)>;

// The candidates to look at among n ordered ones, at most max_looks of them:
// all when n <= max_looks, else the first, the last and evenly spaced ones
// between (by index). Depends on n and max_looks only.
std::vector<size_t> planned_looks(size_t n, size_t max_looks);

// Fixed-sequence testing (Maurer, Hothorn and Lehmacher 1995): the caller
// orders its candidates from the safest to the boldest, using only what the
// selection split told it; the planned ones are measured in that order, each
// passes when its upper bound is <= budget, and the first failure ends the
// looks. The chosen model is the passed one of fewest `bytes` (by
// candidate; ties and an empty `bytes`: the last passed); any passed one may
// be chosen, since all of them are covered at once. Whatever the true drops,
// the probability that any candidate whose true drop exceeds the budget is
// passed is at most 1 - confidence, because reaching and passing the first
// such candidate in the sequence is one test at that level: the looks need
// no Bonferroni share. invalid_argument for budget < 0, confidence outside
// (0, 1), max_looks 0; exceptions of `measure` propagate.
CertificationResult certify_in_sequence(size_t candidates, double budget, double confidence, size_t max_looks,
                                        const MeasureCertification& measure,
                                        const std::vector<uint64_t>& bytes = {});

// A finished configuration offered to the certification.
struct Rung {
  std::vector<size_t> choice;
  uint64_t bytes = 0;                   // tensor streams
  ConfigurationMeasurement selection;   // against the input, on the selection split
  std::string origin;                   // how the optimiser reached it
  // 0: lossless, or one bound <= 0.08 rms for every tensor (nothing chosen
  // per tensor, a small perturbation); 1: the rest. The certification looks
  // at every model's tier 0 before any tier 1 (docs/PIPELINE.md).
  int tier = 1;
};
// Distinct configurations measured within `solve.budget` on the selection
// split, ordered from the safest (most bytes; first: every tensor lossless,
// the input as it is) to the boldest; ties by the smaller measured drop.
// Decided from the selection split alone: the guarantee's accepted and
// loosened steps, solutions at 1/8, 1/4 and 1/2 of the budget, and uniform
// rungs (every lossy tensor at its largest measured bound <= f * rms of its
// nonzeros, f = 0.02, 0.04, 0.08, then steps of sqrt 2 to 0.32; `rms` by
// table layer), the last two measured here. Used by deepsz compress and by
// the Python package's compress alike.
std::vector<Rung> certification_ladder(const AssessmentTable& table, const GuaranteeResult& guarantee,
                                       const SolveOptions& solve, const MeasureConfiguration& measure,
                                       const std::vector<double>& rms);

// The result as JSON (for reports).
std::string certification_result_to_json(const CertificationResult& result, int indent = 2);

}  // namespace deepsz
