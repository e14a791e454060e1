// The HTML report renderer on the hand-made LeNet-300-100 fixture
// (tests/report/data/README.md) and on variants of it: elements present,
// headline figures equal to the JSON's, escaping, absent fields said absent,
// bad input rejected with the documented codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "deepsz/error.h"
#include "deepsz/html_report.h"

using deepsz::Error;
using deepsz::ErrorCode;
using deepsz::report::render_report;
using nlohmann::json;

namespace {

std::string read(const std::string& name) {
  std::ifstream in(std::string(DEEPSZ_REPORT_FIXTURE_DIR) + "/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().empty()) ADD_FAILURE() << "fixture " << name << " missing or empty";
  return s.str();
}

json report_fixture() { return json::parse(read("handmade_lenet300_report.json")); }
json assessment_fixture() { return json::parse(read("handmade_lenet300_assessment.json")); }

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

// The inline <svg>...</svg> elements of a page whose root carries `attribute`.
std::vector<std::string> svgs_with(const std::string& html, const std::string& attribute) {
  std::vector<std::string> out;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 4)) {
    const size_t end = html.find("</svg>", at);
    const size_t tag_end = html.find('>', at);
    if (end == std::string::npos || tag_end == std::string::npos) break;
    if (html.substr(at, tag_end - at).find(attribute) != std::string::npos) out.push_back(html.substr(at, end - at));
  }
  return out;
}

std::string strip_tags(const std::string& s) {
  std::string out = std::regex_replace(s, std::regex("<[^>]*>"), "");
  return out;
}

// The value at a dotted path ("certification.upper_bound_pp").
const json& at_path(const json& j, const std::string& path) {
  const json* p = &j;
  std::stringstream s(path);
  for (std::string part; std::getline(s, part, '.');) p = &p->at(part);
  return *p;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

ErrorCode code_of(const std::string& report, const std::string& assessment = "") {
  try {
    render_report(report, assessment);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::invalid_argument;
}

}  // namespace

TEST(HtmlReport, given_fixture_with_assessment_expect_one_drop_plot_per_fc_layer_with_its_chosen_point) {
  const json r = report_fixture();
  const auto page = render_report(r.dump(), assessment_fixture().dump());
  size_t fc = 0;
  for (const json& l : r["layers"]) {
    if (l["kind"] != "fc_weight") continue;
    ++fc;
    const std::string name = l["name"];
    const auto svgs = svgs_with(page.html, "data-plot=\"drop_vs_bound\" data-tensor=\"" + name + "\"");
    ASSERT_EQ(svgs.size(), 1u) << name;
    const std::string& svg = svgs[0];
    EXPECT_EQ(count(svg, "data-role=\"chosen\""), 1u) << name;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(svg, m, std::regex("data-role=\"chosen\" data-bound=\"([^\"]+)\" data-drop=\"([^\"]+)\"")))
        << name;
    EXPECT_EQ(std::stod(m[1]), l["error_bound"].get<double>()) << name;
    EXPECT_EQ(std::stod(m[2]), l["assessed_drop_pp"].get<double>()) << name;
    // Every measured candidate of the table is a point of the curve.
    const json table = assessment_fixture();
    for (const json& tl : table["layers"])
      if (tl["name"] == name) {
        EXPECT_EQ(count(svg, "data-role=\"candidate\""), tl["candidates"].size()) << name;
      }
  }
  EXPECT_EQ(fc, 3u);
  EXPECT_EQ(count(page.html, "data-plot=\"drop_vs_bound\""), fc);
  // The same figures as standalone files, with their stable names.
  std::vector<std::string> names;
  for (const auto& f : page.figures) names.push_back(f.file_name);
  EXPECT_EQ(names, (std::vector<std::string>{"drop_vs_bound_fc1.weight.svg", "drop_vs_bound_fc2.weight.svg",
                                             "drop_vs_bound_fc3.weight.svg", "bytes_per_layer.svg",
                                             "prune_trajectory.svg"}));
  for (const auto& f : page.figures) {
    EXPECT_EQ(f.svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u)
        << f.file_name;
    EXPECT_NE(page.html.find(f.svg.substr(f.svg.find("<svg"))), std::string::npos) << f.file_name << " not inlined";
  }
}

