// The three kinds of figure of the report (docs/REPORT.md): drop and bytes
// against the error bound per layer, bytes per tensor, pruning trajectory.
#include <algorithm>
#include <cmath>

#include "report_internal.h"
#include "svg.h"

namespace deepsz::report::detail {

namespace {

constexpr double kTickFont = 11;

// What is drawn is held within +-1e200 (and a positive value within
// [1e-200, 1e200]) so that ranges, paddings and rounded tick ends of absurd
// but finite inputs stay finite; the labels and tooltips keep the values.
double plotted(double v) { return std::clamp(v, -1e200, 1e200); }
double plotted_positive(double v) { return std::clamp(v, 1e-200, 1e200); }
constexpr double kLabelFont = 12;

// The fewest decimals that print every tick distinctly and exactly enough.
int tick_decimals(const std::vector<double>& ticks) {
  if (ticks.size() < 2) return 0;
  const double step = std::fabs(ticks[1] - ticks[0]);
  for (int d = 0; d <= 6; ++d) {
    bool ok = true;
    for (double t : ticks) ok = ok && std::fabs(std::round(t * std::pow(10.0, d)) / std::pow(10.0, d) - t) <= step * 1e-6;
    if (ok) return d;
  }
  return 6;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " \u00D7 " : "") + format_count(shape[i]);
  return s;
}

std::string kind_words(const std::string& kind) {
  if (kind == "fc_weight" || kind == "fc") return "fully connected weights";
  if (kind == "conv_weight" || kind == "conv") return "convolution weights";
  if (kind == "bias") return "bias";
  return kind.empty() ? "tensor" : kind;
}

std::string bound_text(double b) { return b == 0 ? "lossless" : "e = " + format_general(b, 3); }

std::string candidate_tooltip(const CandidatePoint& c) {
  std::string s = bound_text(c.bound) + ": top-1 drop " + format_fixed(c.drop, 2) + " points";
  if (c.correct_to_wrong && c.wrong_to_correct && c.images && *c.images > 0)
    s += " (" + format_count(*c.correct_to_wrong) + " right\u2192wrong, " + format_count(*c.wrong_to_correct) +
         " wrong\u2192right of " + format_count(*c.images) + " images)";
  s += "; " + format_count(c.bytes()) + " bytes (index " + format_count(c.index_bytes) + ", values " +
       format_count(c.value_bytes) + ")";
  return s;
}

// A horizontal axis line with a break (two slashes) at x_break.
void broken_axis(Svg& svg, double x0, double x_break, double x1, double y) {
  svg.line(x0, y, x_break - 4, y, colour::ink, 1);
  svg.line(x_break + 4, y, x1, y, colour::ink, 1);
  svg.line(x_break - 7, y + 4, x_break - 1, y - 4, colour::ink, 1);
  svg.line(x_break + 1, y + 4, x_break + 7, y - 4, colour::ink, 1);
}

// Horizontal grid lines and labels of a linear y axis.
void y_axis(Svg& svg, const LinearScale& y, const std::vector<double>& ticks, double x0, double x1,
            const std::string& suffix = "") {
  const int d = tick_decimals(ticks);
  for (double t : ticks) {
    const double py = y(t);
    svg.line(x0, py, x1, py, colour::grid, 1);
    svg.line(x0 - 4, py, x0, py, colour::ink, 1);
    svg.text(x0 - 7, py + 4, format_grouped(t, d) + suffix, kTickFont, "end", colour::ink);
  }
  svg.line(x0, y.r0, x0, y.r1, colour::ink, 1);
}

}  // namespace

std::string inline_svg(const Figure& figure) {
  const std::string& s = figure.svg;
  const size_t start = s.find("<svg");
  return start == std::string::npos ? s : s.substr(start);
}

// ---------------------------------------------------------------------------
// Drop and bytes against the error bound, one tensor.
// ---------------------------------------------------------------------------

