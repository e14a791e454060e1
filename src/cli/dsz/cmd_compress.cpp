// dsz compress (--abs EB | --rel R) [--predictor P] [--threads N] [--sparse]
//              [--codec dsz|zfp|lossless] IN.f32 OUT.dsz
// dsz compress (--abs EB | --rel R | --rel-rms R) [--threads N] MODEL.safetensors|MODEL.onnx OUT.dsz:
// the weights-only path (docs/FORMATS.md), every float tensor within the bound.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/interchange.h"
#include "weights_cli.h"

namespace dsz {

namespace {

struct CompressArgs {
  std::string in, out;
  double abs = -1, rel = -1, rel_rms = -1;
  std::string predictor = "auto";
  std::string codec = "dsz";
  unsigned threads = 1;
  bool sparse = false;
  std::string index = "context";
};

void compress_weights(const CompressArgs& a, bool have_abs, bool have_rel) {
  if (a.codec != "dsz" || a.sparse || a.predictor != "auto" || a.index != "context")
    throw UsageError("--codec, --sparse, --predictor and --index apply to raw float32 input only");
  using Kind = deepsz::interchange::BoundRule::Kind;
  deepsz::interchange::BoundRule rule;
  rule.kind = have_abs ? Kind::absolute : have_rel ? Kind::relative_range : Kind::relative_rms;
  rule.value = have_abs ? a.abs : have_rel ? a.rel : a.rel_rms;
  deepsz::cli_common::compress_weights_file(a.in, a.out, rule, a.threads, "dsz", false);
}

void run_compress(const CompressArgs& a, bool have_abs, bool have_rel, bool have_rms) {
  if (int(have_abs) + int(have_rel) + int(have_rms) != 1)
    throw UsageError("give exactly one of --abs, --rel and --rel-rms");
  if (have_abs) checked_bound(a.abs, "--abs");
  if (have_rel) checked_bound(a.rel, "--rel");
  if (have_rms) checked_bound(a.rel_rms, "--rel-rms");
  checked_threads(a.threads);
  check_distinct(a.in, a.out);
  if (std::filesystem::is_directory(a.out))
    throw UsageError("output '" + a.out + "' is a directory");
  if (!deepsz::cli_common::weights_format_of_path(a.in).empty()) return compress_weights(a, have_abs, have_rel);
  if (have_rms) throw UsageError("--rel-rms applies to .safetensors and .onnx input");

  const F32Array data = read_f32_array(a.in, a.threads);
  deepsz::TensorEncodeOptions o;
  o.codec = a.codec == "zfp"        ? deepsz::ValueCodec::zfp
            : a.codec == "lossless" ? deepsz::ValueCodec::lossless
                                    : deepsz::ValueCodec::dsz;
  o.abs_error_bound =
      have_abs ? a.abs : deepsz::absolute_bound_from_relative(data.data(), data.size(), a.rel);
  if (o.codec == deepsz::ValueCodec::lossless) o.abs_error_bound = 0.0;
  if (o.codec == deepsz::ValueCodec::zfp && !(o.abs_error_bound > 0.0))
    throw UsageError("--codec zfp needs a bound > 0");
  o.predictor = parse_predictor(a.predictor);
  o.threads = a.threads;
  o.sparse = a.sparse;
  o.index_coding = a.index == "gap8" ? deepsz::IndexCoding::gap8_zstd : deepsz::IndexCoding::context;

  std::string name = std::filesystem::path(a.in).stem().string();
  if (name.empty() || !deepsz::is_valid_utf8(name) || name.size() > deepsz::kMaxTensorNameBytes)
    name = "data";
  deepsz::Container c;
  c.set_meta("creator", "dsz");
  c.tensors.push_back(deepsz::encode_tensor(name, {uint64_t(data.size())}, data.data(), o));
  const std::vector<uint8_t> bytes = deepsz::serialize_container(c);
  deepsz::write_file_atomically(a.out, bytes.data(), bytes.size());
  const double ratio = bytes.empty() ? 0.0 : double(data.size()) * 4.0 / double(bytes.size());
  std::printf("%s: %zu values, bound %.6g, %zu -> %zu bytes, ratio %.2f\n", a.in.c_str(),
              data.size(), o.abs_error_bound, data.size() * 4, bytes.size(), ratio);
}

}  // namespace

void add_compress_command(CLI::App& app) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compress", "Compress a raw little-endian float32 file into a .dsz container "
                  "(one tensor named after the file, shape [count]), or the weights of a .safetensors or .onnx "
                  "model (every float tensor within the bound, the rest bit-exact)");
  auto* abs = cmd->add_option("--abs,--bound", args->abs, "absolute error bound (>= 0; 0 = lossless)");
  auto* rel = cmd->add_option("--rel", args->rel, "error bound relative to max - min of the data (of each tensor)");
  auto* rms = cmd->add_option("--rel-rms", args->rel_rms,
                              "models only: each tensor's bound is this times the rms of its values");
  abs->excludes(rel);
  abs->excludes(rms);
  rel->excludes(rms);
  cmd->add_option("--predictor", args->predictor, "auto, none or lorenzo")
      ->check(CLI::IsMember({"auto", "none", "lorenzo"}));
  cmd->add_option("--codec", args->codec, "value codec: dsz (default), zfp or lossless")
      ->check(CLI::IsMember({"dsz", "zfp", "lossless"}));
  cmd->add_option("--threads", args->threads, "threads (1..1024; the output does not depend on it)");
  cmd->add_flag("--sparse", args->sparse, "store the positions of the nonzeros and their values");
  cmd->add_option("--index", args->index, "index coding with --sparse: context (default) or gap8")
      ->check(CLI::IsMember({"context", "gap8"}));
  cmd->add_option("IN", args->in, "raw float32 input, or a .safetensors or .onnx model")->required();
  cmd->add_option("OUT", args->out, ".dsz output")->required();
  cmd->callback([args, abs, rel, rms] { run_compress(*args, abs->count() > 0, rel->count() > 0, rms->count() > 0); });
}

}  // namespace dsz