TEST(HtmlReport, given_fixture_expect_headline_figures_equal_to_the_json) {
  const json r = report_fixture();
  const auto page = render_report(r.dump(), assessment_fixture().dump());
  // Every figure that carries its value carries exactly the JSON's.
  std::set<std::string> keys;
  const std::regex span("data-key=\"([^\"]+)\" data-value=\"([^\"]+)\">([^<]*)<");
  for (auto it = std::sregex_iterator(page.html.begin(), page.html.end(), span); it != std::sregex_iterator(); ++it) {
    const std::string key = (*it)[1];
    keys.insert(key);
    EXPECT_EQ(std::stod((*it)[2]), at_path(r, key).get<double>()) << key;
  }
  for (const char* k : {"ratio", "dsz_bytes", "original_bytes", "val_top1_before", "input_val_top1", "val_top1_after",
                        "test_top1_before", "input_test_top1", "test_top1_after", "val_drop_vs_dense_pp",
                        "test_drop_vs_dense_pp", "certification.upper_bound_pp", "certification.confidence",
                        "certification.images", "certification.drop_pp", "certification.top1_before",
                        "certification.top1_after", "max_loss_pp", "pruning_loss_pp", "budget_pp"})
    EXPECT_TRUE(keys.count(k)) << k << " not in the headline";

  // And reads as the JSON says.
  EXPECT_NE(page.html.find(">" + fixed(r["ratio"].get<double>(), 1) + "\u00D7<"), std::string::npos);
  EXPECT_NE(page.html.find(">11,237 B<"), std::string::npos);
  EXPECT_NE(page.html.find(">" + fixed(100 * r["test_top1_after"].get<double>(), 2) + "%<"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page.html, m, std::regex("<p class=\"guarantee\" id=\"guarantee\">(.*?)</p>")));
  const json& c = r["certification"];
  EXPECT_EQ(strip_tags(m[1]), "With 90% confidence the decoded model loses at most " +
                                  fixed(c["upper_bound_pp"].get<double>(), 2) +
                                  " points of top-1 against the dense model (certified on 10,000 images that no "
                                  "decision used). The budget of 0.30 points is met.");
}

