// dsz: compress, decompress, inspect and benchmark float32 arrays and .dsz
// containers with the codec and format libraries only (no libtorch).
//
// Every failure prints one line "dsz: ..." on stderr and exits 1 (2 for a
// wrong command line); outputs are written through a temporary file and a
// rename, so a failed or interrupted run leaves no output behind.
#include <cstdio>
#include <new>

#include "common.h"
#include "deepsz/error.h"
#include "deepsz/interrupt.h"

int main(int argc, char** argv) {
  // SIGINT/SIGTERM: temporaries removed, "dsz: interrupted", exit 128 + signal.
  deepsz::install_interrupt_handlers("dsz");
  CLI::App app{"dsz: error-bounded compression of float32 arrays into .dsz containers"};
  app.require_subcommand(1);
  dsz::add_compress_command(app);
  dsz::add_decompress_command(app);
  dsz::add_inspect_command(app);
  dsz::add_bench_command(app);
  // CLI11 reports an unknown command as a missing one; name it instead.
  auto known = [&app](const char* name) {
    try {
      app.get_subcommand(name);
      return true;
    } catch (const CLI::Error&) {
      return false;
    }
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::fprintf(stderr, "dsz: unknown command '%s' (commands: compress, decompress, inspect, bench)\n",
                 argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dsz: %s (see dsz --help)\n", e.what());
    return 2;
  } catch (const dsz::UsageError& e) {
    std::fprintf(stderr, "dsz: %s\n", e.what());
    return 2;
  } catch (const deepsz::Error& e) {
    std::fprintf(stderr, "dsz: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dsz: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsz: %s\n", e.what());
    return 1;
  }
  return 0;
}
