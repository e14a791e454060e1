// deepsz/pipeline/pipeline.h: the DeepSZ pipeline on a trained (pruned)
// network: error-bound assessment, optimisation with a measured guarantee,
// generation of the .dsz model, and its decoder (docs/PIPELINE.md).
//
// Torch-free: written against deepsz/model/model.h, the container and the
// optimiser. Errors are deepsz::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "deepsz/container.h"
#include "deepsz/model/data.h"
#include "deepsz/model/model.h"
#include "deepsz/optimize.h"

namespace deepsz::pipeline {

class Collective;  // deepsz/pipeline/collective.h

// Metadata key that marks a .dsz file as a whole deepsz model (value
// kModelKindValue); decompress rejects containers without it.
inline constexpr const char* kModelKindKey = "deepsz";
inline constexpr const char* kModelKindValue = "model1";

enum class Method {
  deepsz,  // adaptive bounds on every tensor, dsz codec, envelope + measured guarantee
  paper,   // DeepSZ 2019: grid 1e-3..9e-3 on fc weights, gap8 index, 1-D Lorenzo, additive model
  zfp,     // as deepsz, with ZFP fixed-accuracy as the lossy codec
};
const char* method_name(Method m) noexcept;

struct CompressOptions {
  double max_loss = 0.3;     // points of validation top-1, in [0, 100]
  bool fc_only = false;      // lossy candidates for fully connected tensors only
  Method method = Method::deepsz;
  int threads = 0;           // as given to init_runtime (0 = all cores)
  int workers = 0;           // assessment workers, each with its own Evaluator; 0 = automatic
  std::string assessment_path;  // load if it matches the model, else measure and save
  bool progress = false;     // progress bar on stderr
  double sparse_below = 0.5; // density below which a tensor is stored sparse
  int max_candidates = 12;   // per tensor, lossless not counted (BoundSearch)
  // Fraction of the validation split held out of the assessment: the bounds
  // are chosen on the other images, the final configuration must be within
  // the budget on the held-out images and on the whole split. 0 (default):
  // assess on every image (docs/PIPELINE.md, "The guarantee": measured, the
  // held-out variant cost up to 2.5x of ratio at small budgets).
  double holdout = 0.0;
  // After the measured check: up to this many configurations at 1.5x, 2.25x,
  // ... the effective budget, each kept when its measured drop is within the
  // budget (the additive envelope over-estimates; docs/PIPELINE.md). 0: off.
  int loosen = 4;
  // With a certification split in the data (the default, docs/PIPELINE.md
  // "Certification"): the finished candidates, safest first, are measured on
  // it against the dense reference until one is refused; the last that
  // passed is written. It passes when the exact paired upper bound on its
  // drop against dense at `confidence` is <= max_loss. No candidate passes:
  // Error(not_certified), nothing written.
  double confidence = 0.9;
  // Looks cost time only: fixed-sequence testing spends no confidence on
  // them (optimize.h, certify_in_sequence).
  int max_looks = 32;
  // false: no look at the certification split even when the data has one,
  // and nothing certified (deepsz run's comparison of pruned candidates,
  // made on the selection split alone before the chosen one is certified).
  bool certify = true;
  std::function<void(const std::string&)> log;  // one line per event; may be empty
  // The assessment split over processes (docs/SCALE.md); null: this process
  // alone. On ranks other than 0, compress returns an empty report after
  // the assessment and writes nothing.
  Collective* collective = nullptr;
};

struct TensorReport {
  std::string name;
  std::string kind;            // fc_weight | conv_weight | bias | other
  std::vector<uint64_t> shape;
  uint64_t elements = 0;
  double density = 1.0;        // nonzeros / elements
  bool sparse = false;
  std::string coding;          // e.g. "sparse context+dsz", "dense lossless"
  double error_bound = 0.0;    // 0 = lossless
  uint64_t index_bytes = 0;
  uint64_t value_bytes = 0;
  double assessed_drop = 0.0;  // the table's drop of the chosen candidate
  size_t candidates = 0;       // measured, lossless included
  std::vector<Candidate> measured;  // the assessment's candidates (lossless first), for the report's curves
};

struct CompressReport {
  std::string input, output, method, architecture;
  uint64_t original_bytes = 0;     // float32 bytes of every parameter of the input model
  uint64_t dsz_bytes = 0;          // size of the written file
  double ratio = 0.0;              // original_bytes / dsz_bytes
  uint64_t tensor_bytes = 0;       // sum of index + value streams
  uint64_t metadata_bytes = 0;     // sum of key + value bytes of the metadata
  uint64_t torchscript_bytes = 0;  // of which the TorchScript module (base64 of zstd), 0 for native input
  uint64_t images_val = 0, images_test = 0;

  // Accuracies are fractions. *_before: the dense ancestor's when the input
  // records one, else the input model's; input_*: the input (pruned) model.
  bool dense_recorded = false;
  double val_top1_before = 0, test_top1_before = 0;
  double input_val_top1 = 0, input_test_top1 = 0;
  double val_top1_after = 0, test_top1_after = 0;

