// deepsz decompress: a .dsz model back into a model file.
#ifdef DEEPSZ_HAVE_PIPELINE
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/model/runtime.h"
#include "deepsz/container.h"
#include "deepsz/interchange.h"
#include "deepsz/pipeline/pipeline.h"
#include "weights_cli.h"

namespace deepsz::cli {
namespace {
struct DecompressArgs {
  std::string input, output;
  int threads = 0;
  bool quiet = false;
};

void run_decompress(const DecompressArgs& a) {
  model::init_runtime(a.threads);
  check_output_path(a.output, {a.input});
  const std::string format = cli_common::weights_format_of_path(a.output);
  auto t0 = std::chrono::steady_clock::now();
  const Container c = read_container_file(a.input);
  if (interchange::is_weights_container(c) || format == "safetensors") {
    // A .dsz of safetensors or ONNX weights: no network, no libtorch work.
    if (!interchange::is_weights_container(c))
      throw Error(ErrorCode::invalid_argument, a.input + " holds a deepsz model, not safetensors weights: "
                                                         "give -o a model file (.pt, or .onnx for an ONNX model)");
    cli_common::decompress_weights_file(c, a.input, a.output, unsigned(std::max(1, a.threads)), kDefaultMaxDecodedBytes,
                                        a.quiet);
    return;
  }
  // The file is written in the model's own format: the name must say it.
  const model::FileKind kind = pipeline::decompressed_kind(c);
  if ((kind == model::FileKind::onnx) != (format == "onnx"))
    throw Error(ErrorCode::invalid_argument,
                a.input + " holds " + (kind == model::FileKind::onnx ? "an ONNX model: give -o a .onnx file"
                                                                     : "a deepsz or TorchScript model: give -o a .pt file"));
  const pipeline::DecompressedFile f = pipeline::decompress_model_to_file(
      c, a.output, static_cast<unsigned>(std::max(1, model::runtime_threads())));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet)
    std::printf("%s -> %s: %s, %zu tensors (%zu masked) in %.2f s\n", a.input.c_str(), a.output.c_str(),
                f.architecture.c_str(), f.tensors, f.masked, secs);
}
}  // namespace

void add_decompress_command(CLI::App& app) {
  auto args = std::make_shared<DecompressArgs>();
  CLI::App* cmd = app.add_subcommand("decompress", "rebuild a model file from a .dsz model");
  cmd->add_option("input", args->input, ".dsz model written by deepsz compress")->required();
  cmd->add_option("--threads", args->threads, "decoding threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_flag("-q,--quiet", args->quiet, "print nothing");
  cmd->add_option("-o,--output", args->output, "output model file (.pt; .onnx for an ONNX model; .safetensors or .onnx for a .dsz of those weights)")->required();
  cmd->callback([args] { run_decompress(*args); });
}

}  // namespace deepsz::cli
#endif  // DEEPSZ_HAVE_PIPELINE
