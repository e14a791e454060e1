// The pipeline on a real (small) network: compress, decompress, check every
// weight against its bound, the report, the budget arithmetic, the
// baselines, and the rejection of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "deepsz/container.h"
#include "deepsz/model/runtime.h"
#include "deepsz/model/train.h"
#include "deepsz/pipeline/pipeline.h"
#include "pipeline_internal.h"

namespace {
namespace fs = std::filesystem;
using namespace deepsz;

// Keeps the first `n` images of a set.
model::ImageSet head(const model::ImageSet& s, int64_t n) {
  model::ImageSet o = s;
  n = std::min(n, s.size());
  o.labels.resize(size_t(n));
  o.pixels.resize(size_t(n * s.image_elements()));
  return o;
}

// Keeps the largest |w| of every fc weight (density `d`) through set_mask.
void prune_by_hand(model::Model& m, double d) {
  for (const auto& p : m.parameters()) {
    if (p.kind != model::ParamKind::fc_weight) continue;
    std::vector<float> w = m.parameter(p.name);
    std::vector<float> a(w.size());
    for (size_t i = 0; i < w.size(); ++i) a[i] = std::fabs(w[i]);
    const size_t keep = std::max<size_t>(1, size_t(d * double(w.size())));
    std::nth_element(a.begin(), a.begin() + long(w.size() - keep), a.end());
    const float cut = a[w.size() - keep];
    std::vector<uint8_t> mask(w.size());
    for (size_t i = 0; i < w.size(); ++i) mask[i] = std::fabs(w[i]) >= cut;
    m.set_mask(p.name, mask);
  }
}

class Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model::init_runtime(0);
    try {
      model::Dataset full = model::load_dataset(model::kDefaultDataDir, 1000);
      data_ = new model::Dataset(full);
      data_->train = head(full.train, 4000);
      data_->test = head(full.test, 1000);
    } catch (const Error& e) {
      skip_ = std::string("no Fashion-MNIST at ") + model::kDefaultDataDir + ": " + e.what();
      return;
    }
    model::TrainOptions o;
    o.epochs = 1;
    dense_ = new model::Model(model::train(*data_, o));
    pruned_ = new model::Model(*dense_);
    prune_by_hand(*pruned_, 0.1);
    dir_ = new fs::path(fs::temp_directory_path() / ("deepsz-pipeline-test-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
    delete data_;
    delete dense_;
    delete pruned_;
    delete dir_;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }

  static pipeline::CompressOptions generous() {
    pipeline::CompressOptions o;
    o.max_loss = 5.0;
    o.max_candidates = 6;
    return o;
  }

  static inline model::Dataset* data_ = nullptr;
  static inline model::Model* dense_ = nullptr;
  static inline model::Model* pruned_ = nullptr;
  static inline fs::path* dir_ = nullptr;
  static inline std::string skip_;
};

TEST_F(Pipeline, given_pruned_model_when_compressed_and_decoded_expect_every_weight_within_bound_and_zeros_exact) {
  const std::string out = path("roundtrip.dsz");
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, generous(), out, "pruned");
  ASSERT_TRUE(r.guarantee_success);
  EXPECT_LE(r.measured_drop_pp, r.budget_pp + 1e-9);
  EXPECT_GT(r.ratio, 5.0);
  bool some_lossy = false;
  for (const auto& t : r.tensors) some_lossy |= t.error_bound > 0;
  EXPECT_TRUE(some_lossy) << "a 5-point budget should allow some lossy tensor";

