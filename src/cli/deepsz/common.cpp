#include "common.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "deepsz/error.h"
#include "deepsz/html_report.h"
#include "deepsz/model/runtime.h"
#include "report_files.h"

namespace deepsz::cli {

void add_data_options(CLI::App* cmd, DataOptions& o) {
  cmd->add_option("--data", o.dir, "data directory: MNIST-format IDX files (gzipped or not) or train-/test-images.npy and -labels.npy")->capture_default_str();
  cmd->add_option("--val", o.val,
                  "selection (validation) images carved from the training files: every decision is made on them "
                  "(default: the model's split, else 5000)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 32));
  cmd->add_option("--cert", o.cert,
                  "certification images carved from the training files, used only to accept or refuse a finished "
                  "model (default: the model's split, else 10000; 0: none, the uncertified rule)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 32));
  cmd->add_option("--split-seed", o.split_seed, "seed of the permutation that carves both splits (default: the model's, else 1)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  cmd->add_option("--threads", o.threads, "intra-op threads, 1..1024 (default: all cores)")->check(CLI::Range(1, 1024));
  auto finite = [](const char* name, double v) {
    if (!std::isfinite(v)) throw CLI::ValidationError(name, "must be a finite number");
  };
  cmd->add_option_function<double>("--mean", [&o, finite](double v) { finite("--mean", v); o.mean = v; o.mean_set = true; },
                                   "normalise pixels: (x/255 - mean) / std");
  cmd->add_option_function<double>("--std", [&o, finite](double v) {
        finite("--std", v);
        if (!(v > 0)) throw CLI::ValidationError("--std", "must be > 0");
        o.std = v;
        o.std_set = true;
      }, "normalise pixels: (x/255 - mean) / std, std > 0");
}

model::Dataset load_data_for(const DataOptions& o, const model::Model* m) {
  model::SplitSpec spec;
  const std::string recorded = m ? m->metadata(model::meta::data_split) : "";
  if (!recorded.empty()) spec = model::parse_split_record(recorded);
  if (o.val >= 0) spec.selection = o.val;
  if (o.cert >= 0) spec.certification = o.cert;
  if (o.split_seed > 0) spec.seed = o.split_seed;
  int64_t val = spec.selection;
  if (val < 0 && m) {
    std::string rec = m->metadata(model::meta::val_images);
    if (!rec.empty()) {
      try {
        size_t used = 0;
        val = std::stoll(rec, &used);
        if (used != rec.size() || val < 0) val = -1;
      } catch (const std::exception&) {
        val = -1;
      }
    }
  }
  spec.selection = val;
  model::Dataset data = model::load_dataset(o.dir, spec);
  if (m) {
    // A model of other input size or fewer classes fails inside libtorch with
    // a page of C++ frames: say it in one line instead.
    const model::InputShape in = m->input_shape();
    const bool known = m->file_kind() == model::FileKind::native;
    if (known && (in.channels != data.test.channels || in.rows != data.test.rows || in.cols != data.test.cols))
      throw Error(ErrorCode::invalid_argument,
                  o.dir + " holds " + std::to_string(data.test.channels) + "x" + std::to_string(data.test.rows) +
                      "x" + std::to_string(data.test.cols) + " images, the model expects " +
                      std::to_string(in.channels) + "x" + std::to_string(in.rows) + "x" + std::to_string(in.cols));
    if (known && m->num_classes() > 0 && data.num_classes > m->num_classes())
      throw Error(ErrorCode::invalid_argument, o.dir + " has labels up to " + std::to_string(data.num_classes - 1) +
                                                   ", the model has " + std::to_string(m->num_classes()) +
                                                   " classes");
  }
  return data;
}

void apply_preprocessing(const DataOptions& o, model::Model& m) {
  if (!o.mean_set && !o.std_set) return;
  model::Preprocessing p = m.preprocessing();
  if (o.mean_set) p.mean = o.mean;
  if (o.std_set) p.std = o.std;
  m.set_preprocessing(p);
}

void check_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw Error(ErrorCode::io_error, "cannot open " + path + ": no such file");
  if (fs::is_directory(st)) throw Error(ErrorCode::io_error, "cannot read " + path + ": a directory, not a model file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(ErrorCode::io_error, "cannot open " + path);
  unsigned char head[8] = {0};
  const size_t got = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  if (got == 0) throw Error(ErrorCode::truncated, path + ": empty file, not a model");
  static const unsigned char kDszMagic[8] = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1a, '\n'};
  if (got == 8 && std::memcmp(head, kDszMagic, 8) == 0)
    throw Error(ErrorCode::foreign_format,
                path + " is a .dsz container, not a model file: rebuild the model with `deepsz decompress` first");
}

void check_output_path(const std::string& output, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  for (const auto& in : inputs) {
    std::error_code ec;
    bool same = fs::weakly_canonical(output, ec) == fs::weakly_canonical(in, ec);
    if (!same && fs::exists(output, ec)) same = fs::equivalent(output, in, ec);
    if (same) throw Error(ErrorCode::invalid_argument, "output " + output + " is the input " + in);
  }
  if (output.empty()) throw Error(ErrorCode::invalid_argument, "the output path is empty");
  fs::path p(output);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::io_error, "output directory " + dir.string() + " does not exist");
  // Outputs are renamed into place: that would replace a directory's entry,
  // a device (/dev/full, /dev/null) or a FIFO by a regular file.
  const fs::file_status st = fs::status(p, ec);
  if (fs::is_directory(st)) throw Error(ErrorCode::invalid_argument, "output " + output + " is a directory");
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw Error(ErrorCode::invalid_argument, "output " + output + " is not a regular file");
}

void log_line(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string percent(double fraction, int decimals) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(decimals);
  o << 100.0 * fraction << "%";
  return o.str();
}

model::ProgressFn progress_printer(const std::string& label) {
  const bool tty = isatty(2) != 0;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [tty, last, label](const model::TrainProgress& p) {
    auto now = std::chrono::steady_clock::now();
    char buf[256];
    if (tty) {
      if (!p.epoch_done && now - *last < std::chrono::milliseconds(100)) return;
      *last = now;
      const int width = 24;
      int filled = static_cast<int>(width * p.batch / std::max<int64_t>(1, p.batches));
      std::string bar(static_cast<size_t>(filled), '#');
      bar += std::string(static_cast<size_t>(width - filled), '.');
      std::snprintf(buf, sizeof buf, "\r%s epoch %d/%d [%s] %lld/%lld loss %.4f %.0f img/s\033[K", label.c_str(),
                    p.epoch, p.epochs, bar.c_str(), static_cast<long long>(p.batch),
                    static_cast<long long>(p.batches), p.loss, p.images_per_second);
      std::fputs(buf, stderr);
      if (p.epoch_done) std::fputs("\n", stderr);
      std::fflush(stderr);
    } else if (p.epoch_done) {
      std::snprintf(buf, sizeof buf, "%s epoch %d/%d: %lld batches, loss %.4f, %.0f img/s", label.c_str(), p.epoch,
                    p.epochs, static_cast<long long>(p.batches), p.loss, p.images_per_second);
      log_line(buf);
    }
  };
}

namespace {
std::string& command_line_store() {
  static std::string s;
  return s;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string& s = command_line_store();
  s.clear();
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i == 0) a = std::filesystem::path(a).filename().string();
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (!plain) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    s += (i ? " " : "") + a;
  }
}

const std::string& command_line() { return command_line_store(); }

void add_model_output_flags(CLI::App* cmd, std::string& output, bool& json, bool& quiet) {
  cmd->add_flag("--json", json, "print the report as one JSON object");
  cmd->add_flag("-q,--quiet", quiet, "no progress output");
  cmd->add_option("-o,--output", output, "output model file")->required();
}

void write_html_report(const std::string& report_json, const std::string& html_path, const std::string& plots_dir) {
  if (html_path.empty() && plots_dir.empty()) return;
  const report::RenderedReport page = report::render_report(report_json);
  cli_common::write_report_files(page, html_path, plots_dir);
}

ModelAndData open_model_and_data(const std::string& model_path, const DataOptions& o,
                                 const std::vector<std::string>& outputs, model::Model::MaskLoading masks) {
  model::init_runtime(o.threads);
  check_model_file(model_path);
  std::vector<std::string> inputs = {model_path};
  for (const std::string& out : outputs) {
    if (out.empty()) continue;
    check_output_path(out, inputs);
    inputs.push_back(out);
  }
  ModelAndData r;
  r.model = model::Model::load(model_path, masks);
  apply_preprocessing(o, r.model);
  r.data = load_data_for(o, &r.model);
  return r;
}

}  // namespace deepsz::cli
