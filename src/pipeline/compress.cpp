// deepsz compress: the four steps of DeepSZ on one or several candidate
// models, the selection split for every decision and, when the data has
// one, the certification split to accept or refuse the finished files
// (docs/PIPELINE.md). Torch-free: everything goes through model.h.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "deepsz/model/runtime.h"
#include "deepsz/pipeline/collective.h"
#include "pipeline_internal.h"

namespace deepsz::pipeline {

using namespace detail;
using model::Split;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One input model through assessment and optimisation on the selection
// split (the constructor and optimise()), then, for the configuration
// chosen, generation, evaluation and the written file (finish()).
class CompressionJob {
 public:
  CompressionJob(const model::Model& input, const model::Dataset& data, const CompressOptions& o,
                 const std::string& input_path, bool certify);
  void optimise();
  const std::vector<Rung>& ladder() const { return ladder_; }
  const std::vector<uint8_t>& certification_reference() const { return cert_ref_; }
  CertificationCounts certification_counts(const std::vector<size_t>& choice) {
    const Paired p = compare(cert_ref_, ev_->correct(Split::cert, decoded(choice)));
    return CertificationCounts{p.c2w, p.w2c, p.n};
  }
  // Records the certification of ladder rung `rung`.
  void set_certified(const CertificationResult& cert, size_t rung, const std::string& detail_json);
  const CompressReport& report() const { return r_; }
  CompressReport finish(const std::string& output);

 private:
  struct Judged {
    Paired all, held, worst;
  };
  void log(const std::string& s) const {
    if (o_.log) o_.log(s);
  }
  model::ParameterOverrides decoded(const std::vector<size_t>& choice) const;
  Judged judge(const std::vector<uint8_t>& got) const;
  ConfigurationMeasurement measure(const std::vector<size_t>& choice);

