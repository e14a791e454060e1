// TorchScript and ONNX models through the pipeline: the module's code and
// structure, or the ONNX graph, travel in the .dsz as a zstd-compressed model
// file whose parameters are all zero (docs/PIPELINE.md, "TorchScript input";
// docs/FORMATS.md).
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "pipeline_internal.h"

namespace deepsz::pipeline::detail {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// The archive of a module far larger than any network deepsz handles; a
// frame that claims more is corrupt.
constexpr uint64_t kMaxShellBytes = uint64_t(1) << 32;

std::string temp_model_path(model::FileKind kind) {
  static std::atomic<unsigned> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("deepsz-shell-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
           (kind == model::FileKind::onnx ? ".onnx" : ".pt")))
      .string();
}

struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

}  // namespace

std::string base64_encode(const std::vector<uint8_t>& b) {
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const uint32_t v = uint32_t(b[i]) << 16 | uint32_t(b[i + 1]) << 8 | b[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < b.size()) {
    uint32_t v = uint32_t(b[i]) << 16;
    if (i + 1 < b.size()) v |= uint32_t(b[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<uint8_t> base64_decode(const std::string& t) {
  auto bad = [] { return Error(ErrorCode::corruption_detected, "model container: bad base64 in " + std::string(kTorchScriptKey)); };
  if (t.size() % 4 != 0) throw bad();
  std::vector<uint8_t> out;
  out.reserve(t.size() / 4 * 3);
  for (size_t i = 0; i < t.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = t[i + k];
      int d;
      if (c >= 'A' && c <= 'Z') d = c - 'A';
      else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
      else if (c >= '0' && c <= '9') d = c - '0' + 52;
      else if (c == '+') d = 62;
      else if (c == '/') d = 63;
      else if (c == '=' && i + 4 == t.size() && k >= 2) d = -1;
      else throw bad();
      if (d < 0) {
        ++pad;
        d = 0;
      } else if (pad) {
        throw bad();  // data after padding
      }
      v = v << 6 | uint32_t(d);
    }
    out.push_back(uint8_t(v >> 16));
    if (pad < 2) out.push_back(uint8_t(v >> 8));
    if (pad < 1) out.push_back(uint8_t(v));
  }
  return out;
}

std::string model_shell(const model::Model& m) {
  model::Model shell = m;
  // The container carries the metadata (the decoder sets it on the model):
  // the shell holds the structure only.
  shell.clear_metadata();
  for (const auto& p : shell.parameters()) {
    shell.clear_mask(p.name);
    shell.set_parameter(p.name, std::vector<float>(size_t(p.numel), 0.0f));
  }
  const std::string path = temp_model_path(m.file_kind());
  RemoveOnExit cleanup{path};
  shell.save(path);
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw Error(ErrorCode::io_error, "cannot read back " + path);
  std::vector<uint8_t> z(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress(z.data(), z.size(), raw.data(), raw.size(), 19);
  if (ZSTD_isError(n)) throw Error(ErrorCode::invalid_argument, std::string("zstd: ") + ZSTD_getErrorName(n));
  z.resize(n);
  return base64_encode(z);
}

model::Model model_from_shell(const std::string& value, model::FileKind kind) {
  const std::vector<uint8_t> z = base64_decode(value);
  const unsigned long long size = ZSTD_getFrameContentSize(z.data(), z.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxShellBytes)
    throw Error(ErrorCode::corruption_detected, "model container: bad model archive");
  std::vector<uint8_t> raw(static_cast<size_t>(size));
  const size_t n = ZSTD_decompress(raw.data(), raw.size(), z.data(), z.size());
  if (ZSTD_isError(n) || n != raw.size())
    throw Error(ErrorCode::corruption_detected, "model container: bad model archive");
  const std::string path = temp_model_path(kind);
  RemoveOnExit cleanup{path};
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(raw.data()), std::streamsize(raw.size()));
    if (!out) throw Error(ErrorCode::io_error, "cannot write " + path);
  }
  model::Model m = model::Model::load(path);
  if (m.file_kind() != kind)
    throw Error(ErrorCode::corruption_detected, std::string("model container: the stored model is not ") +
                                                    (kind == model::FileKind::onnx ? "an ONNX model" : "a TorchScript module"));
  return m;
}

}  // namespace deepsz::pipeline::detail
