// The DeepSZ pipeline: assessment, optimisation, generation, evaluation
// (docs/PIPELINE.md). Torch-free: everything goes through model.h.
#include "deepsz/pipeline/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "deepsz/model/runtime.h"
#include "pipeline_internal.h"

namespace deepsz::pipeline {

using model::Split;

const char* method_name(Method m) noexcept {
  switch (m) {
    case Method::deepsz: return "deepsz";
    case Method::paper: return "paper";
    case Method::zfp: return "zfp";
  }
  return "?";
}

double compression_budget(double max_loss_pp, double dense_val_top1, double input_val_top1) {
  if (!(max_loss_pp >= 0.0 && max_loss_pp <= 100.0))
    throw Error(ErrorCode::invalid_argument, "--max-loss must be in [0, 100] points");
  if (dense_val_top1 < 0.0) return max_loss_pp;
  const double pruning_loss = (dense_val_top1 - input_val_top1) * 100.0;
  // A pruned model that happens to beat its ancestor on the validation split
  // does not widen the budget: that gain is selection noise (pruning chose it
  // on the same split).
  return std::min(max_loss_pp, max_loss_pp - pruning_loss);
}

std::string model_fingerprint(const model::Model& m) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  const std::string arch = m.architecture();
  mix(arch.data(), arch.size());
  for (const auto& p : m.parameters()) {
    mix(p.name.data(), p.name.size());
    const std::vector<float> v = m.parameter(p.name);
    mix(v.data(), v.size() * sizeof(float));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace detail {

std::string short_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

MethodSettings settings_for(Method m) {
  MethodSettings s;
  if (m == Method::paper) {
    s.predictor = Predictor::lorenzo;
    s.index_coding = IndexCoding::gap8_zstd;
    s.lossless_dsz = false;
  }
  if (m == Method::zfp) s.lossy_codec = ValueCodec::zfp;
  return s;
}

// The lattice step recorded for `name`, if every value is (to float
// rounding) an integer multiple of it; else 0. A record that does not hold
// (the model was edited after deepsz quantize) is ignored, not trusted.
static double recorded_lattice(const model::Model& m, const std::string& name, const std::vector<float>& values) {
  const std::string rec = m.metadata(std::string(model::meta::lattice_prefix) + name);
  if (rec.empty()) return 0.0;
  char* end = nullptr;
  const double step = std::strtof(rec.c_str(), &end);  // a float step ("%.9g" round-trips it)
  if (end == rec.c_str() || *end != '\0' || !(step > 0.0) || !std::isfinite(step)) return 0.0;
  for (float v : values) {
    if (!std::isfinite(v)) return 0.0;
    const double k = std::nearbyint(double(v) / step);
    if (std::fabs(double(v) - k * step) > 1e-5 * step) return 0.0;
  }
  return step;
}

std::vector<TensorPlan> plan_tensors(const model::Model& m, const CompressOptions& o) {
  std::vector<TensorPlan> plans;
  const std::vector<model::ParamInfo> all = m.parameters();
  auto kind_of = [&all](const std::string& name) {
    for (const auto& q : all)
      if (q.name == name) return q.kind;
    return model::ParamKind::other;
  };
  for (const auto& info : all) {
    TensorPlan p;
    p.info = info;
    for (int64_t d : info.shape) p.shape.push_back(static_cast<uint64_t>(d));
    p.values = m.parameter(info.name);
    p.masked = m.has_mask(info.name);
    double squares = 0.0;
    for (float v : p.values) {
      if (v != 0.0f) ++p.nonzeros;
      if (std::isfinite(v)) {
        p.max_abs = std::max(p.max_abs, std::fabs(static_cast<double>(v)));
        squares += double(v) * double(v);
      }
    }
    p.rms = p.nonzeros ? std::sqrt(squares / double(p.nonzeros)) : 0.0;
    p.density = p.values.empty() ? 1.0 : double(p.nonzeros) / double(p.values.size());
    // A masked tensor is always sparse: its pruned weights must decode to
    // exactly zero, which a dense lossy stream does not promise.
    p.sparse = p.masked || p.density < o.sparse_below;
    const auto dot = info.name.rfind('.');
    p.layer = dot == std::string::npos ? info.name : info.name.substr(0, dot);
    p.conv_layer = info.kind == model::ParamKind::conv_weight ||
                   (info.kind == model::ParamKind::bias &&
                    kind_of(p.layer + ".weight") == model::ParamKind::conv_weight);
    bool lossy = p.max_abs > 0.0 && p.nonzeros > 0;
    if (o.method == Method::paper) {
      lossy = lossy && info.kind == model::ParamKind::fc_weight;
    } else if (o.fc_only) {
      // --fc-only: convolution layers (weights and biases) stay exact.
      lossy = lossy && !p.conv_layer;
    }
    p.lossy = lossy;
    p.lattice = recorded_lattice(m, info.name, p.values);
    plans.push_back(std::move(p));
  }
  return plans;
}

TensorEntry encode_candidate(const TensorPlan& p, double bound, const MethodSettings& s) {
  TensorEncodeOptions o;
  o.sparse = p.sparse;
  o.index_coding = s.index_coding;
  o.predictor = s.predictor;
  if (bound <= 0.0) {
    o.codec = ValueCodec::lossless;
    TensorEntry best = encode_tensor(p.info.name, p.shape, p.values.data(), o);
    if (s.lossless_dsz) {
      o.codec = ValueCodec::dsz;
      o.abs_error_bound = 0.0;
      TensorEntry d = encode_tensor(p.info.name, p.shape, p.values.data(), o);
      if (d.index_stream.size() + d.value_stream.size() <
          best.index_stream.size() + best.value_stream.size())
        best = std::move(d);
    }
    return best;
  }
  o.codec = s.lossy_codec;
  o.abs_error_bound = bound;
  return encode_tensor(p.info.name, p.shape, p.values.data(), o);
}

std::string coding_name(const TensorEntry& e) {
  std::string c = e.sparse ? "sparse " : "dense ";
  if (e.sparse && !e.index_stream.empty())
    c += std::string(index_coding_name(static_cast<IndexCoding>(e.index_stream[0]))) + "+";
  c += value_codec_name(e.value_codec);
  if (e.value_codec == ValueCodec::dsz && e.error_bound == 0.0) c += "(eb=0)";
  return c;
}

}  // namespace detail

using namespace detail;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Paired {
  uint64_t c2w = 0, w2c = 0, n = 0;
  double drop() const { return n ? 100.0 * (double(c2w) - double(w2c)) / double(n) : 0.0; }
};

Paired compare(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& got) {
  if (ref.size() != got.size()) throw Error(ErrorCode::invalid_argument, "paired evaluation: sizes differ");
  Paired p;
  p.n = ref.size();
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] && !got[i]) ++p.c2w;
    if (!ref[i] && got[i]) ++p.w2c;
  }
  return p;
}

