// Shared helpers of the deepsz subcommands (torch-free).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "deepsz/model/data.h"
#include "deepsz/model/model.h"
#include "deepsz/model/train.h"

namespace deepsz::cli {

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_prune_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_create_command(CLI::App& app);
#ifdef DEEPSZ_HAVE_PIPELINE
void add_compress_command(CLI::App& app);    // compress.cpp (pipeline)
void add_decompress_command(CLI::App& app);  // decompress.cpp (pipeline)
void add_run_command(CLI::App& app);         // pipeline_run.cpp (pipeline)
#endif

// Options every command that reads data shares.
// The split defaults to the one the model records (docs/PIPELINE.md, "Roles
// of the data"), else to SplitSpec's defaults; a flag given overrides it.
struct DataOptions {
  std::string dir = model::kDefaultDataDir;
  int64_t val = -1;   // selection images; -1: the model's record, else min(5,000, n / 12)
  int64_t cert = -1;  // certification images; -1: the model's record, else min(10,000, n / 6); 0: none
  uint64_t split_seed = 0;  // 0: the model's record, else 1 (train: its --seed)
  double mean = 0.0, std = 1.0;
  bool mean_set = false, std_set = false;
  int threads = 0;
};
void add_data_options(CLI::App* cmd, DataOptions& o);
model::Dataset load_data_for(const DataOptions& o, const model::Model* m);
// Applies --mean/--std when given (overriding what the model recorded).
void apply_preprocessing(const DataOptions& o, model::Model& m);

// The set-up every command on a model shares: the runtime's threads, the
// output checked against the inputs (when given), the model loaded with
// --mean/--std applied, and the data of its recorded split.
struct ModelAndData {
  model::Model model;
  model::Dataset data;
};
ModelAndData open_model_and_data(const std::string& model_path, const DataOptions& o,
                                 const std::vector<std::string>& outputs = {},
                                 model::Model::MaskLoading masks = model::Model::MaskLoading::contents);

// Throws one clear line for a model path that cannot be a model file:
// missing, a directory, empty, or a .dsz container (decompress it first).
void check_model_file(const std::string& path);

// Throws unless `output` differs from every input (same file by path or inode).
void check_output_path(const std::string& output, const std::vector<std::string>& inputs);

// Progress on stderr: a redrawn bar on a terminal, one line per epoch otherwise.
model::ProgressFn progress_printer(const std::string& label);
void log_line(const std::string& line);

std::string percent(double fraction, int decimals = 2);

// The log and the retraining progress of prune/quantize/run, unless quiet.
template <class Options>
void attach_retraining_log(Options& o, bool quiet) {
  if (quiet) return;
  o.log = log_line;
  o.progress = progress_printer("retrain");
}

// The retraining options prune and quantize share (their Options types have
// the same field names), with one help text and one range each.
template <class Options>
void add_retraining_options(CLI::App* cmd, Options& o) {
  cmd->add_option("--seed", o.seed, "seed of the retraining shuffles")->capture_default_str();
  cmd->add_option("--lr", o.learning_rate, "retraining learning rate (Adam, cosine decay)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay while retraining (0: Adam)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--margin", o.margin, "validation safety margin in points (--max-loss)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--distill", o.distill, "weight in [0, 1] of distillation from the input model while retraining (0: off)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--temperature", o.temperature, "temperature of the distillation targets")
      ->capture_default_str()->check(CLI::Range(0.1, 100.0));
  cmd->add_option("--confidence", o.certify_confidence,
                  "with a certification split: every reading carries the reserve a certification at this "
                  "confidence will charge for its noise (0: none)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--augment", o.augment_shift, "retrain on training images shifted by up to this many pixels (0: off)")
      ->capture_default_str()->check(CLI::Range(0, 8));
}

// --json, -q and the required -o of the commands that write a model file.
void add_model_output_flags(CLI::App* cmd, std::string& output, bool& json, bool& quiet);

// The command line as typed (arguments quoted where needed), for reports.
void set_command_line(int argc, char** argv);
const std::string& command_line();

// --report-html PATH and --plots DIR of compress and run: the report as one
// self-contained page and its figures as SVG files (docs/REPORT.md).
void write_html_report(const std::string& report_json, const std::string& html_path, const std::string& plots_dir);

}  // namespace deepsz::cli
