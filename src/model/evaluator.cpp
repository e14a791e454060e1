// evaluator.cpp: accuracy of a model on a split, batch by batch, with the
// activations before the first overridden layer cached between calls.
#include <chrono>
#include <cmath>

#include "internal.h"

namespace deepsz::model {

double mean_of(const std::vector<uint8_t>& flags) {
  if (flags.empty()) return 0.0;
  int64_t s = 0;
  for (uint8_t f : flags) s += f != 0;
  return static_cast<double>(s) / static_cast<double>(flags.size());
}

double Evaluation::top1_rate() const { return mean_of(top1); }
double Evaluation::top5_rate() const { return top5.empty() ? -1.0 : mean_of(top5); }
double Evaluation::mean_loss() const {
  double s = 0;
  for (float v : loss) s += v;
  return loss.empty() ? 0.0 : s / static_cast<double>(loss.size());
}

struct Evaluator::Impl {
  Model model;
  const Dataset* data = nullptr;
  Preprocessing pre;
  std::map<Split, torch::Tensor> inputs, labels;
  struct Cache {
    size_t layer = 0;
    torch::Tensor act;
  };
  std::map<Split, Cache> cache;
  // 200 images: the largest temporaries (conv2 im2col of LeNet-5: 26 MB at
  // 200) stay under glibc's largest mmap threshold (32 MB), so they are reused instead of
  // mapped and page-faulted on every batch (1000: 3x slower, mostly in sys).
  // Fewer for a native network whose one image makes a large activation
  // (batch_for): 0 until the first evaluation chooses.
  int64_t batch = 0;