double parse_fraction(const std::string& s, double fallback) {
  if (s.empty()) return fallback;
  try {
    return std::stod(s);
  } catch (...) {
    return fallback;
  }
}

// A redrawn bar over the (tensor, bound) grid on a terminal; silent otherwise.
class ProgressBar {
 public:
  ProgressBar(bool on, size_t total) : on_(on && isatty(2)), total_(total) {}
  void advance(size_t n, const std::string& what) {
    if (!on_) return;
    std::lock_guard<std::mutex> lock(mu_);
    done_ += n;
    const int width = 30;
    const int filled = int(width * std::min(done_, total_) / std::max<size_t>(1, total_));
    std::fprintf(stderr, "\rassess [%s%s] %zu/%zu %s\033[K", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), '.').c_str(), done_, total_, what.c_str());
    std::fflush(stderr);
  }
  void finish() {
    if (on_) std::fprintf(stderr, "\n");
  }

 private:
  bool on_;
  size_t total_, done_ = 0;
  std::mutex mu_;
};

std::string table_identity(const model::Model& m, const CompressOptions& o, uint64_t val_images) {
  return m.architecture() + " params=" + model_fingerprint(m) + " method=" + method_name(o.method) +
         " fc_only=" + (o.fc_only ? "1" : "0") + " val=" + std::to_string(val_images);
}

