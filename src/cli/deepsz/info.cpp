// deepsz info: layers, shapes, parameter counts and densities of a model file.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/model/runtime.h"
#include "weights_cli.h"

namespace deepsz::cli {
namespace {
struct InfoArgs {
  std::string model;
  bool json = false;
};

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

void run_info(const InfoArgs& a) {
  if (cli_common::describe_weights_path(a.model, a.json)) return;  // .safetensors, .onnx, .dsz of their weights
  model::init_runtime(1);
  check_model_file(a.model);
  model::Model m = model::Model::load(a.model);
  nlohmann::json layers = nlohmann::json::array();
  int64_t total = 0;
  for (const auto& p : m.parameters()) {
    int64_t kept = m.has_mask(p.name) ? 0 : m.nonzeros(p.name);
    if (m.has_mask(p.name))
      for (uint8_t b : m.mask(p.name)) kept += b != 0;
    total += p.numel;
    layers.push_back({{"name", p.name},
                      {"kind", model::param_kind_name(p.kind)},
                      {"shape", p.shape},
                      {"params", p.numel},
                      {"nonzeros", kept},
                      {"density", p.numel ? static_cast<double>(kept) / static_cast<double>(p.numel) : 0.0},
                      {"masked", m.has_mask(p.name)}});
  }
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["format"] = m.file_kind() == model::FileKind::native ? "deepsz" : m.file_kind() == model::FileKind::onnx ? "onnx" : "torchscript";
    j["architecture"] = m.architecture();
    j["params"] = total;
    j["layers"] = layers;
    j["metadata"] = m.metadata();
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s: %s (%s file), %lld parameters\n", a.model.c_str(), m.architecture().c_str(),
              m.file_kind() == model::FileKind::native ? "deepsz" : m.file_kind() == model::FileKind::onnx ? "ONNX" : "TorchScript",
              static_cast<long long>(total));
  std::printf("%-16s %-12s %-16s %12s %9s\n", "name", "kind", "shape", "params", "density");
  for (const auto& l : layers)
    std::printf("%-16s %-12s %-16s %12lld %8.3f%%%s\n", l["name"].get<std::string>().c_str(),
                l["kind"].get<std::string>().c_str(), shape_text(l["shape"].get<std::vector<int64_t>>()).c_str(),
                static_cast<long long>(l["params"].get<int64_t>()), 100.0 * l["density"].get<double>(),
                l["masked"].get<bool>() ? " (masked)" : "");
  for (const auto& [k, v] : m.metadata()) std::printf("  %s = %s\n", k.c_str(), v.c_str());
}
}  // namespace

void add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "describe a model file");
  cmd->add_option("model", args->model, "model file (deepsz, TorchScript, .safetensors, .onnx, or a .dsz of their weights)")->required();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args] { run_info(*args); });
}

}  // namespace deepsz::cli
