#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "deepsz/optimize.h"
#include "synthetic_tables.h"

namespace deepsz {
namespace {

using nlohmann::json;

bool same(const AssessmentTable& a, const AssessmentTable& b) {
  if (a.model != b.model || a.split != b.split || a.images != b.images ||
      a.reference_top1 != b.reference_top1 || a.layers.size() != b.layers.size())
    return false;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto &x = a.layers[l], &y = b.layers[l];
    if (x.name != y.name || x.elements != y.elements || x.density != y.density ||
        x.candidates.size() != y.candidates.size())
      return false;
    for (size_t k = 0; k < x.candidates.size(); ++k) {
      const Candidate &c = x.candidates[k], &d = y.candidates[k];
      if (c.abs_error_bound != d.abs_error_bound || c.index_bytes != d.index_bytes ||
          c.value_bytes != d.value_bytes || c.top1_drop != d.top1_drop ||
          c.correct_to_wrong != d.correct_to_wrong || c.wrong_to_correct != d.wrong_to_correct ||
          c.images != d.images)
        return false;
    }
  }
  return true;
}

AssessmentTable example() {
  std::mt19937_64 rng(21);
  AssessmentTable t = testing::random_table(rng, 3, 6);
  t.model = "lenet-300-100";
  t.reference_top1 = 98.137;
  return t;
}

TEST(AssessmentJson, given_table_expect_exact_round_trip) {
  const AssessmentTable t = example();
  const std::string text = assessment_to_json(t);
  EXPECT_TRUE(same(assessment_from_json(text), t));
  EXPECT_NE(text.find("\"deepsz-assessment\""), std::string::npos);
}

TEST(AssessmentJson, given_file_expect_round_trip_and_io_error_when_missing) {
  const AssessmentTable t = example();
  const std::string path = ::testing::TempDir() + "deepsz_assessment_test.json";
  save_assessment(path, t);
  EXPECT_TRUE(same(load_assessment(path), t));
  std::remove(path.c_str());
  try {
    load_assessment(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
}

TEST(AssessmentJson, given_unknown_keys_expect_them_ignored) {
  json doc = json::parse(assessment_to_json(example()));
  doc["created_by"] = "a later version";
  doc["layers"][0]["shape"] = {300, 784};
  EXPECT_TRUE(same(assessment_from_json(doc.dump()), example()));
}

ErrorCode code_of(const std::string& text) {
  try {
    assessment_from_json(text);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  return ErrorCode::interrupted;
}

ErrorCode code_after(const std::function<void(json&)>& edit) {
  json doc = json::parse(assessment_to_json(example()));
  edit(doc);
  return code_of(doc.dump());
}

TEST(AssessmentJson, given_foreign_input_expect_foreign_format) {
  EXPECT_EQ(code_of(""), ErrorCode::foreign_format);
  EXPECT_EQ(code_of("DSZ\x01 binary"), ErrorCode::foreign_format);
  EXPECT_EQ(code_of("{\"format\": \"deepsz-assessment\", "), ErrorCode::foreign_format);  // cut
  EXPECT_EQ(code_of("[1, 2, 3]"), ErrorCode::foreign_format);
  EXPECT_EQ(code_after([](json& d) { d.erase("format"); }), ErrorCode::foreign_format);
  EXPECT_EQ(code_after([](json& d) { d["format"] = "onnx"; }), ErrorCode::foreign_format);
  EXPECT_EQ(code_after([](json& d) { d["format"] = 1; }), ErrorCode::foreign_format);
}

TEST(AssessmentJson, given_future_version_expect_unsupported_version) {
  EXPECT_EQ(code_after([](json& d) { d["version"] = 2; }), ErrorCode::unsupported_version);
  EXPECT_EQ(code_after([](json& d) { d["version"] = 0; }), ErrorCode::corruption_detected);
  EXPECT_EQ(code_after([](json& d) { d["version"] = "1"; }), ErrorCode::corruption_detected);
  EXPECT_EQ(code_after([](json& d) { d.erase("version"); }), ErrorCode::corruption_detected);
}

TEST(AssessmentJson, given_malformed_tables_expect_corruption_detected) {
  const std::vector<std::pair<const char*, std::function<void(json&)>>> cases = {
      {"no layers field", [](json& d) { d.erase("layers"); }},
      {"layers not array", [](json& d) { d["layers"] = json::object(); }},
      {"empty layers", [](json& d) { d["layers"] = json::array(); }},
      {"layer not object", [](json& d) { d["layers"][1] = 5; }},
      {"missing images", [](json& d) { d.erase("images"); }},
      {"negative images", [](json& d) { d["images"] = -1; }},
      {"fractional images", [](json& d) { d["images"] = 1.5; }},
      {"reference out of range", [](json& d) { d["reference_top1"] = 101.0; }},
      {"model not string", [](json& d) { d["model"] = 3; }},
      {"empty name", [](json& d) { d["layers"][0]["name"] = ""; }},
      {"duplicate name", [](json& d) { d["layers"][1]["name"] = d["layers"][0]["name"]; }},
      {"zero elements", [](json& d) { d["layers"][0]["elements"] = 0; }},
      {"density above 1", [](json& d) { d["layers"][0]["density"] = 1.5; }},
      {"no candidates", [](json& d) { d["layers"][0]["candidates"] = json::array(); }},
      {"bound as string", [](json& d) { d["layers"][0]["candidates"][0]["bound"] = "0"; }},
      {"bound null (NaN)", [](json& d) { d["layers"][0]["candidates"][0]["bound"] = nullptr; }},
      {"negative bytes", [](json& d) { d["layers"][0]["candidates"][0]["value_bytes"] = -4; }},
      {"huge bytes", [](json& d) { d["layers"][0]["candidates"][0]["value_bytes"] = uint64_t(1) << 60; }},
      {"first not lossless", [](json& d) { d["layers"][0]["candidates"][0]["bound"] = 1e-3; }},
      {"lossless with a drop",
       [](json& d) {
         auto& c = d["layers"][0]["candidates"][0];
         c["top1_drop"] = 0.01;
         c["correct_to_wrong"] = 1;
       }},
      {"bounds not increasing",
       [](json& d) {
         auto& cs = d["layers"][2]["candidates"];
         cs.push_back(cs.back());
       }},
      {"drop disagrees with flips",
       [](json& d) {
         auto& cs = d["layers"][2]["candidates"];
         cs.back()["top1_drop"] = cs.back()["top1_drop"].get<double>() + 0.01;
       }},
      {"more flips than images",
       [](json& d) { d["layers"][2]["candidates"].back()["correct_to_wrong"] = 20000; }},
      {"drop out of range",
       [](json& d) {
         auto& c = d["layers"][2]["candidates"].back();
         c["images"] = 0;
         c["correct_to_wrong"] = 0;
         c["wrong_to_correct"] = 0;
         c["top1_drop"] = 150.0;
       }},
      {"missing flips", [](json& d) { d["layers"][2]["candidates"].back().erase("wrong_to_correct"); }},
  };
  json doc = json::parse(assessment_to_json(example()));
  ASSERT_GE(doc["layers"][2]["candidates"].size(), 2u) << "example needs a lossy candidate";
  for (const auto& [name, edit] : cases)
    EXPECT_EQ(code_after(edit), ErrorCode::corruption_detected) << name;
}

TEST(AssessmentJson, given_invalid_table_in_memory_expect_invalid_argument_on_save) {
  AssessmentTable t = example();
  t.layers[0].candidates[0].top1_drop = 0.5;
  EXPECT_FALSE(assessment_problem(t).empty());
  try {
    assessment_to_json(t);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

}  // namespace
}  // namespace deepsz