// Measures the candidates of every tensor (BoundSearch, or the paper's
// grid). Tensors are taken from the last layer backwards, so that each
// worker's Evaluator computes the activations entering a layer once and
// reuses them for every candidate of that layer.
AssessmentTable assess(const model::Model& input, const model::Dataset& data,
                       const std::vector<TensorPlan>& plans, const MethodSettings& s,
                       const CompressOptions& o, double budget, const std::vector<uint8_t>& ref,
                       int workers, size_t* measured) {
  AssessmentTable table;
  table.images = ref.size();
  table.reference_top1 = 100.0 * model::mean_of(ref);
  table.layers.resize(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    const TensorPlan& p = plans[i];
    const TensorEntry lossless = encode_candidate(p, 0.0, s);
    LayerAssessment& l = table.layers[i];
    l.name = p.info.name;
    l.elements = p.values.size();
    l.density = p.density;
    l.candidates.push_back(lossless_candidate(lossless.index_stream.size(), lossless.value_stream.size(), ref.size()));
  }
  std::vector<size_t> order;
  for (size_t i = plans.size(); i-- > 0;)
    if (plans[i].lossy && budget > 0.0) order.push_back(i);
  uint64_t lossless_total = 0;
  for (const auto& l : table.layers)
    lossless_total += l.candidates[0].index_bytes + l.candidates[0].value_bytes;

  const std::vector<double> paper_grid = {1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3, 7e-3, 8e-3, 9e-3};
  const size_t per_tensor = o.method == Method::paper ? paper_grid.size() : size_t(o.max_candidates);
  ProgressBar bar(o.progress, order.size() * per_tensor);
  std::atomic<size_t> next{0};
  std::atomic<size_t> count{0};
  std::mutex table_mu;
  std::exception_ptr failure;

  auto work = [&](model::Evaluator& ev) {
    for (;;) {
      const size_t k = next.fetch_add(1);
      if (k >= order.size()) return;
      const TensorPlan& p = plans[order[k]];
      std::vector<Candidate> found;
      auto measure = [&](double bound) {
        const TensorEntry e = encode_candidate(p, bound, s);
        model::ParameterOverrides ov;
        ov[p.info.name] = decode_tensor(e);
        const Paired d = compare(ref, ev.correct(Split::val, ov));
        Candidate c;
        c.abs_error_bound = bound;
        c.index_bytes = e.index_stream.size();
        c.value_bytes = e.value_stream.size();
        c.correct_to_wrong = d.c2w;
        c.wrong_to_correct = d.w2c;
        c.images = d.n;
        c.top1_drop = d.drop();
        found.push_back(c);
        ++count;
        bar.advance(1, p.info.name + " e=" + short_number(bound));
        return c.top1_drop;
      };
      if (o.method == Method::paper) {
        for (double b : paper_grid) measure(b);
      } else {
        const LayerAssessment& l = table.layers[order[k]];
        const BoundSearchOptions bo =
            search_options(p, l.candidates[0].index_bytes + l.candidates[0].value_bytes, lossless_total, budget,
                           ref.size(), o.max_candidates);
        BoundSearch search(bo);
        while (auto b = search.next()) search.record(*b, measure(*b));
        // A quantised tensor: half its lattice step codes every value as it
        // is (the codes are the lattice's integers, whatever the predictor),
        // so that candidate costs only what quantisation already measured.
        if (p.lattice > 0.0 && s.lossy_codec == ValueCodec::dsz &&
            std::none_of(found.begin(), found.end(), [&](const Candidate& c) { return c.abs_error_bound == 0.5 * p.lattice; }))
          measure(0.5 * p.lattice);
      }
      bar.advance(per_tensor > found.size() ? per_tensor - found.size() : 0, p.info.name + " done");
      std::sort(found.begin(), found.end(),
                [](const Candidate& a, const Candidate& b) { return a.abs_error_bound < b.abs_error_bound; });
      std::lock_guard<std::mutex> lock(table_mu);
      auto& cands = table.layers[order[k]].candidates;
      for (const Candidate& c : found)
        if (c.abs_error_bound > cands.back().abs_error_bound) cands.push_back(c);
    }
  };

  workers = std::max(1, std::min<int>(workers, int(order.size())));
  std::vector<std::unique_ptr<model::Evaluator>> evs;
  for (int w = 0; w < workers; ++w) evs.push_back(std::make_unique<model::Evaluator>(input, data));
  if (workers == 1) {
    work(*evs[0]);
  } else {
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back([&, w] {
        try {
          work(*evs[size_t(w)]);
        } catch (...) {
          std::lock_guard<std::mutex> lock(table_mu);
          if (!failure) failure = std::current_exception();
          next = order.size();
        }
      });
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
  }
  bar.finish();
  *measured = count;
  return table;
}

}  // namespace

