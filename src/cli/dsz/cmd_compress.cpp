// dsz compress (--abs EB | --rel R) [--predictor P] [--threads N] [--sparse]
//              [--codec dsz|zfp|lossless] IN.f32 OUT.dsz
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.h"
#include "deepsz/container.h"

namespace dsz {

namespace {

struct CompressArgs {
  std::string in, out;
  double abs = -1, rel = -1;
  std::string predictor = "auto";
  std::string codec = "dsz";
  unsigned threads = 1;
  bool sparse = false;
  std::string index = "context";
};

void run_compress(const CompressArgs& a, bool have_abs, bool have_rel) {
  if (have_abs == have_rel) throw UsageError("give exactly one of --abs and --rel");
  if (have_abs) checked_bound(a.abs, "--abs");
  if (have_rel) checked_bound(a.rel, "--rel");
  checked_threads(a.threads);
  check_distinct(a.in, a.out);
  if (std::filesystem::is_directory(a.out))
    throw UsageError("output '" + a.out + "' is a directory");

  const std::vector<float> data = read_f32_file(a.in);
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
                  "(one tensor named after the file, shape [count])");
  auto* abs = cmd->add_option("--abs", args->abs, "absolute error bound (>= 0; 0 = lossless)");
  auto* rel = cmd->add_option("--rel", args->rel, "error bound relative to max - min of the data");
  abs->excludes(rel);
  cmd->add_option("--predictor", args->predictor, "auto, none or lorenzo")
      ->check(CLI::IsMember({"auto", "none", "lorenzo"}));
  cmd->add_option("--codec", args->codec, "value codec: dsz (default), zfp or lossless")
      ->check(CLI::IsMember({"dsz", "zfp", "lossless"}));
  cmd->add_option("--threads", args->threads, "threads (1..1024; the output does not depend on it)");
  cmd->add_flag("--sparse", args->sparse, "store the positions of the nonzeros and their values");
  cmd->add_option("--index", args->index, "index coding with --sparse: context (default) or gap8")
      ->check(CLI::IsMember({"context", "gap8"}));
  cmd->add_option("IN", args->in, "raw float32 input")->required();
  cmd->add_option("OUT", args->out, ".dsz output")->required();
  cmd->callback([args, abs, rel] { run_compress(*args, abs->count() > 0, rel->count() > 0); });
}

}  // namespace dsz