  const model::Model& input_;
  const model::Dataset& data_;
  CompressOptions o_;
  MethodSettings s_;
  bool certify_;
  std::vector<TensorPlan> plans_;
  std::unique_ptr<model::Evaluator> ev_;
  std::vector<uint8_t> ref_val_, ref_test_, cert_ref_;
  std::vector<uint8_t> in_assess_;
  bool holdout_ = false;
  double budget_ = 0.0;
  double seconds_reference_ = 0.0;
  AssessmentTable table_;
  CompressReport r_;
  std::vector<size_t> choice_, uncertified_choice_;
  std::vector<Rung> ladder_;
  bool cert_passed_ = false;
};

CompressionJob::CompressionJob(const model::Model& input, const model::Dataset& data, const CompressOptions& o,
                               const std::string& input_path, bool certify)
    : input_(input), data_(data), o_(o), s_(settings_for(o.method)), certify_(certify) {
  if (!(o.max_loss >= 0.0 && o.max_loss <= 100.0))
    throw Error(ErrorCode::invalid_argument, "--max-loss must be in [0, 100] points");
  if (!(o.holdout >= 0.0 && o.holdout < 1.0)) throw Error(ErrorCode::invalid_argument, "holdout must be in [0, 1)");
  CompressReport& r = r_;
  r.input = input_path;
  r.prune_steps = input.metadata(model::meta::prune_steps);
  r.method = method_name(o.method);
  r.architecture = input.architecture();

  // --- reference and budget --------------------------------------------
  // The images every earlier step trained or chose on must not be the ones
  // this step certifies on (or, uncertified, reads its budget on).
  model::check_split_record(input.metadata(model::meta::data_split), data, "the input");
  const std::string vi = input.metadata(model::meta::val_images);
  if (input.metadata(model::meta::data_split).empty() && !vi.empty() && vi != std::to_string(data.val.size()))
    throw Error(ErrorCode::invalid_argument, "the input was pruned on a validation split of " + vi +
                                                 " images, this one has " + std::to_string(data.val.size()) +
                                                 ": pass --val " + vi);
  auto t0 = Clock::now();
  plans_ = plan_tensors(input, o);
  for (const auto& p : plans_) r.original_bytes += 4 * uint64_t(p.values.size());
  ev_ = std::make_unique<model::Evaluator>(input, data, /*share_parameters=*/true);  // input_ is const
  ref_val_ = ev_->correct(Split::val);
  // Ranks other than 0 only assess: they need the selection split alone.
  const bool root = !o.collective || o.collective->rank() == 0;
  if (root) ref_test_ = ev_->correct(Split::test);
  if (certify_ && root) cert_ref_ = detail::certification_reference(input, *ev_, data);
  release_free_memory();
  r.images_val = ref_val_.size();
  r.images_test = ref_test_.size();
  r.input_val_top1 = model::mean_of(ref_val_);
  r.input_test_top1 = model::mean_of(ref_test_);
  const double dense_val = parse_fraction(input.metadata(model::meta::dense_val_top1), -1.0);
  const double dense_test = parse_fraction(input.metadata(model::meta::dense_test_top1), -1.0);
  r.dense_recorded = dense_val >= 0.0;
  r.val_top1_before = r.dense_recorded ? dense_val : r.input_val_top1;
  r.test_top1_before = r.dense_recorded && dense_test >= 0.0 ? dense_test : r.input_test_top1;
  r.max_loss_pp = o.max_loss;
  r.pruning_loss_pp = r.dense_recorded ? (dense_val - r.input_val_top1) * 100.0 : 0.0;
  r.budget_against = r.dense_recorded ? "dense" : "input";
  r.budget_pp = compression_budget(o.max_loss, r.dense_recorded ? dense_val : -1.0, r.input_val_top1);
  budget_ = std::max(0.0, r.budget_pp);
  {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "budget: %.3g points against the %s model; compression may lose %.3g points of validation "
                  "top-1 against the input%s",
                  o.max_loss, r.budget_against.c_str(), r.budget_pp,
                  r.budget_pp <= 0.0 ? " (none left: every tensor is stored lossless)" : "");
    log(buf);
  }
  // The selection split: the assessment sees the images with in_assess = 1,
  // the final check all of them and, separately, the held-out rest
  // (--paper assesses on the whole split, as published).
  in_assess_.assign(ref_val_.size(), 1);
  holdout_ = o.method != Method::paper && o.holdout > 0.0 && ref_val_.size() >= 20;
  model::Dataset assess_data;
  std::vector<uint8_t> ref_assess;
  if (holdout_) {
    const double keep = 1.0 - o.holdout;
    for (size_t i = 0; i < in_assess_.size(); ++i)
      in_assess_[i] = std::floor(double(i + 1) * keep) > std::floor(double(i) * keep);
    const model::ImageSet& v = data.val;
    assess_data.directory = data.directory;
    assess_data.num_classes = data.num_classes;
    model::ImageSet& a = assess_data.val;
    a.channels = v.channels;
    a.rows = v.rows;
    a.cols = v.cols;
    const size_t e = size_t(v.image_elements());
    for (size_t i = 0; i < in_assess_.size(); ++i) {
      if (!in_assess_[i]) continue;
      a.labels.push_back(v.labels[i]);
      a.pixels.insert(a.pixels.end(), v.pixels.begin() + long(i * e), v.pixels.begin() + long((i + 1) * e));
      ref_assess.push_back(ref_val_[i]);
    }
  } else {
    ref_assess = ref_val_;
  }
  const model::Dataset& adata = holdout_ ? assess_data : data;
  r.images_assess = ref_assess.size();
  r.images_holdout = holdout_ ? ref_val_.size() - ref_assess.size() : 0;
  seconds_reference_ = since(t0);

