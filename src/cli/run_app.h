// run_app.h: the error contract shared by dsz and deepsz. Header-only, no
// libtorch: dsz includes it too.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

namespace deepsz::cli_common {

// Parses `app` (running the chosen subcommand's callback). An unknown
// command is named with the list of commands. Help and version
// print and return 0. Every failure prints exactly one line "PROG: message"
// on stderr (the first line of the exception's text) and returns 2 for a
// wrong command line (CLI11's parse errors, with `parse_hint` appended, and
// the exceptions `is_usage_error` accepts), 1 for anything else.
inline int run_app(CLI::App& app, int argc, char** argv, const char* prog, const char* parse_hint = "",
                   bool (*is_usage_error)(const std::exception&) = nullptr) {
  // CLI11 reports an unknown command as a missing one; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known |= sub->get_name() == argv[1];
    }
    if (!known) {
      std::fprintf(stderr, "%s: unknown command '%s' (commands: %s)\n", prog, argv[1], names.c_str());
      return 2;
    }
  }
  auto first_line = [](const char* what) {
    std::string s = what;
    const auto nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    return s;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s%s\n", prog, first_line(e.what()).c_str(), parse_hint);
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog, first_line(e.what()).c_str());
    return is_usage_error && is_usage_error(e) ? 2 : 1;
  }
  return 0;
}

}  // namespace deepsz::cli_common