  const Container c = read_container_file(out);
  const model::Model back = pipeline::decompress_model(c);
  EXPECT_EQ(back.architecture(), pruned_->architecture());
  for (const auto& p : pruned_->parameters()) {
    const std::vector<float> a = pruned_->parameter(p.name), b = back.parameter(p.name);
    ASSERT_EQ(a.size(), b.size());
    const double eb = c.find(p.name)->error_bound;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == 0.0f) {
        ASSERT_EQ(b[i], 0.0f) << p.name << "[" << i << "] was pruned";
      }
      ASSERT_LE(std::fabs(double(a[i]) - double(b[i])), eb) << p.name << "[" << i << "]";
    }
    ASSERT_EQ(back.has_mask(p.name), pruned_->has_mask(p.name)) << p.name;
    if (pruned_->has_mask(p.name)) {
      const std::vector<uint8_t> m = back.mask(p.name);
      for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(m[i] != 0, a[i] != 0.0f) << p.name << "[" << i << "]";
    }
  }
  // The restored model is a model file of the same kind, with the accuracy
  // the report promised.
  const std::string restored = path("restored.pt");
  back.save(restored);
  // Written as it decodes, the same bytes.
  const pipeline::DecompressedFile f = pipeline::decompress_model_to_file(c, path("streamed.pt"), 2);
  EXPECT_TRUE(f.streamed);
  EXPECT_EQ(f.masked, back.masked_parameters().size());
  EXPECT_TRUE(read_file_bytes(path("streamed.pt")) == read_file_bytes(restored)) << "streamed file differs";
  const model::Model reloaded = model::Model::load(restored);
  model::Evaluator ev(reloaded, *data_);
  EXPECT_DOUBLE_EQ(ev.evaluate(model::Split::val).top1_rate(), r.val_top1_after);
  EXPECT_DOUBLE_EQ(ev.evaluate(model::Split::test).top1_rate(), r.test_top1_after);
}

TEST_F(Pipeline, given_quantized_model_expect_lattice_verified_and_rebuilt_as_it_is_at_half_its_step) {
  model::QuantizeOptions qo;
  qo.max_loss = 5.0;  // loose: the coarse levels are accepted on the small set
  qo.epochs = 1;
  qo.start = 0.3;
  qo.growth = 2.0;
  qo.max_levels = 2;
  model::QuantizeReport qr;
  model::Model q = model::quantize(*pruned_, *data_, qo, &qr);
  ASSERT_GT(qr.relative_step, 0.0);
  ASSERT_EQ(qr.layers.size(), pruned_->masked_parameters().size());
  const std::vector<pipeline::detail::TensorPlan> plans = pipeline::detail::plan_tensors(q, generous());
  const pipeline::detail::MethodSettings s = pipeline::detail::settings_for(pipeline::Method::deepsz);
  int quantized = 0;
  for (const auto& p : plans) {
    auto it = std::find_if(qr.layers.begin(), qr.layers.end(), [&](const auto& l) { return l.name == p.info.name; });
    if (it == qr.layers.end()) {
      EXPECT_EQ(p.lattice, 0.0) << p.info.name << " was not quantised";
      continue;
    }
    ++quantized;
    ASSERT_EQ(p.lattice, double(it->step)) << p.info.name;
    EXPECT_LE(p.nonzeros, uint64_t(pruned_->nonzeros(p.info.name)));  // survivors that snapped to 0 are pruned
    const std::vector<float> back = decode_tensor(pipeline::detail::encode_candidate(p, 0.5 * p.lattice, s));
    ASSERT_EQ(back.size(), p.values.size());
    for (size_t i = 0; i < back.size(); ++i)
      ASSERT_LE(std::fabs(double(back[i]) - double(p.values[i])), 1e-6 * p.lattice) << p.info.name << "[" << i << "]";
  }
  EXPECT_EQ(quantized, int(qr.layers.size()));
  // A record the values do not follow is ignored, not trusted.
  const std::string name = qr.layers[0].name;
  q.set_metadata(std::string(model::meta::lattice_prefix) + name, std::to_string(1.37 * qr.layers[0].step));
  for (const auto& p : pipeline::detail::plan_tensors(q, generous()))
    if (p.info.name == name) EXPECT_EQ(p.lattice, 0.0);
}