  // --- 1. assessment ---------------------------------------------------------
  t0 = Clock::now();
  const std::string identity = table_identity(input, o, ref_val_.size()) +
                               (holdout_ ? " assess=" + std::to_string(ref_assess.size()) : std::string());
  bool loaded = false;
  if (root && !o.assessment_path.empty() && std::filesystem::exists(o.assessment_path)) {
    try {
      AssessmentTable t = load_assessment(o.assessment_path);
      if (table_matches(t, plans_, identity, ref_assess.size())) {
        table_ = std::move(t);
        loaded = true;
        log("assessment: reusing " + o.assessment_path);
      } else {
        log("assessment: " + o.assessment_path + " belongs to another model or method; measuring again");
      }
    } catch (const Error& e) {
      log(std::string("assessment: cannot reuse ") + o.assessment_path + ": " + e.what());
    }
  }
  // Rank 0's file decides for every rank (theirs may not see it).
  if (o.collective && o.collective->size() > 1) loaded = o.collective->broadcast(loaded ? "1" : "0") == "1";
  // Measured on LeNet-300-100 (2 cores, docs/PIPELINE.md): one evaluator
  // with every intra-op thread was as fast as or faster than one per thread.
  const int workers = o.workers > 0 ? o.workers : 1;
  r.workers = workers;
  if (!loaded) {
    const int threads = model::runtime_threads();
    if (workers > 1) model::init_runtime(1);  // one intra-op thread per worker
    try {
      table_ = assess(input, adata, plans_, s_, o, budget_, ref_assess, workers, &r.assessed_candidates);
    } catch (...) {
      if (workers > 1) model::init_runtime(threads);
      throw;
    }
    if (workers > 1) model::init_runtime(threads);
    table_.model = identity;
    if (root && !o.assessment_path.empty()) save_assessment(o.assessment_path, table_);
  } else {
    for (const auto& l : table_.layers) r.assessed_candidates += l.candidates.size() - 1;
  }
  r.assessment_reused = loaded;
  r.seconds_assess = since(t0);
}

model::ParameterOverrides CompressionJob::decoded(const std::vector<size_t>& choice) const {
  model::ParameterOverrides ov;
  for (size_t i = 0; i < choice.size(); ++i) {
    if (choice[i] == 0) continue;  // lossless: bit-exact, nothing to override
    const double b = table_.layers[i].candidates[choice[i]].abs_error_bound;
    ov[plans_[i].info.name] = decoded_values(std::make_shared<const TensorEntry>(encode_candidate(plans_[i], b, s_)));
  }
  return ov;
}

// The rule of the selection check: the drop on the whole split and the drop
// on the held-out images, the larger of the two is what must fit the budget.
CompressionJob::Judged CompressionJob::judge(const std::vector<uint8_t>& got) const {
  Judged j;
  j.all = compare(ref_val_, got);
  j.worst = j.all;
  if (holdout_) {
    j.held.n = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (in_assess_[i]) continue;
      ++j.held.n;
      if (ref_val_[i] && !got[i]) ++j.held.c2w;
      if (!ref_val_[i] && got[i]) ++j.held.w2c;
    }
    if (j.held.drop() > j.all.drop()) j.worst = j.held;
  } else {
    j.held = j.all;
  }
  return j;
}

ConfigurationMeasurement CompressionJob::measure(const std::vector<size_t>& choice) {
  const Paired d = judge(ev_->correct(Split::val, decoded(choice))).worst;
  ConfigurationMeasurement m;
  m.top1_drop = d.drop();
  m.correct_to_wrong = d.c2w;
  m.wrong_to_correct = d.w2c;
  m.images = d.n;
  return m;
}

void CompressionJob::optimise() {
  const auto t0 = Clock::now();
  CompressReport& r = r_;
  auto measure_fn = [this](const std::vector<size_t>& c) { return measure(c); };
  if (o_.method == Method::paper) {
    SolveOptions so;
    so.budget = budget_;
    so.drop_model = DropModel::measured;
    const Configuration c = solve_configuration(table_, so);
    choice_ = c.choice;
    r.estimated_drop_pp = c.estimated_drop;
    const ConfigurationMeasurement m = measure(choice_);
    r.measured_drop_pp = m.top1_drop;
    r.drop_upper_bound_pp = paired_drop_upper_bound(m.correct_to_wrong, m.wrong_to_correct, m.images, 0.95);
    r.measurements = 1;
    r.guarantee_success = m.top1_drop <= budget_ + 1e-9;
    r.statement = "paper baseline: additive model on measured drops, no envelope and no measured check; the "
                  "measured validation drop is reported only.";
    ladder_.push_back(Rung{choice_, c.bytes, m, "paper"});
  } else {
    GuaranteeOptions go;
    go.solve.budget = budget_;
    go.loosen_steps = o_.loosen;
    const GuaranteeResult g = guarantee_configuration(table_, go, measure_fn);
    choice_ = g.choice;
    r.estimated_drop_pp = g.estimated_drop;
    r.measured_drop_pp = g.measured_drop;
    r.drop_upper_bound_pp = g.drop_upper_bound;
    r.measurements = g.measurements;
    r.guarantee_success = g.success;
    r.statement = g.statement;
    r.guarantee_json = guarantee_result_to_json(table_, g, -1);
    r.uncertified_tensor_bytes = g.bytes;
    r.uncertified_selection_drop_pp = g.measured_drop;
    uncertified_choice_ = g.choice;
    // Selection proposes, certification disposes: the rungs are fixed from
    // the selection split alone, before any look at the certification one.
    if (certify_ && g.success) {
      std::vector<double> rms;
      for (const auto& p : plans_) rms.push_back(p.rms);
      ladder_ = certification_ladder(table_, g, go.solve, measure_fn, rms);
    }
  }
  r.seconds_optimise = since(t0);
}

