// dsz report REPORT.json [-o OUT.html] [--plots DIR] [--assessment TABLE.json]:
// the JSON report of `deepsz compress` as one self-contained HTML page, and
// its figures as standalone SVG files (docs/REPORT.md).
#include <filesystem>
#include <memory>
#include <string>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/error.h"
#include "deepsz/html_report.h"
#include "report_files.h"

namespace dsz {

namespace {

namespace fs = std::filesystem;

struct ReportArgs {
  std::string report, out, plots, assessment;
};

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = deepsz::read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

void run_report(ReportArgs a) {
  if (a.out.empty()) a.out = fs::path(a.report).replace_extension(".html").string();
  check_distinct(a.report, a.out);
  if (!a.assessment.empty()) check_distinct(a.assessment, a.out);
  std::error_code ec;
  if (fs::is_directory(a.out, ec)) throw UsageError("output '" + a.out + "' is a directory");
  if (!a.plots.empty() && fs::exists(a.plots, ec) && !fs::is_directory(a.plots, ec))
    throw UsageError("--plots '" + a.plots + "' is not a directory");

  const std::string report = read_text(a.report);
  deepsz::report::RenderedReport rendered;
  // The report alone first, so that a fault is blamed on the right file.
  try {
    rendered = deepsz::report::render_report(report);
  } catch (const deepsz::Error& e) {
    throw deepsz::Error(e.code(), a.report + ": " + e.what());
  }
  if (!a.assessment.empty()) {
    const std::string table = read_text(a.assessment);
    try {
      rendered = deepsz::report::render_report(report, table);
    } catch (const deepsz::Error& e) {
      throw deepsz::Error(e.code(), a.assessment + ": " + e.what());
    }
  }
  deepsz::cli_common::write_report_files(rendered, a.out, a.plots);
  std::printf("%s: %zu bytes, %zu figure(s)%s%s\n", a.out.c_str(), rendered.html.size(), rendered.figures.size(),
              a.plots.empty() ? "" : " also in ", a.plots.c_str());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "Render the JSON report of deepsz compress as one HTML page");
  cmd->add_option("REPORT", args->report, "JSON report of deepsz compress (--report FILE)")->required();
  cmd->add_option("-o,--output", args->out, "HTML page to write (default: REPORT with the extension .html)");
  cmd->add_option("--plots", args->plots, "also write each figure as a standalone SVG file into this directory");
  cmd->add_option("--assessment", args->assessment,
                  "assessment table of the same run (deepsz compress --assessment FILE): draws the curves of drop "
                  "against error bound when the report holds only counts of candidates");
  cmd->callback([args] { run_report(*args); });
}

}  // namespace dsz
