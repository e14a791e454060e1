// deepsz compress: the DeepSZ pipeline on a trained (pruned) model
// (docs/PIPELINE.md).
#ifdef DEEPSZ_HAVE_PIPELINE
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/error.h"
#include "deepsz/model/runtime.h"
#include "deepsz/pipeline/collective.h"
#include "deepsz/pipeline/pipeline.h"
#include "weights_cli.h"
#ifdef DEEPSZ_HAVE_MPI
#include <exception>
#include <memory>
#include <thread>

#include "deepsz/distributed.h"
#endif

namespace deepsz::cli {
namespace {
struct CompressArgs {
  DataOptions data;
  std::string model, output, report, assessment, report_html, plots;
  double max_loss = -1, bound = -1, bound_rms = -1;
  bool fc_only = false, paper = false, json = false, quiet = false;
  std::string codec = "sz";
  int workers = 0;
  double holdout = 0.0;
  int loosen = 4;
  double confidence = 0.9;
  int looks = 32;
};

// A .safetensors or .onnx file: no network to assess, every float tensor at
// the one bound given (docs/FORMATS.md).
void run_compress_weights(const CompressArgs& a) {
  if (a.max_loss >= 0)
    throw Error(ErrorCode::invalid_argument,
                a.model + (cli_common::weights_format_of_path(a.model) == "onnx"
                               ? ": give --max-loss (the network assessed) or --bound/--bound-rms (weights only), not both"
                               : ": --max-loss needs a network deepsz can run; for safetensors give --bound or "
                                 "--bound-rms (weights only)"));
  if ((a.bound >= 0) == (a.bound_rms >= 0))
    throw Error(ErrorCode::invalid_argument, "give exactly one of --bound and --bound-rms for " + a.model);
  check_output_path(a.output, {a.model});
  interchange::BoundRule rule;
  rule.kind = a.bound >= 0 ? interchange::BoundRule::Kind::absolute : interchange::BoundRule::Kind::relative_rms;
  rule.value = a.bound >= 0 ? a.bound : a.bound_rms;
  cli_common::compress_weights_file(a.model, a.output, rule, unsigned(std::max(1, a.data.threads)), "deepsz",
                                    a.quiet);
}

void run_compress(const CompressArgs& a, pipeline::Collective* collective) {
  const std::string weights_format = cli_common::weights_format_of_path(a.model);
  // ONNX: the network is run (assessed, certified) unless a bound is given.
  if (weights_format == "safetensors" || (weights_format == "onnx" && (a.bound >= 0 || a.bound_rms >= 0))) {
    // Weights only: nothing to share, so one rank does it all.
    if (!collective || collective->rank() == 0) run_compress_weights(a);
    return;
  }
  if (a.bound >= 0 || a.bound_rms >= 0)
    throw Error(ErrorCode::invalid_argument, "--bound and --bound-rms are for .safetensors and .onnx models (weights only)");
  const bool root = !collective || collective->rank() == 0;
  if (!(a.max_loss >= 0.0 && a.max_loss <= 100.0))
    throw Error(ErrorCode::invalid_argument, "--max-loss must be in [0, 100] points (required for this model)");
  if (a.paper && a.codec == "zfp") throw Error(ErrorCode::invalid_argument, "--paper and --codec zfp exclude each other");
  auto t0 = std::chrono::steady_clock::now();
  // Only rank 0 writes: the others' machines need not see the outputs.
  auto [m, data] = open_model_and_data(a.model, a.data,
                                       root ? std::vector<std::string>{a.output, a.report, a.report_html}
                                            : std::vector<std::string>{},
                                       // which tensors are masked is all compress reads of the masks
                                       model::Model::MaskLoading::names_only);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  pipeline::CompressOptions o;
  o.max_loss = a.max_loss;
  o.fc_only = a.fc_only;
  o.method = a.paper ? pipeline::Method::paper : a.codec == "zfp" ? pipeline::Method::zfp : pipeline::Method::deepsz;
  o.threads = a.data.threads;
  o.workers = a.workers;
  o.holdout = a.holdout;
  o.loosen = a.loosen;
  o.confidence = a.confidence;
  o.max_looks = a.looks;
  o.assessment_path = a.assessment;
  o.progress = root && !a.quiet && !a.json;
  if (root && !a.quiet && !a.json) o.log = log_line;
  o.collective = collective;
  pipeline::CompressReport r = pipeline::compress_model(m, data, o, a.output, a.model);
  if (!root) return;  // its share of the assessment is with rank 0
  r.seconds_load = load_seconds;
  r.command_line = command_line();
  write_html_report(pipeline::report_to_json(r, -1), a.report_html, a.plots);
  if (!a.report.empty()) {
    const std::string j = pipeline::report_to_json(r, 2) + "\n";
    write_file_atomically(a.report, reinterpret_cast<const uint8_t*>(j.data()), j.size());
  }
  if (a.json)
    std::printf("%s\n", pipeline::report_to_json(r, -1).c_str());
  else
    std::fputs(pipeline::report_to_text(r).c_str(), stdout);
  if (!r.guarantee_success && o.method != pipeline::Method::paper)
    throw Error(ErrorCode::invalid_argument, "the measured drop exceeds the budget even with every tensor lossless");
}

#ifdef DEEPSZ_HAVE_MPI
// Under mpirun: the assessment split over the ranks (docs/SCALE.md), each
// with its machine's cores shared among the ranks on it unless --threads
// says otherwise; rank 0 takes them all back once the others are done.
void run_compress_distributed(CompressArgs a) {
  distributed::MpiSession mpi;
  if (mpi.size() == 1) return run_compress(a, nullptr);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  if (a.data.threads <= 0) {
    a.data.threads = std::max(1, cores / std::max(1, mpi.local_size()));
    mpi.set_threads_after_assessment(cores);
  }
  try {
    run_compress(a, &mpi);
  } catch (const std::exception& e) {
    if (mpi.is_done()) throw;  // no rank waits for this one: the usual one-line error
    // Others may be waiting in a collective call for this rank: end them all.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    std::fprintf(stderr, "deepsz: rank %d of %d: %s\n", mpi.rank(), mpi.size(), what.c_str());
    std::fflush(stderr);
    mpi.abort(1);
  }
}
#endif

}  // namespace

void add_compress_command(CLI::App& app) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = app.add_subcommand("compress", "compress a model under an accuracy budget (DeepSZ)");
  cmd->add_option("model", args->model, "model file (deepsz-native, TorchScript, ONNX, or .safetensors for weights only)")->required();
  add_data_options(cmd, args->data);
  cmd->add_option("--max-loss", args->max_loss,
                  "largest validation top-1 loss in points, against the dense ancestor when recorded")
      ;
  cmd->add_option("--bound", args->bound,
                  "safetensors/ONNX (weights only): absolute error bound of every float tensor (0: lossless)")
      ->check(CLI::Range(0.0, 1e300));
  cmd->add_option("--bound-rms", args->bound_rms,
                  "safetensors/ONNX (weights only): each float tensor's bound is this times the rms of its values")
      ->check(CLI::Range(0.0, 1e300));
  cmd->add_flag("--fc-only", args->fc_only, "lossy coding of fully connected layers only");
  cmd->add_option("--codec", args->codec, "lossy codec: sz (deepsz's) or zfp")
      ->check(CLI::IsMember({"sz", "zfp"}))
      ->capture_default_str();
  cmd->add_flag("--paper", args->paper, "the DeepSZ 2019 baseline (fixed grid, fc only, additive model)");
  cmd->add_option("--holdout", args->holdout,
                  "fraction of the validation images kept out of the assessment for the final check (0: none)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  cmd->add_option("--loosen", args->loosen,
                  "after the measured check, try up to N larger effective budgets, each kept if measured within the budget (0: off)")
      ->check(CLI::Range(0, 32))
      ->capture_default_str();
  cmd->add_option("--confidence", args->confidence,
                  "certification: how sure the bound on the drop against dense must be (0.5: the unbiased "
                  "estimate within the budget)")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 0.999));
  cmd->add_option("--looks", args->looks, "certification: at most this many candidates measured on its images")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--workers", args->workers, "assessment workers (default: one per thread)")->check(CLI::Range(1, 1024));
  cmd->add_option("--assessment", args->assessment, "assessment table: reused when it matches the model, else written");
  cmd->add_option("--report", args->report, "write the report as JSON");
  cmd->add_flag("--json", args->json, "print the report as one JSON object");
  cmd->add_option("--report-html", args->report_html, "write the report as one self-contained HTML page");
  cmd->add_option("--plots", args->plots, "write the report's figures as SVG files into this directory");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress output");
  cmd->add_option("-o,--output", args->output, "output .dsz file")->required();
  cmd->callback([args] {
#ifdef DEEPSZ_HAVE_MPI
    if (distributed::launched_by_mpi()) return run_compress_distributed(*args);
#endif
    run_compress(*args, nullptr);
  });
}

}  // namespace deepsz::cli
#endif  // DEEPSZ_HAVE_PIPELINE