void CompressionJob::set_certified(const CertificationResult& cert, size_t rung, const std::string& detail_json) {
  CompressReport& r = r_;
  const CertificationLook* look = nullptr;
  for (const auto& l : cert.looks)
    if (!look || (l.passed && l.candidate == cert.chosen)) look = &l;
  // `look`: the chosen one's (or the first, when nothing passed).
  choice_ = ladder_.at(rung).choice;
  cert_passed_ = cert.certified;
  r.estimated_drop_pp = 0.0;
  r.measured_drop_pp = ladder_[rung].selection.top1_drop;
  r.drop_upper_bound_pp = ladder_[rung].selection.images
                              ? paired_drop_upper_bound(ladder_[rung].selection.correct_to_wrong,
                                                        ladder_[rung].selection.wrong_to_correct,
                                                        ladder_[rung].selection.images, 0.95)
                              : 0.0;
  if (o_.method != Method::paper) r.statement = cert.statement;
  r.certified = true;
  r.images_cert = cert_ref_.size();
  r.confidence = cert.confidence;
  r.cert_drop_pp = look->drop;
  r.cert_upper_bound_pp = look->upper_bound;
  r.cert_correct_to_wrong = look->counts.correct_to_wrong;
  r.cert_wrong_to_correct = look->counts.wrong_to_correct;
  r.cert_looks = cert.looks.size();
  r.cert_candidates = cert.candidates;
  r.cert_max_looks = o_.max_looks;
  r.cert_statement = cert.statement;
  r.certification_json = detail_json;
}

