// Drawing primitives of the report's figures: escaping, number formatting,
// scales, ticks and an SVG writer using presentation attributes only (no
// <style> inside the SVG, so figures inlined side by side in one page cannot
// restyle each other, and editors such as Inkscape read them as drawn).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace deepsz::report::detail {

// Text and attribute values for HTML and XML alike: & < > " ' escaped.
std::string escape(std::string_view text);

// Numbers as people read them.
std::string format_fixed(double v, int decimals);        // "0.25", "-0.02"
std::string format_count(uint64_t v);                    // "1,066,440"
std::string format_grouped(double v, int decimals);      // "12,345.6"
std::string format_percent(double fraction, int decimals);  // 0.8990 -> "89.90%"
std::string format_general(double v, int significant);   // "%.*g", "0.0144"
std::string format_exact(double v);                      // "%.17g": round-trips
// Labels of log-axis ticks: plain decimals ("0.01", "0.2") when every tick
// is in [0.01, 10000), else powers of ten ("10⁻³", "2×10⁻³") for all, so
// one axis never mixes the two styles.
std::vector<std::string> log_tick_labels(const std::vector<double>& ticks);
// A confidence 0.9 -> "90%", 0.975 -> "97.5%".
std::string format_confidence(double c);

// A tensor name made safe as a file name: [A-Za-z0-9._-] kept, the rest '_',
// '_' put before a leading '.', never empty, at most 200 bytes.
std::string file_name_part(std::string_view name);

struct LinearScale {
  double d0, d1, r0, r1;
  double operator()(double v) const { return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) * (r1 - r0) / (d1 - d0); }
};
struct LogScale {
  double d0, d1, r0, r1;  // d0, d1 > 0
  double operator()(double v) const;
};

// Round tick values 1, 2 or 5 x 10^k covering [lo, hi], about `target` of
// them; lo and hi are widened to the outer ticks.
std::vector<double> nice_ticks(double& lo, double& hi, int target);
// Ticks of a log axis on [lo, hi]: the powers of ten inside, and the 2x and
// 5x ones too when fewer than four powers fall inside (all of 1x..9x when
// even that leaves fewer than two).
std::vector<double> log_ticks(double lo, double hi);

// The palette (Okabe and Ito, readable by colour-blind readers and in grey).
namespace colour {
constexpr const char* blue = "#0072B2";
constexpr const char* orange = "#E69F00";
constexpr const char* vermilion = "#D55E00";
constexpr const char* green = "#009E73";
constexpr const char* sky = "#56B4E9";
constexpr const char* purple = "#CC79A7";
constexpr const char* ink = "#1a1a1a";
constexpr const char* grey = "#666666";
constexpr const char* grid = "#e6e6e6";
}  // namespace colour

constexpr const char* kFontFamily = "'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif";

// An SVG document built element by element. Coordinates in pixels.
class Svg {
 public:
  Svg(int width, int height, std::string_view title, std::string_view root_attributes = "");
  void line(double x1, double y1, double x2, double y2, const char* stroke, double width = 1,
            const char* dash = nullptr);
  void rect(double x, double y, double w, double h, const char* fill, const char* stroke = nullptr,
            std::string_view tooltip = "", std::string_view attributes = "");
  void circle(double x, double y, double r, const char* fill, const char* stroke, double stroke_width = 1,
              std::string_view tooltip = "", std::string_view attributes = "");
  void diamond(double x, double y, double r, const char* fill, const char* stroke, std::string_view tooltip = "",
               std::string_view attributes = "");
  void cross(double x, double y, double r, const char* stroke, double width = 1.5, std::string_view tooltip = "",
             std::string_view attributes = "");
  void polyline(const std::vector<std::pair<double, double>>& points, const char* stroke, double width = 1.5,
                const char* dash = nullptr);
  // anchor: "start" | "middle" | "end"; rotate: degrees about (x, y).
  void text(double x, double y, std::string_view content, double size = 12, const char* anchor = "start",
            const char* fill = colour::ink, const char* weight = nullptr, double rotate = 0);
  void raw(std::string_view markup) { body_ += markup; }
  // The document; `standalone` adds the XML declaration.
  std::string finish(bool standalone) const;

 private:
  int width_, height_;
  std::string title_, root_attributes_, body_;
};

// Keeps the first `max_chars` code points of `s` (UTF-8), "…" appended when cut.
std::string truncate_utf8(std::string_view s, size_t max_chars);
// Approximate width in pixels of `s` set in kFontFamily at `size` (DejaVu
// Sans averages 0.6 em per character), for layout only.
double text_width(std::string_view s, double size);

}  // namespace deepsz::report::detail