  const torch::Tensor& input(Split s) {
    auto it = inputs.find(s);
    if (it != inputs.end()) return it->second;
    const ImageSet& set = data->split(s);
    labels[s] = labels_tensor(set);
    return inputs[s] = images_tensor(set, pre);
  }
};

Evaluator::Evaluator(const Model& model, const Dataset& data, bool share_parameters) : impl_(std::make_unique<Impl>()) {
  // (Not a conditional expression: `cond ? model.alias() : model` is a const
  // prvalue, so the assignment copied the whole network either way.)
  if (share_parameters && model.file_kind() == FileKind::native)
    impl_->model = model.alias();
  else
    impl_->model = model;
  impl_->data = &data;
  impl_->pre = model.preprocessing();
  impl_->model.impl().set_training(false);
}
Evaluator::~Evaluator() = default;
void Evaluator::clear_cache() { impl_->cache.clear(); }

std::vector<uint8_t> Evaluator::correct(Split split, const ParameterOverrides& overrides) {
  return evaluate(split, overrides).top1;
}

namespace {

// The images of a batch: 200, or as many as keep the largest activation of a
// batch within kActivationBatchBytes (one image's, found by running it layer
// by layer). VGG-16 at 224x224 makes 12.8 MB after conv1_1, so it runs one
// image a batch (its reference evaluation of 8 images held 310 MB of
// activations above the model in one batch, 130 MB in batches of two);
// AlexNet's 0.8 MB gives 20; the LeNets on 28x28 images stay at 200. Fixed for a model and image size, so
// every evaluation rounds alike (model.h).
constexpr int64_t kMaxBatch = 200;
constexpr int64_t kActivationBatchBytes = int64_t(16) << 20;

int64_t batch_for(Model::Impl& m, const torch::Tensor& x) {
  if (m.kind != FileKind::native || x.size(0) == 0) return kMaxBatch;
  torch::Tensor a = x.slice(0, 0, 1);
  int64_t largest = a.numel();
  for (size_t i = 0; i < m.layers.size(); ++i) {
    a = m.run_layers(a, i, i + 1);
    largest = std::max<int64_t>(largest, a.numel());
  }
  const int64_t bytes = std::max<int64_t>(1, largest * int64_t(sizeof(float)));
  return std::clamp<int64_t>(kActivationBatchBytes / bytes, 1, kMaxBatch);
}

// Every value `p` produces, gathered (a produced parameter that is not the
// weight of a fully connected layer: small, or of another kind of model).
std::vector<float> gather(const ParameterValues& p, size_t expected, const std::string& name) {
  std::vector<float> all;
  all.reserve(expected);
  p.produce([&](const float* v, size_t count) {
    if (count > expected - all.size())
      throw Error(ErrorCode::invalid_argument, "parameter " + name + ": more values produced than it has");
    all.insert(all.end(), v, v + count);
  });
  return all;
}

// A fully connected layer for all the images of `x`, its weight produced a
// piece at a time: a block of rows is gathered, then multiplied batch by
// batch; the same BLAS calls as linear_by_rows on each batch, so the same
// values as the model's own weight would give (model.h).
torch::Tensor produced_linear(const torch::Tensor& x, const ParameterValues& w, const torch::Tensor& bias,
                              int64_t out, int64_t in, int64_t batch, const std::string& name) {
  const int64_t n = x.size(0);
  const int64_t rows = linear_block_rows(out, in);  // the partition linear_by_rows uses
  torch::Tensor block = torch::empty({rows, in}, torch::kFloat32);
  float* buf = block.data_ptr<float>();
  const size_t block_values = size_t(rows * in);
  size_t filled = 0;
  int64_t done = 0;  // rows multiplied
  std::vector<torch::Tensor> parts;
  auto multiply = [&](int64_t r) {
    const torch::Tensor wb = block.slice(0, 0, r);
    const torch::Tensor bb = bias.defined() ? bias.slice(0, done, done + r) : bias;
    std::vector<torch::Tensor> batches;
    for (int64_t b = 0; b < n; b += batch) batches.push_back(torch::linear(x.slice(0, b, std::min(n, b + batch)), wb, bb));
    parts.push_back(torch::cat(batches));
    done += r;
    filled = 0;
  };
  const size_t total = size_t(out * in);
  size_t seen = 0;
  w.produce([&](const float* v, size_t count) {
    if (count > total - seen)
      throw Error(ErrorCode::invalid_argument, "parameter " + name + ": more values produced than it has");
    seen += count;
    while (count > 0) {
      const size_t take = std::min(count, block_values - filled);
      std::copy(v, v + take, buf + filled);
      filled += take;
      v += take;
      count -= take;
      // A full block, or the last rows (seen == total: whole rows are left).
      if (filled == block_values || (count == 0 && seen == total)) multiply(int64_t(filled) / in);
    }
  });
  if (seen != total)
    throw Error(ErrorCode::invalid_argument, "parameter " + name + ": " + std::to_string(seen) +
                                                 " values produced, it has " + std::to_string(total));
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

}  // namespace

Evaluation Evaluator::evaluate(Split split, const ParameterOverrides& overrides) {
  auto t0 = std::chrono::steady_clock::now();
  Model::Impl& m = impl_->model.impl();
  Evaluation result;
  try {
    torch::InferenceMode guard;
    const torch::Tensor& x = impl_->input(split);
    const torch::Tensor& y = impl_->labels[split];
    std::map<std::string, torch::Tensor> ov;
    std::map<size_t, const ParameterValues*> produced;  // native: layer -> its produced weight
    std::vector<std::vector<float>> gathered;
    gathered.reserve(overrides.size());
    // Views of the caller's values, no copy (the largest layer is the size
    // that matters: 151 MB for AlexNet's fc6): they live through this call
    // and the forward pass only reads them.
    for (const auto& [name, values] : overrides) {
      const torch::Tensor& like = m.param(name);
      const int li = m.kind == FileKind::native ? m.layer_of(name) : -1;
      if (values.is_produced() && li >= 0 && m.layers[size_t(li)].kind == Layer::Kind::linear &&
          name == m.layers[size_t(li)].name + ".weight" && like.dim() == 2) {
        produced[size_t(li)] = &values;
        continue;
      }
      const std::vector<float>* v = &values.values;
      if (values.is_produced()) {
        gathered.push_back(gather(values, size_t(like.numel()), name));
        v = &gathered.back();
      }
      if (static_cast<int64_t>(v->size()) != like.numel())
        throw Error(ErrorCode::invalid_argument, "parameter " + name + " has " + std::to_string(like.numel()) +
                                                     " values, got " + std::to_string(v->size()));
      ov[name] = torch::from_blob(const_cast<float*>(v->data()), like.sizes(), torch::kFloat32);
    }
    const int64_t n = x.size(0);
    if (impl_->batch == 0) impl_->batch = batch_for(m, x);
    const int64_t batch = impl_->batch;
    std::vector<torch::Tensor> logits;

    if (m.kind == FileKind::native) {
      size_t first = m.layers.size();
      for (const auto& [name, t] : ov) {
        int li = m.layer_of(name);
        if (li < 0) throw Error(ErrorCode::invalid_argument, "parameter " + name + " belongs to no layer");
        first = std::min(first, static_cast<size_t>(li));
      }
      if (!produced.empty()) first = std::min(first, produced.begin()->first);
      auto& cache = impl_->cache;
      auto it = cache.find(split);
      if (it == cache.end() || it->second.layer > first) {
        // Activations entering layer `first`, computed once with the base parameters.
        std::vector<torch::Tensor> acts;
        for (int64_t b = 0; b < n; b += batch)
          acts.push_back(m.run_layers(x.slice(0, b, std::min(n, b + batch)), 0, first));
        cache[split] = Impl::Cache{first, torch::cat(acts)};
        it = cache.find(split);
      }
      const Impl::Cache& c = it->second;
      // Batch by batch through the layers, except a layer with a produced
      // weight: all images at once there, so that its weights are read once.
      torch::Tensor a = c.act;
      size_t from = c.layer;
      auto run = [&](size_t to) {
        if (to == from) return;
        std::vector<torch::Tensor> out;
        for (int64_t b = 0; b < n; b += batch)
          out.push_back(m.run_layers(a.slice(0, b, std::min(n, b + batch)), from, to, &ov));
        from = to;
        if (to == m.layers.size()) {
          logits = std::move(out);
        } else {
          a = torch::cat(out);
        }
      };
      for (const auto& [li, w] : produced) {
        if (li < from) continue;
        run(li);
        const Layer& l = m.layers[li];
        const std::string bias_name = l.name + ".bias";
        const torch::Tensor& like = m.param(l.name + ".weight");
        auto bo = ov.find(bias_name);
        const torch::Tensor bias = bo != ov.end() ? bo->second : m.has_param(bias_name) ? m.param(bias_name) : torch::Tensor();
        a = produced_linear(a, *w, bias, like.size(0), like.size(1), batch, l.name + ".weight");
        from = li + 1;
      }
      if (from < m.layers.size()) {
        run(m.layers.size());
      } else {
        logits = {a};
      }
    } else {
      std::map<std::string, torch::Tensor> saved;
      for (auto& [name, t] : ov) {
        saved[name] = m.param(name).detach().clone();
        m.param(name).detach().copy_(t);
      }
      try {
        for (int64_t b = 0; b < n; b += batch)
          logits.push_back(m.forward(x.slice(0, b, std::min(n, b + batch))));
      } catch (...) {
        for (auto& [name, t] : saved) m.param(name).detach().copy_(t);
        throw;
      }
      for (auto& [name, t] : saved) m.param(name).detach().copy_(t);
    }
    torch::Tensor out = torch::cat(logits);
    if (out.dim() != 2 || out.size(0) != n)
      throw Error(ErrorCode::invalid_argument, "the model's output is not one row of scores per image");
    result.top1 = flag_bytes(out.argmax(1).eq(y));
    torch::Tensor nll = torch::nn::functional::cross_entropy(
                            out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                            .to(torch::kFloat32)
                            .contiguous();
    result.loss.assign(nll.data_ptr<float>(), nll.data_ptr<float>() + n);
    if (out.size(1) > 5) {
      result.top5 = flag_bytes(std::get<1>(out.topk(5, 1)).eq(y.unsqueeze(1)).any(1));
    }
  } catch (const c10::Error& e) {
    throw_from_torch(e, "evaluation failed");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace deepsz::model
