// deepsz quantize: quantisation-aware retraining onto per-tensor lattices
// (docs/QUANTIZE.md), so that the coder's bound step / 2 costs no accuracy.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {
namespace {
struct QuantizeArgs {
  DataOptions data;
  std::string model, output;
  model::QuantizeOptions quantize;
  bool json = false, quiet = false;
};

void run_quantize(const QuantizeArgs& a) {
  auto [m, data] = open_model_and_data(a.model, a.data, {a.output});
  model::QuantizeOptions o = a.quantize;
  attach_retraining_log(o, a.quiet);
  model::QuantizeReport r;
  model::Model q = model::quantize(m, data, o, &r);
  q.save(a.output);
  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers)
      layers.push_back({{"name", l.name}, {"step", l.step}, {"kept", l.kept}, {"kept_before", l.kept_before},
                        {"code_entropy_bits", l.code_entropy_bits}, {"relative_step", l.relative_step}});
    nlohmann::json j{{"output", a.output},         {"relative_step", r.relative_step},
                     {"val_drop_pp", r.val_drop_pp}, {"input_val_top1", r.input_val_top1},
                     {"input_test_top1", r.input_test_top1}, {"val_top1", r.val_top1},
                     {"test_top1", r.test_top1},   {"seconds", r.seconds},
                     {"layers", layers}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: level %.3g x base in %.1f s\n", a.output.c_str(), r.relative_step, r.seconds);
  for (const auto& l : r.layers)
    std::printf("  %-14s step %-10.4g (%.3g rms) %8lld -> %-8lld nonzeros  %.2f bits a code\n", l.name.c_str(),
                static_cast<double>(l.step), l.relative_step, static_cast<long long>(l.kept_before),
                static_cast<long long>(l.kept), l.code_entropy_bits);
  std::printf("  val top-1  %s -> %s\n  test top-1 %s -> %s\n", percent(r.input_val_top1).c_str(),
              percent(r.val_top1).c_str(), percent(r.input_test_top1).c_str(), percent(r.test_top1).c_str());
}
}  // namespace

void add_quantize_command(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  model::QuantizeOptions& q = args->quantize;
  CLI::App* cmd = app.add_subcommand("quantize", "quantisation-aware retraining onto lattices the coder rebuilds exactly");
  cmd->add_option("model", args->model, "model file (deepsz or TorchScript)")->required();
  add_data_options(cmd, args->data);
  cmd->add_option("--max-loss", q.max_loss, "largest val top-1 loss in percentage points (against the dense ancestor when the input records one)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--layers", q.layers, "comma-separated tensors or layers (default: the pruned ones, else every fc and conv weight)")->delimiter(',');
  cmd->add_option("--start", q.start, "finest step of the per-tensor base scan, a fraction of the tensor's rms")->capture_default_str()->check(CLI::Range(1e-4, 100.0));
  cmd->add_option("--growth", q.growth, "step ratio between successive levels")->capture_default_str()->check(CLI::Range(1.01, 4.0));
  cmd->add_option("--levels", q.max_levels, "most levels tried")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--epochs", q.epochs, "retraining epochs at each level")->capture_default_str()->check(CLI::Range(1, 1000));
  add_retraining_options(cmd, q);
  add_model_output_flags(cmd, args->output, args->json, args->quiet);
  cmd->callback([args] { run_quantize(*args); });
}

}  // namespace deepsz::cli
