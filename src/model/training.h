// What training, pruning and quantization share (src/model only; includes
// libtorch through internal.h, so the CLI never sees it): the seeded
// permutation, the Adam loop with masks held, distillation, augmentation,
// paired readings and the certification reserve (docs/PRUNING.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "deepsz/model/runtime.h"
#include "deepsz/model/train.h"
#include "internal.h"

namespace deepsz::model::detail {

using Clock = std::chrono::steady_clock;

uint64_t splitmix64(uint64_t& state);
std::vector<int64_t> permutation(int64_t n, uint64_t seed);
std::string fmt(double v, int prec = 2);
// As many digits as a fraction needs to read back (metadata values).
std::string fraction_string(double v);

// Knowledge distillation from the input model (Hinton et al.): the loss is
// (1 - alpha) x cross-entropy + alpha x T^2 x cross-entropy against the
// teacher's softened outputs softmax(teacher / T). The teacher's logits of
// every training image are computed once (the models have no dropout).
struct Distillation {
  torch::Tensor logits;  // [N, classes], empty: off
  double alpha = 0.0;
  double temperature = 1.0;
};


// The model's logits of every image of X (inference mode, batches of 1,000):
// the teacher's outputs of distillation.
torch::Tensor logits_of(Model::Impl& m, const torch::Tensor& X);

// The nearest point of the lattice step * Z, in float32 as the decoder
// rebuilds it (k * step with k integral; 0 stays 0).
torch::Tensor snap_to_lattice(const torch::Tensor& w, float step);

// Random translations of the training images (Simard et al.): each group of
// eight images of a batch is shifted by (dy, dx) in [-shift, shift]^2 pixels,
// the uncovered border filled with the background (a 0 pixel, preprocessed).
struct Augmentation {
  int shift = 0;
  float background = 0.0f;
};

torch::Tensor translate(const torch::Tensor& x, const Augmentation& a, uint64_t& rng);

// Adam with a cosine learning-rate decay over all batches of the run. Masked
// parameters have their gradient zeroed before the step and the mask applied
// again after it, so pruned weights stay exactly zero. `lattice`: training
// through the snap to each tensor's lattice (straight-through estimator).
void run_epochs(Model::Impl& m, const torch::Tensor& X, const torch::Tensor& Y, int epochs, double lr,
                int64_t batch, uint64_t seed, const ProgressFn& progress,
                const std::function<void(int)>& after_epoch = nullptr,
                const std::function<bool(int64_t, int64_t)>& update_masks = nullptr, double weight_decay = 0.0,
                const Distillation* distill = nullptr, const std::map<std::string, float>* lattice = nullptr,
                const Augmentation* augment = nullptr);

// The paired drop in points of `c` against `ref` on the same images, plus
// what earlier steps spent of the budget.
double paired_drop_points(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& c, double spent_pp);
// The margin a later certification on `cert_images` images will add for its
// own noise, from the discordance of `c` against `ref` (docs/PRUNING.md,
// "The certification reserve").
double reserve_points(const std::vector<uint8_t>& ref, const std::vector<uint8_t>& c, int64_t cert_images,
                      double confidence);
// Shifts of up to `shift` pixels, over the background of `model`'s preprocessing.
Augmentation augmentation_for(const Model& model, int shift);
// What the input's earlier steps spent of the budget against its dense ancestor.
double budget_spent(const Model& input, const Dataset& data, double input_val_top1,
                    const std::function<void(const std::string&)>& log);
// The dense reference on the certification split for a step's outputs.
std::string dense_cert_record(const Model& input, Evaluator& input_eval, const Dataset& data);

// Pruning scores (scores.cpp). Keeps the `keep` largest scores among the
// currently unmasked entries (ties by index).
torch::Tensor top_mask(const torch::Tensor& score, const torch::Tensor* old_mask, int64_t keep);
// The flat indices of the unmasked entries, highest score first (ties by
// index), and the mask of the first `keep` of them: top_mask for many `keep`
// at the cost of one sort.
torch::Tensor score_ranking(const torch::Tensor& score, const torch::Tensor* old_mask);
torch::Tensor ranked_mask(const torch::Tensor& ranking, c10::IntArrayRef shape, int64_t keep);
// The rms of each input feature of the layers owning `names` (|w| x this is
// the activation score); empty for TorchScript models.
std::map<std::string, torch::Tensor> input_scales(Model::Impl& m, const torch::Tensor& X,
                                                  const std::vector<std::string>& names);
// The rms of the loss gradient at each output unit (times the input scale:
// the Fisher score); empty for TorchScript models.
std::map<std::string, torch::Tensor> output_scales(Model::Impl& m, const torch::Tensor& X, const torch::Tensor& Y,
                                                   const std::vector<std::string>& names);

}  // namespace deepsz::model::detail