TEST(HtmlReport, given_hostile_strings_expect_them_escaped_in_the_page_and_every_figure) {
  json r = report_fixture();
  json a = assessment_fixture();
  const std::string hostile = "<script>alert('x')</script>&\"\x01";
  r["layers"][0]["name"] = hostile;
  a["layers"][0]["name"] = hostile;
  r["layers"][0]["coding"] = "<img src=x onerror=alert(1)>";
  r["command_line"] = "deepsz compress </pre><script>alert(2)</script>";
  r["input"] = "<b>in</b>.pt";
  r["certification"]["statement"] = "</p><script>alert(3)</script>";
  r["guarantee"]["history"][0]["action"] = "<iframe src=//evil>";
  const auto page = render_report(r.dump(), a.dump());
  for (const char* bad : {"<script", "<img", "<iframe", "<b>in", "\x01"}) {
    EXPECT_EQ(page.html.find(bad), std::string::npos) << bad;
    for (const auto& f : page.figures) EXPECT_EQ(f.svg.find(bad), std::string::npos) << bad << " in " << f.file_name;
  }
  EXPECT_NE(page.html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(page.html.find("&lt;/pre&gt;&lt;script&gt;alert(2)"), std::string::npos);
  // The figure of that layer is still there, under a safe file name.
  ASSERT_FALSE(page.figures.empty());
  EXPECT_EQ(page.figures[0].file_name, "drop_vs_bound__script_alert__x____script____.svg");
  EXPECT_TRUE(std::regex_match(page.figures[0].file_name, std::regex("[A-Za-z0-9_][A-Za-z0-9._-]*")));
}

TEST(HtmlReport, given_report_without_optional_fields_expect_each_absence_said_plainly) {
  json r = report_fixture();
  r["certification"] = nullptr;
  for (const char* k : {"prune", "command_line", "deepsz_version", "guarantee", "uncertified", "selection"}) r.erase(k);
  const auto page = render_report(r.dump());  // no assessment table: counts only
  EXPECT_NE(page.html.find("Not certified"), std::string::npos);
  EXPECT_NE(page.html.find("<p class=\"guarantee not\" id=\"guarantee\">"), std::string::npos);
  EXPECT_EQ(page.html.find("data-key=\"certification."), std::string::npos);
  // The uncertified evidence is given for what it is, with its numbers.
  EXPECT_NE(page.html.find("data-key=\"measured_drop_pp\""), std::string::npos);
  EXPECT_NE(page.html.find("this is no certificate"), std::string::npos);
  // One placeholder per fc layer that says why there is no curve.
  EXPECT_EQ(count(page.html, "data-plot=\"drop_vs_bound\""), 0u);
  for (const char* name : {"fc1.weight", "fc2.weight", "fc3.weight"})
    EXPECT_NE(page.html.find(std::string("data-missing-plot=\"") + name + "\""), std::string::npos) << name;
  EXPECT_NE(page.html.find("--assessment"), std::string::npos);
  EXPECT_NE(page.html.find("data-missing-plot=\"prune_trajectory\""), std::string::npos);
  EXPECT_GE(count(page.html, "not recorded in this report"), 2u);  // command line, version
  ASSERT_EQ(page.figures.size(), 1u);
  EXPECT_EQ(page.figures[0].file_name, "bytes_per_layer.svg");
  EXPECT_EQ(page.html.find("How the configuration was found"), std::string::npos);
}

TEST(HtmlReport, given_minimal_report_expect_a_page_with_the_absences_marked) {
  const json r = {{"format", "deepsz-compress-report"},
                  {"layers",
                   {{{"name", "fc1.weight"},
                     {"kind", "fc_weight"},
                     {"elements", 100},
                     {"error_bound", 0.0},
                     {"index_bytes", 10},
                     {"value_bytes", 300}}}}};
  const auto page = render_report(r.dump());
  EXPECT_NE(page.html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(page.html.find("not recorded"), std::string::npos);
  EXPECT_NE(page.html.find("data-missing-plot=\"fc1.weight\""), std::string::npos);
  EXPECT_EQ(page.html.find("data-key=\"ratio\""), std::string::npos);
}

TEST(HtmlReport, given_candidates_inside_the_report_expect_curves_without_a_table) {
  json r = report_fixture();
  const json a = assessment_fixture();
  for (size_t i = 0; i < r["layers"].size(); ++i) r["layers"][i]["candidates"] = a["layers"][i]["candidates"];
  const auto page = render_report(r.dump());
  EXPECT_EQ(count(page.html, "data-plot=\"drop_vs_bound\""), 3u);
  EXPECT_NE(page.html.find("from the report"), std::string::npos);
}

TEST(HtmlReport, given_a_version_string_expect_it_shown_as_the_software_version) {
  json r = report_fixture();
  r.erase("deepsz_version");
  r["version"] = "0.2.0-dev <git abc>";
  const auto page = render_report(r.dump());
  EXPECT_NE(page.html.find("<code>0.2.0-dev &lt;git abc&gt;</code>"), std::string::npos);
  EXPECT_NE(page.html.find("<pre id=\"command-line\">deepsz compress lenet300-pruned"), std::string::npos);
}

TEST(HtmlReport, given_tensor_names_equal_once_sanitised_expect_distinct_file_names) {
  json r = report_fixture();
  json a = assessment_fixture();
  r["layers"][0]["name"] = "block/fc";
  a["layers"][0]["name"] = "block/fc";
  r["layers"][2]["name"] = "block_fc";
  a["layers"][2]["name"] = "block_fc";
  const auto page = render_report(r.dump(), a.dump());
  ASSERT_GE(page.figures.size(), 2u);
  EXPECT_EQ(page.figures[0].file_name, "drop_vs_bound_block_fc.svg");
  EXPECT_EQ(page.figures[1].file_name, "drop_vs_bound_block_fc-2.svg");
}

TEST(HtmlReport, given_a_failed_certification_expect_it_said_plainly) {
  json r = report_fixture();
  r["certification"]["passed"] = false;
  r["certification"]["upper_bound_pp"] = 0.41;
  const auto page = render_report(r.dump());
  EXPECT_NE(page.html.find("<p class=\"guarantee not\" id=\"guarantee\">"), std::string::npos);
  EXPECT_NE(page.html.find("The budget of 0.30 points is not met."), std::string::npos);
}

TEST(HtmlReport, given_fixture_expect_no_script_and_nothing_loaded_from_outside) {
  const auto page = render_report(report_fixture().dump(), assessment_fixture().dump());
  for (const char* bad : {"<script", " src=", " href=", "url(", "@import", "<link", "<iframe", "<object", "<embed"})
    EXPECT_EQ(page.html.find(bad), std::string::npos) << bad;
  // The only address is the SVG namespace, which browsers never fetch.
  EXPECT_EQ(count(page.html, "http"), count(page.html, "http://www.w3.org/2000/svg"));
  EXPECT_EQ(count(page.html, "<svg"), page.figures.size());
}

TEST(HtmlReport, given_bad_inputs_expect_the_documented_error_codes) {
  EXPECT_EQ(code_of("not json {"), ErrorCode::foreign_format);
  EXPECT_EQ(code_of(""), ErrorCode::foreign_format);
  EXPECT_EQ(code_of("[1, 2]"), ErrorCode::foreign_format);
  EXPECT_EQ(code_of(R"({"layers": []})"), ErrorCode::foreign_format);
  EXPECT_EQ(code_of(assessment_fixture().dump()), ErrorCode::foreign_format);  // a table is not a report

  json r = report_fixture();
  r["version"] = 2;
  EXPECT_EQ(code_of(r.dump()), ErrorCode::unsupported_version);

  for (auto spoil : std::vector<std::function<void(json&)>>{
           [](json& j) { j["ratio"] = "95"; },
           [](json& j) { j["layers"] = "fc1"; },
           [](json& j) { j.erase("layers"); },
           [](json& j) { j["layers"][0].erase("index_bytes"); },
           [](json& j) { j["layers"][1]["value_bytes"] = -3; },
           [](json& j) { j["certification"]["upper_bound_pp"] = "0.2"; },
           [](json& j) { j["prune"]["steps"][0]["accepted"] = "yes"; },
           [](json& j) { j["layers"][0]["candidates"] = json::array({{{"bound", 0.0}}}); },
       }) {
    json bad = report_fixture();
    spoil(bad);
    EXPECT_EQ(code_of(bad.dump(), assessment_fixture().dump()), ErrorCode::corruption_detected) << bad.dump().substr(0, 80);
  }

  // An assessment table that is not the one of this run.
  json a = assessment_fixture();
  a["layers"][0]["elements"] = 1000;
  EXPECT_EQ(code_of(report_fixture().dump(), a.dump()), ErrorCode::corruption_detected);
  a = assessment_fixture();
  a["layers"][0]["candidates"].erase(1);
  EXPECT_EQ(code_of(report_fixture().dump(), a.dump()), ErrorCode::corruption_detected);
  EXPECT_EQ(code_of(report_fixture().dump(), "{}"), ErrorCode::foreign_format);
  EXPECT_EQ(code_of(report_fixture().dump(), report_fixture().dump()), ErrorCode::foreign_format);
}

TEST(HtmlReport, given_an_error_expect_one_line_that_names_the_problem) {
  try {
    json r = report_fixture();
    r["layers"][2]["index_bytes"] = "many";
    render_report(r.dump());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "report field 'layers[2].index_bytes' is not a count");
  }
  try {
    render_report(assessment_fixture().dump());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "not a deepsz compress report: format \"deepsz-assessment\", expected \"deepsz-compress-report\"");
  }
}

