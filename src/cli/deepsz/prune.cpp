// deepsz prune: iterative magnitude pruning with retraining (docs/PRUNING.md).
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {
namespace {
struct PruneArgs {
  DataOptions data;
  std::string model, output;
  double density = 0, max_loss = -1;
  std::vector<std::string> layers;
  bool conv = false, json = false, quiet = false;
  uint64_t seed = 1;
  int step_epochs = 3, final_epochs = 4;
  double lr = 1e-3;
  double weight_decay = 0.1;
  std::string allocation = "erk", score = "activation";
  double margin = 0.1, step_factor = 0.75, distill = 0.0, temperature = 2.0, erk_power = 1.4, fine_step_factor = 0.85;
};

void run_prune(const PruneArgs& a) {
  model::init_runtime(a.data.threads);
  if ((a.density > 0) == (a.max_loss >= 0)) throw Error(ErrorCode::invalid_argument, "give exactly one of --density or --max-loss");
  if (a.density > 0 && a.density > 1) throw Error(ErrorCode::invalid_argument, "--density must be in (0, 1]");
  check_output_path(a.output, {a.model});
  model::Model m = model::Model::load(a.model);
  apply_preprocessing(a.data, m);
  model::Dataset data = load_data_for(a.data, &m);
  model::PruneOptions o;
  o.density = a.density;
  o.max_loss = a.max_loss;
  o.layers = a.layers;
  o.conv = a.conv;
  o.seed = a.seed;
  o.step_epochs = a.step_epochs;
  o.final_epochs = a.final_epochs;
  o.learning_rate = a.lr;
  o.weight_decay = a.weight_decay;
  o.allocation = a.allocation;
  o.activation_scores = a.score == "activation";
  o.margin = a.margin;
  o.step_factor = a.step_factor;
  o.distill = a.distill;
  o.fine_step_factor = a.fine_step_factor;
  o.erk_power = a.erk_power;
  o.temperature = a.temperature;
  if (!a.quiet) {
    o.log = log_line;
    o.progress = progress_printer("retrain");
  }
  model::PruneReport r;
  model::Model pruned = model::prune(m, data, o, &r);
  pruned.save(a.output);
  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers)
      layers.push_back({{"name", l.name}, {"params", l.params}, {"kept", l.kept},
                        {"density", static_cast<double>(l.kept) / static_cast<double>(l.params)}});
    nlohmann::json j{{"output", a.output},          {"density", r.density},
                     {"input_val_top1", r.input_val_top1}, {"input_test_top1", r.input_test_top1},
                     {"val_top1", r.val_top1},      {"test_top1", r.test_top1},
                     {"seconds", r.seconds},        {"layers", layers}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: density %s over %zu tensors in %.1f s\n", a.output.c_str(), percent(r.density, 3).c_str(),
              r.layers.size(), r.seconds);
  for (const auto& l : r.layers)
    std::printf("  %-14s %8lld / %-9lld %s\n", l.name.c_str(), static_cast<long long>(l.kept),
                static_cast<long long>(l.params),
                percent(static_cast<double>(l.kept) / static_cast<double>(l.params), 3).c_str());
  std::printf("  val top-1  %s -> %s\n  test top-1 %s -> %s\n", percent(r.input_val_top1).c_str(),
              percent(r.val_top1).c_str(), percent(r.input_test_top1).c_str(), percent(r.test_top1).c_str());
}
}  // namespace

void add_prune_command(CLI::App& app) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand("prune", "magnitude pruning with retraining, masks held");
  cmd->add_option("model", args->model, "model file (deepsz or TorchScript)")->required();
  add_data_options(cmd, args->data);
  auto* d = cmd->add_option("--density", args->density, "target density over the pruned tensors, in (0, 1]");
  d->check(CLI::Range(std::numeric_limits<double>::min(), 1.0));
  auto* l = cmd->add_option("--max-loss", args->max_loss, "largest val top-1 loss in percentage points");
  l->check(CLI::Range(0.0, 100.0));
  d->excludes(l);
  cmd->add_option("--layers", args->layers, "comma-separated tensors or layers to prune (default: all fc)")->delimiter(',');
  cmd->add_flag("--conv", args->conv, "prune convolution weights too");
  cmd->add_option("--seed", args->seed, "seed of the retraining shuffles")->capture_default_str();
  cmd->add_option("--step-epochs", args->step_epochs, "retraining epochs after each step")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--final-epochs", args->final_epochs, "fine-tuning epochs of the chosen model")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--lr", args->lr, "retraining learning rate (Adam, cosine decay)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--weight-decay", args->weight_decay, "AdamW decoupled weight decay while retraining (0: Adam)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--allocation", args->allocation, "per-tensor densities: erk or sensitivity (scan)")
      ->check(CLI::IsMember({"erk", "sensitivity"}))
      ->capture_default_str();
  cmd->add_option("--score", args->score, "pruning score: activation (|w| x input rms) or magnitude (|w|)")
      ->check(CLI::IsMember({"activation", "magnitude"}))
      ->capture_default_str();
  cmd->add_option("--margin", args->margin, "validation safety margin in points (--max-loss)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--step-factor", args->step_factor, "density ratio between successive steps")
      ->capture_default_str()
      ->check(CLI::Range(0.3, 0.95));
  cmd->add_option("--fine-step-factor", args->fine_step_factor, "density ratio between successive steps below 10% density")
      ->capture_default_str()
      ->check(CLI::Range(0.3, 0.95));
  cmd->add_option("--erk-power", args->erk_power, "ERK allocation: density proportional to (sum(shape)/prod(shape))^power")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 4.0));
  cmd->add_option("--distill", args->distill, "weight in [0, 1] of distillation from the input model while retraining (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--temperature", args->temperature, "temperature of the distillation targets")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100.0));
  cmd->add_flag("--json", args->json, "print the report as one JSON object");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress output");
  cmd->add_option("-o,--output", args->output, "output model file")->required();
  cmd->callback([args] { run_prune(*args); });
}

}  // namespace deepsz::cli
