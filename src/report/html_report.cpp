// The compress report as one self-contained HTML page (docs/REPORT.md).
//
// Every figure shown comes from a field of the report (or of the assessment
// table of the same run); a field that is absent is said to be absent on the
// page. Every string of the inputs goes through escape().
#include <algorithm>
#include <map>
#include <set>

#include "deepsz/error.h"
#include "deepsz/html_report.h"
#include "report_internal.h"
#include "svg.h"

namespace deepsz::report {

using namespace detail;

namespace {

constexpr const char* kReportFormat = "deepsz-compress-report";
constexpr const char* kAssessmentFormat = "deepsz-assessment";
constexpr int kReadableVersion = 1;

// Parses a document and checks its "format"; `what` names it in errors.
json parse_document(const std::string& text, const char* format, const char* what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::foreign_format,
                std::string("not a ") + what + ": not JSON (parse error at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {
    // JSON in form, but beyond what a double holds (1e999): out_of_range.
    throw Error(ErrorCode::corruption_detected, std::string(what) + ": " + e.what());
  }
  if (!j.is_object()) throw Error(ErrorCode::foreign_format, std::string("not a ") + what + ": JSON, but not an object");
  auto f = j.find("format");
  if (f == j.end() || !f->is_string())
    throw Error(ErrorCode::foreign_format, std::string("not a ") + what + ": no \"format\" field");
  if (f->get<std::string>() != format)
    throw Error(ErrorCode::foreign_format, std::string("not a ") + what + ": format \"" + f->get<std::string>() +
                                               "\", expected \"" + format + "\"");
  auto v = j.find("version");
  if (v != j.end() && v->is_number() && v->get<double>() > kReadableVersion)
    throw Error(ErrorCode::unsupported_version, std::string(what) + " format version " + v->dump() +
                                                    "; this build reads version " +
                                                    std::to_string(kReadableVersion));
  return j;
}

// A headline figure with its exact value attached, so that a test (or a
// reader's tool) can compare the page with the JSON it came from.
std::string figure_span(const std::string& key, double value, const std::string& text) {
  return "<span class=\"num\" data-key=\"" + escape(key) + "\" data-value=\"" + format_exact(value) + "\">" +
         escape(text) + "</span>";
}

std::string absent(const std::string& what) { return "<span class=\"absent\">" + escape(what) + "</span>"; }

std::string code(const std::string& s) { return "<code>" + escape(s) + "</code>"; }

const char* kCss = R"css(
:root { --ink: #1a1a1a; --grey: #5f6368; --rule: #d9d9d9; --soft: #f5f6f7; --accent: #0072B2; --warn: #b3261e; }
* { box-sizing: border-box; }
html { background: #ffffff; }
body { margin: 0; color: var(--ink); font: 15px/1.5 'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
.figures > section > h2 { margin-top: 20px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p { margin: 6px 0 10px; }
.sub { color: var(--grey); margin: 0 0 18px; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 14px 0 16px; }
.kpi { background: var(--soft); border: 1px solid var(--rule); border-radius: 6px; padding: 12px 14px; }
.kpi .v { font-size: 26px; font-weight: bold; line-height: 1.2; font-variant-numeric: tabular-nums; }
.kpi .l { color: var(--grey); font-size: 13px; margin-top: 4px; }
.guarantee { font-size: 17px; border-left: 4px solid var(--accent); padding: 8px 14px; background: #f1f7fb; margin: 14px 0; }
.guarantee.not { border-left-color: var(--warn); background: #fbf1f0; }
.detail { color: var(--grey); font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: right; vertical-align: top; }
th { font-weight: bold; background: var(--soft); }
td.t, th.t { text-align: left; }
tr.total td { font-weight: bold; border-top: 1.5px solid var(--ink); }
.figures { display: grid; grid-template-columns: repeat(2, minmax(0, 560px)); gap: 18px 24px; }
figure { margin: 0; max-width: 560px; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
table#config { font-size: 14px; }
table#config td { white-space: nowrap; }
@media (max-width: 820px) { .figures { grid-template-columns: minmax(0, 1fr); } .kpis { grid-template-columns: repeat(2, 1fr); } }
figcaption { color: var(--grey); font-size: 13px; margin-top: 4px; }
.missing { border: 1px dashed #b0b0b0; border-radius: 4px; padding: 14px; color: var(--grey); background: #fafafa; }
.absent { color: var(--grey); font-style: italic; }
.over { color: var(--warn); font-weight: bold; }
code, pre { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--rule); padding: 8px 10px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
dl.prov { display: grid; grid-template-columns: 190px 1fr; gap: 4px 14px; margin: 8px 0; }
dl.prov dt { color: var(--grey); }
dl.prov dd { margin: 0; overflow-wrap: anywhere; }
footer { margin-top: 36px; color: var(--grey); font-size: 13px; border-top: 1px solid var(--rule); padding-top: 10px; }
@media print { main { max-width: none; padding: 0; } .figures { grid-template-columns: repeat(2, minmax(0, 1fr)); } h2 { break-after: avoid; } figure { break-inside: avoid; } }
)css";

struct Page {
  const json& r;
  std::vector<Layer> layers;
  std::vector<Figure> figures;
  std::string html;

  void add(const std::string& s) { html += s; }

  std::optional<double> num(const char* key) const { return number_at(r, key, ""); }
  std::optional<uint64_t> count(const char* key) const { return count_at(r, key, ""); }
  std::optional<std::string> str(const char* key) const { return string_at(r, key, ""); }

  // A fraction as a percentage with its exact value attached.
  std::string pct(const std::string& key, std::optional<double> fraction) const {
    return fraction ? figure_span(key, *fraction, format_percent(*fraction, 2)) : absent("not recorded");
  }
  std::string points(const std::string& key, std::optional<double> v) const {
    return v ? figure_span(key, *v, format_fixed(*v, 2)) : absent("not recorded");
  }

  void headline();
  void top1_table(const json* cert);
  void curves();
  void bytes();
  void prune();
  void configuration();
  void search();
  void provenance();
};

std::string reference_words(const std::string& against) {
  if (against == "dense") return "the dense model";
  if (against == "input") return "the input model";
  return "the " + against + " model";
}

void Page::headline() {
  const json* cert = object_at(r, "certification", "");
  const std::string against = str("budget_against").value_or("");
  const bool dense = bool_at(r, "dense_recorded", "").value_or(false);

  add("<section id=\"headline\">\n<div class=\"kpis\">\n");
  const auto ratio = num("ratio");
  add("<div class=\"kpi\"><div class=\"v\">" +
      (ratio ? figure_span("ratio", *ratio, format_fixed(*ratio, *ratio < 10 ? 2 : 1) + "\u00D7") : absent("n/a")) +
      "</div><div class=\"l\">compression ratio (float32 bytes of all parameters / bytes of the .dsz file)</div></div>\n");
  const auto dsz = count("dsz_bytes"), original = count("original_bytes");
  add("<div class=\"kpi\"><div class=\"v\">" +
      (dsz ? figure_span("dsz_bytes", double(*dsz), format_count(*dsz) + " B") : absent("n/a")) +
      "</div><div class=\"l\">the .dsz file, from " +
      (original ? figure_span("original_bytes", double(*original), format_count(*original)) : absent("?")) +
      " bytes of float32 parameters</div></div>\n");
  const auto test_after = num("test_top1_after"), test_before = num("test_top1_before");
  add("<div class=\"kpi\"><div class=\"v\">" + pct("test_top1_after", test_after) +
      "</div><div class=\"l\">decoded top-1 on the test split (" + (dense ? "dense " : "input ") +
      (test_before ? escape(format_percent(*test_before, 2)) : absent("not recorded")) +
      "; reported only)</div></div>\n");
  if (cert) {
    const auto ub = number_at(*cert, "upper_bound_pp", "certification");
    const auto conf = number_at(*cert, "confidence", "certification");
    add("<div class=\"kpi\"><div class=\"v\">" +
        (ub ? "\u2264 " + figure_span("certification.upper_bound_pp", *ub, format_fixed(*ub, 2)) + " pt"
            : absent("n/a")) +
        "</div><div class=\"l\">certified top-1 loss against " + escape(reference_words(
            string_at(*cert, "against", "certification").value_or(against))) +
        (conf ? ", " + escape(format_confidence(*conf)) + " confidence" : "") + "</div></div>\n");
  } else {
    add("<div class=\"kpi\"><div class=\"v\">not certified</div><div class=\"l\">no certification split was "
        "measured for this model</div></div>\n");
  }
  add("</div>\n");

  // The guarantee in plain words.
  if (cert) {
    const std::string where = "certification";
    const auto ub = number_at(*cert, "upper_bound_pp", where);
    const auto conf = number_at(*cert, "confidence", where);
    const auto images = count_at(*cert, "images", where);
    const auto passed = bool_at(*cert, "passed", where);
    const std::string ref = reference_words(string_at(*cert, "against", where).value_or(against));
    std::string s = "<p class=\"guarantee" + std::string(passed && !*passed ? " not" : "") +
                    "\" id=\"guarantee\">With " +
                    (conf ? figure_span("certification.confidence", *conf, format_confidence(*conf))
                          : absent("unrecorded")) +
                    " confidence the decoded model loses at most " +
                    (ub ? figure_span("certification.upper_bound_pp", *ub, format_fixed(*ub, 2)) : absent("?")) +
                    " points of top-1 against " + escape(ref) + " (certified on " +
                    (images ? figure_span("certification.images", double(*images), format_count(*images))
                            : absent("an unrecorded number of")) +
                    " images that no decision used).";
    const auto max_loss = num("max_loss_pp");
    if (passed && max_loss)
      s += *passed ? " The budget of " + escape(format_fixed(*max_loss, 2)) + " points is met."
                   : " <span class=\"over\">The budget of " + escape(format_fixed(*max_loss, 2)) +
                         " points is not met.</span>";
    add(s + "</p>\n");
    const auto drop = number_at(*cert, "drop_pp", where);
    const auto c2w = count_at(*cert, "correct_to_wrong", where), w2c = count_at(*cert, "wrong_to_correct", where);
    const auto looks = count_at(*cert, "looks", where), max_looks = count_at(*cert, "max_looks", where);
    std::string d = "<p class=\"detail\">Measured on those images: a drop of " +
                    points("certification.drop_pp", drop) + " points";
    if (c2w && w2c)
      d += " (" + escape(format_count(*c2w)) + " images right\u2192wrong, " + escape(format_count(*w2c)) +
           " wrong\u2192right; exact paired test on the discordant images)";
    if (looks) d += "; " + escape(std::to_string(*looks)) + " look(s) in a fixed order from the safest candidate" +
                    (max_looks ? " (at most " + escape(std::to_string(*max_looks)) + ")" : "");
    d += ". The steps are under \u201CHow the configuration was found\u201D.";
    add(d + "</p>\n");
  } else {
    std::string s = "<p class=\"guarantee not\" id=\"guarantee\">Not certified: this report has no certification "
                    "(no split of images that no decision used was measured). ";
    const auto measured = num("measured_drop_pp"), bound = num("drop_upper_bound_pp"), conf = num("drop_confidence");
    const auto images = count("images_val");
    if (measured) {
      s += "On the " + (images ? figure_span("images_val", double(*images), format_count(*images)) : absent("?")) +
           " validation images, which also chose the configuration, the compression step lost " +
           figure_span("measured_drop_pp", *measured, format_fixed(*measured, 2)) + " points against the " +
           (dense && against == "dense" ? "pruned input" : "input") + " model";
      if (bound)
        s += " (one-sided " + (conf ? escape(format_confidence(*conf)) : absent("?")) + " bound " +
             figure_span("drop_upper_bound_pp", *bound, format_fixed(*bound, 2)) + ")";
      s += "; the same images made the decisions, so this is no certificate.";
    }
    add(s + "</p>\n");
  }
  top1_table(cert);

  // The budget and how it was spent.
  std::string b = "<p>";
  const auto max_loss = num("max_loss_pp"), pruning = num("pruning_loss_pp"), budget = num("budget_pp");
  const auto estimated = num("estimated_drop_pp"), measured = num("measured_drop_pp");
  if (max_loss) {
    b += "Budget: at most " + points("max_loss_pp", max_loss) + " points of top-1 against " +
         escape(reference_words(against.empty() ? "reference" : against)) + ".";
    if (pruning && budget && against == "dense")
      b += " Pruning used " + points("pruning_loss_pp", pruning) + " of them on validation, leaving " +
           points("budget_pp", budget) + " to the compression step.";
    else if (budget)
      b += " The compression step was given " + points("budget_pp", budget) + ".";
  } else {
    b += "Budget: " + absent("not recorded in this report") + ".";
  }
  if (estimated && measured) {
    b += " Drop of the chosen configuration on validation against the input: estimated " +
         escape(format_fixed(*estimated, 2)) + " (sum of the layers' drops), measured " +
         escape(format_fixed(*measured, 2)) + ".";
  }
  if (const auto within = bool_at(r, "within_budget", ""); within && !*within)
    b += " <span class=\"over\">The measured drop is over the budget.</span>";
  add(b + "</p>\n");
  if (const json* u = object_at(r, "uncertified", "")) {
    const auto bytes = count_at(*u, "tensor_bytes", "uncertified");
    const auto sel = number_at(*u, "selection_drop_pp", "uncertified");
    const auto test = number_at(*u, "test_drop_vs_dense_pp", "uncertified");
    if (bytes)
      add("<p class=\"detail\">Without certification, the selection split alone would have chosen " +
          escape(format_count(*bytes)) + " bytes of streams (selection drop " +
          (sel ? escape(format_fixed(*sel, 2)) : absent("not recorded")) + ", test drop against dense " +
          (test ? escape(format_fixed(*test, 2)) : absent("not recorded")) + " points).</p>\n");
  }
  add("</section>\n");
}

void Page::top1_table(const json* cert) {
  const bool dense = bool_at(r, "dense_recorded", "").value_or(false);
  add("<table id=\"top1\">\n<tr><th class=\"t\">top-1</th><th>images</th>");
  add(dense ? "<th>dense</th><th>pruned input</th>" : "<th>input</th>");
  add(std::string("<th>decoded</th><th>decoded vs ") + (dense ? "dense" : "input") + " (points)</th></tr>\n");
  auto row = [&](const std::string& label, std::optional<uint64_t> images, const std::string& key_before,
                 std::optional<double> before, const std::string& key_input, std::optional<double> input,
                 const std::string& key_after, std::optional<double> after, const std::string& key_drop,
                 std::optional<double> drop, bool input_measured) {
    add("<tr><td class=\"t\">" + label + "</td><td>" +
        (images ? escape(format_count(*images)) : absent("not recorded")) + "</td><td>" + pct(key_before, before) +
        "</td>");
    if (dense) add("<td>" + (input_measured ? pct(key_input, input) : absent("not measured")) + "</td>");
    add("<td>" + pct(key_after, after) + "</td><td>" + points(key_drop, drop) + "</td></tr>\n");
  };
  const auto assess = count("images_assess"), holdout = count("images_holdout");
  std::string val_label = "validation (selection";
  if (assess && holdout && *holdout > 0)
    val_label += ": " + format_count(*assess) + " assessed, " + format_count(*holdout) + " held out";
  val_label += ")";
  row(escape(val_label), count("images_val"), "val_top1_before", num("val_top1_before"), "input_val_top1",
      num("input_val_top1"), "val_top1_after", num("val_top1_after"), "val_drop_vs_dense_pp",
      num("val_drop_vs_dense_pp"), true);
  row("test (reported only, never selected on)", count("images_test"), "test_top1_before", num("test_top1_before"),
      "input_test_top1", num("input_test_top1"), "test_top1_after", num("test_top1_after"), "test_drop_vs_dense_pp",
      num("test_drop_vs_dense_pp"), true);
  if (cert) {
    const std::string w = "certification";
    const std::string ref = string_at(*cert, "against", w).value_or("dense");
    // The certification reference is the budget's reference model.
    const bool ref_is_input = dense && ref == "input";
    const auto before = number_at(*cert, "top1_before", w);
    row("certification (used by no decision)", count_at(*cert, "images", w), "certification.top1_before",
        ref_is_input ? std::nullopt : before, "certification.top1_before", before, "certification.top1_after",
        number_at(*cert, "top1_after", w), "certification.drop_pp", number_at(*cert, "drop_pp", w), ref_is_input);
  }
  add("</table>\n");
}

void Page::curves() {
  add("<section id=\"curves\">\n<h2>Accuracy drop against error bound, per layer</h2>\n");
  std::set<std::string> sources;
  for (const Layer& l : layers)
    if (l.is_weight() && !l.candidates.empty()) sources.insert(l.candidates_from);
  add("<p>One plot per weight tensor. Each point is one error bound measured with every other tensor exact: top, "
      "the drop of top-1 in points on the assessment images (negative: noise, the decoded layer happened to get "
      "more images right); bottom, the bytes of the tensor (index and values) at that bound. The diamond is the "
      "bound written in the file; the dashed line is the compression step's budget for the whole model. Curves "
      "from ");
  if (sources.empty()) add(absent("nowhere: no per-bound measurements in the inputs"));
  for (auto it = sources.begin(); it != sources.end(); ++it)
    add((it == sources.begin() ? "" : " and ") + std::string("the ") + escape(*it));
  add(".</p>\n<div class=\"figures\">\n");
  const std::optional<double> budget = num("budget_pp");
  std::map<std::string, int> used_names;
  std::vector<std::string> not_plotted;
  for (const Layer& l : layers) {
    if (!l.is_weight()) {
      not_plotted.push_back(l.name);
      continue;
    }
    const bool lossy = std::any_of(l.candidates.begin(), l.candidates.end(),
                                   [](const CandidatePoint& c) { return c.bound > 0; });
    if (!lossy) {
      std::string why;
      if (!l.candidates.empty())
        why = "only the lossless option was measured for this tensor (no lossy bound was assessed).";
      else if (l.candidate_count)
        why = "the report holds only the number of candidates measured (" + std::to_string(*l.candidate_count) +
              "), not their drops. Pass the assessment table of the run to draw this plot: dsz report REPORT.json "
              "--assessment TABLE.json (the file of deepsz compress --assessment).";
      else
        why = "no candidates of this tensor are in the report or the assessment table.";
      add("<div class=\"missing\" data-missing-plot=\"" + escape(l.name) + "\"><b>" + escape(l.name) + "</b>: " +
          escape(why) + "</div>\n");
      continue;
    }
    std::string base = "drop_vs_bound_" + file_name_part(l.name);
    const int n = ++used_names[base];
    if (n > 1) base += "-" + std::to_string(n);
    CurveContext ctx{budget, base + ".svg"};
    Figure f = drop_vs_bound_figure(l, ctx);
    add("<figure>" + inline_svg(f) + "<figcaption>" + escape(l.name) + ": " + std::to_string(l.candidates.size()) +
        " candidates (lossless included), from the " + escape(l.candidates_from) + "; standalone file " +
        code(f.file_name) + ".</figcaption></figure>\n");
    figures.push_back(std::move(f));
  }
  add("</div>\n");
  if (!not_plotted.empty()) {
    std::string list;
    for (size_t i = 0; i < not_plotted.size(); ++i) list += (i ? ", " : "") + code(not_plotted[i]);
    add("<p class=\"detail\">Not plotted (biases and other small tensors; their chosen bounds are in the "
        "configuration table): " +
        list + ".</p>\n");
  }
  add("</section>\n");
}

void Page::bytes() {
  add("<section id=\"bytes\">\n<h2>Where the bytes go</h2>\n");
  Figure f = bytes_per_layer_figure(layers, count("metadata_bytes"), count("dsz_bytes"));
  add("<figure>" + inline_svg(f) + "<figcaption>Index: the coded positions of the surviving weights; values: the "
      "error-bounded codes of their values. The report does not split the container's headers and directory by "
      "tensor: they are the last bar, with the metadata. Standalone file " + code(f.file_name) +
      ".</figcaption></figure>\n</section>\n");
  figures.push_back(std::move(f));
}

void Page::prune() {
  add("<section id=\"prune\">\n<h2>Pruning trajectory</h2>\n");
  const json* p = object_at(r, "prune", "");
  std::vector<PruneStep> steps;
  if (p) steps = read_prune_steps(*p, "prune");
  if (steps.empty()) {
    add("<div class=\"missing\" data-missing-plot=\"prune_trajectory\">This report has no pruning trajectory "
        "(<code>prune.steps</code>): the model was pruned before <code>deepsz compress</code>, or by a version that "
        "did not record its steps.</div>\n</section>\n");
    return;
  }
  Figure f = prune_trajectory_figure(steps);
  add("<figure>" + inline_svg(f) + "<figcaption>Each step prunes further and retrains; the top-1 drawn is on the selection split. A step "
      "is accepted when that drop, with the certification reserve, stays within the pruning budget (with "
      "<code>--decide training</code>: when the training images' drop does, and this one within its own "
      "noise of it; docs/PRUNING.md), else its model is discarded. Standalone file " +
      code(f.file_name) + ".</figcaption></figure>\n</section>\n");
  figures.push_back(std::move(f));
}

void Page::configuration() {
  add("<section id=\"configuration\">\n<h2>Chosen configuration</h2>\n<table id=\"config\">\n"
      "<tr><th class=\"t\">tensor</th><th class=\"t\">kind</th><th>shape</th><th>kept</th><th class=\"t\">coding"
      "</th><th>error bound</th><th>index B</th><th>values B</th><th>total B</th><th>bits / kept weight</th>"
      "<th>assessed drop (pt)</th></tr>\n");
  uint64_t index = 0, values = 0, elements = 0;
  for (const Layer& l : layers) {
    std::string shape;
    for (size_t i = 0; i < l.shape.size(); ++i) shape += (i ? " \u00D7 " : "") + format_count(l.shape[i]);
    const uint64_t total = l.index_bytes + l.value_bytes;
    std::string bits = "\u2014";
    if (l.density && *l.density > 0 && l.elements > 0)
      bits = format_fixed(8.0 * double(total) / (double(l.elements) * *l.density), 2);
    add("<tr data-tensor=\"" + escape(l.name) + "\"><td class=\"t\">" + code(l.name) + "</td><td class=\"t\">" +
        escape(l.kind) + "</td><td>" + escape(shape) + "</td><td>" +
        (l.density ? escape(format_percent(*l.density, 2)) : absent("?")) + "</td><td class=\"t\">" +
        escape(l.coding) + "</td><td>" + (l.error_bound == 0 ? std::string("lossless")
                                                             : escape(format_general(l.error_bound, 4))) +
        "</td><td>" + format_count(l.index_bytes) + "</td><td>" + format_count(l.value_bytes) + "</td><td>" +
        format_count(total) + "</td><td>" + escape(bits) + "</td><td>" +
        (l.assessed_drop ? escape(format_fixed(*l.assessed_drop, 2)) : absent("not recorded")) + "</td></tr>\n");
    index += l.index_bytes;
    values += l.value_bytes;
    elements += l.elements;
  }
  add("<tr class=\"total\"><td class=\"t\">all tensors</td><td></td><td>" + format_count(elements) +
      " elements</td><td></td><td></td><td></td><td>" + format_count(index) + "</td><td>" + format_count(values) +
      "</td><td>" + format_count(index + values) + "</td><td></td><td></td></tr>\n</table>\n</section>\n");
}

void Page::search() {
  const json* g = object_at(r, "guarantee", "");
  const json* cert = object_at(r, "certification", "");
  const json* detail = cert ? object_at(*cert, "detail", "certification") : nullptr;
  if (!g && !detail) return;
  add("<section id=\"search\">\n<h2>How the configuration was found</h2>\n");
  if (g) {
    if (const json* history = array_at(*g, "history", "guarantee"); history && !history->empty()) {
      add("<h3>Configurations measured on the selection split (the guarantee loop)</h3>\n<table id=\"history\">\n"
          "<tr><th>#</th><th>stream bytes</th><th>solver budget (pt)</th><th>estimated drop (pt)</th>"
          "<th>measured drop (pt)</th><th>one-sided bound (pt)</th><th class=\"t\">what was done next</th></tr>\n");
      for (size_t i = 0; i < history->size(); ++i) {
        const json& h = (*history)[i];
        const std::string at = "guarantee.history[" + std::to_string(i) + "]";
        auto fixed = [&](const char* key) {
          const auto v = number_at(h, key, at);
          return v ? escape(format_fixed(*v, 2)) : absent("n/a");
        };
        const auto bytes = count_at(h, "bytes", at);
        add("<tr><td>" + std::to_string(i + 1) + "</td><td>" + (bytes ? format_count(*bytes) : absent("n/a")) +
            "</td><td>" + fixed("effective_budget") + "</td><td>" + fixed("estimated_drop") + "</td><td>" +
            fixed("measured_drop") + "</td><td>" + fixed("drop_upper_bound") + "</td><td class=\"t\">" +
            escape(string_at(h, "action", at).value_or("")) + "</td></tr>\n");
      }
      add("</table>\n");
    }
    if (const auto st = string_at(*g, "statement", "guarantee")) add("<p class=\"detail\">" + escape(*st) + "</p>\n");
  }
  if (detail) {
    const std::string w = "certification.detail";
    const json* ladder = array_at(*detail, "ladder", w);
    const json* looks = array_at(*detail, "looks", w);
    std::map<uint64_t, const json*> look_of;
    if (looks)
      for (const json& l : *looks)
        if (auto c = count_at(l, "candidate", w + ".looks")) look_of[*c] = &l;
    const auto chosen = count_at(*detail, "chosen", w);
    if (ladder && !ladder->empty()) {
      add("<h3>Certification: candidates from the safest, looked at in this fixed order</h3>\n<table "
          "id=\"ladder\">\n<tr><th>#</th><th class=\"t\">origin</th><th>stream bytes</th>"
          "<th>selection drop (pt)</th><th>certification drop (pt)</th><th>upper bound (pt)</th>"
          "<th class=\"t\">result</th></tr>\n");
      for (size_t i = 0; i < ladder->size(); ++i) {
        const json& c = (*ladder)[i];
        const std::string at = w + ".ladder[" + std::to_string(i) + "]";
        const auto bytes = count_at(c, "bytes", at);
        const auto sel = number_at(c, "selection_drop_pp", at);
        std::string drop = absent("not looked at"), ub, result = absent("not looked at");
        if (auto it = look_of.find(i); it != look_of.end()) {
          const std::string lat = w + ".looks";
          const auto d = number_at(*it->second, "drop_pp", lat), u = number_at(*it->second, "upper_bound_pp", lat);
          const auto passed = bool_at(*it->second, "passed", lat);
          drop = d ? escape(format_fixed(*d, 2)) : absent("n/a");
          ub = u ? escape(format_fixed(*u, 2)) : absent("n/a");
          result = passed ? (*passed ? "passed" : "<span class=\"over\">refused</span>") : absent("n/a");
        }
        if (chosen && *chosen == i) result += " \u2014 <b>written</b>";
        add("<tr><td>" + std::to_string(i + 1) + "</td><td class=\"t\">" +
            escape(string_at(c, "origin", at).value_or("")) + "</td><td>" +
            (bytes ? format_count(*bytes) : absent("n/a")) + "</td><td>" +
            (sel ? escape(format_fixed(*sel, 2)) : absent("n/a")) + "</td><td>" + drop + "</td><td>" + ub +
            "</td><td class=\"t\">" + result + "</td></tr>\n");
      }
      add("</table>\n");
    }
    if (const auto st = string_at(*cert, "statement", "certification"))
      add("<p class=\"detail\">" + escape(*st) + "</p>\n");
  }
  add("</section>\n");
}

void Page::provenance() {
  add("<section id=\"provenance\">\n<h2>Provenance</h2>\n<dl class=\"prov\">\n");
  auto item = [&](const std::string& term, const std::string& value_html) {
    add("<dt>" + escape(term) + "</dt><dd>" + value_html + "</dd>\n");
  };
  auto text_or_absent = [&](const std::optional<std::string>& v) {
    return v ? code(*v) : absent("not recorded in this report");
  };
  if (const auto cl = str("command_line"))
    item("command line", "<pre id=\"command-line\">" + escape(*cl) + "</pre>");
  else
    item("command line", absent("not recorded in this report"));
  // "version" is the report format's number; a string there, or
  // "deepsz_version", is the version of the software that wrote it.
  std::optional<std::string> software = str("deepsz_version");
  std::optional<double> format_version;
  if (auto v = r.find("version"); v != r.end()) {
    if (v->is_string()) software = software.value_or(v->get<std::string>());
    else if (v->is_number()) format_version = v->get<double>();
  }
  item("deepsz version", text_or_absent(software));
  item("report format", code(std::string(kReportFormat) +
                             (format_version ? " version " + format_general(*format_version, 6) : "")));
  item("input model", text_or_absent(str("input")));
  item("output file", text_or_absent(str("output")));
  item("architecture", text_or_absent(str("architecture")));
  item("method", text_or_absent(str("method")));
  std::string images;
  for (const char* k : {"images_assess", "images_holdout", "images_val", "images_test"})
    if (auto v = count(k)) images += (images.empty() ? "" : ", ") + std::string(k + 7) + " " + format_count(*v);
  if (const json* cert = object_at(r, "certification", ""))
    if (auto v = count_at(*cert, "images", "certification")) images += ", certification " + format_count(*v);
  item("images per split", images.empty() ? absent("not recorded") : escape(images));
  if (const json* s = object_at(r, "seconds", "")) {
    std::string t;
    for (const char* k : {"load", "assess", "optimise", "generate", "evaluate", "total"})
      if (auto v = number_at(*s, k, "seconds")) t += (t.empty() ? "" : ", ") + std::string(k) + " " + format_fixed(*v, 2) + " s";
    item("time", escape(t));
  }
  std::string work;
  if (auto w = count("workers")) work = format_count(*w) + " worker(s)";
  if (auto a = count("assessed_candidates")) work += (work.empty() ? "" : ", ") + format_count(*a) + " candidates assessed";
  if (auto re = bool_at(r, "assessment_reused", "")) work += *re ? ", assessment table reused" : ", assessment measured";
  if (auto m = count("measurements")) work += ", " + format_count(*m) + " configuration(s) measured";
  if (!work.empty()) item("work", escape(work));
  add("</dl>\n</section>\n");
}

}  // namespace

RenderedReport render_report(const std::string& report_json, const std::string& assessment_json) {
  const json report = parse_document(report_json, kReportFormat, "deepsz compress report");
  json assessment;
  if (!assessment_json.empty()) assessment = parse_document(assessment_json, kAssessmentFormat, "deepsz assessment table");
  Page page{report, read_layers(report, assessment_json.empty() ? nullptr : &assessment), {}, {}};

  const std::string arch = page.str("architecture").value_or("");
  const std::string title = "deepsz compression report" + (arch.empty() ? "" : ": " + arch);
  page.add("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<meta name=\"generator\" content=\"deepsz dsz report\">\n<title>" +
           escape(title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<main>\n");
  page.add("<header>\n<h1>" + escape(title) + "</h1>\n<p class=\"sub\">");
  const auto in = page.str("input"), out = page.str("output"), method = page.str("method");
  page.add((in ? code(*in) : absent("input not recorded")) + " \u2192 " + (out ? code(*out) : absent("output not recorded")) +
           (method ? " \u00B7 method " + escape(*method) : "") + "</p>\n</header>\n");
  page.headline();
  page.curves();
  // Side by side: each figure is half a page wide.
  page.add("<div class=\"figures\">\n");
  page.bytes();
  page.prune();
  page.add("</div>\n");
  page.configuration();
  page.search();
  page.provenance();
  page.add("<footer>Made by <code>dsz report</code> from the JSON report of <code>deepsz compress</code>; "
           "regenerate with <code>dsz report REPORT.json [--assessment TABLE.json] -o report.html [--plots DIR]"
           "</code> (docs/REPORT.md). This page is one file: it loads nothing and runs no script.</footer>\n"
           "</main>\n</body>\n</html>\n");
  return RenderedReport{std::move(page.html), std::move(page.figures)};
}

}  // namespace deepsz::report
