// The DeepSZ pipeline: assessment, optimisation, generation, evaluation
// (docs/PIPELINE.md). Torch-free: everything goes through model.h.
#include "deepsz/pipeline/pipeline.h"

#include <malloc.h>
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
#include "deepsz/pipeline/collective.h"
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
    // The values where the model holds them (a copy of fc6 was 151 MB
    // beside AlexNet, and the peak of its compress).
    size_t n = 0;
    if (const float* view = m.parameter_data(p.name, n)) {
      mix(view, n * sizeof(float));
    } else {
      const std::vector<float> v = m.parameter(p.name);
      mix(v.data(), v.size() * sizeof(float));
    }
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
static double recorded_lattice(const model::Model& m, const std::string& name, const TensorPlan::Values& values) {
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
    p.values.ptr = m.parameter_data(info.name, p.values.n);
    if (!p.values.ptr) {
      p.owned = std::make_shared<const std::vector<float>>(m.parameter(info.name));
      p.values = {p.owned->data(), p.owned->size()};
    }
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

void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

model::ParameterValues decoded_values(std::shared_ptr<const TensorEntry> e) {
  return model::ParameterValues::produced(
      [e = std::move(e)](const model::FloatSink& sink) { decode_tensor_pieces(*e, 1, sink); });
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
      // dsz at bound 0 beside it: the same index (the same positions), so
      // only the values are coded again, taken in order without their
      // positions (VGG-16's fc6: 33 MB of positions not built twice).
      std::vector<uint8_t> lossless_values = std::move(best.value_stream);
      TensorEntry d = best;  // without its value stream
      best.value_stream = std::move(lossless_values);
      d.value_codec = ValueCodec::dsz;
      d.error_bound = 0.0;
      CodecOptions c;
      c.abs_error_bound = 0.0;
      c.predictor = o.predictor;
      c.threads = o.threads;
      if (p.sparse) {
        std::vector<float> kept;
        kept.reserve(size_t(p.nonzeros));
        for (float v : p.values)
          if (v != 0.0f) kept.push_back(v);  // nonzero_positions' rule: -0 is zero, NaN kept
        d.value_stream = compress_floats(kept.data(), kept.size(), c);
      } else {
        d.value_stream = compress_floats(p.values.data(), p.values.size(), c);
      }
      validate_tensor_entry(d);
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

namespace detail {

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

}  // namespace detail

namespace {

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

}  // namespace

std::string detail::table_identity(const model::Model& m, const CompressOptions& o, uint64_t val_images) {
  return m.architecture() + " params=" + model_fingerprint(m) + " method=" + method_name(o.method) +
         " fc_only=" + (o.fc_only ? "1" : "0") + " val=" + std::to_string(val_images);
}

// Measures the candidates of every tensor (BoundSearch, or the paper's
// grid). Tensors are taken from the last layer backwards, so that each
// worker's Evaluator computes the activations entering a layer once and
// reuses them for every candidate of that layer.
AssessmentTable detail::assess(const model::Model& input, const model::Dataset& data,
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
  // Over several processes (docs/SCALE.md): this one measures `mine`, in
  // the same last-layer-first order.
  std::vector<size_t> mine = order;
  std::vector<int> owners;
  if (o.collective && o.collective->size() > 1) {
    std::vector<size_t> candidates;
    for (size_t i : order) {
      const Candidate& c0 = table.layers[i].candidates[0];
      candidates.push_back(o.method == Method::paper
                               ? paper_grid.size()
                               : size_t(search_options(plans[i], c0.index_bytes + c0.value_bytes, lossless_total,
                                                       budget, ref.size(), o.max_candidates)
                                            .max_candidates));
    }
    owners = assessment_owners(plans, order, candidates, uint64_t(data.val.rows * data.val.cols),
                               o.collective->size());
    mine.clear();
    for (size_t k = 0; k < order.size(); ++k)
      if (owners[k] == o.collective->rank()) mine.push_back(order[k]);
    if (o.log)
      o.log("assessment: " + std::to_string(order.size()) + " tensors over " + std::to_string(o.collective->size()) +
            " processes, " + std::to_string(mine.size()) + " measured by rank " +
            std::to_string(o.collective->rank()));
  }
  ProgressBar bar(o.progress, mine.size() * per_tensor);
  std::atomic<size_t> next{0};
  std::atomic<size_t> count{0};
  std::mutex table_mu;
  std::exception_ptr failure;

  auto work = [&](model::Evaluator& ev) {
    for (;;) {
      const size_t k = next.fetch_add(1);
      if (k >= mine.size()) return;
      const TensorPlan& p = plans[mine[k]];
      std::vector<Candidate> found;
      auto measure = [&](double bound) {
        const auto e = std::make_shared<const TensorEntry>(encode_candidate(p, bound, s));
        model::ParameterOverrides ov;
        ov[p.info.name] = decoded_values(e);
        const Paired d = compare(ref, ev.correct(Split::val, ov));
        Candidate c;
        c.abs_error_bound = bound;
        c.index_bytes = e->index_stream.size();
        c.value_bytes = e->value_stream.size();
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
        const LayerAssessment& l = table.layers[mine[k]];
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
      release_free_memory();
      std::sort(found.begin(), found.end(),
                [](const Candidate& a, const Candidate& b) { return a.abs_error_bound < b.abs_error_bound; });
      std::lock_guard<std::mutex> lock(table_mu);
      auto& cands = table.layers[mine[k]].candidates;
      for (const Candidate& c : found)
        if (c.abs_error_bound > cands.back().abs_error_bound) cands.push_back(c);
    }
  };

  workers = std::max(1, std::min<int>(workers, int(mine.size())));
  std::vector<std::unique_ptr<model::Evaluator>> evs;
  // The input is const: the workers read its parameters where they are.
  for (int w = 0; w < workers; ++w) evs.push_back(std::make_unique<model::Evaluator>(input, data, true));
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
          next = mine.size();
        }
      });
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
  }
  bar.finish();
  *measured = owners.empty() ? count.load() : gather_assessment(*o.collective, table, order, owners, count);
  return table;
}

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

bool detail::table_matches(const AssessmentTable& t, const std::vector<TensorPlan>& plans, const std::string& identity,
                   uint64_t images) {
  if (t.model != identity || t.images != images || t.layers.size() != plans.size()) return false;
  for (size_t i = 0; i < plans.size(); ++i)
    if (t.layers[i].name != plans[i].info.name || t.layers[i].elements != plans[i].values.size()) return false;
  return true;
}

}  // namespace deepsz::pipeline
