// The pieces training, pruning and quantization share (training.h).
#include "training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <tuple>
#include <iterator>
#include <numeric>
#include <sstream>

#include "deepsz/codec.h"
#include "deepsz/optimize.h"

namespace deepsz::model::detail {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  uint64_t s = seed;
  for (size_t i = p.size() - 1; i > 0; --i) std::swap(p[i], p[splitmix64(s) % (i + 1)]);
  return p;
}

std::string fmt(double v, int prec) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(prec);
  o << v;
  return o.str();
}

std::string fraction_string(double v) {
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}


torch::Tensor logits_of(Model::Impl& m, const torch::Tensor& X) {
  torch::NoGradGuard g;
  m.set_training(false);
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < X.size(0); b += 1000) parts.push_back(m.forward(X.slice(0, b, std::min(X.size(0), b + 1000))));
  return torch::cat(parts, 0).detach();
}

torch::Tensor snap_to_lattice(const torch::Tensor& w, float step) { return (w / step).round() * step; }


torch::Tensor translate(const torch::Tensor& x, const Augmentation& a, uint64_t& rng) {
  const int64_t s = a.shift, h = x.size(2), w = x.size(3);
  torch::Tensor padded = torch::constant_pad_nd(x, {s, s, s, s}, a.background);
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < x.size(0); b += 8) {
    const int64_t dy = static_cast<int64_t>(splitmix64(rng) % static_cast<uint64_t>(2 * s + 1));
    const int64_t dx = static_cast<int64_t>(splitmix64(rng) % static_cast<uint64_t>(2 * s + 1));
    parts.push_back(padded.slice(0, b, std::min(x.size(0), b + 8)).slice(2, dy, dy + h).slice(3, dx, dx + w));
  }
  return torch::cat(parts, 0);
}

void run_epochs(Model::Impl& m, const torch::Tensor& X, const torch::Tensor& Y, int epochs, double lr,
                int64_t batch, uint64_t seed, const ProgressFn& progress,
                const std::function<void(int)>& after_epoch,
                const std::function<bool(int64_t, int64_t)>& update_masks, double weight_decay,
                const Distillation* distill, const std::map<std::string, float>* lattice,
                const Augmentation* augment) {
  const bool kd = distill && distill->alpha > 0 && distill->logits.defined();
  // Quantisation-aware training (straight-through estimator): the forward
  // pass and the readings see every lattice tensor snapped to its lattice
  // s * round(w / s); the gradient taken there updates the float weights.
  std::map<std::string, torch::Tensor> shadow;
  auto snap = [&] {
    if (!lattice) return;
    torch::NoGradGuard g;
    for (const auto& [name, step] : *lattice) {
      torch::Tensor& w = m.param(name);
      torch::Tensor& sh = shadow[name];
      if (sh.defined()) sh.copy_(w.detach());
      else sh = w.detach().clone();
      w.copy_(snap_to_lattice(w.detach(), step));
    }
  };
  auto unsnap = [&] {
    if (!lattice) return;
    torch::NoGradGuard g;
    for (const auto& [name, step] : *lattice) m.param(name).copy_(shadow[name]);
  };
  torch::Tensor soft_all;
  if (kd) soft_all = torch::softmax(distill->logits / distill->temperature, 1);
  std::vector<torch::Tensor> params;
  for (auto& [n, t] : m.params) {
    t.requires_grad_(true);
    params.push_back(t);
  }
  std::map<std::string, torch::Tensor> fmask;
  auto refresh_masks = [&] {
    torch::NoGradGuard g;
    for (auto& [n, mk] : m.masks) {
      fmask[n] = mk.to(torch::kFloat32);
      m.param(n).mul_(fmask[n]);
    }
  };
  refresh_masks();
  // Decoupled weight decay (AdamW) when asked: weights the loss does not
  // defend shrink, so magnitude pruning finds them.
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (weight_decay > 0)
    optimizer = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
  else
    optimizer = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(lr));
  torch::optim::Optimizer& opt = *optimizer;
  auto set_lr = [&](double v) {
    auto& options = opt.param_groups()[0].options();
    if (weight_decay > 0)
      static_cast<torch::optim::AdamWOptions&>(options).lr(v);
    else
      static_cast<torch::optim::AdamOptions&>(options).lr(v);
  };
  const int64_t n = X.size(0);
  const int64_t batches = (n + batch - 1) / batch;
  const int64_t total = batches * epochs;
  int64_t step = 0;
  uint64_t aug_rng = seed ^ 0x9e3779b97f4a7c15ULL;
  m.set_training(true);
  for (int e = 0; e < epochs; ++e) {
    auto perm = permutation(n, seed * 1000003ULL + static_cast<uint64_t>(e));
    auto idx_all = torch::from_blob(perm.data(), {n}, torch::kInt64);
    double loss_sum = 0;
    auto t0 = Clock::now();
    for (int64_t b = 0; b < batches; ++b, ++step) {
      double cur = lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total)));
      set_lr(cur);
      if (update_masks && update_masks(step, total)) refresh_masks();
      auto idx = idx_all.slice(0, b * batch, std::min(n, (b + 1) * batch));
      auto xb = X.index_select(0, idx);
      if (augment && augment->shift > 0) xb = translate(xb, *augment, aug_rng);
      auto yb = Y.index_select(0, idx);
      opt.zero_grad();
      snap();
      auto out = m.forward(xb);
      auto loss = torch::nn::functional::cross_entropy(out, yb);
      if (kd) {
        const double T = distill->temperature;
        auto soft = soft_all.index_select(0, idx);
        auto kd_loss = -(soft * torch::log_softmax(out / T, 1)).sum(1).mean() * (T * T);
        loss = (1.0 - distill->alpha) * loss + distill->alpha * kd_loss;
      }
      loss.backward();
      unsnap();
      for (auto& [name, mk] : fmask) {
        auto& g = m.param(name).mutable_grad();
        if (g.defined()) g.mul_(mk);
      }
      opt.step();
      {
        torch::NoGradGuard g;
        for (auto& [name, mk] : fmask) m.param(name).mul_(mk);
      }
      loss_sum += loss.item<double>();
      if (progress) {
        TrainProgress p;
        p.epoch = e + 1;
        p.epochs = epochs;
        p.batch = b + 1;
        p.batches = batches;
        p.loss = loss_sum / static_cast<double>(b + 1);
        double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        p.images_per_second = secs > 0 ? static_cast<double>(std::min(n, (b + 1) * batch)) / secs : 0.0;
        p.epoch_done = b + 1 == batches;
        progress(p);
      }
    }
    if (after_epoch) {
      m.set_training(false);
      snap();
      after_epoch(e + 1);
      unsnap();
      m.set_training(true);
    }
  }
  m.set_training(false);
  for (auto& t : params) {
    t.requires_grad_(m.kind == FileKind::torchscript);
    t.mutable_grad() = torch::Tensor();
  }
}

