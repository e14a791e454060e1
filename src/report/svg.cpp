// Drawing primitives of the report's figures (svg.h).
#include "svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace deepsz::report::detail {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and newline are not allowed in
        // XML 1.0 at all, escaped or not: a hostile name could otherwise make
        // a standalone SVG unreadable.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += "\xEF\xBF\xBD";  // U+FFFD
        else out += c;
    }
  }
  return out;
}

namespace {
std::string printf_string(const char* format, double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, precision, v);
  return buf;
}

// Inserts thousands separators into the integer digits of a printed number.
std::string group_digits(const std::string& printed) {
  size_t start = (!printed.empty() && (printed[0] == '-' || printed[0] == '+')) ? 1 : 0;
  size_t end = printed.find_first_not_of("0123456789", start);
  if (end == std::string::npos) end = printed.size();
  std::string out = printed.substr(0, start);
  const size_t digits = end - start;
  for (size_t i = 0; i < digits; ++i) {
    out += printed[start + i];
    const size_t left = digits - 1 - i;
    if (left > 0 && left % 3 == 0) out += ',';
  }
  return out + printed.substr(end);
}
}  // namespace

std::string format_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  std::string s = printf_string("%.*f", v, decimals);
  // "-0.00" reads as a loss of nothing with a sign: print it as "0.00".
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string format_count(uint64_t v) { return group_digits(std::to_string(v)); }

std::string format_grouped(double v, int decimals) { return group_digits(format_fixed(v, decimals)); }

std::string format_percent(double fraction, int decimals) { return format_fixed(100.0 * fraction, decimals) + "%"; }

std::string format_general(double v, int significant) {
  if (!std::isfinite(v)) return "n/a";
  return printf_string("%.*g", v, significant);
}

std::string format_exact(double v) {
  if (!std::isfinite(v)) return "null";
  return printf_string("%.*g", v, 17);
}

std::string format_confidence(double c) {
  std::string s = printf_string("%.*g", 100.0 * c, 4);
  return s + "%";
}

namespace {
std::string superscript(int k) {
  static const char* digits[] = {"\u2070", "\u00B9", "\u00B2", "\u00B3", "\u2074",
                                 "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
  std::string out = k < 0 ? "\u207B" : "";
  for (char c : std::to_string(std::abs(k))) out += digits[c - '0'];
  return out;
}
}  // namespace

std::vector<std::string> log_tick_labels(const std::vector<double>& ticks) {
  const bool plain = std::all_of(ticks.begin(), ticks.end(), [](double t) { return t >= 0.00999 && t < 1e4; });
  std::vector<std::string> labels;
  for (double t : ticks) {
    if (plain) {
      labels.push_back(printf_string("%.*g", t, 3));
      continue;
    }
    const int k = int(std::floor(std::log10(t) + 1e-9));
    const double m = t / std::pow(10.0, k);
    const int mi = int(std::lround(m));
    labels.push_back((mi == 1 ? std::string() : std::to_string(mi) + "\u00D7") + "10" + superscript(k));
  }
  return labels;
}

std::string file_name_part(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    out += keep ? c : '_';
  }
  // As dsz's file names of tensors: a leading '.' would hide the file.
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  if (out.size() > 200) out.resize(200);
  return out;
}

double LogScale::operator()(double v) const {
  const double a = std::log10(d0), b = std::log10(d1);
  if (b == a) return (r0 + r1) / 2;
  return r0 + (std::log10(v) - a) * (r1 - r0) / (b - a);
}

std::vector<double> nice_ticks(double& lo, double& hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  // Absurd ranges (from absurd but finite inputs): the two ends only.
  if (!std::isfinite(hi - lo) || !(hi > lo)) return {lo, hi};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag * 1.0000001) {
      step = m * mag;
      break;
    }
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  // Where the ticks are too far from zero for their spacing to count in
  // doubles (lo = 1e17, hi = lo + 1), the two ends only.
  if (!(last - first >= 1) || last - first > 1000 || first + 1 == first) return {lo, hi};
  lo = first * step;
  hi = last * step;
  std::vector<double> ticks;
  const long n = std::lround(last - first);
  for (long i = 0; i <= n; ++i) {
    double t = (first + double(i)) * step;
    if (std::fabs(t) < step * 1e-9) t = 0.0;
    ticks.push_back(t);
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  const int k0 = int(std::floor(std::log10(lo))), k1 = int(std::ceil(std::log10(hi)));
  auto collect = [&](std::initializer_list<int> mantissas) {
    ticks.clear();
    for (int k = k0; k <= k1; ++k)
      for (int m : mantissas) {
        const double t = m * std::pow(10.0, k);
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
      }
  };
  collect({1});
  if (ticks.size() < 4) collect({1, 2, 5});
  if (ticks.size() < 2) collect({1, 2, 3, 4, 5, 6, 7, 8, 9});
  return ticks;
}

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}
std::string tooltip_element(std::string_view tooltip) {
  return tooltip.empty() ? std::string() : "<title>" + escape(tooltip) + "</title>";
}
}  // namespace

