// dsz: compress, decompress, inspect and benchmark float32 arrays and .dsz
// containers with the codec and format libraries only (no libtorch), and
// render the JSON reports of deepsz compress as HTML.
//
// Every failure prints one line "dsz: ..." on stderr and exits 1 (2 for a
// wrong command line); outputs are written through a temporary file and a
// rename, so a failed or interrupted run leaves no output behind.
#include <cstdio>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/interrupt.h"
#include "run_app.h"

int main(int argc, char** argv) {
  // SIGINT/SIGTERM: temporaries removed, "dsz: interrupted", exit 128 + signal.
  deepsz::install_interrupt_handlers("dsz");
  CLI::App app{"dsz: error-bounded compression of float32 arrays into .dsz containers"};
  app.require_subcommand(1);
  dsz::add_compress_command(app);
  dsz::add_decompress_command(app);
  dsz::add_inspect_command(app);
  dsz::add_bench_command(app);
  dsz::add_report_command(app);
  return deepsz::cli_common::run_app(app, argc, argv, "dsz", " (see dsz --help)", [](const std::exception& e) {
    return dynamic_cast<const dsz::UsageError*>(&e) != nullptr;
  });
}