Figure drop_vs_bound_figure(const Layer& l, const CurveContext& ctx) {
  const int W = 560, H = 452;
  const double left = 78, right = W - 20;
  const double top0 = 60, top1 = 236, bot0 = 262, bot1 = 342;
  const double x_lossless = left + 20, x_break = left + 40, log0 = left + 56, log1 = right - 8;

  Figure fig;
  fig.file_name = ctx.file_name;
  fig.title = "Top-1 drop and stored bytes against the error bound: " + l.name;
  std::string root = "data-plot=\"drop_vs_bound\" data-tensor=\"" + escape(l.name) + "\"";
  Svg svg(W, H, fig.title, root);

  // Title and what the curve was measured on.
  svg.text(left - 60, 22, truncate_utf8(l.name, 48), 15, "start", colour::ink, "bold");
  std::string sub = kind_words(l.kind);
  if (!l.shape.empty()) sub += " \u00B7 " + shape_text(l.shape);
  if (l.density) sub += " \u00B7 " + format_percent(*l.density, 2) + " kept";
  std::optional<uint64_t> images = l.assessment_images;
  for (const auto& c : l.candidates)
    if (c.images && *c.images > 0) images = c.images;
  if (images) sub += " \u00B7 drops on " + format_count(*images) + " assessment images";
  svg.text(left - 60, 40, sub, 11.5, "start", colour::grey);

  std::vector<const CandidatePoint*> lossy;
  for (const auto& c : l.candidates)
    if (c.bound > 0) lossy.push_back(&c);
  const std::optional<size_t> chosen = l.chosen();

  // x: a log axis of the lossy bounds, the lossless option in a column of its own.
  double blo = 1e-3, bhi = 1e-2;
  if (!lossy.empty()) {
    blo = plotted_positive(lossy.front()->bound);
    bhi = plotted_positive(lossy.back()->bound);
  }
  if (!chosen && l.error_bound > 0) {
    blo = std::min(blo, plotted_positive(l.error_bound));
    bhi = std::max(bhi, plotted_positive(l.error_bound));
  }
  if (bhi <= blo * 1.0001) {
    blo /= 2;
    bhi *= 2;
  } else {
    // In log space: bhi / blo may not be a double (1e300 / 1e-300).
    const double pad = std::pow(10.0, 0.06 * (std::log10(bhi) - std::log10(blo)));
    blo /= pad;
    bhi *= pad;
  }
  const LogScale x{blo, bhi, log0, log1};
  auto px = [&](double bound) { return bound > 0 ? x(plotted_positive(bound)) : x_lossless; };

  // y of the top panel: drops, zero, and the budget line.
  double dlo = 0, dhi = 0;
  for (const auto& c : l.candidates) {
    dlo = std::min(dlo, plotted(c.drop));
    dhi = std::max(dhi, plotted(c.drop));
  }
  if (ctx.budget_pp) dhi = std::max(dhi, plotted(*ctx.budget_pp));
  if (dhi - dlo < 0.05) dhi = dlo + 0.05;
  const double dpad = 0.06 * (dhi - dlo);
  dhi += dpad;
  if (dlo < 0) dlo -= dpad;
  const std::vector<double> dticks = nice_ticks(dlo, dhi, 5);
  const LinearScale yd{dlo, dhi, top1, top0};

  // y of the bottom panel: bytes from zero.
  uint64_t bmax = 1;
  for (const auto& c : l.candidates) bmax = std::max(bmax, c.bytes());
  const bool kilo = bmax >= 100000;
  const double unit = kilo ? 1000.0 : 1.0;
  double ylo = 0, yhi = double(bmax) / unit * 1.08;
  const std::vector<double> bticks = nice_ticks(ylo, yhi, 3);
  const LinearScale yb{ylo, yhi, bot1, bot0};

  y_axis(svg, yd, dticks, left, right);
  y_axis(svg, yb, bticks, left, right);
  if (dlo < 0 && dhi > 0) svg.line(left, yd(0), right, yd(0), "#9a9a9a", 1);
  svg.text(20, (top0 + top1) / 2, "top-1 drop (points)", kLabelFont, "middle", colour::ink, nullptr, -90);
  svg.text(20, (bot0 + bot1) / 2, kilo ? "stored kB" : "stored bytes", kLabelFont, "middle", colour::ink, nullptr,
           -90);

  // x ticks: labelled ones with vertical grid lines, minor ones unlabelled.
  const std::vector<double> ticks = log_ticks(blo, bhi);
  const std::vector<std::string> labels = log_tick_labels(ticks);
  // A label that would touch "lossless" or its left neighbour is left out
  // (its tick and grid line stay).
  double free_from = x_lossless + text_width("lossless", kTickFont) / 2 + 6;
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double p = x(ticks[i]);
    svg.line(p, top0, p, top1, colour::grid, 1);
    svg.line(p, bot0, p, bot1, colour::grid, 1);
    svg.line(p, top1, p, top1 + 4, colour::ink, 1);
    svg.line(p, bot1, p, bot1 + 4, colour::ink, 1);
    const double half = text_width(labels[i], kTickFont) / 2;
    if (p - half < free_from) continue;
    svg.text(p, bot1 + 18, labels[i], kTickFont, "middle");
    free_from = p + half + 6;
  }
  if (ticks.size() <= 4) {
    const int k0 = int(std::floor(std::log10(blo))), k1 = int(std::ceil(std::log10(bhi)));
    for (int k = k0; k <= k1; ++k)
      for (int m = 2; m <= 9; ++m) {
        const double t = m * std::pow(10.0, k);
        if (t < blo || t > bhi) continue;
        svg.line(x(t), bot1, x(t), bot1 + 2.5, colour::ink, 0.8);
        svg.line(x(t), top1, x(t), top1 + 2.5, colour::ink, 0.8);
      }
  }
  svg.line(x_lossless, top1, x_lossless, top1 + 4, colour::ink, 1);
  svg.line(x_lossless, bot1, x_lossless, bot1 + 4, colour::ink, 1);
  svg.text(x_lossless, bot1 + 18, "lossless", kTickFont, "middle");
  broken_axis(svg, left, x_break, right, top1);
  broken_axis(svg, left, x_break, right, bot1);
  svg.text((log0 + log1) / 2, bot1 + 38, "absolute error bound (log scale)", kLabelFont, "middle");

  if (ctx.budget_pp)
    svg.line(left, yd(plotted(*ctx.budget_pp)), right, yd(plotted(*ctx.budget_pp)), colour::orange, 1.5, "6 4");

  // The chosen bound: a guide through both panels, drawn under the points.
  const double chosen_x = px(l.error_bound);
  svg.line(chosen_x, top0, chosen_x, bot1, colour::vermilion, 1, "2 3");

  // The measured candidates.
  std::vector<std::pair<double, double>> drop_line, bytes_line;
  for (const CandidatePoint* c : lossy) {
    drop_line.emplace_back(px(c->bound), yd(plotted(c->drop)));
    bytes_line.emplace_back(px(c->bound), yb(double(c->bytes()) / unit));
  }
  svg.polyline(drop_line, colour::blue, 1.5);
  svg.polyline(bytes_line, colour::blue, 1.5);
  for (const auto& c : l.candidates) {
    const std::string tip = candidate_tooltip(c);
    svg.circle(px(c.bound), yd(plotted(c.drop)), 3.6, colour::blue, "#ffffff", 1, tip, "data-role=\"candidate\"");
    svg.circle(px(c.bound), yb(double(c.bytes()) / unit), 3.6, colour::blue, "#ffffff", 1, tip);
  }
  if (lossy.empty())
    svg.text((log0 + log1) / 2, (top0 + top1) / 2, "no lossy bound was measured for this tensor", kLabelFont,
             "middle", colour::grey);

  std::string chosen_text;
  if (chosen) {
    const CandidatePoint& c = l.candidates[*chosen];
    const std::string attrs = "data-role=\"chosen\" data-bound=\"" + format_exact(c.bound) + "\" data-drop=\"" +
                              format_exact(c.drop) + "\"";
    svg.diamond(px(c.bound), yd(plotted(c.drop)), 6.5, colour::vermilion, colour::ink, "chosen: " + candidate_tooltip(c),
                attrs);
    svg.diamond(px(c.bound), yb(double(c.bytes()) / unit), 6.5, colour::vermilion, colour::ink,
                "chosen: " + candidate_tooltip(c), "data-role=\"chosen-bytes\"");
    chosen_text = "chosen: " + bound_text(c.bound) + ", drop " + format_fixed(c.drop, 2) + " points, " +
                  format_count(c.bytes()) + " bytes";
  } else {
    chosen_text = "chosen: " + bound_text(l.error_bound) + " (not among the measured candidates)";
    svg.raw("<g data-role=\"chosen\" data-bound=\"" + format_exact(l.error_bound) + "\"></g>\n");
  }

  // Legend, below the axes so that it never covers a point.
  double ly = bot1 + 64;
  svg.circle(left - 52, ly - 4, 3.6, colour::blue, "#ffffff");
  svg.text(left - 44, ly, "measured candidate (every other tensor exact)", kTickFont);
  if (ctx.budget_pp) {
    svg.line(left + 236, ly - 4, left + 260, ly - 4, colour::orange, 1.5, "6 4");
    svg.text(left + 266, ly, "budget " + format_fixed(*ctx.budget_pp, 2) + " points (whole model)", kTickFont);
  }
  ly += 20;
  svg.diamond(left - 52, ly - 4, 6, colour::vermilion, colour::ink);
  svg.text(left - 44, ly, chosen_text, kTickFont);
  fig.svg = svg.finish(true);
  return fig;
}