  double max_loss_pp = 0;          // as asked
  double pruning_loss_pp = 0;      // (dense - input) val top-1, points (0 without ancestor)
  double budget_pp = 0;            // what compression may lose against the input model
  std::string budget_against;      // "dense" | "input"
  double estimated_drop_pp = 0;    // additive estimate of the chosen configuration
  double measured_drop_pp = 0;     // val, against the input model: the larger of the two below (whole split, held out)
  double val_drop_pp = 0;          // whole validation split
  double holdout_drop_pp = 0;      // held-out images only (= val_drop_pp when holdout == 0)
  uint64_t images_assess = 0, images_holdout = 0;
  double drop_upper_bound_pp = 0;  // one-sided 95% bound on the true drop (NaN if none)
  double test_drop_pp = 0;         // test, against the input model (reported only)
  double val_drop_vs_dense_pp = 0, test_drop_vs_dense_pp = 0;
  bool guarantee_success = true;   // measured drop <= budget (paper: may be false)
  int measurements = 0;            // whole-configuration measurements
  std::string statement;           // the guarantee's paragraph
  int workers = 1;
  bool assessment_reused = false;
  size_t assessed_candidates = 0;  // measured (tensor, bound) pairs, lossless excluded

  // Certification (certified == false: the data has no certification split,
  // the uncertified rule of before; the fields below are then zero).
  bool certified = false;
  uint64_t images_cert = 0;
  double cert_top1_before = 0, cert_top1_after = 0;  // the dense reference's and the decoded model's
  double confidence = 0;
  double selection_drop_vs_dense_pp = 0;  // the chosen candidate on the selection split
  double cert_drop_pp = 0;                // against dense, point estimate
  double cert_upper_bound_pp = 0;         // exact paired bound at `confidence`
  uint64_t cert_correct_to_wrong = 0, cert_wrong_to_correct = 0;
  size_t cert_looks = 0, cert_candidates = 0;
  int cert_max_looks = 0;
  std::string cert_statement;
  std::string certification_json;         // certification_result_to_json, with the ladder
  // What the rule before certification would have written (the guarantee's
  // choice on the selection split), for comparison: its stream bytes, its
  // selection drop against the input and its test drop against dense.
  uint64_t uncertified_tensor_bytes = 0;
  double uncertified_selection_drop_pp = 0;
  double uncertified_test_drop_vs_dense_pp = 0;

  size_t chosen_input = 0;                // compress_candidates: which input was written

  double seconds_load = 0, seconds_assess = 0, seconds_optimise = 0, seconds_generate = 0,
         seconds_evaluate = 0;
  std::vector<TensorReport> tensors;
  std::string guarantee_json;      // guarantee_result_to_json (history), may be empty
  std::string prune_steps;         // the input's meta::prune_steps, when it records them
  std::string command_line;        // set by the caller, for the report
};

// The whole compress step: assess (or reuse --assessment), optimise, write
// `output` (temp + rename), read it back, evaluate. `input_path` is only
// recorded in the report. seconds_load is left to the caller.
CompressReport compress_model(const model::Model& input, const model::Dataset& data,
                              const CompressOptions& options, const std::string& output,
                              const std::string& input_path = "");

// The same on several candidate models of one dense ancestor (deepsz run:
// the pruned model and denser states of its pruning), under one budget
// against that ancestor. Each is assessed and optimised on the selection
// split; certified, every candidate configuration of every model joins one
// fixed sequence, safest first (denser models, then more bytes), so that choosing among the
// models costs no extra share of the confidence. Uncertified: the smallest
// configuration the selection split accepted. report.chosen_input names the
// model written.
CompressReport compress_candidates(const std::vector<const model::Model*>& inputs, const model::Dataset& data,
                                   const CompressOptions& options, const std::string& output,
                                   const std::vector<std::string>& input_paths = {});

// The report as JSON (every field above; layers under "layers").
std::string report_to_json(const CompressReport& report, int indent = 2);
// A human summary table.
std::string report_to_text(const CompressReport& report);

// Rebuilds the model of a .dsz file written by compress_model: parameters
// decoded, masks restored from the sparse index of the tensors that had one,
// metadata restored. Throws foreign_format for a .dsz that is not a deepsz
// model (e.g. raw arrays from `dsz compress`).
model::Model decompress_model(const Container& container, unsigned threads = 1);
model::Model decompress_model_file(const std::string& path, unsigned threads = 1);

// The kind of model file a .dsz model decodes to (native, TorchScript, ONNX);
// foreign_format as decompress_model for a .dsz that is not a deepsz model.
model::FileKind decompressed_kind(const Container& container);

// decompress_model(container).save(path), in bounded memory where it can: a
// deepsz-native model is written tensor by tensor as each decodes
// (model::save_native_streamed), the same bytes, never holding the network;
// a TorchScript or ONNX model (and a native one of 4 GiB or more) goes
// through decompress_model and Model::save.
struct DecompressedFile {
  std::string architecture;
  size_t tensors = 0, masked = 0;
  bool streamed = false;
};
DecompressedFile decompress_model_to_file(const Container& container, const std::string& path, unsigned threads = 1);

// Budget arithmetic of docs/PIPELINE.md: the loss compression may add on top
// of the input model so that the decoded model loses at most max_loss_pp
// against the dense ancestor. dense_val_top1 < 0: no ancestor (budget =
// max_loss_pp). Never above max_loss_pp; may be <= 0 (everything lossless).
double compression_budget(double max_loss_pp, double dense_val_top1, double input_val_top1);

// A 64-bit fingerprint of a model's parameters and architecture (FNV-1a),
// used to match a saved assessment table to its model.
std::string model_fingerprint(const model::Model& m);

}  // namespace deepsz::pipeline