Svg::Svg(int width, int height, std::string_view title, std::string_view root_attributes)
    : width_(width), height_(height), title_(title), root_attributes_(root_attributes) {}

void Svg::line(double x1, double y1, double x2, double y2, const char* stroke, double width, const char* dash) {
  body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
           "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) + "\"" +
           (dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : "") + "/>\n";
}

void Svg::rect(double x, double y, double w, double h, const char* fill, const char* stroke, std::string_view tooltip,
               std::string_view attributes) {
  body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(std::max(0.0, w)) + "\" height=\"" +
           num(std::max(0.0, h)) + "\" fill=\"" + fill + "\"" +
           (stroke ? std::string(" stroke=\"") + stroke + "\" stroke-width=\"0.8\"" : "") +
           (attributes.empty() ? "" : " " + std::string(attributes));
  body_ += tooltip.empty() ? "/>\n" : ">" + tooltip_element(tooltip) + "</rect>\n";
}

void Svg::circle(double x, double y, double r, const char* fill, const char* stroke, double stroke_width,
                 std::string_view tooltip, std::string_view attributes) {
  body_ += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" + fill +
           "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(stroke_width) + "\"" +
           (attributes.empty() ? "" : " " + std::string(attributes));
  body_ += tooltip.empty() ? "/>\n" : ">" + tooltip_element(tooltip) + "</circle>\n";
}

void Svg::diamond(double x, double y, double r, const char* fill, const char* stroke, std::string_view tooltip,
                  std::string_view attributes) {
  body_ += "<path d=\"M" + num(x) + " " + num(y - r) + " L" + num(x + r) + " " + num(y) + " L" + num(x) + " " +
           num(y + r) + " L" + num(x - r) + " " + num(y) + " Z\" fill=\"" + fill + "\" stroke=\"" + stroke +
           "\" stroke-width=\"1.2\"" + (attributes.empty() ? "" : " " + std::string(attributes));
  body_ += tooltip.empty() ? "/>\n" : ">" + tooltip_element(tooltip) + "</path>\n";
}

void Svg::cross(double x, double y, double r, const char* stroke, double width, std::string_view tooltip,
                std::string_view attributes) {
  body_ += "<g" + (attributes.empty() ? std::string() : " " + std::string(attributes)) + ">" +
           tooltip_element(tooltip);
  line(x - r, y - r, x + r, y + r, stroke, width);
  line(x - r, y + r, x + r, y - r, stroke, width);
  body_ += "</g>\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const char* stroke, double width,
                   const char* dash) {
  if (points.size() < 2) return;
  body_ += "<polyline fill=\"none\" stroke=\"";
  body_ += stroke;
  body_ += "\" stroke-width=\"" + num(width) + "\" stroke-linejoin=\"round\"";
  if (dash) body_ += std::string(" stroke-dasharray=\"") + dash + "\"";
  body_ += " points=\"";
  for (const auto& [x, y] : points) body_ += num(x) + "," + num(y) + " ";
  body_ += "\"/>\n";
}

void Svg::text(double x, double y, std::string_view content, double size, const char* anchor, const char* fill,
               const char* weight, double rotate) {
  body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" fill=\"" + fill + "\"";
  if (std::string_view(anchor) != "start") body_ += std::string(" text-anchor=\"") + anchor + "\"";
  if (weight) body_ += std::string(" font-weight=\"") + weight + "\"";
  if (rotate != 0) body_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
  body_ += ">" + escape(content) + "</text>\n";
}

std::string Svg::finish(bool standalone) const {
  std::string out;
  if (standalone) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string w = std::to_string(width_), h = std::to_string(height_);
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w +
         " " + h + "\" font-family=\"" + escape(kFontFamily) + "\" role=\"img\" aria-label=\"" + escape(title_) +
         "\"" + (root_attributes_.empty() ? "" : " " + root_attributes_) + ">\n";
  out += "<title>" + escape(title_) + "</title>\n";
  out += "<rect x=\"0\" y=\"0\" width=\"" + w + "\" height=\"" + h + "\" fill=\"#ffffff\"/>\n";
  out += body_;
  out += "</svg>\n";
  return out;
}

std::string truncate_utf8(std::string_view s, size_t max_chars) {
  size_t chars = 0, i = 0;
  while (i < s.size()) {
    if (chars == max_chars) return std::string(s.substr(0, i)) + "\u2026";
    const unsigned char c = static_cast<unsigned char>(s[i]);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    ++chars;
  }
  return std::string(s);
}

double text_width(std::string_view s, double size) {
  size_t chars = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  return double(chars) * 0.62 * size;
}

}  // namespace deepsz::report::detail