TEST_F(Pipeline, given_report_expect_every_field) {
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, generous(), path("report.dsz"), "in");
  const nlohmann::json j = nlohmann::json::parse(pipeline::report_to_json(r));
  for (const char* k : {"ratio", "dsz_bytes", "original_bytes", "val_top1_before", "val_top1_after",
                        "test_top1_before", "test_top1_after", "input_val_top1", "input_test_top1", "budget_pp",
                        "estimated_drop_pp", "measured_drop_pp", "drop_upper_bound_pp", "test_drop_pp", "layers",
                        "seconds"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"load", "assess", "optimise", "generate", "evaluate"}) EXPECT_TRUE(j["seconds"].contains(k)) << k;
  ASSERT_EQ(j["layers"].size(), pruned_->parameters().size());
  for (const auto& l : j["layers"])
    for (const char* k : {"name", "density", "error_bound", "index_bytes", "value_bytes", "coding"})
      EXPECT_TRUE(l.contains(k)) << k;
  EXPECT_EQ(j["original_bytes"].get<uint64_t>(), 4u * 266610u);
  EXPECT_EQ(j["dsz_bytes"].get<uint64_t>(), fs::file_size(path("report.dsz")));
  EXPECT_NEAR(j["ratio"].get<double>(), double(4u * 266610u) / double(fs::file_size(path("report.dsz"))), 1e-9);
  EXPECT_FALSE(pipeline::report_to_text(r).empty());
}

TEST(PipelineBudget, given_dense_ancestor_expect_pruning_loss_subtracted) {
  EXPECT_NEAR(pipeline::compression_budget(0.3, 0.90, 0.899), 0.2, 1e-9);
  EXPECT_NEAR(pipeline::compression_budget(0.3, 0.90, 0.897), 0.0, 1e-9);
  EXPECT_LT(pipeline::compression_budget(0.3, 0.90, 0.895), 0.0);
  // A pruned model that beats its ancestor does not widen the budget.
  EXPECT_NEAR(pipeline::compression_budget(0.3, 0.90, 0.91), 0.3, 1e-9);
  // No ancestor: the budget is against the input.
  EXPECT_NEAR(pipeline::compression_budget(0.3, -1.0, 0.5), 0.3, 1e-12);
  EXPECT_THROW(pipeline::compression_budget(101, -1.0, 0.5), Error);
  EXPECT_THROW(pipeline::compression_budget(-0.1, -1.0, 0.5), Error);
}

TEST_F(Pipeline, given_pruning_used_the_whole_budget_expect_every_tensor_lossless) {
  model::Model m = *pruned_;
  // Record a dense ancestor 1 point better than the pruned model.
  model::Evaluator ev(m, *data_);
  const double val = ev.evaluate(model::Split::val).top1_rate();
  m.set_metadata(model::meta::dense_val_top1, std::to_string(val + 0.01));
  m.set_metadata(model::meta::dense_test_top1, "0.5");
  pipeline::CompressOptions o = generous();
  o.max_loss = 0.5;
  const pipeline::CompressReport r = pipeline::compress_model(m, *data_, o, path("lossless.dsz"));
  EXPECT_EQ(r.budget_against, "dense");
  EXPECT_NEAR(r.budget_pp, -0.5, 1e-6);
  EXPECT_NEAR(r.pruning_loss_pp, 1.0, 1e-6);
  EXPECT_DOUBLE_EQ(r.val_top1_before, val + 0.01);
  EXPECT_DOUBLE_EQ(r.test_top1_before, 0.5);
  EXPECT_EQ(r.measured_drop_pp, 0.0);
  for (const auto& t : r.tensors) EXPECT_EQ(t.error_bound, 0.0) << t.name;
  const model::Model back = pipeline::decompress_model_file(path("lossless.dsz"));
  for (const auto& p : m.parameters()) EXPECT_EQ(back.parameter(p.name), m.parameter(p.name)) << p.name;
  back.save(path("lossless.pt"));
  pipeline::decompress_model_to_file(read_container_file(path("lossless.dsz")), path("lossless-streamed.pt"));
  EXPECT_TRUE(read_file_bytes(path("lossless.pt")) == read_file_bytes(path("lossless-streamed.pt")));
}