// The paired val drop in points of `c` against the reference `ref` on the
// same images, plus what earlier steps spent of the budget.
double paired_drop_points(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& c, double spent_pp) {
  int64_t diff = 0;
  for (size_t i = 0; i < c.size(); ++i) diff += int64_t{ref[i]} - int64_t{c[i]};
  return spent_pp + 100.0 * static_cast<double>(diff) / static_cast<double>(ref.size());
}

// What a certification at `confidence` on `cert_images` will charge for its
// noise, in points: z x the standard error of a paired drop whose images
// disagree with the reference as often as `c` does with `ref` here,
// 100 z sqrt(discordance / cert_images) (the variance of a paired difference
// in {-1, 0, 1} is the discordance less the squared drop). At least one
// discordant image's worth, so a state that flips nothing here still pays.
double reserve_points(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& c, int64_t cert_images,
                      double confidence) {
  int64_t discordant = 0;
  for (size_t i = 0; i < c.size(); ++i) discordant += ref[i] != c[i];
  const double rate = std::max<double>(1.0, static_cast<double>(discordant)) / static_cast<double>(ref.size());
  return 100.0 * normal_quantile(confidence) * std::sqrt(rate / static_cast<double>(cert_images));
}

Augmentation augmentation_for(const Model& model, int shift) {
  if (shift < 0 || shift > 8) throw Error(ErrorCode::invalid_argument, "--augment must be in [0, 8] pixels");
  return {shift, static_cast<float>(-model.preprocessing().mean / model.preprocessing().std)};
}

// The budget an input that was pruned (or quantised) already has spent: it
// records its dense ancestor's val top-1 on the same split, and the budget
// counts from that ancestor (as compress's does). Paired drops add exactly,
// dense - new = (dense - input) + (input - new), in images; an input that beat
// its ancestor does not widen the budget (that gain was chosen on these images).
double budget_spent(const Model& input, const Dataset& data, double input_val_top1,
                    const std::function<void(const std::string&)>& log) {
  const std::string dv = input.metadata(meta::dense_val_top1);
  check_split_record(input.metadata(meta::data_split), data, "the input");
  if (dv.empty()) return 0.0;
  const std::string vi = input.metadata(meta::val_images);
  if (!vi.empty() && vi != std::to_string(data.val.size()))
    throw Error(ErrorCode::invalid_argument, "the input was pruned on a validation split of " + vi +
                                                 " images, this one has " + std::to_string(data.val.size()) +
                                                 ": pass --val " + vi + " (its budget counts from its dense ancestor)");
  char* end = nullptr;
  const double dense_val = std::strtod(dv.c_str(), &end);
  if (end == dv.c_str() || *end != '\0' || !(dense_val >= 0 && dense_val <= 1))
    throw Error(ErrorCode::corruption_detected, "the input's recorded dense val top-1 '" + dv + "' is not a fraction");
  const double spent = std::max(0.0, 100.0 * (dense_val - input_val_top1));
  log("dense ancestor: val top-1 " + fmt(100 * dense_val) + "%; earlier steps spent " + fmt(spent) +
      " points of the budget, every drop below is against the ancestor");
  return spent;
}

// The dense reference flags on the certification split for the outputs of
// a step on `input`: the input's own when it is the dense model (it records
// no ancestor), else empty (the outputs keep the ancestor's record).
std::string dense_cert_record(const Model& input, Evaluator& input_eval, const Dataset& data) {
  if (!data.certified() || !input.metadata(meta::dense_val_top1).empty()) return "";
  return encode_flags(input_eval.correct(Split::cert));
}

}  // namespace deepsz::model::detail