BoundSearchOptions detail::search_options(const TensorPlan& p, uint64_t lossless_bytes, uint64_t lossless_total,
                                          double budget, size_t images, int max_candidates) {
  BoundSearchOptions bo;
  // Start where the quantisation step (2e) is 4% of the spread (rms) of the
  // surviving weights: far below where any layer of the LeNets lost accuracy
  // (their chosen bounds were 0.02-0.4 rms), and 6-8 doublings above the old
  // 1e-4 max|w|, each of which cost a measurement. Narrowing (down to
  // start / 1024) covers a layer that is more sensitive.
  bo.start_bound = std::min(p.max_abs, 0.02 * (p.rms > 0.0 ? p.rms : p.max_abs));
  bo.budget = budget;
  bo.max_bound = p.max_abs;
  bo.max_candidates = max_candidates;
  bo.narrow_to_free = true;
  // At least a few images' worth of margin before widening stops.
  bo.noise_margin = std::max(budget, 300.0 / double(std::max<size_t>(1, images)));
  const bool conv = p.info.kind == model::ParamKind::conv_weight || p.conv_layer;
  if (lossless_bytes * 100 < lossless_total || lossless_bytes < 256) {
    // Tiny (a bias, a small layer): at most ~1% of the bytes to gain; three
    // measurements a factor 4 apart, the last halving the edge's interval.
    bo.growth = 4.0;
    bo.refinements = 1;
    bo.max_candidates = std::min(max_candidates, 3);
  } else if (conv) {
    // Expensive: every candidate reruns the network from this convolution
    // on (conv1: all of it). Edge to within 2^(1/4) = 1.19.
    bo.refinements = 2;
    bo.max_candidates = std::min(max_candidates, 7);
  }
  return bo;
}

namespace {

bool table_matches(const AssessmentTable& t, const std::vector<TensorPlan>& plans, const std::string& identity,
                   uint64_t images) {
  if (t.model != identity || t.images != images || t.layers.size() != plans.size()) return false;
  for (size_t i = 0; i < plans.size(); ++i)
    if (t.layers[i].name != plans[i].info.name || t.layers[i].elements != plans[i].values.size()) return false;
  return true;
}

}  // namespace

