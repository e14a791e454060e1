// deepsz/html_report.h: the compress report (format "deepsz-compress-report",
// docs/PIPELINE.md "Report") as one self-contained HTML page and as
// standalone SVG figures (docs/REPORT.md). Plain C++ and nlohmann_json only:
// no libtorch, no codec; text in, text out (the callers write the files).
#pragma once

#include <string>
#include <vector>

namespace deepsz::report {

// One figure as a standalone SVG document: XML declaration, xmlns, fonts
// named, no script, no reference to anything outside the file.
struct Figure {
  // Stable names: "drop_vs_bound_<tensor>.svg" (the tensor name with every
  // character outside [A-Za-z0-9._-] replaced by '_', '_' put before a
  // leading '.', cut at 200 bytes, "-2", "-3"... appended on a collision),
  // "bytes_per_layer.svg", "prune_trajectory.svg".
  std::string file_name;
  std::string title;  // one line of plain text
  std::string svg;
};

struct RenderedReport {
  // One file: inline CSS and SVG, no JavaScript, no network, UTF-8.
  std::string html;
  // The figures drawn in the page, in page order (the same drawings).
  std::vector<Figure> figures;
};

// report_json: the text of a compress report (report_to_json). Every string
// taken from it is escaped; optional fields that are absent or null are said
// to be absent on the page, never filled in.
//
// assessment_json: optional (empty = none), the assessment table of the same
// run (format "deepsz-assessment", assessment_to_json / --assessment FILE).
// The curves of drop against error bound need each layer's measured
// candidates: they are read from layers[].candidates when the report holds
// them as an array (fields as in the assessment table: bound, index_bytes,
// value_bytes, top1_drop, correct_to_wrong, wrong_to_correct, images), else
// from the table's layer of the same name; without either the page says so.
//
// Errors (deepsz::Error):
//   not JSON, not an object, "format" missing or another format -> foreign_format
//   a numeric "version" above 1                                   -> unsupported_version
//   a field of the wrong type, a table whose layers do not match  -> corruption_detected
RenderedReport render_report(const std::string& report_json, const std::string& assessment_json = "");

}  // namespace deepsz::report