TEST(HtmlReport, given_a_ratio_below_ten_expect_two_decimals) {
  json r = report_fixture();
  r["ratio"] = 1.1513584418809277;
  const auto page = render_report(r.dump());
  EXPECT_NE(page.html.find("data-value=\"1.1513584418809277\">1.15\u00D7<"), std::string::npos);
}

TEST(HtmlReport, given_an_infinite_number_expect_it_refused) {
  std::string text = report_fixture().dump();
  const std::string ratio = "\"ratio\":";
  const size_t at = text.find(ratio);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + ratio.size(), "1e999,\"was_ratio\":");  // 1e999 parses as infinity
  EXPECT_EQ(code_of(text), ErrorCode::corruption_detected);
}

TEST(HtmlReport, given_absurd_but_finite_values_expect_a_page_and_no_hang) {
  json r = report_fixture();
  json a = assessment_fixture();
  auto& c = a["layers"][0]["candidates"];
  c[1]["bound"] = 4.9e-324;  // the smallest double
  c[1]["top1_drop"] = -1e300;
  c[2]["top1_drop"] = 1e300;
  c.back()["bound"] = 1e300;
  c.back()["value_bytes"] = uint64_t(1) << 62;
  a["layers"][2]["candidates"][1]["top1_drop"] = 1e17;
  a["layers"][2]["candidates"][2]["top1_drop"] = 1e17 + 16;
  r["budget_pp"] = 1e308;
  r["layers"][0]["error_bound"] = 1e300;
  r["prune"]["steps"][0]["density"] = 1e-300;
  r["prune"]["steps"][1]["selection_top1"] = -1e300;
  const auto page = render_report(r.dump(), a.dump());
  EXPECT_EQ(count(page.html, "data-plot=\"drop_vs_bound\""), 3u);
  // No coordinate, attribute or label printed from a NaN or an infinity.
  for (const auto& text : {page.html, page.figures[0].svg, page.figures.back().svg})
    EXPECT_FALSE(std::regex_search(text, std::regex("(^|[^A-Za-z])-?(nan|inf)([^A-Za-z]|$)"))) << text.substr(0, 200);
}