// ---------------------------------------------------------------------------
// Bytes per tensor, stacked: index, values; the container's own bytes last.
// ---------------------------------------------------------------------------

Figure bytes_per_layer_figure(const std::vector<Layer>& layers, std::optional<uint64_t> metadata_bytes,
                              std::optional<uint64_t> dsz_bytes) {
  struct Row {
    std::string label, tooltip;
    std::vector<std::pair<uint64_t, const char*>> parts;
    uint64_t total() const {
      uint64_t t = 0;
      for (const auto& p : parts) t += p.first;
      return t;
    }
  };
  uint64_t streams = 0;
  std::vector<Row> rows;
  for (const Layer& l : layers) {
    Row r;
    r.label = truncate_utf8(l.name, 24);
    r.parts = {{l.index_bytes, colour::blue}, {l.value_bytes, colour::orange}};
    r.tooltip = l.name + ": " + format_count(l.index_bytes + l.value_bytes) + " bytes (index " +
                format_count(l.index_bytes) + ", values " + format_count(l.value_bytes) + ")";
    streams += l.index_bytes + l.value_bytes;
    rows.push_back(r);
  }
  // What the file holds beyond the streams; the report does not split the
  // headers and directory per tensor, so they are one bar of their own.
  std::optional<uint64_t> framing;
  if (dsz_bytes && *dsz_bytes >= streams + metadata_bytes.value_or(0))
    framing = *dsz_bytes - streams - metadata_bytes.value_or(0);
  if (metadata_bytes || framing) {
    Row r;
    r.label = "container";
    if (metadata_bytes) r.parts.push_back({*metadata_bytes, colour::green});
    if (framing) r.parts.push_back({*framing, colour::grey});
    r.tooltip = "container: metadata " + (metadata_bytes ? format_count(*metadata_bytes) : "not recorded") +
                " bytes, headers and directory " + (framing ? format_count(*framing) : "unknown") + " bytes";
    rows.push_back(r);
  }

  const double row_h = 26, bar_h = 15;
  double label_w = 60;
  for (const Row& r : rows) label_w = std::max(label_w, text_width(r.label, 11.5));
  const int W = 560;
  const double left = std::min(200.0, label_w + 18), right = W - 118;
  const double bars0 = 82;
  const int H = int(bars0 + rows.size() * row_h + 52);

  Figure fig;
  fig.file_name = "bytes_per_layer.svg";
  fig.title = "Bytes per tensor in the .dsz file";
  Svg svg(W, H, fig.title, "data-plot=\"bytes_per_layer\"");
  svg.text(18, 22, fig.title, 15, "start", colour::ink, "bold");
  std::string sub = "streams " + format_count(streams) + " bytes";
  if (dsz_bytes) sub = format_count(*dsz_bytes) + " bytes in all: " + sub;
  if (metadata_bytes) sub += ", metadata " + format_count(*metadata_bytes);
  if (framing) sub += ", headers and directory " + format_count(*framing);
  svg.text(18, 40, sub, 11.5, "start", colour::grey);

  // Legend on one line above the bars.
  double lx = 18;
  auto key = [&](const char* fill, const char* label) {
    svg.rect(lx, 52, 11, 11, fill);
    svg.text(lx + 16, 62, label, kTickFont);
    lx += 16 + text_width(label, kTickFont) + 16;
  };
  key(colour::blue, "index (positions)");
  key(colour::orange, "values");
  if (metadata_bytes) key(colour::green, "metadata");
  if (framing) key(colour::grey, "headers and directory");

  uint64_t max_total = 1;
  for (const Row& r : rows) max_total = std::max(max_total, r.total());
  double xlo = 0, xhi = double(max_total);
  const std::vector<double> ticks = nice_ticks(xlo, xhi, 4);
  const LinearScale x{xlo, xhi, left, right};
  const double axis_y = bars0 + rows.size() * row_h;
  for (double t : ticks) {
    svg.line(x(t), bars0 - 4, x(t), axis_y, colour::grid, 1);
    svg.line(x(t), axis_y, x(t), axis_y + 4, colour::ink, 1);
    svg.text(x(t), axis_y + 17, format_grouped(t, tick_decimals(ticks)), kTickFont, "middle");
  }
  svg.line(left, axis_y, right, axis_y, colour::ink, 1);
  svg.line(left, bars0 - 4, left, axis_y, colour::ink, 1);
  svg.text((left + right) / 2, axis_y + 36, "bytes", kLabelFont, "middle");

  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double y = bars0 + i * row_h + (row_h - bar_h) / 2;
    svg.text(left - 8, y + bar_h - 3.5, r.label, 11.5, "end");
    double at = 0;
    for (const auto& [bytes, fill] : r.parts) {
      svg.rect(x(at), y, x(at + double(bytes)) - x(at), bar_h, fill, nullptr, r.tooltip,
               "data-role=\"segment\" data-bytes=\"" + std::to_string(bytes) + "\"");
      at += double(bytes);
    }
    std::string value = format_count(r.total()) + " B";
    if (dsz_bytes && *dsz_bytes > 0) value += " \u00B7 " + format_fixed(100.0 * double(r.total()) / double(*dsz_bytes), 1) + "%";
    svg.text(x(at) + 6, y + bar_h - 3.5, value, kTickFont, "start", colour::grey);
  }
  fig.svg = svg.finish(true);
  return fig;
}