CompressReport compress_model(const model::Model& input, const model::Dataset& data, const CompressOptions& o,
                              const std::string& output, const std::string& input_path) {
  if (!(o.max_loss >= 0.0 && o.max_loss <= 100.0))
    throw Error(ErrorCode::invalid_argument, "--max-loss must be in [0, 100] points");
  auto log = [&o](const std::string& s) {
    if (o.log) o.log(s);
  };
  CompressReport r;
  r.input = input_path;
  r.output = output;
  r.method = method_name(o.method);
  r.architecture = input.architecture();
  const MethodSettings s = settings_for(o.method);

  // --- reference and budget --------------------------------------------
  auto t0 = Clock::now();
  std::vector<TensorPlan> plans = plan_tensors(input, o);
  for (const auto& p : plans) r.original_bytes += 4 * uint64_t(p.values.size());
  model::Evaluator ev(input, data);
  const std::vector<uint8_t> ref_val = ev.correct(Split::val);
  const std::vector<uint8_t> ref_test = ev.correct(Split::test);
  r.images_val = ref_val.size();
  r.images_test = ref_test.size();
  r.input_val_top1 = model::mean_of(ref_val);
  r.input_test_top1 = model::mean_of(ref_test);
  const double dense_val = parse_fraction(input.metadata(model::meta::dense_val_top1), -1.0);
  const double dense_test = parse_fraction(input.metadata(model::meta::dense_test_top1), -1.0);
  r.dense_recorded = dense_val >= 0.0;
  r.val_top1_before = r.dense_recorded ? dense_val : r.input_val_top1;
  r.test_top1_before = r.dense_recorded && dense_test >= 0.0 ? dense_test : r.input_test_top1;
  r.max_loss_pp = o.max_loss;
  r.pruning_loss_pp = r.dense_recorded ? (dense_val - r.input_val_top1) * 100.0 : 0.0;
  r.budget_against = r.dense_recorded ? "dense" : "input";
  r.budget_pp = compression_budget(o.max_loss, r.dense_recorded ? dense_val : -1.0, r.input_val_top1);
  const double budget = std::max(0.0, r.budget_pp);
  {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "budget: %.3g points against the %s model; compression may lose %.3g points of validation "
                  "top-1 against the input%s",
                  o.max_loss, r.budget_against.c_str(), r.budget_pp,
                  r.budget_pp <= 0.0 ? " (none left: every tensor is stored lossless)" : "");
    log(buf);
  }
  // The validation split: the assessment sees the images with in_assess = 1,
  // the final check all of them and, separately, the held-out rest.
  if (!(o.holdout >= 0.0 && o.holdout < 1.0))
    throw Error(ErrorCode::invalid_argument, "holdout must be in [0, 1)");
  std::vector<uint8_t> in_assess(ref_val.size(), 1);
  // --paper assesses on the whole split, as published.
  const bool holdout = o.method != Method::paper && o.holdout > 0.0 && ref_val.size() >= 20;
  model::Dataset assess_data;
  std::vector<uint8_t> ref_assess;
  if (holdout) {
    const double keep = 1.0 - o.holdout;
    for (size_t i = 0; i < in_assess.size(); ++i)
      in_assess[i] = std::floor(double(i + 1) * keep) > std::floor(double(i) * keep);
    const model::ImageSet& v = data.val;
    assess_data.directory = data.directory;
    assess_data.num_classes = data.num_classes;
    model::ImageSet& a = assess_data.val;
    a.channels = v.channels;
    a.rows = v.rows;
    a.cols = v.cols;
    const size_t e = size_t(v.image_elements());
    for (size_t i = 0; i < in_assess.size(); ++i) {
      if (!in_assess[i]) continue;
      a.labels.push_back(v.labels[i]);
      a.pixels.insert(a.pixels.end(), v.pixels.begin() + long(i * e), v.pixels.begin() + long((i + 1) * e));
      ref_assess.push_back(ref_val[i]);
    }
  } else {
    ref_assess = ref_val;
  }
  const model::Dataset& adata = holdout ? assess_data : data;
  r.images_assess = ref_assess.size();
  r.images_holdout = holdout ? ref_val.size() - ref_assess.size() : 0;
  // The rule of the final check: the drop on the whole split and the drop on
  // the held-out images, the larger of the two is what must fit the budget.
  struct Judged {
    Paired all, held, worst;
  };
  auto judge = [&](const std::vector<uint8_t>& got) {
    Judged j;
    j.all = compare(ref_val, got);
    j.worst = j.all;
    if (holdout) {
      j.held.n = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        if (in_assess[i]) continue;
        ++j.held.n;
        if (ref_val[i] && !got[i]) ++j.held.c2w;
        if (!ref_val[i] && got[i]) ++j.held.w2c;
      }
      if (j.held.drop() > j.all.drop()) j.worst = j.held;
    } else {
      j.held = j.all;
    }
    return j;
  };
  const double seconds_reference = since(t0);

  // --- 1. assessment ---------------------------------------------------------
  t0 = Clock::now();
  const std::string identity = table_identity(input, o, ref_val.size()) +
                               (holdout ? " assess=" + std::to_string(ref_assess.size()) : std::string());
  AssessmentTable table;
  bool loaded = false;
  if (!o.assessment_path.empty() && std::filesystem::exists(o.assessment_path)) {
    try {
      AssessmentTable t = load_assessment(o.assessment_path);
      if (table_matches(t, plans, identity, ref_assess.size())) {
        table = std::move(t);
        loaded = true;
        log("assessment: reusing " + o.assessment_path);
      } else {
        log("assessment: " + o.assessment_path + " belongs to another model or method; measuring again");
      }
    } catch (const Error& e) {
      log(std::string("assessment: cannot reuse ") + o.assessment_path + ": " + e.what());
    }
  }
  int workers = o.workers;
  // Measured on LeNet-300-100 (2 cores, docs/PIPELINE.md): one evaluator
  // with every intra-op thread was as fast as or faster than one per thread.
  if (workers <= 0) workers = 1;
  r.workers = workers;
  if (!loaded) {
    const int threads = model::runtime_threads();
    if (workers > 1) model::init_runtime(1);  // one intra-op thread per worker
    try {
      table = assess(input, adata, plans, s, o, budget, ref_assess, workers, &r.assessed_candidates);
    } catch (...) {
      if (workers > 1) model::init_runtime(threads);
      throw;
    }
    if (workers > 1) model::init_runtime(threads);
    table.model = identity;
    if (!o.assessment_path.empty()) save_assessment(o.assessment_path, table);
  } else {
    for (const auto& l : table.layers) r.assessed_candidates += l.candidates.size() - 1;
  }
  r.assessment_reused = loaded;
  r.seconds_assess = since(t0);

  // --- 2. optimisation --------------------------------------------------------
  t0 = Clock::now();
  auto decoded_overrides = [&](const std::vector<size_t>& choice) {
    model::ParameterOverrides ov;
    for (size_t i = 0; i < choice.size(); ++i) {
      if (choice[i] == 0) continue;  // lossless: bit-exact, nothing to override
      const double b = table.layers[i].candidates[choice[i]].abs_error_bound;
      ov[plans[i].info.name] = decode_tensor(encode_candidate(plans[i], b, s));
    }
    return ov;
  };
  auto measure = [&](const std::vector<size_t>& choice) {
    const Paired d = judge(ev.correct(Split::val, decoded_overrides(choice))).worst;
    ConfigurationMeasurement m;
    m.top1_drop = d.drop();
    m.correct_to_wrong = d.c2w;
    m.wrong_to_correct = d.w2c;
    m.images = d.n;
    return m;
  };
  std::vector<size_t> choice;
  if (o.method == Method::paper) {
    SolveOptions so;
    so.budget = budget;
    so.drop_model = DropModel::measured;
    const Configuration c = solve_configuration(table, so);
    choice = c.choice;
    r.estimated_drop_pp = c.estimated_drop;
    const ConfigurationMeasurement m = measure(choice);
    r.measured_drop_pp = m.top1_drop;
    r.drop_upper_bound_pp = paired_drop_upper_bound(m.correct_to_wrong, m.wrong_to_correct, m.images, 0.95);
    r.measurements = 1;
    r.guarantee_success = m.top1_drop <= budget + 1e-9;
    r.statement = "paper baseline: additive model on measured drops, no envelope and no measured check; the "
                  "measured validation drop is reported only.";
  } else {
    GuaranteeOptions go;
    go.solve.budget = budget;
    go.loosen_steps = o.loosen;
    const GuaranteeResult g = guarantee_configuration(table, go, measure);
    choice = g.choice;
    r.estimated_drop_pp = g.estimated_drop;
    r.measured_drop_pp = g.measured_drop;
    r.drop_upper_bound_pp = g.drop_upper_bound;
    r.measurements = g.measurements;
    r.guarantee_success = g.success;
    r.statement = g.statement;
    r.guarantee_json = guarantee_result_to_json(table, g, -1);
  }
  r.seconds_optimise = since(t0);

  // --- 3. generation, 4. evaluation --------------------------------------------
  t0 = Clock::now();
  Container c;
  c.set_meta(kModelKindKey, kModelKindValue);
  for (const char* key : {model::meta::architecture, model::meta::input, model::meta::classes, model::meta::pre_mean,
                          model::meta::pre_std, model::meta::val_images, model::meta::dense_val_top1,
                          model::meta::dense_test_top1}) {
    const std::string v = input.metadata(key);
    if (!v.empty()) c.set_meta(key, v);
  }
  std::string masks;
  for (const auto& p : plans)
    if (p.masked) masks += (masks.empty() ? "" : ",") + p.info.name;
  if (!masks.empty()) c.set_meta("deepsz.masks", masks);
  if (input.file_kind() == model::FileKind::torchscript) {
    // The module's code and structure, parameters zeroed (the tensors above
    // carry them): what the decoder needs to write a TorchScript file again.
    c.set_meta(kTorchScriptKey, torchscript_shell(input));
    r.torchscript_bytes = c.meta(kTorchScriptKey).size();
  }
  // The budget line is compact on purpose: every byte of metadata costs
  // ratio (docs/PIPELINE.md); the details go to the report.
  c.set_meta("deepsz.budget", short_number(o.max_loss) + " " + r.budget_against + " " + short_number(r.budget_pp) +
                                  " " + method_name(o.method));
  model::ParameterOverrides ov;
  for (size_t i = 0; i < plans.size(); ++i) {
    const double b = table.layers[i].candidates[choice[i]].abs_error_bound;
    c.tensors.push_back(encode_candidate(plans[i], b, s));
    const TensorEntry& e = c.tensors.back();
    std::vector<float> d = decode_tensor(e);
    // Self-check of the promise made to the user: within the bound, pruned
    // weights exactly zero, lossless bit-exact.
    const Distortion dist = measure_distortion(plans[i].values.data(), d.data(), d.size(), e.error_bound);
    bool ok = dist.over_bound == 0 && dist.non_finite_mismatch == 0;
    for (size_t j = 0; ok && j < d.size(); ++j)
      if (plans[i].values[j] == 0.0f && plans[i].sparse && d[j] != 0.0f) ok = false;
    if (!ok) throw Error(ErrorCode::corruption_detected, "tensor " + e.name + " broke its error bound after decoding");
    TensorReport t;
    t.name = plans[i].info.name;
    t.kind = model::param_kind_name(plans[i].info.kind);
    t.shape = plans[i].shape;
    t.elements = plans[i].values.size();
    t.density = plans[i].density;
    t.sparse = e.sparse;
    t.coding = coding_name(e);
    t.error_bound = e.error_bound;
    t.index_bytes = e.index_stream.size();
    t.value_bytes = e.value_stream.size();
    t.assessed_drop = table.layers[i].candidates[choice[i]].top1_drop;
    t.candidates = table.layers[i].candidates.size();
    r.tensor_bytes += t.index_bytes + t.value_bytes;
    r.tensors.push_back(t);
    if (e.error_bound > 0.0) ov[t.name] = std::move(d);
  }
  r.seconds_generate = since(t0);

  t0 = Clock::now();
  const std::vector<uint8_t> got_val = ev.correct(Split::val, ov), got_test = ev.correct(Split::test, ov);
  const Judged dv = judge(got_val);
  const Paired dt = compare(ref_test, got_test);
  r.val_top1_after = model::mean_of(got_val);
  r.test_top1_after = model::mean_of(got_test);
  r.val_drop_pp = dv.all.drop();
  r.holdout_drop_pp = dv.held.drop();
  if (std::fabs(dv.worst.drop() - r.measured_drop_pp) > 1e-9)
    throw Error(ErrorCode::corruption_detected, "the generated model does not reproduce the measured configuration");
  r.test_drop_pp = dt.drop();
  r.val_drop_vs_dense_pp = (r.val_top1_before - r.val_top1_after) * 100.0;
  r.test_drop_vs_dense_pp = (r.test_top1_before - r.test_top1_after) * 100.0;
  r.seconds_evaluate = since(t0) + seconds_reference;

  t0 = Clock::now();
  c.set_meta(model::meta::val_top1, short_number(r.val_top1_after));
  c.set_meta(model::meta::test_top1, short_number(r.test_top1_after));
  write_container_file(c, output);
  // Read back: the file must hold exactly the streams evaluated above.
  const Container back = read_container_file(output);
  for (const TensorEntry& e : c.tensors) {
    const TensorEntry* f = back.find(e.name);
    if (!f || f->index_stream != e.index_stream || f->value_stream != e.value_stream)
      throw Error(ErrorCode::corruption_detected, output + ": tensor " + e.name + " did not read back");
  }
  r.dsz_bytes = std::filesystem::file_size(output);
  r.ratio = r.dsz_bytes ? double(r.original_bytes) / double(r.dsz_bytes) : 0.0;
  for (const auto& [k, v] : back.metadata) r.metadata_bytes += k.size() + v.size();
  r.seconds_generate += since(t0);
  return r;
}

}  // namespace deepsz::pipeline
