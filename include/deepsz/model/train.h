// deepsz/model/train.h: training and iterative magnitude pruning, torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "deepsz/model/data.h"
#include "deepsz/model/model.h"

namespace deepsz::model {

struct TrainProgress {
  int epoch = 0;  // 1-based
  int epochs = 0;
  int64_t batch = 0;  // 1-based within the epoch
  int64_t batches = 0;
  double loss = 0.0;  // running mean over the epoch
  double images_per_second = 0.0;
  bool epoch_done = false;
};
using ProgressFn = std::function<void(const TrainProgress&)>;
using LogFn = std::function<void(const std::string&)>;

struct TrainOptions {
  std::string architecture = "lenet300";
  int epochs = 0;                // 0: the architecture's default (lenet300 20, lenet5 15)
  uint64_t seed = 1;
  int64_t batch_size = 64;
  double learning_rate = 1e-3;   // Adam, cosine decay to 0 over all batches
  double weight_decay = -1;      // > 0: AdamW with this decoupled decay; -1: the architecture's default
  Preprocessing preprocessing;
  ProgressFn progress;
};

int default_epochs(const std::string& architecture);
double default_weight_decay(const std::string& architecture);  // lenet5 0.1, lenet300 0

// Trains a new model on data.train. Same seed and thread count: bit-identical.
Model train(const Dataset& data, const TrainOptions& options);

struct PruneOptions {
  double density = 0.0;   // > 0: prune to this density over the chosen tensors
  double max_loss = -1;   // >= 0: sparsest model within this many points (val top-1)
  std::vector<std::string> layers;  // parameter or layer names; empty: all fc (+ conv)
  bool conv = false;      // include convolution weights in the default choice
  uint64_t seed = 1;
  int step_epochs = 3;    // retraining after each pruning step
  int final_epochs = 4;   // fine-tuning of the chosen model
  double learning_rate = 1e-3;  // Adam, cosine decay within each step
  double weight_decay = 0.1;    // > 0: AdamW with this decoupled decay while retraining (0: Adam)
  std::string allocation = "erk";  // per-tensor densities: "erk" (Erdos-Renyi-Kernel), "global" (one
                                   // threshold on the scores of all tensors) or "sensitivity" (scan)
  bool activation_scores = true;   // score |w| x rms of the weight's input feature (native models)
  bool gradient_scores = false;    // and x rms of the loss gradient at its output unit (Fisher score)
  double margin = 0.1;             // accept a step when its val drop <= max_loss - min(margin, max_loss / 2)
  // With a certification split (--max-loss): each step's val drop also
  // carries z(certify_confidence) x the standard error a certification of
  // that state would have (from its discordance with the input on the val
  // split), so the sparsest accepted state leaves room for the certified
  // bound (docs/PRUNING.md, "Certification reserve"). 0: no reserve.
  double certify_confidence = 0.9;
  // The decision signal (docs/PRUNING.md, "The decision signal"): > 0 measures
  // every reading also on this many training images (labelled for free, 4x
  // more than the selection split), each group of eight shifted by up to
  // decision_shift pixels: the paired top-1 drop, the agreement with the
  // input's predictions and the KL divergence from its outputs, all logged.
  int64_t decision_images = 0;
  int decision_shift = 0;  // 0: the images as they are (deepsz run); 2 measured worse on LeNet-300-100
  // With decision_images: a step is accepted on the decision images' drop
  // (plus the reserve) instead of the selection split's, the selection
  // reading only checking it: it may exceed the acceptance bound by no more
  // than its own noise at certify_confidence.
  bool decide_on_training_images = false;
  // Log each step's drop on the certification and test splits too, for
  // studies of the selection bias; reported only, never a decision.
  bool trace_held_out = false;
  double step_factor = 0.75;       // overall density target of each step = previous x this
  double fine_step_factor = 0.85;  // the factor once the density is at or below fine_below
  double fine_below = 0.10;
  double erk_power = 1.4;          // ERK densities proportional to (sum(shape) / prod(shape))^power
  // < 1: also prune whole hidden units of the fully connected layers (a row
  // of a pruned fc weight with the matching column of the next pruned fc
  // weight), following the square root of the first one's density, down to this fraction of each
  // hidden layer's units (docs/PRUNING.md, "Hidden units"). 1: off.
  double units = 1.0;
  double distill = 0.0;            // > 0: weight of the distillation loss from the input model while retraining
  double temperature = 2.0;        // softening of the teacher's outputs
  int augment_shift = 0;           // > 0: retrain on images shifted by up to this many pixels (groups of 8)
  int64_t batch_size = 64;
  // --max-loss: also return up to this many accepted states denser than the
  // chosen one (the sparsest first), for a caller that weighs density
  // against the budget left to a later step (deepsz run compresses each).
  int alternatives = 0;
  // Spread them: the k-th alternative is the state 2^(k-1) accepted steps
  // denser than the result (1, 2, 4, 8, ...) instead of the k-th next, so a
  // few of them span from the edge of the budget back to safe densities.
  bool spread_alternatives = false;
  LogFn log;
  ProgressFn progress;
};

struct PrunedLayer {
  std::string name;
  int64_t params = 0;
  int64_t kept = 0;
  int64_t units = 0, live_units = 0;  // rows of an fc weight whose units are pruned (options.units < 1), else 0
};

struct PruneReport {
  std::vector<PrunedLayer> layers;
  double density = 0.0;  // over the pruned tensors
  double input_val_top1 = 0.0, input_test_top1 = 0.0;
  double val_top1 = 0.0, test_top1 = 0.0;
  double seconds = 0.0;
  // options.alternatives accepted states denser than the result, sparsest
  // first, as recorded as the result (masks, ancestry, accuracies); not
  // fine-tuned.
  std::vector<Model> alternatives;
};

// Iterative magnitude pruning with retraining, masks held (docs/PRUNING.md).
Model prune(const Model& model, const Dataset& data, const PruneOptions& options,
            PruneReport* report = nullptr);

struct QuantizeOptions {
  double max_loss = 0.3;       // val top-1 points, against the dense ancestor when the input records one
  double margin = 0.1;         // accept a level when its val drop <= max_loss - min(margin, max_loss / 2)
  double certify_confidence = 0.9;  // as PruneOptions::certify_confidence
  double start = 0.05;         // finest step of the per-tensor base scan, a fraction of the tensor's rms (of its nonzeros)
  double growth = 1.41421356;  // step ratio of the base scan and between successive levels
  int max_levels = 14;
  int epochs = 3;              // quantisation-aware retraining at each level
  double learning_rate = 5e-4; // Adam, cosine decay within each level (a level is retrained only when its snapped weights fail;
                               // 2e-4 recovered less: LeNet-300 stopped at 0.28 rms, 0.57 with 5e-4)
  double weight_decay = 0.0;
  double distill = 0.5;        // weight of distillation from the input model (0: off)
  double temperature = 2.0;
  int augment_shift = 0;       // > 0: retrain on images shifted by up to this many pixels
  std::vector<std::string> layers;  // tensors or layers; empty: the masked ones, else every fc and conv weight
  uint64_t seed = 1;
  int64_t batch_size = 64;
  LogFn log;
  ProgressFn progress;
};

struct QuantizedLayer {
  std::string name;
  float step = 0;              // the lattice: every value is step * k, k integral
  double relative_step = 0;    // step / rms of the input's nonzeros
  int64_t kept = 0;            // nonzeros after snapping (survivors that snapped to 0 are pruned)
  int64_t kept_before = 0;
  double code_entropy_bits = 0;  // zero-order entropy of k over the nonzeros, bits per value
};

struct QuantizeReport {
  std::vector<QuantizedLayer> layers;
  double relative_step = 0;    // the chosen level: the multiplier of every tensor's base step, 0: none accepted
  double val_drop_pp = 0;      // of the chosen level, against the reference (dense ancestor if recorded)
  double input_val_top1 = 0.0, input_test_top1 = 0.0;
  double val_top1 = 0.0, test_top1 = 0.0;
  double seconds = 0.0;
};

// Quantisation-aware retraining onto per-tensor lattices (docs/QUANTIZE.md):
// each tensor gets a base step (the coarsest at which it alone, snapped,
// loses nothing), and the coarsest common multiple of those whose paired val
// drop after retraining stays within the budget is kept. The result records
// each lattice as metadata (meta::lattice_prefix + name): an error-bounded
// coder at bound step / 2 then rebuilds the values as they are.
Model quantize(const Model& model, const Dataset& data, const QuantizeOptions& options,
               QuantizeReport* report = nullptr);

// Least-squares non-decreasing fit of y (pool adjacent violators): the
// smoothing prune() applies to its step statistics over falling density.
std::vector<double> isotonic_non_decreasing(const std::vector<double>& y);

// The tensors prune() would choose.
std::vector<std::string> prunable_parameters(const Model& model, const std::vector<std::string>& layers,
                                             bool conv);

}  // namespace deepsz::model