TEST_F(Pipeline, given_paper_baseline_expect_grid_bounds_gap8_index_and_exact_biases) {
  pipeline::CompressOptions o = generous();
  o.method = pipeline::Method::paper;
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, o, path("paper.dsz"));
  const Container c = read_container_file(path("paper.dsz"));
  for (const auto& t : r.tensors) {
    const TensorEntry* e = c.find(t.name);
    ASSERT_NE(e, nullptr);
    if (t.kind != "fc_weight") {
      EXPECT_EQ(e->value_codec, ValueCodec::lossless) << t.name;
      continue;
    }
    const double b = e->error_bound;
    EXPECT_TRUE(b == 0.0 || std::fabs(b * 1000.0 - std::round(b * 1000.0)) < 1e-9) << t.name << " " << b;
    ASSERT_TRUE(e->sparse);
    EXPECT_EQ(IndexCoding(e->index_stream[0]), IndexCoding::gap8_zstd);
  }
  EXPECT_EQ(r.measurements, 1);
  EXPECT_EQ(r.method, "paper");
}

TEST_F(Pipeline, given_zfp_codec_expect_zfp_streams_and_bounds_held) {
  pipeline::CompressOptions o = generous();
  o.method = pipeline::Method::zfp;
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, o, path("zfp.dsz"));
  EXPECT_TRUE(r.guarantee_success);
  const Container c = read_container_file(path("zfp.dsz"));
  size_t zfp = 0;
  for (const auto& e : c.tensors) {
    if (e.error_bound > 0) {
      EXPECT_EQ(e.value_codec, ValueCodec::zfp) << e.name;
      ++zfp;
    }
  }
  EXPECT_GT(zfp, 0u);
  const model::Model back = pipeline::decompress_model(c);
  for (const auto& p : pruned_->parameters()) {
    const auto a = pruned_->parameter(p.name), b = back.parameter(p.name);
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_LE(std::fabs(double(a[i]) - double(b[i])), c.find(p.name)->error_bound) << p.name;
  }
}

TEST_F(Pipeline, given_assessment_file_expect_reuse_on_the_same_model_only) {
  pipeline::CompressOptions o = generous();
  o.assessment_path = path("table.json");
  const auto r1 = pipeline::compress_model(*pruned_, *data_, o, path("a1.dsz"));
  EXPECT_FALSE(r1.assessment_reused);
  ASSERT_TRUE(fs::exists(o.assessment_path));
  const auto r2 = pipeline::compress_model(*pruned_, *data_, o, path("a2.dsz"));
  EXPECT_TRUE(r2.assessment_reused);
  EXPECT_EQ(r1.dsz_bytes, r2.dsz_bytes);
  EXPECT_EQ(read_file_bytes(path("a1.dsz")), read_file_bytes(path("a2.dsz")));
  const auto r3 = pipeline::compress_model(*dense_, *data_, o, path("a3.dsz"));  // another model
  EXPECT_FALSE(r3.assessment_reused);
}

TEST_F(Pipeline, given_holdout_expect_bounds_assessed_on_part_and_both_drops_within_budget) {
  pipeline::CompressOptions o = generous();
  o.holdout = 0.5;
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, o, path("holdout.dsz"));
  ASSERT_TRUE(r.guarantee_success);
  EXPECT_EQ(r.images_assess + r.images_holdout, r.images_val);
  EXPECT_EQ(r.images_holdout, r.images_val / 2);
  EXPECT_DOUBLE_EQ(r.measured_drop_pp, std::max(r.val_drop_pp, r.holdout_drop_pp));
  EXPECT_LE(r.val_drop_pp, r.budget_pp + 1e-9);
  EXPECT_LE(r.holdout_drop_pp, r.budget_pp + 1e-9);
  EXPECT_NEAR(r.val_drop_pp, 100.0 * (r.input_val_top1 - r.val_top1_after), 1e-9);
}

TEST(PipelineDetail, given_bytes_expect_base64_round_trip_and_bad_text_rejected) {
  for (size_t n = 0; n < 9; ++n) {
    std::vector<uint8_t> b;
    for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(37 * i + 250));
    const std::string t = pipeline::detail::base64_encode(b);
    EXPECT_EQ(t.size() % 4, 0u);
    EXPECT_EQ(pipeline::detail::base64_decode(t), b) << n;
  }
  EXPECT_EQ(pipeline::detail::base64_encode({'M', 'a', 'n'}), "TWFu");
  for (const char* bad : {"TWF", "TW=u", "T*Fu", "TQ==TQ=="}) EXPECT_THROW(pipeline::detail::base64_decode(bad), Error) << bad;
}

