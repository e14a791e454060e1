// deepsz: the model tool. One subcommand per file (train, eval, prune, info).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/interrupt.h"
#include "run_app.h"

int main(int argc, char** argv) {
  // libgomp reads its environment when it is loaded, before main: busy-waiting
  // OpenMP workers make training 5-10x slower when the cores are shared, so
  // restart once with passive waiting unless the user chose a policy. Only
  // for the commands that compute: the restart loads libtorch twice (1.7 s
  // -> 3.2 s of start-up measured here), which decompress, info, create and
  // --help do not need to pay.
  const char* command = nullptr;
  for (int i = 1; i < argc && !command; ++i)
    if (argv[i][0] != '-') command = argv[i];
  bool computes = false;
  for (const char* c : {"train", "eval", "prune", "quantize", "compress", "run"})
    computes |= command && std::strcmp(command, c) == 0;
  if (computes && !std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on as is
  }
  // SIGINT/SIGTERM: registered temporaries removed, "deepsz: interrupted",
  // exit 128 + signal (deepsz/interrupt.h).
  deepsz::install_interrupt_handlers("deepsz");
  deepsz::cli::set_command_line(argc, argv);
  CLI::App app{"deepsz: train, evaluate, prune and inspect neural networks for DeepSZ compression"};
  app.require_subcommand(1);
  deepsz::cli::add_train_command(app);
  deepsz::cli::add_eval_command(app);
  deepsz::cli::add_prune_command(app);
  deepsz::cli::add_quantize_command(app);
  deepsz::cli::add_info_command(app);
  deepsz::cli::add_create_command(app);
#ifdef DEEPSZ_HAVE_PIPELINE
  deepsz::cli::add_compress_command(app);
  deepsz::cli::add_decompress_command(app);
  deepsz::cli::add_run_command(app);
#endif
  return deepsz::cli_common::run_app(app, argc, argv, "deepsz");
}
