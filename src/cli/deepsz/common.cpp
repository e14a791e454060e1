#include "common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "deepsz/error.h"
#include "deepsz/model/runtime.h"

namespace deepsz::cli {

void add_data_options(CLI::App* cmd, DataOptions& o) {
  cmd->add_option("--data", o.dir, "directory of MNIST-format IDX files (gzipped or not)")->capture_default_str();
  cmd->add_option("--val", o.val, "validation images carved from the training set (default: the model's, else 5000)");
  cmd->add_option("--threads", o.threads, "intra-op threads (default: all cores)");
  cmd->add_option_function<double>("--mean", [&o](double v) { o.mean = v; o.mean_set = true; },
                                   "normalise pixels: (x/255 - mean) / std");
  cmd->add_option_function<double>("--std", [&o](double v) { o.std = v; o.std_set = true; },
                                   "normalise pixels: (x/255 - mean) / std");
}

model::Dataset load_data_for(const DataOptions& o, const model::Model* m) {
  int64_t val = o.val;
  if (val < 0 && m) {
    std::string rec = m->metadata(model::meta::val_images);
    if (!rec.empty()) val = std::stoll(rec);
  }
  if (val < 0) val = model::kDefaultValidationImages;
  return model::load_dataset(o.dir, val);
}

void apply_preprocessing(const DataOptions& o, model::Model& m) {
  if (!o.mean_set && !o.std_set) return;
  model::Preprocessing p = m.preprocessing();
  if (o.mean_set) p.mean = o.mean;
  if (o.std_set) p.std = o.std;
  m.set_preprocessing(p);
}

void check_output_path(const std::string& output, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  for (const auto& in : inputs) {
    std::error_code ec;
    bool same = fs::weakly_canonical(output, ec) == fs::weakly_canonical(in, ec);
    if (!same && fs::exists(output, ec)) same = fs::equivalent(output, in, ec);
    if (same) throw Error(ErrorCode::invalid_argument, "output " + output + " is the input " + in);
  }
  fs::path p(output);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::io_error, "output directory " + dir.string() + " does not exist");
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

}  // namespace deepsz::cli