CompressReport CompressionJob::finish(const std::string& output) {
  CompressReport& r = r_;
  r.output = output;
  // --- 3. generation, 4. evaluation --------------------------------------------
  auto t0 = Clock::now();
  Container c;
  c.set_meta(kModelKindKey, kModelKindValue);
  for (const char* key : {model::meta::architecture, model::meta::input, model::meta::classes, model::meta::pre_mean,
                          model::meta::pre_std, model::meta::val_images, model::meta::dense_val_top1,
                          model::meta::dense_test_top1}) {
    const std::string v = input_.metadata(key);
    if (!v.empty()) c.set_meta(key, v);
  }
  std::string masks;
  for (const auto& p : plans_)
    if (p.masked) masks += (masks.empty() ? "" : ",") + p.info.name;
  if (!masks.empty()) c.set_meta("deepsz.masks", masks);
  if (input_.file_kind() != model::FileKind::native) {
    // The module's code and structure or the ONNX graph, parameters zeroed
    // (the tensors carry them): what the decoder needs to write the file again.
    const char* key = input_.file_kind() == model::FileKind::onnx ? kOnnxKey : kTorchScriptKey;
    c.set_meta(key, model_shell(input_));
    r.torchscript_bytes = c.meta(key).size();
  }
  // The budget line is compact on purpose: every byte of metadata costs
  // ratio (docs/PIPELINE.md); the details go to the report.
  c.set_meta("deepsz.budget", short_number(o_.max_loss) + " " + r.budget_against + " " + short_number(r.budget_pp) +
                                  " " + method_name(o_.method));
  if (r.certified && cert_passed_)  // confidence, bound on the drop against dense (points), images
    c.set_meta("deepsz.certified", short_number(r.confidence) + " " + short_number(r.cert_upper_bound_pp) + " " +
                                       std::to_string(r.images_cert));
  if (data_.certified()) c.set_meta(model::meta::data_split, data_.split_record());
  // Each tensor is coded, checked and reported; the lossy ones are kept for
  // the evaluation below, the lossless ones (most of a large network's .dsz:
  // its convolutions) dropped and coded again when the container is
  // written, so that the evaluation's activations never meet all the
  // streams (VGG-16: 53 MB).
  model::ParameterOverrides ov;
  std::vector<std::shared_ptr<const TensorEntry>> kept(plans_.size());
  for (size_t i = 0; i < plans_.size(); ++i) {
    const double b = table_.layers[i].candidates[choice_[i]].abs_error_bound;
    auto entry = std::make_shared<const TensorEntry>(encode_candidate(plans_[i], b, s_));
    const TensorEntry& e = *entry;
    // Self-check of the promise made to the user, a piece at a time: within
    // the bound, pruned weights exactly zero, lossless bit-exact.
    bool ok = true;
    size_t at = 0;
    decode_tensor_pieces(e, 1, [&](const float* d, size_t count) {
      const float* original = plans_[i].values.data() + at;
      const Distortion dist = measure_distortion(original, d, count, e.error_bound);
      ok = ok && dist.over_bound == 0 && dist.non_finite_mismatch == 0;
      for (size_t j = 0; ok && plans_[i].sparse && j < count; ++j)
        if (original[j] == 0.0f && d[j] != 0.0f) ok = false;
      at += count;
    });
    if (!ok || at != plans_[i].values.size())
      throw Error(ErrorCode::corruption_detected, "tensor " + e.name + " broke its error bound after decoding");
    TensorReport t;
    t.name = plans_[i].info.name;
    t.kind = model::param_kind_name(plans_[i].info.kind);
    t.shape = plans_[i].shape;
    t.elements = plans_[i].values.size();
    t.density = plans_[i].density;
    t.sparse = e.sparse;
    t.coding = coding_name(e);
    t.error_bound = e.error_bound;
    t.index_bytes = e.index_stream.size();
    t.value_bytes = e.value_stream.size();
    t.assessed_drop = table_.layers[i].candidates[choice_[i]].top1_drop;
    t.candidates = table_.layers[i].candidates.size();
    t.measured = table_.layers[i].candidates;
    r.tensor_bytes += t.index_bytes + t.value_bytes;
    r.tensors.push_back(t);
    if (e.error_bound > 0.0) {
      ov[t.name] = decoded_values(entry);
      kept[i] = entry;
    }
  }
  r.seconds_generate = since(t0);

  t0 = Clock::now();
  const std::vector<uint8_t> got_val = ev_->correct(Split::val, ov), got_test = ev_->correct(Split::test, ov);
  const Judged dv = judge(got_val);
  const Paired dt = compare(ref_test_, got_test);
  r.val_top1_after = model::mean_of(got_val);
  r.test_top1_after = model::mean_of(got_test);
  r.val_drop_pp = dv.all.drop();
  r.holdout_drop_pp = dv.held.drop();
  if (std::fabs(dv.worst.drop() - r.measured_drop_pp) > 1e-9)
    throw Error(ErrorCode::corruption_detected, "the generated model does not reproduce the measured configuration");
  r.test_drop_pp = dt.drop();
  r.val_drop_vs_dense_pp = (r.val_top1_before - r.val_top1_after) * 100.0;
  r.test_drop_vs_dense_pp = (r.test_top1_before - r.test_top1_after) * 100.0;
  r.selection_drop_vs_dense_pp = r.val_drop_vs_dense_pp;
  if (r.certified) {
    const Paired pc = compare(cert_ref_, ev_->correct(Split::cert, ov));
    if (pc.c2w != r.cert_correct_to_wrong || pc.w2c != r.cert_wrong_to_correct)
      throw Error(ErrorCode::corruption_detected, "the generated model does not reproduce its certification");
    r.cert_top1_before = model::mean_of(cert_ref_);
    r.cert_top1_after = r.cert_top1_before - (double(pc.c2w) - double(pc.w2c)) / double(pc.n);
  }
  if (!uncertified_choice_.empty()) {
    // Reported only: the test reading of what the rule before would have written.
    const double t = model::mean_of(uncertified_choice_ == choice_
                                        ? got_test
                                        : ev_->correct(Split::test, decoded(uncertified_choice_)));
    r.uncertified_test_drop_vs_dense_pp = (r.test_top1_before - t) * 100.0;
  }
  r.seconds_evaluate = since(t0) + seconds_reference_;

  t0 = Clock::now();
  ov.clear();
  release_free_memory();
  c.set_meta(model::meta::val_top1, short_number(r.val_top1_after));
  c.set_meta(model::meta::test_top1, short_number(r.test_top1_after));
  for (size_t i = 0; i < plans_.size(); ++i) {
    // Coding is deterministic: a lossless tensor codes to the same streams again.
    c.tensors.push_back(kept[i] ? *kept[i] : encode_candidate(plans_[i], 0.0, s_));
    kept[i].reset();
    if (c.tensors.back().index_stream.size() + c.tensors.back().value_stream.size() !=
        r.tensors[i].index_bytes + r.tensors[i].value_bytes)
      throw Error(ErrorCode::corruption_detected, "tensor " + c.tensors.back().name + " coded differently twice");
  }
  write_container_file(c, output);
  // Read back: the file must hold exactly the streams evaluated above
  // (compared a few MB at a time: no second copy of them).
  if (!container_file_matches(c, output))
    throw Error(ErrorCode::corruption_detected, output + ": the file does not hold the streams written");
  r.dsz_bytes = std::filesystem::file_size(output);
  r.ratio = r.dsz_bytes ? double(r.original_bytes) / double(r.dsz_bytes) : 0.0;
  for (const auto& [k, v] : c.metadata) r.metadata_bytes += k.size() + v.size();
  r.seconds_generate += since(t0);
  return r;
}

}  // namespace

