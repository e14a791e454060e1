// deepsz train: trains LeNet-300-100 or LeNet-5 on an MNIST-format set.
#include <chrono>
#include <cstdio>

#include "common.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {
namespace {
struct TrainArgs {
  DataOptions data;
  std::string arch = "lenet300";
  int epochs = 0;
  uint64_t seed = 1;
  int64_t batch = 64;
  double lr = 1e-3;
  double weight_decay = -1;  // the architecture's default
  std::string output;
};

void run_train(const TrainArgs& a) {
  model::init_runtime(a.data.threads);
  check_output_path(a.output, {});
  DataOptions d = a.data;
  if (d.split_seed == 0) d.split_seed = a.seed;  // the splits follow the seed of the run
  model::Dataset data = load_data_for(d, nullptr);
  model::TrainOptions o;
  o.architecture = a.arch;
  o.epochs = a.epochs;
  o.seed = a.seed;
  o.batch_size = a.batch;
  o.learning_rate = a.lr;
  o.weight_decay = a.weight_decay;
  o.preprocessing.mean = a.data.mean;
  o.preprocessing.std = a.data.std;
  o.progress = progress_printer("train");
  auto t0 = std::chrono::steady_clock::now();
  model::Model m = model::train(data, o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.save(a.output);
  std::printf("%s: %s trained in %.1f s; val top-1 %s, test top-1 %s\n", a.output.c_str(), a.arch.c_str(), secs,
              percent(std::stod(m.metadata(model::meta::val_top1))).c_str(),
              percent(std::stod(m.metadata(model::meta::test_top1))).c_str());
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a LeNet on MNIST-format data");
  cmd->add_option("--model", args->arch, "lenet300 (LeNet-300-100) or lenet5 (Caffe LeNet-5)")
      ->check(CLI::IsMember({"lenet300", "lenet5"}))
      ->capture_default_str();
  add_data_options(cmd, args->data);
  cmd->add_option("--epochs", args->epochs, "epochs (default: lenet300 20, lenet5 15)")->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", args->seed, "seed of initialisation, shuffling and (unless --split-seed) the split")->capture_default_str();
  cmd->add_option("--batch", args->batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--lr", args->lr, "Adam learning rate (cosine decay to 0)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--weight-decay", args->weight_decay, "AdamW decoupled weight decay, 0: Adam (default: lenet300 0, lenet5 0.1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--output", args->output, "output model file")->required();
  cmd->callback([args] { run_train(*args); });
}

}  // namespace deepsz::cli
