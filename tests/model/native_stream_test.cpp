// save_native_streamed: the bytes of Model::save, written tensor by tensor.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "deepsz/error.h"
#include "deepsz/model/model.h"
#include "deepsz/model/native_stream.h"
#include "test_files.h"

namespace dm = deepsz::model;
namespace fs = std::filesystem;
using namespace deepsz::model_test;

namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every parameter and mask of `m` as a producer handing out pieces of
// `piece` bytes (the last one shorter).
void streamed_tensors(const dm::Model& m, size_t piece, std::vector<dm::StreamedTensor>& params,
                      std::vector<dm::StreamedTensor>& masks) {
  for (const auto& p : m.parameters()) {
    params.push_back({p.name, p.shape, [&m, name = p.name, piece](const dm::ByteSink& sink) {
                        const std::vector<float> v = m.parameter(name);
                        const char* b = reinterpret_cast<const char*>(v.data());
                        for (size_t at = 0; at < 4 * v.size(); at += piece) sink(b + at, std::min(piece, 4 * v.size() - at));
                      }});
  }
  // In reverse name order: the writer sorts them as Model::save does.
  const auto names = m.masked_parameters();
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    masks.push_back({*it, m.parameter_info(*it).shape, [&m, name = *it](const dm::ByteSink& sink) {
                       const std::vector<uint8_t> v = m.mask(name);
                       sink(v.data(), v.size());
                     }});
}

dm::Model sample_model(const std::string& arch) {
  dm::Model m = dm::Model::create(arch, {}, 10, 3);
  for (const std::string name : {std::string("fc2.weight"), std::string("fc1.weight")}) {
    std::vector<uint8_t> mask(static_cast<size_t>(m.parameter_info(name).numel), 0);
    for (size_t i = 0; i < mask.size(); i += 3) mask[i] = 1;
    m.set_mask(name, mask);
  }
  m.set_metadata("note", "hello");
  m.set_metadata("dense.val_top1", "0.9");
  m.set_preprocessing({0.2860, 0.3530});
  return m;
}

TEST(NativeStream, given_models_with_masks_and_metadata_expect_the_bytes_of_model_save) {
  auto d = temp_dir("native_stream");
  for (const std::string arch : {"lenet300", "lenet5"}) {
    const dm::Model m = sample_model(arch);
    m.save((d / "saved.pt").string());
    for (size_t piece : {size_t(1) << 20, size_t(4093)}) {
      std::vector<dm::StreamedTensor> params, masks;
      streamed_tensors(m, piece, params, masks);
      dm::save_native_streamed((d / "streamed.pt").string(), m.metadata(), params, masks);
      const std::string a = file_bytes(d / "saved.pt"), b = file_bytes(d / "streamed.pt");
      ASSERT_EQ(a.size(), b.size()) << arch;
      EXPECT_TRUE(a == b) << arch << ": the streamed file differs from Model::save's";
      const dm::Model r = dm::Model::load((d / "streamed.pt").string());
      EXPECT_EQ(r.metadata(), m.metadata());
      for (const auto& p : m.parameters()) EXPECT_EQ(r.parameter(p.name), m.parameter(p.name)) << p.name;
      EXPECT_EQ(r.masked_parameters(), m.masked_parameters());
    }
  }
}

TEST(NativeStream, given_native_layout_expect_what_create_records) {
  const dm::Model m = dm::Model::create("alexnet", {3, 224, 224}, 1000, 0);
  const dm::NativeLayout l = dm::native_layout("alexnet", {3, 224, 224}, 1000);
  EXPECT_EQ(l.metadata, m.metadata());
  ASSERT_EQ(l.parameters.size(), m.parameters().size());
  for (size_t i = 0; i < l.parameters.size(); ++i) {
    EXPECT_EQ(l.parameters[i].first, m.parameters()[i].name);
    EXPECT_EQ(l.parameters[i].second, m.parameters()[i].shape);
  }
}

TEST(NativeStream, given_a_producer_that_fails_or_miscounts_expect_an_error_and_no_file) {
  auto d = temp_dir("native_stream_bad");
  const dm::Model m = sample_model("lenet300");
  const fs::path out = d / "out.pt";
  auto attempt = [&](int fault) {
    std::vector<dm::StreamedTensor> params, masks;
    streamed_tensors(m, 1 << 16, params, masks);
    auto& t = params[2];
    auto good = t.produce;
    if (fault == 0) t.produce = [](const dm::ByteSink& sink) { sink("abcd", 4); };  // too few
    if (fault == 1) t.produce = [good](const dm::ByteSink& sink) { good(sink); sink("abcd", 4); };  // too many
    if (fault == 2) t.produce = [](const dm::ByteSink&) { throw deepsz::Error(deepsz::ErrorCode::corruption_detected, "x"); };
    if (fault == 3) masks[0].shape = {1, 2};
    std::map<std::string, std::string> meta = m.metadata();
    if (fault == 4) meta["xxh64:metadata"] = "0";
    try {
      dm::save_native_streamed(out.string(), meta, params, masks);
      ADD_FAILURE() << "fault " << fault << " accepted";
    } catch (const deepsz::Error&) {
    }
    EXPECT_FALSE(fs::exists(out)) << fault;
    int files = 0;
    for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
    EXPECT_EQ(files, 0) << "fault " << fault << " left a temporary";
  };
  for (int fault = 0; fault < 5; ++fault) attempt(fault);
}

}  // namespace
