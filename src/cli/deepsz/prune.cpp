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
  model::PruneOptions prune;  // bound straight to the options: one set of defaults
  std::string score = "activation";
  bool json = false, quiet = false;
};

void run_prune(const PruneArgs& a) {
  if ((a.prune.density > 0) == (a.prune.max_loss >= 0)) throw Error(ErrorCode::invalid_argument, "give exactly one of --density or --max-loss");
  if (a.prune.density > 1) throw Error(ErrorCode::invalid_argument, "--density must be in (0, 1]");
  auto [m, data] = open_model_and_data(a.model, a.data, {a.output});
  model::PruneOptions o = a.prune;
  o.activation_scores = a.score != "magnitude";
  o.gradient_scores = a.score == "fisher";
  attach_retraining_log(o, a.quiet);
  model::PruneReport r;
  model::Model pruned = model::prune(m, data, o, &r);
  pruned.save(a.output);
  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers) {
      nlohmann::json j{{"name", l.name}, {"params", l.params}, {"kept", l.kept},
                       {"density", static_cast<double>(l.kept) / static_cast<double>(l.params)}};
      if (l.units > 0) {
        j["units"] = l.units;
        j["live_units"] = l.live_units;
      }
      layers.push_back(j);
    }
    nlohmann::json j{{"output", a.output},          {"density", r.density},
                     {"input_val_top1", r.input_val_top1}, {"input_test_top1", r.input_test_top1},
                     {"val_top1", r.val_top1},      {"test_top1", r.test_top1},
                     {"seconds", r.seconds},        {"layers", layers}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: density %s over %zu tensors in %.1f s\n", a.output.c_str(), percent(r.density, 3).c_str(),
              r.layers.size(), r.seconds);
  for (const auto& l : r.layers) {
    std::printf("  %-14s %8lld / %-9lld %s", l.name.c_str(), static_cast<long long>(l.kept),
                static_cast<long long>(l.params),
                percent(static_cast<double>(l.kept) / static_cast<double>(l.params), 3).c_str());
    if (l.units > 0) std::printf("  units %lld / %lld", static_cast<long long>(l.live_units), static_cast<long long>(l.units));
    std::printf("\n");
  }
  std::printf("  val top-1  %s -> %s\n  test top-1 %s -> %s\n", percent(r.input_val_top1).c_str(),
              percent(r.val_top1).c_str(), percent(r.input_test_top1).c_str(), percent(r.test_top1).c_str());
}
}  // namespace

void add_prune_command(CLI::App& app) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand("prune", "magnitude pruning with retraining, masks held");
  cmd->add_option("model", args->model, "model file (deepsz or TorchScript)")->required();
  add_data_options(cmd, args->data);
  auto* d = cmd->add_option("--density", args->prune.density, "target density over the pruned tensors, in (0, 1]");
  d->check(CLI::Range(std::numeric_limits<double>::min(), 1.0));
  auto* l = cmd->add_option("--max-loss", args->prune.max_loss, "largest val top-1 loss in percentage points (against the dense ancestor when the input records one)");
  l->check(CLI::Range(0.0, 100.0));
  d->excludes(l);
  cmd->add_option("--layers", args->prune.layers, "comma-separated tensors or layers to prune (default: all fc)")->delimiter(',');
  cmd->add_flag("--conv", args->prune.conv, "prune convolution weights too");
  cmd->add_option("--step-epochs", args->prune.step_epochs, "retraining epochs after each step")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--final-epochs", args->prune.final_epochs, "fine-tuning epochs of the chosen model")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--allocation", args->prune.allocation, "per-tensor densities: erk, global (one score threshold) or sensitivity (scan)")
      ->check(CLI::IsMember({"erk", "global", "sensitivity"}))
      ->capture_default_str();
  cmd->add_option("--score", args->score, "pruning score: activation (|w| x input rms), fisher (x output gradient rms too) or magnitude (|w|)")
      ->check(CLI::IsMember({"activation", "fisher", "magnitude"}))
      ->capture_default_str();
  cmd->add_option("--step-factor", args->prune.step_factor, "density ratio between successive steps")
      ->capture_default_str()
      ->check(CLI::Range(0.3, 0.95));
  cmd->add_option("--fine-step-factor", args->prune.fine_step_factor, "density ratio between successive steps below 10% density")
      ->capture_default_str()
      ->check(CLI::Range(0.3, 0.95));
  cmd->add_option("--erk-power", args->prune.erk_power, "ERK allocation: density proportional to (sum(shape)/prod(shape))^power")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 4.0));
  cmd->add_option("--units", args->prune.units,
                  "also prune whole hidden units of the fc layers, down to this fraction of each hidden layer (1: off)")
      ->capture_default_str()
      ->check(CLI::Range(std::numeric_limits<double>::min(), 1.0));
  cmd->add_option("--decision-images", args->prune.decision_images,
                  "also read every step on this many training images, shifted (--decision-shift): drop, agreement, KL")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--decision-shift", args->prune.decision_shift, "largest shift of the decision images, pixels (0: unshifted)")
      ->capture_default_str()
      ->check(CLI::Range(0, 8));
  cmd->add_flag("--decide-on-training-images", args->prune.decide_on_training_images,
                "accept steps on the decision images' drop, the selection split checking it within its "
                "own noise (needs --decision-images; docs/PRUNING.md, \"The decision signal\")");
  cmd->add_flag("--trace-held-out", args->prune.trace_held_out,
                "log each step's certification and test drop too (reported only, for studies)");
  add_retraining_options(cmd, args->prune);
  add_model_output_flags(cmd, args->output, args->json, args->quiet);
  cmd->callback([args] { run_prune(*args); });
}

}  // namespace deepsz::cli
