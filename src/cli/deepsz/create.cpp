// deepsz create: an initialised (untrained) network, e.g. AlexNet or VGG-16 in
// ImageNet shapes for speed and memory measurements.
#include <cstdio>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {
namespace {
struct CreateArgs {
  std::string arch = "alexnet";
  std::string input;  // CxHxW; default: 3x224x224 for alexnet/vgg16, 1x28x28 for the LeNets
  int64_t classes = 0;
  uint64_t seed = 1;
  std::string output;
};

void run_create(const CreateArgs& a) {
  check_output_path(a.output, {});
  model::init_runtime(0);
  const bool imagenet = a.arch == "alexnet" || a.arch == "vgg16";
  model::InputShape in = imagenet ? model::InputShape{3, 224, 224} : model::InputShape{1, 28, 28};
  if (!a.input.empty()) {
    int used = 0;
    if (std::sscanf(a.input.c_str(), "%ldx%ldx%ld%n", &in.channels, &in.rows, &in.cols, &used) != 3 ||
        used != static_cast<int>(a.input.size()) || in.channels < 1 || in.channels > 64 || in.rows < 1 ||
        in.rows > 4096 || in.cols < 1 || in.cols > 4096)
      throw Error(ErrorCode::invalid_argument, "--input must be CxHxW with C in 1..64 and H, W in 1..4096, e.g. 3x224x224");
    // The smallest input each architecture's layers reduce to a nonempty map.
    const int64_t min_side = a.arch == "lenet5" ? 16 : a.arch == "alexnet" ? 63 : a.arch == "vgg16" ? 32 : 1;
    if (in.rows < min_side || in.cols < min_side)
      throw Error(ErrorCode::invalid_argument, "--input " + a.input + " is too small for " + a.arch + " (at least " +
                                                   std::to_string(min_side) + "x" + std::to_string(min_side) + ")");
  }
  if (a.classes < 0 || a.classes > 100000)
    throw Error(ErrorCode::invalid_argument, "--classes must be in 1..100000");
  const int64_t classes = a.classes > 0 ? a.classes : (imagenet ? 1000 : 10);
  model::Model m = model::Model::create(a.arch, in, classes, a.seed);
  m.save(a.output);
  int64_t total = 0;
  for (const auto& p : m.parameters()) total += p.numel;
  std::printf("%s: %s, %lld parameters (initialised, not trained)\n", a.output.c_str(), a.arch.c_str(),
              static_cast<long long>(total));
}
}  // namespace

void add_create_command(CLI::App& app) {
  auto args = std::make_shared<CreateArgs>();
  CLI::App* cmd = app.add_subcommand("create", "write an initialised, untrained network");
  cmd->add_option("--model", args->arch, "lenet300, lenet5, alexnet or vgg16")
      ->check(CLI::IsMember({"lenet300", "lenet5", "alexnet", "vgg16"}))
      ->capture_default_str();
  cmd->add_option("--input", args->input, "input shape CxHxW");
  cmd->add_option("--classes", args->classes, "number of classes");
  cmd->add_option("--seed", args->seed, "seed of the initialisation")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output model file")->required();
  cmd->callback([args] { run_create(*args); });
}

}  // namespace deepsz::cli
