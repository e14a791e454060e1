// Pruning scores: magnitude times the scales of the data (docs/PRUNING.md).
#include <algorithm>
#include <tuple>

#include "training.h"

namespace deepsz::model::detail {

// Keeps the `keep` largest scores among the currently unmasked entries (ties by index).
torch::Tensor top_mask(const torch::Tensor& score, const torch::Tensor* old_mask, int64_t keep) {
  torch::Tensor a = score.detach().flatten().clone();
  if (old_mask) a.masked_fill_(old_mask->flatten().logical_not(), -1.0f);
  keep = std::max<int64_t>(1, std::min<int64_t>(keep, a.numel()));
  // Unsorted: ATen picks the same k elements either way (partial_sort for a
  // small k, else nth_element, which `sorted` only orders afterwards), and
  // sorting millions of survivors of an AlexNet fc layer took seconds a call.
  auto idx = std::get<1>(a.topk(keep, 0, true, /*sorted=*/false));
  torch::Tensor m = torch::zeros({a.numel()}, torch::kBool);
  m.index_fill_(0, idx, true);
  if (old_mask) m.logical_and_(old_mask->flatten());
  return m.view(score.sizes());
}

torch::Tensor score_ranking(const torch::Tensor& score, const torch::Tensor* old_mask) {
  torch::Tensor a = score.detach().flatten();
  torch::Tensor alive = old_mask ? old_mask->flatten().nonzero().flatten() : torch::arange(a.numel());
  torch::Tensor order = std::get<1>(a.index_select(0, alive).sort(/*stable=*/true, 0, /*descending=*/true));
  return alive.index_select(0, order);
}

torch::Tensor ranked_mask(const torch::Tensor& ranking, c10::IntArrayRef shape, int64_t keep) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  keep = std::max<int64_t>(std::min<int64_t>(1, ranking.numel()), std::min<int64_t>(keep, ranking.numel()));
  torch::Tensor m = torch::zeros({n}, torch::kBool);
  m.index_fill_(0, ranking.slice(0, 0, keep), true);
  return m.view(shape);
}

// Root mean square of each input feature of the layers owning `names` (native
// models; an fc weight gets one value per input column, a convolution one per
// input channel), shaped to broadcast against the weight. A weight's pruning
// score is |w| x this: it measures how much the weight moves its output on
// real data, so the columns of pixels that are (nearly) always zero die
// first. TorchScript models (opaque forward): empty map, plain |w|.
std::map<std::string, torch::Tensor> input_scales(Model::Impl& m, const torch::Tensor& X,
                                                  const std::vector<std::string>& names) {
  std::map<std::string, torch::Tensor> out;
  if (m.kind != FileKind::native) return out;
  torch::NoGradGuard g;
  const int64_t n = std::min<int64_t>(X.size(0), 10000);
  std::map<int, std::string> wanted;
  for (const auto& name : names) {
    int l = m.layer_of(name);
    if (l >= 0) wanted[l] = name;
  }
  std::map<std::string, torch::Tensor> sums;
  for (int64_t b = 0; b < n; b += 1000) {
    torch::Tensor x = X.slice(0, b, std::min(n, b + 1000));
    size_t at = 0;
    for (const auto& [l, name] : wanted) {
      x = m.run_layers(x, at, static_cast<size_t>(l));
      at = static_cast<size_t>(l);
      torch::Tensor sq = x.dim() == 4 ? x.square().sum({0, 2, 3}) / static_cast<double>(x.size(2) * x.size(3))
                                      : x.flatten(1).square().sum(0);
      if (sums.count(name)) sums[name] += sq;
      else sums[name] = sq;
    }
  }
  for (auto& [name, s] : sums) {
    torch::Tensor r = (s / static_cast<double>(n)).sqrt();
    const auto& w = m.param(name);
    if (w.dim() == 4) r = r.view({1, -1, 1, 1});
    else r = r.view({1, -1});
    if (r.numel() == w.size(1)) out[name] = r;
  }
  return out;
}

// Root mean square of the loss gradient at each output unit of the layers
// owning `names` (per output neuron of an fc layer; per output channel of a
// convolution, summed over its positions), shaped to broadcast against the
// weight. Times the input rms this is the square root of a Kronecker-factored
// diagonal of the Fisher information, F_ij ~ E[x_j^2] E[g_i^2], so |w| x both
// is the square root of Optimal Brain Damage's saliency w^2 F_ij: it weighs a
// weight by what its output unit matters to the loss as well as by what its
// input carries, and makes the scores of different tensors comparable (the
// "global" allocation ranks them together). Native models only.
std::map<std::string, torch::Tensor> output_scales(Model::Impl& m, const torch::Tensor& X, const torch::Tensor& Y,
                                                   const std::vector<std::string>& names) {
  std::map<std::string, torch::Tensor> out;
  if (m.kind != FileKind::native) return out;
  const int64_t n = std::min<int64_t>(X.size(0), 10000);
  std::map<size_t, std::string> wanted;
  for (const auto& name : names) {
    int l = m.layer_of(name);
    if (l >= 0) wanted[static_cast<size_t>(l)] = name;
  }
  m.set_training(false);
  std::map<std::string, torch::Tensor> sums;
  for (int64_t b = 0; b < n; b += 1000) {
    const int64_t e = std::min(n, b + 1000);
    torch::Tensor x = X.slice(0, b, e).clone().requires_grad_(true);
    std::vector<std::pair<std::string, torch::Tensor>> outs;
    for (size_t l = 0; l < m.layers.size(); ++l) {
      x = m.run_layers(x, l, l + 1);
      auto it = wanted.find(l);
      if (it != wanted.end()) {
        x.retain_grad();
        outs.emplace_back(it->second, x);
      }
    }
    torch::nn::functional::cross_entropy(x, Y.slice(0, b, e),
                                         torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
        .backward();
    for (auto& [name, y] : outs) {
      torch::Tensor g = y.grad().detach();
      torch::Tensor sq = g.dim() == 4 ? g.square().sum({0, 2, 3}) : g.square().sum(0);
      if (sums.count(name)) sums[name] += sq;
      else sums[name] = sq;
    }
  }
  for (auto& [name, s] : sums) {
    torch::Tensor r = (s / static_cast<double>(n)).sqrt();
    const auto& w = m.param(name);
    r = w.dim() == 4 ? r.view({-1, 1, 1, 1}) : r.view({-1, 1});
    if (r.size(0) == w.size(0)) out[name] = r;
  }
  return out;
}

}  // namespace deepsz::model::detail