// ---------------------------------------------------------------------------
// Pruning: density and selection top-1 after each step.
// ---------------------------------------------------------------------------

Figure prune_trajectory_figure(const std::vector<PruneStep>& steps) {
  const int W = 560, H = 430;
  const double left = 78, right = W - 24;
  const double a0 = 60, a1 = 210, b0 = 236, b1 = 346;

  Figure fig;
  fig.file_name = "prune_trajectory.svg";
  fig.title = "Pruning trajectory: density and selection top-1 per step";
  Svg svg(W, H, fig.title, "data-plot=\"prune_trajectory\"");
  size_t accepted = 0;
  for (const auto& s : steps) accepted += s.accepted.value_or(false);
  svg.text(18, 22, "Pruning trajectory", 15, "start", colour::ink, "bold");
  svg.text(18, 40,
           std::to_string(steps.size()) + " steps, " + std::to_string(accepted) +
               " accepted; density and top-1 on the selection split after each step",
           11.5, "start", colour::grey);

  const LinearScale x{0.5, double(steps.size()) + 0.5, left + 4, right - 4};

  // Density on a log axis: each step removes a fraction of the survivors.
  double dlo = 1.0, dhi = 0.0;
  for (const auto& s : steps)
    if (s.density && *s.density > 0) {
      dlo = std::min(dlo, plotted_positive(*s.density * 100));
      dhi = std::max(dhi, plotted_positive(*s.density * 100));
    }
  if (dhi <= 0) {
    dlo = 1;
    dhi = 100;
  }
  if (dhi <= dlo * 1.0001) {
    dlo /= 1.5;
    dhi *= 1.5;
  } else {
    const double pad = std::pow(10.0, 0.08 * (std::log10(dhi) - std::log10(dlo)));
    dlo /= pad;
    dhi *= pad;
  }
  const LogScale ya{dlo, dhi, a1, a0};
  const std::vector<double> aticks = log_ticks(dlo, dhi);
  const std::vector<std::string> alabels = log_tick_labels(aticks);
  for (size_t i = 0; i < aticks.size(); ++i) {
    svg.line(left, ya(aticks[i]), right, ya(aticks[i]), colour::grid, 1);
    svg.line(left - 4, ya(aticks[i]), left, ya(aticks[i]), colour::ink, 1);
    svg.text(left - 7, ya(aticks[i]) + 4, alabels[i] + "%", kTickFont, "end");
  }
  svg.line(left, a0, left, a1, colour::ink, 1);
  svg.line(left, a1, right, a1, colour::ink, 1);
  svg.text(20, (a0 + a1) / 2, "weights kept", kLabelFont, "middle", colour::ink, nullptr, -90);

  double tlo = 100, thi = 0;
  for (const auto& s : steps)
    if (s.selection_top1) {
      tlo = std::min(tlo, plotted(*s.selection_top1 * 100));
      thi = std::max(thi, plotted(*s.selection_top1 * 100));
    }
  if (thi < tlo) {
    tlo = 0;
    thi = 100;
  }
  if (thi - tlo < 0.2) {
    tlo -= 0.1;
    thi += 0.1;
  }
  const double tpad = 0.08 * (thi - tlo);
  tlo -= tpad;
  thi += tpad;
  const std::vector<double> bticks = nice_ticks(tlo, thi, 4);
  const LinearScale yb{tlo, thi, b1, b0};
  y_axis(svg, yb, bticks, left, right, "%");
  svg.line(left, b1, right, b1, colour::ink, 1);
  svg.text(20, (b0 + b1) / 2, "top-1", kLabelFont, "middle", colour::ink, nullptr, -90);

  const size_t every = steps.size() <= 16 ? 1 : (steps.size() + 15) / 16;
  for (size_t i = 0; i < steps.size(); ++i) {
    const double p = x(double(i + 1));
    if ((i + 1) % every && i != 0) continue;
    svg.line(p, a1, p, a1 + 4, colour::ink, 1);
    svg.line(p, b1, p, b1 + 4, colour::ink, 1);
    svg.text(p, b1 + 18, std::to_string(i + 1), kTickFont, "middle");
  }
  svg.text((left + right) / 2, b1 + 38, "pruning step", kLabelFont, "middle");

  std::vector<std::pair<double, double>> kept_density, kept_top1;
  for (size_t i = 0; i < steps.size(); ++i) {
    const PruneStep& s = steps[i];
    if (!s.accepted.value_or(false)) continue;
    if (s.density && *s.density > 0) kept_density.emplace_back(x(double(i + 1)), ya(plotted_positive(*s.density * 100)));
    if (s.selection_top1) kept_top1.emplace_back(x(double(i + 1)), yb(plotted(*s.selection_top1 * 100)));
  }
  svg.polyline(kept_density, colour::blue, 1.5);
  svg.polyline(kept_top1, colour::blue, 1.5);
  for (size_t i = 0; i < steps.size(); ++i) {
    const PruneStep& s = steps[i];
    std::string tip = "step " + std::to_string(i + 1) + ": density " +
                      (s.density ? format_percent(*s.density, 2) : std::string("not recorded")) +
                      ", selection top-1 " +
                      (s.selection_top1 ? format_percent(*s.selection_top1, 2) : std::string("not recorded")) +
                      ", drop " + (s.drop_pp ? format_fixed(*s.drop_pp, 2) + " points" : std::string("not recorded")) +
                      (s.accepted ? (*s.accepted ? ", accepted" : ", refused") : ", acceptance not recorded");
    const double p = x(double(i + 1));
    auto mark = [&](double y) {
      if (s.accepted && *s.accepted)
        svg.circle(p, y, 4, colour::blue, "#ffffff", 1, tip, "data-role=\"step\"");
      else if (s.accepted)
        svg.cross(p, y, 4, colour::vermilion, 1.8, tip, "data-role=\"step\"");
      else
        svg.circle(p, y, 4, "#ffffff", colour::grey, 1.5, tip, "data-role=\"step\"");
    };
    if (s.density && *s.density > 0) mark(ya(plotted_positive(*s.density * 100)));
    if (s.selection_top1) mark(yb(plotted(*s.selection_top1 * 100)));
  }

  const double ly = b1 + 64;
  svg.circle(left - 52, ly - 4, 4, colour::blue, "#ffffff");
  svg.text(left - 44, ly, "accepted step", kTickFont);
  svg.cross(left + 74, ly - 4, 4, colour::vermilion, 1.8);
  svg.text(left + 84, ly, "refused step (its model discarded)", kTickFont);
  fig.svg = svg.finish(true);
  return fig;
}

}  // namespace deepsz::report::detail
