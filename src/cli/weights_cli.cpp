#include "weights_cli.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "deepsz/error.h"
#ifdef DEEPSZ_HAVE_ONNX
#include "deepsz/onnx.h"
#endif

namespace deepsz::cli_common {

namespace {

std::vector<uint8_t> serialize(const interchange::WeightsFile& w) {
  if (w.format == "safetensors") return interchange::serialize_safetensors(w);
#ifdef DEEPSZ_HAVE_ONNX
  if (w.format == "onnx") return interchange::serialize_onnx(w);
#endif
  throw Error(ErrorCode::unsupported_version, "this build cannot write " + w.format + " models (no libonnx-dev at build time)");
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

template <class F>
auto naming_file(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

}  // namespace

std::string weights_format_of_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".safetensors") return "safetensors";
  if (ext == ".onnx") return "onnx";
  return "";
}

interchange::WeightsFile read_weights_file(const std::string& path) {
  const std::string format = weights_format_of_path(path);
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return naming_file(path, [&] {
    if (format == "safetensors") return interchange::parse_safetensors(bytes.data(), bytes.size());
#ifdef DEEPSZ_HAVE_ONNX
    if (format == "onnx") return interchange::parse_onnx(bytes.data(), bytes.size());
#endif
    throw Error(ErrorCode::unsupported_version,
                format.empty() ? "not a .safetensors or .onnx file"
                               : "this build cannot read " + format + " models (no libonnx-dev at build time)");
  });
}

void write_weights_file(const interchange::WeightsFile& w, const std::string& path) {
  const std::string ext = weights_format_of_path(path);
  if (!ext.empty() && ext != w.format)
    throw Error(ErrorCode::invalid_argument, "the .dsz holds " + w.format + " weights: write them to a ." +
                                                 w.format + " file, not " + path);
  const std::vector<uint8_t> bytes = naming_file(path, [&] { return serialize(w); });
  write_file_atomically(path, bytes.data(), bytes.size());
}

void compress_weights_file(const std::string& in, const std::string& out, const interchange::BoundRule& bound,
                           unsigned threads, const std::string& creator, bool quiet) {
  const interchange::WeightsFile w = read_weights_file(in);
  interchange::WeightsOptions o;
  o.bound = bound;
  o.threads = threads;
  o.creator = creator;
  interchange::WeightsReport r;
  const Container c = naming_file(in, [&] { return interchange::compress_weights(w, o, &r); });
  const std::vector<uint8_t> bytes = serialize_container(c);
  write_file_atomically(out, bytes.data(), bytes.size());
  if (quiet) return;
  size_t lossy = 0;
  for (const auto& t : r.tensors) lossy += t.coded_bound > 0;
  const uint64_t before = r.original_bytes + r.frame_bytes;
  std::printf("%s -> %s: %s, %zu tensors (%zu within %s, %zu bit-exact), %llu -> %zu bytes, ratio %.2f\n",
              in.c_str(), out.c_str(), w.format.c_str(), r.tensors.size(), lossy, bound.text().c_str(),
              r.tensors.size() - lossy, (unsigned long long)before, bytes.size(),
              bytes.empty() ? 0.0 : double(before) / double(bytes.size()));
}

void decompress_weights_file(const Container& c, const std::string& in, const std::string& out, unsigned threads,
                             uint64_t max_output_bytes, bool quiet) {
  const interchange::WeightsFile w =
      naming_file(in, [&] { return interchange::decompress_weights(c, threads, max_output_bytes); });
  write_weights_file(w, out);
  if (!quiet) std::printf("%s -> %s: %s, %zu tensors\n", in.c_str(), out.c_str(), w.format.c_str(), w.tensors.size());
}

void print_weights_description(const std::string& path, const nlohmann::json& j, bool json) {
  if (json) {
    nlohmann::json o = j;
    o["file"] = path;
    std::cout << o.dump(2) << "\n";
    return;
  }
  const bool container = j.contains("tensor_bytes_after");
  if (container)
    std::printf("%s: .dsz of %s weights, bound %s, %llu bytes, ratio %.2f\n", path.c_str(),
                j["format"].get<std::string>().c_str(), j["bound"].get<std::string>().c_str(),
                (unsigned long long)j["file_bytes"].get<uint64_t>(), j["ratio"].get<double>());
  else
    std::printf("%s: %s, %zu tensors, %llu bytes (tensors %llu, the rest %llu)\n", path.c_str(),
                j["format"].get<std::string>().c_str(), j["tensors"].size(),
                (unsigned long long)j["file_bytes"].get<uint64_t>(), (unsigned long long)j["tensor_bytes"].get<uint64_t>(),
                (unsigned long long)j["frame_bytes"].get<uint64_t>());
  std::printf("  %-28s %-9s %-16s %12s %12s  %s\n", "name", "dtype", "shape", "bytes", container ? "stored" : "",
              container ? "bound (codec)" : "");
  for (const auto& t : j["tensors"]) {
    const std::string name = t["name"].get<std::string>(), dtype = t["dtype"].get<std::string>();
    const std::string shape = shape_text(t["shape"].get<std::vector<uint64_t>>());
    if (!container) {
      std::printf("  %-28s %-9s %-16s %12llu  %s\n", name.c_str(), dtype.c_str(), shape.c_str(),
                  (unsigned long long)t["bytes"].get<uint64_t>(), t["coded"].get<std::string>().c_str());
      continue;
    }
    const double bound = t["bound"].get<double>();
    char how[96];
    if (t["codec"] == "lossless")
      std::snprintf(how, sizeof how, "bit-exact (lossless)");
    else
      std::snprintf(how, sizeof how, "%.4g (dsz%s, coded at %.4g)", bound, t["sparse"].get<bool>() ? " sparse" : "",
                    t["coded_bound"].get<double>());
    std::printf("  %-28s %-9s %-16s %12llu %12llu  %s\n", name.c_str(), dtype.c_str(), shape.c_str(),
                (unsigned long long)t["bytes_before"].get<uint64_t>(),
                (unsigned long long)t["bytes_after"].get<uint64_t>(), how);
  }
  if (container)
    std::printf("  %-28s %-9s %-16s %12llu %12llu  bit-exact (lossless)\n", "(the rest of the file)", "", "",
                (unsigned long long)j["frame_bytes_before"].get<uint64_t>(),
                (unsigned long long)j["frame_bytes_after"].get<uint64_t>());
}

bool describe_weights_path(const std::string& path, bool json) {
  if (!weights_format_of_path(path).empty()) {
    const interchange::WeightsFile w = read_weights_file(path);
    print_weights_description(path, interchange::describe_weights_file(w, std::filesystem::file_size(path)), json);
    return true;
  }
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  if (bytes.size() < 8 || bytes[0] != 0x89 || bytes[1] != 'D') return false;
  const Container c = naming_file(path, [&] { return parse_container(bytes.data(), bytes.size()); });
  if (!interchange::is_weights_container(c)) return false;
  print_weights_description(path, naming_file(path, [&] { return interchange::describe_weights_container(c, bytes.size()); }),
                            json);
  return true;
}

}  // namespace deepsz::cli_common