TEST_F(Pipeline, given_torchscript_model_expect_torchscript_back_with_bounds_held) {
  const std::string ts_path = path("ts.pt");
  const std::string cmd =
      "/usr/bin/python3 " DEEPSZ_MODEL_TEST_DIR "/make_torchscript.py " + ts_path + " script > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no /usr/bin/python3 with torch";
  model::Model ts = model::Model::load(ts_path);
  ASSERT_EQ(ts.file_kind(), model::FileKind::torchscript);
  // The trained, pruned LeNet-300-100's tensors in the PyTorch module (same names and shapes).
  for (const auto& p : pruned_->parameters()) {
    ts.set_parameter(p.name, pruned_->parameter(p.name));
    if (pruned_->has_mask(p.name)) ts.set_mask(p.name, pruned_->mask(p.name));
  }
  const pipeline::CompressReport r = pipeline::compress_model(ts, *data_, generous(), path("ts.dsz"));
  ASSERT_TRUE(r.guarantee_success);
  EXPECT_GT(r.torchscript_bytes, 0u);
  const Container c = read_container_file(path("ts.dsz"));
  const model::Model back = pipeline::decompress_model(c);
  EXPECT_EQ(back.file_kind(), model::FileKind::torchscript);
  for (const auto& p : ts.parameters()) {
    const std::vector<float> a = ts.parameter(p.name), b = back.parameter(p.name);
    ASSERT_EQ(a.size(), b.size());
    const double eb = c.find(p.name)->error_bound;
    for (size_t i = 0; i < a.size(); ++i) ASSERT_LE(std::fabs(double(a[i]) - double(b[i])), eb) << p.name;
    EXPECT_EQ(back.has_mask(p.name), ts.has_mask(p.name)) << p.name;
  }
  back.save(path("ts-back.pt"));
  const model::Model reloaded = model::Model::load(path("ts-back.pt"));
  EXPECT_EQ(reloaded.file_kind(), model::FileKind::torchscript);
  model::Evaluator ev(reloaded, *data_);
  EXPECT_DOUBLE_EQ(ev.evaluate(model::Split::val).top1_rate(), r.val_top1_after);
}

