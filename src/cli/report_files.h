// report_files.h: writing a rendered report (deepsz/html_report.h) to disk,
// shared by `dsz report` and deepsz's --report-html. Header-only and
// torch-free, like run_app.h.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "deepsz/container.h"
#include "deepsz/error.h"
#include "deepsz/html_report.h"

namespace deepsz::cli_common {

// Writes every figure into plots_dir when it is not empty (the directory and
// its parents created when missing), then the page to html_path when it is
// not empty. Each file goes through a temporary and a rename, so no reader
// ever sees half a file. Error(io_error) on failure.
inline void write_report_files(const report::RenderedReport& r, const std::string& html_path,
                               const std::string& plots_dir) {
  namespace fs = std::filesystem;
  if (!plots_dir.empty()) {
    std::error_code ec;
    fs::create_directories(plots_dir, ec);
    if (!fs::is_directory(plots_dir))
      throw Error(ErrorCode::io_error,
                  "cannot create the plots directory '" + plots_dir + "'" + (ec ? ": " + ec.message() : ""));
    for (const report::Figure& f : r.figures)
      write_file_atomically((fs::path(plots_dir) / f.file_name).string(),
                            reinterpret_cast<const uint8_t*>(f.svg.data()), f.svg.size());
  }
  if (!html_path.empty())
    write_file_atomically(html_path, reinterpret_cast<const uint8_t*>(r.html.data()), r.html.size());
}

}  // namespace deepsz::cli_common