CompressReport compress_model(const model::Model& input, const model::Dataset& data, const CompressOptions& o,
                              const std::string& output, const std::string& input_path) {
  return compress_candidates({&input}, data, o, output, {input_path});
}

CompressReport compress_candidates(const std::vector<const model::Model*>& inputs, const model::Dataset& data,
                                   const CompressOptions& o, const std::string& output,
                                   const std::vector<std::string>& input_paths) {
  if (inputs.empty()) throw Error(ErrorCode::invalid_argument, "compress: no input model");
  const bool certify = data.certified() && o.certify;
  if (certify && !(o.confidence > 0.0 && o.confidence < 1.0))
    throw Error(ErrorCode::invalid_argument, "--confidence must be in (0, 1)");
  if (certify && o.max_looks < 1) throw Error(ErrorCode::invalid_argument, "--looks must be >= 1");
  std::vector<std::unique_ptr<CompressionJob>> jobs;
  // Over several processes every input's assessment comes first (each is a
  // collective step); then the others stop and rank 0 alone goes on.
  Collective* const coll = o.collective && o.collective->size() > 1 ? o.collective : nullptr;
  for (size_t i = 0; i < inputs.size(); ++i) {
    jobs.push_back(std::make_unique<CompressionJob>(*inputs[i], data, o, i < input_paths.size() ? input_paths[i] : "",
                                                    certify));
    if (!coll) jobs.back()->optimise();
  }
  if (coll) {
    coll->done();
    if (coll->rank() != 0) return CompressReport{};
    if (coll->threads_after_assessment() > 0) model::init_runtime(coll->threads_after_assessment());
    for (auto& j : jobs) j->optimise();
  }
  if (!certify) {
    // Uncertified: the smallest configuration the selection split accepted.
    size_t best = 0;
    for (size_t i = 1; i < jobs.size(); ++i)
      if (jobs[i]->report().uncertified_tensor_bytes < jobs[best]->report().uncertified_tensor_bytes) best = i;
    return jobs[best]->finish(output);
  }
  if (o.method == Method::paper) {
    // The baseline as published: its one configuration (of the first input)
    // is measured on the certification split and reported, not enforced.
    const CertificationResult cert = certify_in_sequence(1, o.max_loss, o.confidence, 1, [&](size_t) {
      return jobs[0]->certification_counts(jobs[0]->ladder()[0].choice);
    });
    jobs[0]->set_certified(cert, 0, certification_result_to_json(cert, -1));
    return jobs[0]->finish(output);
  }
  // One fixed sequence over every candidate of every input, against the one
  // dense reference they share, safest (most bytes) first.
  for (size_t i = 1; i < jobs.size(); ++i)
    if (jobs[i]->certification_reference() != jobs[0]->certification_reference())
      throw Error(ErrorCode::invalid_argument, "compress: the candidates record different dense references");
  // Within a tier: models from the densest (the least pruned, the safest)
  // to the sparsest, and within a model from the most bytes to the fewest.
  // Ordered by bytes alone, a sparser model's lossless file (more bytes than
  // a denser model's compressed ones) came early: once it was refused, the
  // denser models' compressed files were never looked at (LeNet-300-100:
  // 9.5x written where 8.1% pruned and compressed was next).
  // First every model's small perturbations (tier 0: lossless, one bound
  // <= 0.08 rms for all tensors), densest model first, then the bolder rungs
  // (the optimiser's, which carry the selection's winner's curse, and the
  // larger uniform bounds) in the same model order: a refusal ends the
  // sequence, so a bold rung of a dense model must not stand before a
  // sparser model's safe ones.
  struct Offer {
    size_t job, rung;
    uint64_t bytes, nonzeros;
    double selection_vs_dense;
    int tier;
  };
  std::vector<Offer> offers;
  for (size_t j = 0; j < jobs.size(); ++j) {
    uint64_t nonzeros = 0;
    for (const auto& p : inputs[j]->parameters()) nonzeros += uint64_t(inputs[j]->nonzeros(p.name));
    for (size_t k = 0; k < jobs[j]->ladder().size(); ++k)
      offers.push_back({j, k, jobs[j]->ladder()[k].bytes, nonzeros,
                        jobs[j]->report().pruning_loss_pp + jobs[j]->ladder()[k].selection.top1_drop,
                        jobs[j]->ladder()[k].tier});
  }
  std::stable_sort(offers.begin(), offers.end(), [](const Offer& a, const Offer& b) {
    if (a.tier != b.tier) return a.tier < b.tier;
    if (a.nonzeros != b.nonzeros) return a.nonzeros > b.nonzeros;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.selection_vs_dense < b.selection_vs_dense;
  });
  if (o.log) {
    o.log("certification: " + std::to_string(offers.size()) + " candidates from " + std::to_string(jobs.size()) +
          " model(s), at most " + std::to_string(o.max_looks) + " looks at the " +
          std::to_string(jobs[0]->certification_reference().size()) + " certification images");
  }
  std::vector<uint64_t> offer_bytes;
  for (const Offer& f : offers) offer_bytes.push_back(f.bytes);
  const CertificationResult cert = certify_in_sequence(
      offers.size(), o.max_loss, o.confidence, static_cast<size_t>(o.max_looks),
      [&](size_t i) {
        const Offer& f = offers[i];
        return jobs[f.job]->certification_counts(jobs[f.job]->ladder()[f.rung].choice);
      },
      offer_bytes);
  nlohmann::json detail = nlohmann::json::parse(certification_result_to_json(cert, -1));
  nlohmann::json ladder = nlohmann::json::array();
  for (const Offer& f : offers)
    ladder.push_back({{"model", f.job},
                      {"input", f.job < input_paths.size() ? input_paths[f.job] : ""},
                      {"bytes", f.bytes},
                      {"origin", jobs[f.job]->ladder()[f.rung].origin},
                      {"selection_drop_vs_dense_pp", f.selection_vs_dense}});
  detail["ladder"] = ladder;
  for (const CertificationLook& l : cert.looks) {
    char buf[240];
    const Offer& f = offers[l.candidate];
    std::snprintf(buf, sizeof buf,
                  "  candidate %zu (model %zu, %llu bytes, %s): selection %.2f, certification %.2f, bound %.2f: %s",
                  l.candidate + 1, f.job + 1, static_cast<unsigned long long>(f.bytes),
                  jobs[f.job]->ladder()[f.rung].origin.c_str(), f.selection_vs_dense, l.drop, l.upper_bound,
                  l.passed ? "passed" : "refused");
    if (o.log) o.log(buf);
  }
  if (!cert.certified)
    throw Error(ErrorCode::not_certified, "not certified: " + cert.statement +
                                              " Nothing was written; prune less, raise --max-loss or lower "
                                              "--confidence");
  const Offer& chosen = offers[cert.chosen];
  jobs[chosen.job]->set_certified(cert, chosen.rung, detail.dump());
  CompressReport r = jobs[chosen.job]->finish(output);
  r.chosen_input = chosen.job;
  return r;
}

}  // namespace deepsz::pipeline