TEST_F(Pipeline, given_bad_input_expect_clean_rejection) {
  pipeline::CompressOptions o = generous();
  o.max_loss = 101;
  try {
    pipeline::compress_model(*pruned_, *data_, o, path("bad.dsz"));
    FAIL() << "--max-loss 101 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
  EXPECT_FALSE(fs::exists(path("bad.dsz")));
  try {
    model::Model::load(path("missing.pt"));
    FAIL() << "missing model loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
  // A .dsz of the wrong kind: raw tensors, no model marker.
  Container raw;
  std::vector<float> v(16, 1.0f);
  raw.tensors.push_back(encode_tensor("x", {16}, v.data(), TensorEncodeOptions{}));
  raw.set_meta("creator", "dsz");
  write_container_file(raw, path("raw.dsz"));
  try {
    pipeline::decompress_model_file(path("raw.dsz"));
    FAIL() << "raw container decoded as a model";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::foreign_format);
  }
  // Not a .dsz at all.
  const std::string junk = "not a container";
  write_file_atomically(path("junk.dsz"), reinterpret_cast<const uint8_t*>(junk.data()), junk.size());
  EXPECT_THROW(pipeline::decompress_model_file(path("junk.dsz")), Error);
}

// ---- Certification (docs/PIPELINE.md, "Certification") ------------------

// 4,000 training, 1,000 selection, 2,000 certification, 1,000 test images;
// a dense model trained on them and a state pruned from it with retraining
// (it records its ancestry and the dense certification reference).
class Certified : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model::init_runtime(0);
    try {
      model::SplitSpec spec;
      spec.selection = 1000;
      spec.certification = 2000;
      model::Dataset full = model::load_dataset(model::kDefaultDataDir, spec);
      data_ = new model::Dataset(full);
      data_->train = head(full.train, 4000);
      data_->test = head(full.test, 1000);
    } catch (const Error& e) {
      skip_ = std::string("no Fashion-MNIST at ") + model::kDefaultDataDir + ": " + e.what();
      return;
    }
    model::TrainOptions t;
    t.epochs = 2;
    dense_ = new model::Model(model::train(*data_, t));
    model::PruneOptions po;
    po.density = 0.3;
    po.step_epochs = 1;
    po.final_epochs = 1;
    pruned_ = new model::Model(model::prune(*dense_, *data_, po));
    dir_ = new fs::path(fs::temp_directory_path() / ("deepsz-certified-test-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
    delete data_;
    delete dense_;
    delete pruned_;
    delete dir_;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }
  static inline model::Dataset* data_ = nullptr;
  static inline model::Model* dense_ = nullptr;
  static inline model::Model* pruned_ = nullptr;
  static inline fs::path* dir_ = nullptr;
  static inline std::string skip_;
};

TEST_F(Certified, given_a_pruned_model_expect_records_of_its_split_and_of_the_dense_reference) {
  EXPECT_EQ(dense_->metadata(model::meta::data_split), "seed=1,val=1000,cert=2000");
  EXPECT_EQ(pruned_->metadata(model::meta::data_split), "seed=1,val=1000,cert=2000");
  const std::vector<uint8_t> ref = model::decode_flags(pruned_->metadata(model::meta::dense_cert_correct));
  model::Evaluator ev(*dense_, *data_);
  EXPECT_EQ(ref, ev.correct(model::Split::cert));
}

TEST_F(Certified, given_a_budget_expect_the_smallest_candidate_that_passed_written_and_reproduced) {
  pipeline::CompressOptions o;
  o.max_loss = 3.0;
  o.max_candidates = 6;
  const std::string out = path("certified.dsz");
  const pipeline::CompressReport r = pipeline::compress_model(*pruned_, *data_, o, out, "pruned");
  ASSERT_TRUE(r.certified);
  EXPECT_EQ(r.images_cert, 2000u);
  EXPECT_LE(r.cert_upper_bound_pp, 3.0 + 1e-9);
  const nlohmann::json j = nlohmann::json::parse(pipeline::report_to_json(r));
  const nlohmann::json& c = j.at("certification");
  const nlohmann::json& looks = c.at("detail").at("looks");
  ASSERT_FALSE(looks.empty());
  // Looks in the planned order; every one passed but perhaps the last; the
  // chosen candidate is the passed one of fewest bytes.
  const nlohmann::json& ladder = c.at("detail").at("ladder");
  size_t smallest = SIZE_MAX;
  for (size_t i = 0; i < looks.size(); ++i) {
    if (i + 1 < looks.size()) EXPECT_TRUE(looks[i].at("passed").get<bool>()) << i;
    const size_t k = looks[i].at("candidate").get<size_t>();
    if (looks[i].at("passed").get<bool>() &&
        (smallest == SIZE_MAX || ladder.at(k).at("bytes").get<uint64_t>() <= ladder.at(smallest).at("bytes").get<uint64_t>()))
      smallest = k;
    if (i > 0) EXPECT_GT(k, looks[i - 1].at("candidate").get<size_t>());
  }
  ASSERT_NE(smallest, SIZE_MAX);
  EXPECT_EQ(c.at("detail").at("chosen").get<size_t>(), smallest);
  // The file is the chosen rung: its streams are the ladder's bytes.
  EXPECT_EQ(ladder.at(smallest).at("bytes").get<uint64_t>(), r.tensor_bytes);
  // The decoded file reproduces the certified reading on the certification images.
  const model::Model back = pipeline::decompress_model_file(out);
  model::Evaluator ev(back, *data_);
  const std::vector<uint8_t> ref = model::decode_flags(pruned_->metadata(model::meta::dense_cert_correct));
  const std::vector<uint8_t> got = ev.correct(model::Split::cert);
  int64_t diff = 0;
  for (size_t i = 0; i < got.size(); ++i) diff += int64_t(ref[i]) - int64_t(got[i]);
  EXPECT_NEAR(100.0 * double(diff) / double(got.size()), r.cert_drop_pp, 1e-9);
  EXPECT_NE(read_container_file(out).meta("deepsz.certified"), "");
}

TEST_F(Certified, given_no_candidate_within_the_budget_expect_not_certified_and_nothing_written) {
  // Nine weights in ten of every fc layer cut without retraining: far over a
  // 0.5-point budget, even with every tensor lossless.
  model::Model broken = *pruned_;
  prune_by_hand(broken, 0.03);
  pipeline::CompressOptions o;
  o.max_loss = 0.5;
  o.max_candidates = 3;
  const std::string out = path("refused.dsz");
  try {
    pipeline::compress_model(broken, *data_, o, out, "broken");
    FAIL() << "an uncertifiable model was written";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_certified) << e.what();
    EXPECT_NE(std::string(e.what()).find("--confidence"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(Certified, given_a_model_made_on_another_split_expect_refusal_naming_the_flags) {
  model::SplitSpec other;
  other.selection = 1000;
  other.certification = 2000;
  other.seed = 2;  // other images: some of these certification images trained or chose the model
  model::Dataset d = model::load_dataset(model::kDefaultDataDir, other);
  pipeline::CompressOptions o;
  o.max_loss = 3.0;
  try {
    pipeline::compress_model(*pruned_, d, o, path("other.dsz"));
    FAIL() << "certified on another split";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("--split-seed 1 --val 1000 --cert 2000"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path("other.dsz")));
  // A model that records no split at all may have trained on any image.
  model::Model unknown = *pruned_;
  unknown.set_metadata(model::meta::data_split, "");
  model::Model fresh = model::Model::from_parameters(
      unknown.architecture(), unknown.input_shape(), unknown.num_classes(),
      [&] {
        std::vector<std::pair<std::string, std::vector<float>>> ps;
        for (const auto& p : unknown.parameters()) ps.emplace_back(p.name, unknown.parameter(p.name));
        return ps;
      }());
  try {
    pipeline::compress_model(fresh, *data_, o, path("unknown.dsz"));
    FAIL() << "certified a model of unknown training";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cert 0"), std::string::npos) << e.what();
  }
}

TEST(SplitRecord, given_splits_expect_only_the_recorded_one_certifies) {
  model::Dataset d;
  d.val.labels.resize(5000);
  d.cert.labels.resize(10000);
  d.split_seed = 1;
  EXPECT_NO_THROW(model::check_split_record("seed=1,val=5000,cert=10000", d, "m"));
  EXPECT_THROW(model::check_split_record("seed=1,val=5000,cert=5000", d, "m"), Error);   // trained on half of these
  EXPECT_THROW(model::check_split_record("seed=1,val=10000,cert=5000", d, "m"), Error);  // chose on some of these
  EXPECT_THROW(model::check_split_record("seed=2,val=5000,cert=10000", d, "m"), Error);
  EXPECT_THROW(model::check_split_record("", d, "m"), Error);
  EXPECT_THROW(model::check_split_record("seed=1;val=5000", d, "m"), Error);
  // Uncertified (--cert 0): the selection split must match, the rest may differ.
  d.cert.labels.clear();
  EXPECT_NO_THROW(model::check_split_record("seed=1,val=5000,cert=10000", d, "m"));
  EXPECT_NO_THROW(model::check_split_record("", d, "m"));
  EXPECT_THROW(model::check_split_record("seed=1,val=4000,cert=0", d, "m"), Error);
}

TEST(SplitRecord, given_flags_expect_the_text_round_trip_and_malformed_text_refused) {
  for (size_t n : {0u, 1u, 3u, 4u, 5u, 10000u}) {
    std::vector<uint8_t> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = (i * 7 + 3) % 5 < 2;
    EXPECT_EQ(model::decode_flags(model::encode_flags(f)), f) << n;
  }
  EXPECT_THROW(model::decode_flags("3:f"), Error);   // a bit past the count set
  EXPECT_THROW(model::decode_flags("5:1"), Error);   // too short
  EXPECT_THROW(model::decode_flags("x:1"), Error);
  EXPECT_THROW(model::decode_flags("4:g"), Error);
}

}  // namespace
