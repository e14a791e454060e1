// Training of a dense model (docs/MODEL.md).
#include "deepsz/model/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <tuple>
#include <iterator>
#include <numeric>
#include <sstream>

#include "training.h"

namespace deepsz::model {
using namespace detail;

int default_epochs(const std::string& arch) { return arch == "lenet5" ? 15 : 20; }
// LeNet-5 trained with Adam alone ends at train loss ~0.01; AdamW 0.1 gave
// val 91.80 / test 91.87 against 91.74 / 91.69, and a model that prunes
// further (docs/PRUNING.md, run T). LeNet-300-100: 89.84 / 89.63 with it
// against 90.16 / 89.72 without, so no decay.
double default_weight_decay(const std::string& arch) { return arch == "lenet5" ? 0.1 : 0.0; }

Model train(const Dataset& data, const TrainOptions& o) {
  if (o.architecture != "lenet300" && o.architecture != "lenet5")
    throw Error(ErrorCode::invalid_argument, "train supports --model lenet300 or lenet5");
  if (o.batch_size <= 0 || o.learning_rate <= 0 || !(o.weight_decay >= 0 || o.weight_decay == -1))
    throw Error(ErrorCode::invalid_argument, "bad training options");
  const int epochs = o.epochs > 0 ? o.epochs : default_epochs(o.architecture);
  InputShape in{data.train.channels, data.train.rows, data.train.cols};
  Model model = Model::create(o.architecture, in, data.num_classes, o.seed);
  model.set_preprocessing(o.preprocessing);
  model.set_metadata(meta::val_images, std::to_string(data.val.size()));
  model.set_metadata(meta::data_split, data.split_record());
  model.set_metadata("train.epochs", std::to_string(epochs));
  model.set_metadata("train.seed", std::to_string(o.seed));
  model.set_metadata("train.threads", std::to_string(runtime_threads()));
  const double weight_decay = o.weight_decay >= 0 ? o.weight_decay : default_weight_decay(o.architecture);
  model.set_metadata(meta::train_weight_decay, fraction_string(weight_decay));
  try {
    auto X = images_tensor(data.train, o.preprocessing);
    auto Y = labels_tensor(data.train);
    run_epochs(model.impl(), X, Y, epochs, o.learning_rate, o.batch_size, o.seed, o.progress, nullptr, nullptr,
               weight_decay);
  } catch (const c10::Error& e) {
    throw_from_torch(e, "training failed");
  }
  Evaluator ev(model, data);
  model.set_metadata(meta::val_top1, fraction_string(ev.evaluate(Split::val).top1_rate()));
  model.set_metadata(meta::test_top1, fraction_string(ev.evaluate(Split::test).top1_rate()));
  return model;
}

}  // namespace deepsz::model
