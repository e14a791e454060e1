// dsz inspect FILE.dsz [--json]: metadata and, per tensor, its coding and
// what it costs (bytes, ratio, bits per stored value, density).
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/interchange.h"
#include "weights_cli.h"

namespace dsz {

namespace {

struct InspectArgs {
  std::string file;
  bool json = false;
};

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

nlohmann::json describe(const deepsz::TensorEntry& t) {
  const uint64_t n = t.element_count();
  const uint64_t index_bytes = t.index_stream.size(), value_bytes = t.value_stream.size();
  // Stored values: the nonzeros of a sparse tensor, every element otherwise.
  uint64_t stored = n;
  if (t.sparse && n > 0) stored = deepsz::sparse_index_count(t.index_stream.data(), index_bytes);
  nlohmann::json j;
  j["name"] = t.name;
  j["dtype"] = "float32";
  j["shape"] = t.shape;
  j["elements"] = n;
  j["codec"] = deepsz::value_codec_name(t.value_codec);
  j["error_bound"] = t.error_bound;
  j["sparse"] = t.sparse;
  j["stored_values"] = stored;
  j["density"] = n ? double(stored) / double(n) : 0.0;
  j["index_bytes"] = index_bytes;
  j["value_bytes"] = value_bytes;
  j["ratio"] = index_bytes + value_bytes ? double(n) * 4.0 / double(index_bytes + value_bytes) : 0.0;
  j["index_bits_per_nonzero"] = stored ? double(index_bytes) * 8.0 / double(stored) : 0.0;
  j["value_bits_per_nonzero"] = stored ? double(value_bytes) * 8.0 / double(stored) : 0.0;
  if (t.sparse && n > 0)
    j["index_coding"] = deepsz::index_coding_name(deepsz::IndexCoding(t.index_stream[0]));
  if (t.value_codec == deepsz::ValueCodec::dsz && value_bytes > 0) {
    const deepsz::FloatStreamInfo info = deepsz::inspect_float_stream(t.value_stream.data(), value_bytes);
    j["predictor"] = deepsz::predictor_name(info.predictor);
    j["chunks"] = info.chunks;
    j["exact_values"] = info.exact_values;
  }
  return j;
}

void run_inspect(const InspectArgs& a) {
  if (!deepsz::cli_common::weights_format_of_path(a.file).empty()) {
    deepsz::cli_common::describe_weights_path(a.file, a.json);
    return;
  }
  const std::vector<uint8_t> bytes = deepsz::read_file_bytes(a.file);
  deepsz::Container c;
  try {
    c = deepsz::parse_container(bytes.data(), bytes.size());
  } catch (const deepsz::Error& e) {
    throw deepsz::Error(e.code(), a.file + ": " + e.what());
  }
  nlohmann::json j;
  j["file"] = a.file;
  j["file_bytes"] = bytes.size();
  j["format_version"] = deepsz::kContainerVersion;
  j["metadata"] = nlohmann::json::object();
  for (const auto& kv : c.metadata) j["metadata"][kv.first] = kv.second;
  j["tensors"] = nlohmann::json::array();
  uint64_t elements = 0, stream_bytes = 0;
  for (const auto& t : c.tensors) {
    j["tensors"].push_back(describe(t));
    elements += t.element_count();
    stream_bytes += t.index_stream.size() + t.value_stream.size();
  }
  j["elements"] = elements;
  // What the container costs beyond the streams: header, directory, metadata.
  const uint64_t container_bytes = bytes.size() - stream_bytes;
  j["container_bytes"] = container_bytes;
  j["ratio"] = bytes.empty() ? 0.0 : double(elements) * 4.0 / double(bytes.size());
  nlohmann::json weights;
  if (deepsz::interchange::is_weights_container(c)) {
    try {
      weights = deepsz::interchange::describe_weights_container(c, bytes.size());
    } catch (const deepsz::Error& e) {
      throw deepsz::Error(e.code(), a.file + ": " + e.what());
    }
    j["weights"] = weights;
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("%s: .dsz version %u, %zu bytes (container %llu), %zu tensors, %llu elements, "
              "ratio %.2f\n",
              a.file.c_str(), deepsz::kContainerVersion, bytes.size(),
              (unsigned long long)container_bytes, c.tensors.size(), (unsigned long long)elements,
              j["ratio"].get<double>());
  for (const auto& kv : c.metadata) std::printf("  meta %s = %s\n", kv.first.c_str(), kv.second.c_str());
  for (const auto& t : j["tensors"]) {
    std::printf("  %s %s %s%s bound %.3g: index %llu B, values %llu B, ratio %.2f, density %.4f, "
                "bits/nonzero index %.2f values %.2f\n",
                t["name"].get<std::string>().c_str(),
                shape_text(t["shape"].get<std::vector<uint64_t>>()).c_str(),
                t["codec"].get<std::string>().c_str(),
                t["sparse"].get<bool>() ? " sparse" : "", t["error_bound"].get<double>(),
                (unsigned long long)t["index_bytes"].get<uint64_t>(),
                (unsigned long long)t["value_bytes"].get<uint64_t>(), t["ratio"].get<double>(),
                t["density"].get<double>(), t["index_bits_per_nonzero"].get<double>(),
                t["value_bits_per_nonzero"].get<double>());
  }
  if (!weights.is_null()) deepsz::cli_common::print_weights_description(a.file, weights, false);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show the metadata and tensors of a .dsz file, or the tensors of a .safetensors or .onnx file");
  cmd->add_flag("--json", args->json, "print JSON instead of text");
  cmd->add_option("FILE", args->file, ".dsz, .safetensors or .onnx file")->required();
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace dsz
