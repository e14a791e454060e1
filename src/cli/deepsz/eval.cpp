// deepsz eval: top-1 / top-5 accuracy and throughput of a model file.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {
namespace {
struct EvalArgs {
  DataOptions data;
  std::string model;
  std::string split = "test";
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  auto [m, data] = open_model_and_data(a.model, a.data);
  model::Split split = model::parse_split(a.split);
  model::Evaluator ev(m, data);
  model::Evaluation r = ev.evaluate(split);
  const double ips = r.seconds > 0 ? static_cast<double>(r.images()) / r.seconds : 0.0;
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["split"] = a.split;
    j["images"] = r.images();
    j["top1"] = r.top1_rate();
    j["top5"] = r.top5.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.top5_rate());
    j["seconds"] = r.seconds;
    j["images_per_second"] = ips;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s on %s (%lld images): top-1 %s", a.model.c_str(), a.split.c_str(),
                static_cast<long long>(r.images()), percent(r.top1_rate()).c_str());
    if (!r.top5.empty()) std::printf(", top-5 %s", percent(r.top5_rate()).c_str());
    std::printf(", %.0f images/s\n", ips);
  }
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "measure the accuracy of a model");
  cmd->add_option("model", args->model, "model file (deepsz or TorchScript)")->required();
  add_data_options(cmd, args->data);
  cmd->add_option("--split", args->split, "val or test")->check(CLI::IsMember({"val", "test", "train"}))->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace deepsz::cli
