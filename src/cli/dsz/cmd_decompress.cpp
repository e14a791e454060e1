// dsz decompress IN.dsz OUT [--tensor NAME] [--threads N] [--max-memory SIZE]
// OUT is a raw float32 file, or an existing directory that receives
// NAME.f32 for every tensor; for a .dsz of safetensors or ONNX weights, a
// file OUT is the model file again (docs/FORMATS.md).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/interchange.h"
#include "weights_cli.h"

namespace dsz {

namespace {

namespace fs = std::filesystem;

struct DecompressArgs {
  std::string in, out, tensor, max_memory;
  unsigned threads = 1;
};

std::string tensor_list(const deepsz::Container& c) {
  std::string s;
  for (size_t i = 0; i < c.tensors.size() && i < 10; ++i) s += (i ? ", " : "") + c.tensors[i].name;
  if (c.tensors.size() > 10) s += ", ...";
  return s;
}

void run_decompress(const DecompressArgs& a) {
  checked_threads(a.threads);
  const uint64_t max_bytes = parse_memory_limit(a.max_memory);
  check_distinct(a.in, a.out);
  const deepsz::Container c = deepsz::read_container_file(a.in);
  const bool to_directory = fs::is_directory(a.out);
  if (deepsz::interchange::is_weights_container(c) && !to_directory && a.tensor.empty()) {
    deepsz::cli_common::decompress_weights_file(c, a.in, a.out, a.threads, max_bytes, false);
    return;
  }

  std::vector<const deepsz::TensorEntry*> chosen;
  if (!a.tensor.empty()) {
    const deepsz::TensorEntry* t = c.find(a.tensor);
    if (!t)
      throw deepsz::Error(deepsz::ErrorCode::invalid_argument,
                          a.in + " has no tensor named '" + a.tensor + "' (it has: " +
                              tensor_list(c) + ")");
    chosen.push_back(t);
  } else if (c.tensors.size() == 1 || to_directory) {
    for (const auto& t : c.tensors) chosen.push_back(&t);
  } else if (c.tensors.empty()) {
    throw deepsz::Error(deepsz::ErrorCode::invalid_argument, a.in + " holds no tensor");
  } else {
    throw UsageError(a.in + " holds " + std::to_string(c.tensors.size()) +
                     " tensors: give --tensor NAME, or an existing directory as OUT");
  }

  if (!to_directory) {
    const uint64_t n = write_tensor_f32_file(*chosen[0], a.out, a.threads, max_bytes);
    std::printf("%s -> %s: %llu values\n", chosen[0]->name.c_str(), a.out.c_str(), (unsigned long long)n);
    return;
  }
  // One file per tensor; names made unique after sanitising. On failure the
  // files of this run are removed again.
  std::map<std::string, int> used;
  std::vector<std::string> written;
  try {
    for (const auto* t : chosen) {
      std::string base = sanitise_file_name(t->name);
      std::string file = base + ".f32";
      while (used.count(file)) file = base + "_" + std::to_string(++used[base + ".f32"]) + ".f32";
      used[file];
      const std::string path = (fs::path(a.out) / file).string();
      check_distinct(a.in, path);
      const uint64_t n = write_tensor_f32_file(*t, path, a.threads, max_bytes);
      written.push_back(path);
      std::printf("%s -> %s: %llu values\n", t->name.c_str(), path.c_str(), (unsigned long long)n);
    }
  } catch (...) {
    for (const auto& p : written) std::remove(p.c_str());
    throw;
  }
}

}  // namespace

void add_decompress_command(CLI::App& app) {
  auto args = std::make_shared<DecompressArgs>();
  CLI::App* cmd = app.add_subcommand(
      "decompress", "Decode a .dsz container into raw little-endian float32 (dense, row-major)");
  cmd->add_option("--tensor", args->tensor, "the tensor to decode (required if there are several "
                                            "and OUT is not a directory)");
  cmd->add_option("--threads", args->threads, "threads (1..1024)");
  cmd->add_option("--max-memory", args->max_memory,
                  "refuse a tensor whose dense output is larger (e.g. 512M, 64G, none; "
                  "default: 16G or the physical memory if smaller)");
  cmd->add_option("IN", args->in, ".dsz input")->required();
  cmd->add_option("OUT", args->out,
                  "raw float32 output, or an existing directory; the model file for a .dsz of safetensors or ONNX weights")
      ->required();
  cmd->callback([args] { run_decompress(*args); });
}

}  // namespace dsz
