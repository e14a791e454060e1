// Untrusted JSON into the HTML report renderer: the bytes before the first
// NUL are the report, the bytes after it (if any) the assessment table.
// Anything may be refused with deepsz::Error; nothing else may be thrown,
// and whatever is rendered must hold no markup of the input: no <script in
// the page or in any figure, whatever strings the JSON carried.
#include <cstring>
#include <string>

#include "deepsz/error.h"
#include "deepsz/html_report.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(data, 0, size);
  const size_t split = nul ? size_t(static_cast<const uint8_t*>(nul) - data) : size;
  const std::string report(text, split);
  const std::string table = nul ? std::string(text + split + 1, size - split - 1) : std::string();
  try {
    const deepsz::report::RenderedReport r = deepsz::report::render_report(report, table);
    if (r.html.find("<script") != std::string::npos) deepsz::fuzz::die("<script in the page");
    for (const auto& f : r.figures)
      if (f.svg.find("<script") != std::string::npos) deepsz::fuzz::die("<script in a figure");
  } catch (const deepsz::Error&) {
  }
  return 0;
}
