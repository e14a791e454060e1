// Model layer tests: small and quick, asserting real behaviour.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <fstream>
#include <iterator>
#include <set>

#include "deepsz/error.h"
#include "deepsz/model/data.h"
#include "deepsz/model/model.h"
#include "deepsz/model/runtime.h"
#include "deepsz/model/train.h"
#include "test_files.h"

namespace dm = deepsz::model;
namespace fs = std::filesystem;
using namespace deepsz::model_test;

namespace {

// A small slice of Fashion-MNIST: 4,000 training, 1,000 val, 1,000 test images.
const dm::Dataset* small_fashion() {
  static bool tried = false;
  static dm::Dataset data;
  static bool ok = false;
  if (!tried) {
    tried = true;
    dm::init_runtime(1);
    try {
      dm::Dataset full = dm::load_dataset(DEEPSZ_DATA_DIR, 1000);
      auto cut = [](dm::ImageSet& s, int64_t n) {
        s.pixels.resize(static_cast<size_t>(n * s.image_elements()));
        s.labels.resize(static_cast<size_t>(n));
      };
      data = std::move(full);
      cut(data.train, 4000);
      cut(data.test, 1000);
      ok = true;
    } catch (const deepsz::Error&) {
      ok = false;
    }
  }
  return ok ? &data : nullptr;
}

#define NEED_FASHION(var)                                                        \
  const dm::Dataset* var = small_fashion();                                      \
  if (!var) GTEST_SKIP() << "Fashion-MNIST not installed at " DEEPSZ_DATA_DIR

const dm::Model& trained_lenet300() {
  static dm::Model model = [] {
    dm::TrainOptions o;
    o.architecture = "lenet300";
    o.epochs = 2;
    o.seed = 3;
    return dm::train(*small_fashion(), o);
  }();
  return model;
}

// Keeps one weight in three of `name` (a mask on it), the others pruned;
// returns the mask.
std::vector<uint8_t> mask_every_third(dm::Model& m, const std::string& name) {
  std::vector<uint8_t> mask(static_cast<size_t>(m.parameter_info(name).numel), 0);
  for (size_t i = 0; i < mask.size(); i += 3) mask[i] = 1;
  m.set_mask(name, mask);
  return mask;
}

// Every masked-out weight of every masked tensor is exactly zero, and the
// tensor's nonzeros are the mask's survivors.
void expect_masks_hold(const dm::Model& m) {
  for (const auto& n : m.masked_parameters()) {
    const auto mask = m.mask(n);
    const auto w = m.parameter(n);
    int64_t kept = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      if (!mask[i]) {
        ASSERT_EQ(w[i], 0.0f) << n << "[" << i << "]";
      }
      kept += mask[i];
    }
    EXPECT_EQ(m.nonzeros(n), kept) << n;
  }
}

bool python_torch_available() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

}  // namespace

// ---- architectures and files -------------------------------------------------

TEST(Zoo, given_each_architecture_expect_pytorch_names_and_shapes) {
  dm::init_runtime(1);
  dm::Model l300 = dm::Model::create("lenet300", {}, 10, 1);
  auto p = l300.parameters();
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].name, "fc1.weight");
  EXPECT_EQ(p[0].shape, (std::vector<int64_t>{300, 784}));
  EXPECT_EQ(p[0].kind, dm::ParamKind::fc_weight);
  EXPECT_EQ(p[1].kind, dm::ParamKind::bias);
  dm::Model l5 = dm::Model::create("lenet5", {}, 10, 1);
  EXPECT_EQ(l5.parameter_info("conv2.weight").shape, (std::vector<int64_t>{50, 20, 5, 5}));
  EXPECT_EQ(l5.parameter_info("conv2.weight").kind, dm::ParamKind::conv_weight);
  EXPECT_EQ(l5.parameter_info("fc1.weight").shape, (std::vector<int64_t>{500, 800}));
  int64_t n = 0;
  for (const auto& q : l5.parameters()) n += q.numel;
  EXPECT_EQ(n, 431080);  // Caffe LeNet-5
  dm::Model alex = dm::Model::create("alexnet", {3, 224, 224}, 1000, 1);
  n = 0;
  for (const auto& q : alex.parameters()) n += q.numel;
  EXPECT_EQ(n, 61100840);  // torchvision alexnet
  EXPECT_THROW(dm::Model::create("resnet", {}, 10, 1), deepsz::Error);
}

TEST(ModelFile, given_native_model_when_saved_and_loaded_expect_bit_identical) {
  auto d = temp_dir("native");
  dm::Model m = dm::Model::create("lenet5", {}, 10, 5);
  const std::vector<uint8_t> mask = mask_every_third(m, "fc2.weight");
  m.set_metadata("note", "hello");
  m.set_preprocessing({0.2860, 0.3530});
  m.save((d / "m.pt").string());
  dm::Model r = dm::Model::load((d / "m.pt").string());
  EXPECT_EQ(r.file_kind(), dm::FileKind::native);
  EXPECT_EQ(r.architecture(), "lenet5");
  EXPECT_EQ(r.metadata(), m.metadata());
  EXPECT_DOUBLE_EQ(r.preprocessing().std, 0.3530);
  ASSERT_EQ(r.parameters().size(), m.parameters().size());
  for (const auto& p : m.parameters()) EXPECT_EQ(r.parameter(p.name), m.parameter(p.name)) << p.name;
  EXPECT_EQ(r.mask("fc2.weight"), mask);
  EXPECT_EQ(r.masked_parameters(), std::vector<std::string>{"fc2.weight"});
  auto w = r.parameter("fc2.weight");
  for (size_t i = 0; i < w.size(); ++i)
    if (!mask[i]) {
      ASSERT_EQ(w[i], 0.0f);
    }
  // No temp files left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(ModelFile, given_garbage_expect_clean_rejection) {
  auto d = temp_dir("garbage");
  write_file(d / "g.pt", "this is not a model");
  EXPECT_THROW(dm::Model::load((d / "g.pt").string()), deepsz::Error);
  write_file(d / "z.pt", std::string("PK\x03\x04", 4) + std::string(100, 'x'));
  EXPECT_THROW(dm::Model::load((d / "z.pt").string()), deepsz::Error);
  EXPECT_THROW(dm::Model::load((d / "absent.pt").string()), deepsz::Error);
}

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Offset in a saved model file of the stored bytes of `raw` (a tensor's data
// as pickled: row-major, little-endian), which must occur exactly once.
size_t find_unique(const std::string& file, const std::string& raw) {
  size_t at = file.find(raw);
  EXPECT_NE(at, std::string::npos) << "tensor data not found in the file";
  if (at != std::string::npos) {
    EXPECT_EQ(file.find(raw, at + 1), std::string::npos) << "tensor data found twice";
  }
  return at;
}

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Load must fail with checksum_wrong and one line naming the file and `needle`.
void expect_corrupt(const fs::path& p, const std::string& needle,
                    dm::Model::MaskLoading masks = dm::Model::MaskLoading::contents) {
  try {
    dm::Model::load(p.string(), masks);
    FAIL() << "loaded the damaged file " << p;
  } catch (const deepsz::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(deepsz::ErrorCode::checksum_wrong)) << msg;
    EXPECT_NE(msg.find(p.string() + " is corrupt"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace

// What compress loads: the masks checked but not kept.
TEST(ModelFile, given_masks_loaded_by_name_only_expect_names_answered_contents_and_save_refused) {
  auto d = temp_dir("mask_names");
  dm::Model m = dm::Model::create("lenet300", {}, 10, 7);
  mask_every_third(m, "fc2.weight");
  m.save((d / "m.pt").string());
  const dm::Model r = dm::Model::load((d / "m.pt").string(), dm::Model::MaskLoading::names_only);
  EXPECT_TRUE(r.has_mask("fc2.weight"));
  EXPECT_FALSE(r.has_mask("fc1.weight"));
  EXPECT_EQ(r.masked_parameters(), std::vector<std::string>{"fc2.weight"});
  for (const auto& p : m.parameters()) EXPECT_EQ(r.parameter(p.name), m.parameter(p.name)) << p.name;
  EXPECT_THROW(r.mask("fc2.weight"), deepsz::Error);
  EXPECT_THROW(r.save((d / "again.pt").string()), deepsz::Error);
  EXPECT_FALSE(fs::exists(d / "again.pt"));
  const dm::Model copy = r;  // the names travel with a copy
  EXPECT_TRUE(copy.has_mask("fc2.weight"));
}

TEST(ModelFile, given_bytes_overwritten_inside_a_tensor_expect_load_refuses_naming_file_and_tensor) {
  auto d = temp_dir("checksum");
  dm::Model m = dm::Model::create("lenet300", {}, 10, 7);
  const std::vector<uint8_t> mask = mask_every_third(m, "fc2.weight");
  m.save((d / "m.pt").string());
  const std::string good = read_file(d / "m.pt");
  ASSERT_NO_THROW(dm::Model::load((d / "m.pt").string()));

  // 16 bytes overwritten in the middle of fc1.weight's data.
  const std::vector<float> w = m.parameter("fc1.weight");
  const size_t at = find_unique(good, float_bytes(w));
  ASSERT_NE(at, std::string::npos);
  std::string bad = good;
  bad.replace(at + w.size() * sizeof(float) / 2, 16, "XXXXXXXXXXXXXXXX");
  write_file(d / "w.pt", bad);
  expect_corrupt(d / "w.pt", "checksum mismatch in tensor 'fc1.weight'");

  // One float of a bias changed by one ulp.
  const std::vector<float> b = m.parameter("fc3.bias");
  const size_t bat = find_unique(good, float_bytes(b));
  ASSERT_NE(bat, std::string::npos);
  bad = good;
  bad[bat + 4] = static_cast<char>(bad[bat + 4] ^ 1);
  write_file(d / "b.pt", bad);
  expect_corrupt(d / "b.pt", "checksum mismatch in tensor 'fc3.bias'");

  // A pruned weight turned back on in the mask.
  const size_t mat = find_unique(good, std::string(mask.begin(), mask.end()));
  ASSERT_NE(mat, std::string::npos);
  bad = good;
  bad[mat + 1] = 1;
  write_file(d / "k.pt", bad);
  expect_corrupt(d / "k.pt", "checksum mismatch in the mask of tensor 'fc2.weight'");
  expect_corrupt(d / "k.pt", "checksum mismatch in the mask of tensor 'fc2.weight'", dm::Model::MaskLoading::names_only);

  // A checksum entry renamed (same length): its tensor is left without one.
  const std::string key = "xxh64:parameter:fc2.bias";
  const size_t kat = find_unique(good, key);
  ASSERT_NE(kat, std::string::npos);
  bad = good;
  bad.replace(kat + key.size() - 4, 4, "bia$");
  write_file(d / "n.pt", bad);
  expect_corrupt(d / "n.pt", "no checksum for tensor 'fc2.bias'");
}

TEST(ModelFile, given_output_not_a_regular_file_expect_refused_and_left_alone) {
  auto d = temp_dir("nonregular");
  dm::Model m = dm::Model::create("lenet300", {}, 10, 1);
  ASSERT_EQ(mkfifo((d / "fifo").c_str(), 0600), 0);
  fs::create_directory(d / "dir");
  for (const char* name : {"fifo", "dir"}) {
    try {
      m.save((d / name).string());
      FAIL() << "saved over " << name;
    } catch (const deepsz::Error& e) {
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(fs::is_fifo(d / "fifo"));
  EXPECT_TRUE(fs::is_directory(d / "dir"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(d)) entries += e.exists();
  EXPECT_EQ(entries, 2);  // no temporary left
}

TEST(ModelFile, given_file_without_checksums_expect_loaded_unchecked) {
  // A file as written before the checksums: the same dictionary without the
  // xxh64: entries. Made here by renaming them (same length) to ordinary keys.
  auto d = temp_dir("old");
  dm::Model m = dm::Model::create("lenet300", {}, 10, 8);
  m.set_metadata("note", "hello");
  m.save((d / "m.pt").string());
  std::string bytes = read_file(d / "m.pt");
  int renamed = 0;
  for (size_t at = bytes.find("xxh64:"); at != std::string::npos; at = bytes.find("xxh64:", at + 1)) {
    bytes.replace(at, 6, "old64:");
    ++renamed;
  }
  EXPECT_EQ(renamed, 7);  // the metadata and six tensors
  write_file(d / "old.pt", bytes);
  dm::Model r = dm::Model::load((d / "old.pt").string());
  for (const auto& p : m.parameters()) EXPECT_EQ(r.parameter(p.name), m.parameter(p.name)) << p.name;
  EXPECT_EQ(r.metadata("note", ""), "hello");
  EXPECT_EQ(r.metadata().count("old64:parameter:fc1.weight"), 1u);
  // Saved again, it gets checksums; they never show in the metadata.
  r.save((d / "new.pt").string());
  dm::Model again = dm::Model::load((d / "new.pt").string());
  EXPECT_EQ(again.metadata(), r.metadata());
  for (const auto& [k, v] : again.metadata()) EXPECT_NE(k.rfind("xxh64:", 0), 0u) << k;
  EXPECT_THROW(m.set_metadata("xxh64:metadata", "0"), deepsz::Error);
}

TEST(ModelFile, given_architecture_and_tensors_expect_rebuilt_model) {
  dm::Model m = dm::Model::create("lenet300", {}, 10, 9);
  std::vector<std::pair<std::string, std::vector<float>>> params;
  for (const auto& p : m.parameters()) params.emplace_back(p.name, m.parameter(p.name));
  dm::Model r = dm::Model::from_parameters("lenet300", {}, 10, params, m.metadata());
  for (const auto& p : m.parameters()) EXPECT_EQ(r.parameter(p.name), m.parameter(p.name));
  params.pop_back();
  EXPECT_THROW(dm::Model::from_parameters("lenet300", {}, 10, params), deepsz::Error);
  params.front().second.pop_back();
  EXPECT_THROW(dm::Model::from_parameters("lenet300", {}, 10, params), deepsz::Error);
}

// ---- training, evaluation, pruning ------------------------------------------

TEST(Train, given_small_fashion_expect_accuracy_well_above_chance) {
  NEED_FASHION(data);
  const dm::Model& m = trained_lenet300();
  dm::Evaluator ev(m, *data);
  dm::Evaluation r = ev.evaluate(dm::Split::test);
  EXPECT_EQ(r.images(), 1000);
  EXPECT_GT(r.top1_rate(), 0.70);  // chance: 0.10
  EXPECT_GT(r.top5_rate(), r.top1_rate());
  EXPECT_EQ(m.metadata(dm::meta::val_images), "1000");
}

TEST(Train, given_same_seed_and_threads_expect_bit_identical_model) {
  NEED_FASHION(data);
  dm::Dataset tiny = *data;
  tiny.train.pixels.resize(static_cast<size_t>(1000 * tiny.train.image_elements()));
  tiny.train.labels.resize(1000);
  dm::TrainOptions o;
  o.epochs = 1;
  o.seed = 11;
  dm::Model a = dm::train(tiny, o), b = dm::train(tiny, o);
  for (const auto& p : a.parameters()) EXPECT_EQ(a.parameter(p.name), b.parameter(p.name)) << p.name;
  o.seed = 12;
  dm::Model c = dm::train(tiny, o);
  EXPECT_NE(a.parameter("fc1.weight"), c.parameter("fc1.weight"));
}

TEST(Evaluator, given_override_of_late_layer_expect_same_as_full_evaluation) {
  NEED_FASHION(data);
  const dm::Model& m = trained_lenet300();
  dm::Evaluator ev(m, *data);
  auto base = ev.correct(dm::Split::val);
  auto w = m.parameter("fc2.weight");
  for (size_t i = 0; i < w.size(); i += 2) w[i] = 0.0f;
  auto cached = ev.correct(dm::Split::val, {{"fc2.weight", w}});
  auto again = ev.correct(dm::Split::val, {{"fc3.weight", m.parameter("fc3.weight")}});
  EXPECT_EQ(again, base);
  dm::Model changed = m;
  changed.set_parameter("fc2.weight", w);
  dm::Evaluator fresh(changed, *data);
  EXPECT_EQ(fresh.correct(dm::Split::val), cached);
  EXPECT_NE(cached, base);
  EXPECT_THROW(ev.correct(dm::Split::val, {{"fc2.weight", std::vector<float>(3)}}), deepsz::Error);
  EXPECT_THROW(ev.correct(dm::Split::val, {{"nope.weight", w}}), deepsz::Error);
}

// A produced weight (an encoded candidate decoded a piece at a time) scores
// bit for bit as the same values held whole or set into the model, for a
// fully connected layer large enough to be computed a block of rows at a
// time (fc1 here: 6,912 x 300 = 2.07M values, blocks of 151 and 149 rows)
// and for a small one; over three image batches (450 images).
TEST(Evaluator, given_produced_weights_expect_bit_identical_to_the_same_values_held_whole) {
  dm::init_runtime(1);
  dm::Dataset data;
  data.num_classes = 10;
  dm::ImageSet& v = data.val;
  v.channels = 3;
  v.rows = v.cols = 48;
  std::mt19937 rng(7);
  v.pixels.resize(size_t(450 * v.image_elements()));
  for (auto& p : v.pixels) p = uint8_t(rng() & 255u);
  for (int i = 0; i < 450; ++i) v.labels.push_back(uint8_t(rng() % 10));
  const dm::Model m = dm::Model::create("lenet300", {3, 48, 48}, 10, 3);
  ASSERT_GT(int64_t(m.parameter("fc1.weight").size()), dm::kLinearBlockValues);
  dm::Evaluator ev(m, data);
  const dm::Evaluation base = ev.evaluate(dm::Split::val);
  auto produced = [](std::vector<float> values, size_t piece) {
    return dm::ParameterValues::produced([values = std::move(values), piece](const dm::FloatSink& sink) {
      for (size_t i = 0; i < values.size(); i += piece) sink(values.data() + i, std::min(piece, values.size() - i));
    });
  };
  // The model's own weights, produced: the same scores as none given.
  const dm::Evaluation own = ev.evaluate(dm::Split::val, {{"fc1.weight", produced(m.parameter("fc1.weight"), 777)}});
  EXPECT_EQ(own.top1, base.top1);
  EXPECT_EQ(own.loss, base.loss);
  // Changed weights: produced, held whole, and set into a copy of the model.
  for (const char* name : {"fc1.weight", "fc2.weight"}) {
    std::vector<float> w = m.parameter(name);
    for (size_t i = 0; i < w.size(); i += 3) w[i] = 0.0f;
    const dm::Evaluation p = ev.evaluate(dm::Split::val, {{name, produced(w, 1 << 20)}});
    const dm::Evaluation odd = ev.evaluate(dm::Split::val, {{name, produced(w, 4097)}});
    const dm::Evaluation whole = ev.evaluate(dm::Split::val, {{name, w}});
    dm::Model changed = m;
    changed.set_parameter(name, w);
    const dm::Evaluation set = dm::Evaluator(changed, data).evaluate(dm::Split::val);
    EXPECT_EQ(p.loss, whole.loss) << name;
    EXPECT_EQ(odd.loss, whole.loss) << name;
    EXPECT_EQ(set.loss, whole.loss) << name;
    EXPECT_EQ(set.top1, p.top1) << name;
    EXPECT_NE(p.loss, base.loss) << name;
  }
  // Two produced layers and a produced bias (gathered) in one evaluation.
  std::vector<float> b = m.parameter("fc2.bias");
  for (float& x : b) x += 0.5f;
  dm::Model changed = m;
  changed.set_parameter("fc2.bias", b);
  EXPECT_EQ(ev.evaluate(dm::Split::val, {{"fc1.weight", produced(m.parameter("fc1.weight"), 5000)},
                                         {"fc2.weight", produced(m.parameter("fc2.weight"), 999)},
                                         {"fc2.bias", produced(b, 7)}})
                .loss,
            dm::Evaluator(changed, data).evaluate(dm::Split::val).loss);
  // Too few or too many values: refused.
  std::vector<float> w = m.parameter("fc1.weight");
  EXPECT_THROW(ev.evaluate(dm::Split::val, {{"fc1.weight", produced(std::vector<float>(w.begin(), w.end() - 1), 1000)}}),
               deepsz::Error);
  w.push_back(0.0f);
  EXPECT_THROW(ev.evaluate(dm::Split::val, {{"fc1.weight", produced(w, 1000)}}), deepsz::Error);
  EXPECT_THROW(ev.evaluate(dm::Split::val, {{"fc2.bias", produced(std::vector<float>(101), 10)}}), deepsz::Error);
}

TEST(Prune, given_density_target_expect_masks_hold_exactly_after_retraining) {
  NEED_FASHION(data);
  dm::PruneOptions o;
  o.density = 0.08;
  o.step_epochs = 1;
  o.final_epochs = 0;
  dm::PruneReport r;
  dm::Model p = dm::prune(trained_lenet300(), *data, o, &r);
  EXPECT_NEAR(r.density, 0.08, 0.01);
  auto names = p.masked_parameters();
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc2.weight", "fc3.weight"}));
  auto d = temp_dir("pruned");
  p.save((d / "p.pt").string());
  dm::Model q = dm::Model::load((d / "p.pt").string());
  expect_masks_hold(q);
  EXPECT_FALSE(q.metadata(dm::meta::dense_val_top1).empty());
  EXPECT_GT(r.test_top1, 0.6);
}

TEST(Prune, given_fisher_scores_and_global_allocation_expect_target_met_and_classifier_kept_denser) {
  NEED_FASHION(data);
  dm::PruneOptions o;
  o.density = 0.05;
  o.step_epochs = 1;
  o.final_epochs = 0;
  o.allocation = "global";
  o.gradient_scores = true;
  dm::PruneReport r;
  dm::Model p = dm::prune(trained_lenet300(), *data, o, &r);
  EXPECT_NEAR(r.density, 0.05, 0.005);
  ASSERT_EQ(r.layers.size(), 3u);
  // One threshold over comparable scores: the 1,000 weights of the classifier
  // (fc3), each of which moves a logit, survive far more often than fc1's.
  const auto density = [](const dm::PrunedLayer& l) { return static_cast<double>(l.kept) / static_cast<double>(l.params); };
  EXPECT_GT(density(r.layers[2]), 2 * density(r.layers[0]));
  expect_masks_hold(p);
  EXPECT_GT(r.test_top1, 0.6);
}

// A loose budget (3 points), one-epoch steps halving the density, no
// fine-tuning: several steps are accepted on the small set.
dm::PruneOptions loose_budget_options() {
  dm::PruneOptions o;
  o.max_loss = 3.0;
  o.step_epochs = 1;
  o.final_epochs = 0;
  o.step_factor = 0.5;
  return o;
}

TEST(Prune, given_alternatives_expect_denser_accepted_states_recorded_like_the_result) {
  NEED_FASHION(data);
  dm::PruneOptions o = loose_budget_options();
  o.alternatives = 2;
  dm::PruneReport r;
  dm::Model p = dm::prune(trained_lenet300(), *data, o, &r);
  ASSERT_EQ(r.alternatives.size(), 2u);
  auto kept = [](const dm::Model& m) {
    int64_t n = 0;
    for (const auto& name : m.masked_parameters()) n += m.nonzeros(name);
    return n;
  };
  int64_t previous = kept(p);
  for (const auto& alt : r.alternatives) {
    EXPECT_GT(kept(alt), previous);  // denser, sparsest first
    previous = kept(alt);
    EXPECT_EQ(alt.masked_parameters(), p.masked_parameters());
    expect_masks_hold(alt);
    EXPECT_EQ(alt.metadata(dm::meta::dense_val_top1), p.metadata(dm::meta::dense_val_top1));
    const double val = std::stod(alt.metadata(dm::meta::val_top1));
    // Accepted: its reading was within max_loss - margin of the input.
    EXPECT_GE(100 * val, 100 * r.input_val_top1 - o.max_loss - 1.0);
  }
}

TEST(Prune, given_decision_on_training_images_expect_every_accepted_state_within_the_selection_check) {
  NEED_FASHION(data);
  dm::PruneOptions o = loose_budget_options();
  o.alternatives = 2;
  o.decide_on_training_images = true;
  // Deciding on the training images needs them.
  EXPECT_THROW(dm::prune(trained_lenet300(), *data, o), deepsz::Error);
  o.decision_images = 2000;
  std::vector<std::string> lines;
  o.log = [&](const std::string& l) { lines.push_back(l); };
  dm::PruneReport r;
  dm::Model p = dm::prune(trained_lenet300(), *data, o, &r);
  // Every step was also read on the decision images (drop, agreement, KL).
  int read = 0;
  for (const auto& l : lines) read += l.find("agreement") != std::string::npos && l.find("KL") != std::string::npos;
  EXPECT_GT(read, 0);
  // The selection split checks each accepted state: its reading may exceed
  // the acceptance bound (max_loss - margin) by its own noise only, at most
  // 100 z(0.9) sqrt(1 / images) points (every image discordant).
  const double n = static_cast<double>(data->val.size());
  const double check = o.max_loss - o.margin + 100 * 1.2816 * std::sqrt(1.0 / n);
  std::vector<const dm::Model*> states{&p};
  for (const auto& alt : r.alternatives) states.push_back(&alt);
  for (const dm::Model* s : states) {
    const double val = std::stod(s->metadata(dm::meta::val_top1));
    EXPECT_LE(100 * (r.input_val_top1 - val), check + 1e-6);
  }
  int64_t kept = 0, all = 0;
  for (const auto& name : p.masked_parameters()) {
    kept += p.nonzeros(name);
    all += trained_lenet300().nonzeros(name);
  }
  EXPECT_LT(kept, all);  // pruned
}

TEST(Prune, given_pruned_input_expect_budget_counted_from_its_dense_ancestor) {
  NEED_FASHION(data);
  // Loose: from the dense model itself, steps are accepted (the tests above).
  dm::PruneOptions o = loose_budget_options();
  dm::Model input = trained_lenet300();
  const double val = dm::Evaluator(input, *data).evaluate(dm::Split::val).top1_rate();
  // An ancestor 20 points better on this split: earlier pruning spent far
  // more than the whole budget (retraining the briefly trained model gains
  // a few points, not 17), so no state is accepted and the input returns.
  ASSERT_LT(val, 0.8);
  input.set_metadata(dm::meta::dense_val_top1, std::to_string(val + 0.2));
  input.set_metadata(dm::meta::val_images, std::to_string(data->val.size()));
  dm::PruneReport r;
  dm::Model p = dm::prune(input, *data, o, &r);
  for (const auto& name : {"fc1.weight", "fc2.weight", "fc3.weight"})
    EXPECT_EQ(p.nonzeros(name), input.nonzeros(name)) << name;
  // An ancestor measured on another split cannot be counted from.
  input.set_metadata(dm::meta::val_images, std::to_string(data->val.size() + 1));
  try {
    dm::prune(input, *data, o);
    FAIL() << "expected invalid_argument";
  } catch (const deepsz::Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(deepsz::ErrorCode::invalid_argument));
    EXPECT_NE(std::string(e.what()).find("--val"), std::string::npos) << e.what();
  }
}

TEST(Prune, given_augmentation_expect_same_model_for_same_seed_and_a_different_one_without) {
  NEED_FASHION(data);
  dm::PruneOptions o;
  o.density = 0.5;
  o.step_epochs = 1;
  o.final_epochs = 0;
  o.augment_shift = 2;
  const dm::Model a = dm::prune(trained_lenet300(), *data, o);
  const dm::Model b = dm::prune(trained_lenet300(), *data, o);
  o.augment_shift = 0;
  const dm::Model c = dm::prune(trained_lenet300(), *data, o);
  EXPECT_EQ(a.parameter("fc1.weight"), b.parameter("fc1.weight"));
  EXPECT_NE(a.parameter("fc1.weight"), c.parameter("fc1.weight"));
  expect_masks_hold(a);
  o.augment_shift = 9;
  EXPECT_THROW(dm::prune(trained_lenet300(), *data, o), deepsz::Error);
}

TEST(Quantize, given_budget_expect_values_on_the_recorded_lattices_masks_held_and_budget_met) {
  NEED_FASHION(data);
  dm::PruneOptions po;
  po.density = 0.1;
  po.step_epochs = 1;
  po.final_epochs = 0;
  const dm::Model pruned = dm::prune(trained_lenet300(), *data, po);
  dm::QuantizeOptions o;
  o.max_loss = 3.0;
  o.epochs = 2;
  o.start = 0.2;
  o.growth = 2.0;
  o.max_levels = 4;
  dm::QuantizeReport r;
  const dm::Model q = dm::quantize(pruned, *data, o, &r);
  ASSERT_GT(r.relative_step, 0.0) << "no level accepted at a 3-point budget";
  ASSERT_EQ(r.layers.size(), 3u);  // the pruned tensors
  expect_masks_hold(q);
  for (const auto& l : r.layers) {
    EXPECT_EQ(std::stof(q.metadata(std::string(dm::meta::lattice_prefix) + l.name)), l.step) << l.name;
    const std::vector<float> w = q.parameter(l.name);
    for (size_t i = 0; i < w.size(); ++i) {
      const double k = std::nearbyint(double(w[i]) / l.step);
      ASSERT_LE(std::fabs(double(w[i]) - k * l.step), 1e-6 * l.step) << l.name << "[" << i << "]";
    }
    EXPECT_LE(l.kept, l.kept_before);
    EXPECT_EQ(l.kept, q.nonzeros(l.name));
    EXPECT_GT(l.code_entropy_bits, 0.0);
  }
  // The accepted level's reading, and the model's own val top-1 against the
  // recorded dense ancestor (the pruned input's), within budget plus the
  // noise between the readings and the final snapped state.
  EXPECT_LE(r.val_drop_pp, o.max_loss - 0.1 + 1e-9);
  const double dense_val = std::stod(pruned.metadata(dm::meta::dense_val_top1));
  EXPECT_EQ(q.metadata(dm::meta::dense_val_top1), pruned.metadata(dm::meta::dense_val_top1));
  EXPECT_LE(100 * (dense_val - r.val_top1), o.max_loss + 1.0);
}

TEST(Prune, given_units_fraction_expect_whole_hidden_units_removed_on_both_sides_with_their_biases) {
  NEED_FASHION(data);
  dm::PruneOptions o;
  o.density = 0.1;
  o.units = 0.5;
  o.step_epochs = 1;
  o.final_epochs = 1;  // retraining after the cuts must not revive a unit or its bias
  dm::PruneReport r;
  dm::Model p = dm::prune(trained_lenet300(), *data, o, &r);
  EXPECT_NEAR(r.density, 0.1, 0.01);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.layers[0].units, 300);
  EXPECT_EQ(r.layers[1].units, 100);
  EXPECT_EQ(r.layers[2].units, 0);  // the classifier's outputs are not hidden units
  expect_masks_hold(p);
  // Unit j of a hidden layer: row j of its weight, column j of the next one.
  const auto check_pair = [&](const std::string& in, const std::string& out, const std::string& bias,
                              int64_t units, int64_t inputs, int64_t outputs, int64_t want_live, double in_density) {
    const auto w_in = p.parameter(in), w_out = p.parameter(out), b = p.parameter(bias);
    int64_t live = 0;
    for (int64_t j = 0; j < units; ++j) {
      bool row = false, col = false;
      for (int64_t k = 0; k < inputs; ++k) row = row || w_in[static_cast<size_t>(j * inputs + k)] != 0.0f;
      for (int64_t i = 0; i < outputs; ++i) col = col || w_out[static_cast<size_t>(i * units + j)] != 0.0f;
      // A unit whose output reaches nothing has no inputs and no bias left
      // (one whose inputs died but whose output lives is a constant: kept).
      if (!col) {
        EXPECT_FALSE(row) << in << " unit " << j << " reaches nothing but kept its inputs";
        EXPECT_EQ(b[static_cast<size_t>(j)], 0.0f) << bias << "[" << j << "]";
      }
      live += row && col;
    }
    EXPECT_EQ(live, want_live) << in;
    // The live units follow the square root of the layer's density (the
    // last step's target, a little above the final density), never below
    // `units` of them (a few more may die with their last weights).
    const double pace = std::max(o.units, std::sqrt(in_density));
    EXPECT_LE(live, static_cast<int64_t>(1.1 * pace * static_cast<double>(units)) + 1) << in;
    EXPECT_GE(live, static_cast<int64_t>(0.9 * o.units * static_cast<double>(units))) << in;
    EXPECT_LT(live, units * 3 / 4) << in;
  };
  const auto density = [](const dm::PrunedLayer& l) { return static_cast<double>(l.kept) / static_cast<double>(l.params); };
  check_pair("fc1.weight", "fc2.weight", "fc1.bias", 300, 784, 100, r.layers[0].live_units, density(r.layers[0]));
  check_pair("fc2.weight", "fc3.weight", "fc2.bias", 100, 300, 10, r.layers[1].live_units, density(r.layers[1]));
  EXPECT_GT(r.test_top1, 0.6);
}

TEST(Prune, given_units_without_two_pruned_fc_layers_expect_invalid_argument) {
  NEED_FASHION(data);
  dm::PruneOptions o;
  o.density = 0.5;
  o.units = 0.5;
  o.layers = {"fc1"};  // fc2 is not pruned: fc1's units have no pruned outgoing side
  o.step_epochs = 1;
  o.final_epochs = 0;
  EXPECT_THROW(dm::prune(trained_lenet300(), *data, o), deepsz::Error);
  o.layers.clear();
  o.units = 0.0;
  EXPECT_THROW(dm::prune(trained_lenet300(), *data, o), deepsz::Error);
}

// ---- TorchScript from PyTorch ------------------------------------------------

TEST(TorchScript, given_scripted_and_traced_pytorch_models_expect_loaded_evaluated_and_saved) {
  if (!python_torch_available()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  NEED_FASHION(data);
  auto d = temp_dir("ts");
  for (const std::string mode : {"script", "trace"}) {
    const std::string path = (d / (mode + ".pt")).string();
    const std::string cmd = "/usr/bin/python3 " DEEPSZ_MODEL_TEST_DIR "/make_torchscript.py " + path + " " + mode;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    dm::Model ts = dm::Model::load(path);
    EXPECT_EQ(ts.file_kind(), dm::FileKind::torchscript);
    auto params = ts.parameters();
    ASSERT_EQ(params.size(), 6u);
    EXPECT_EQ(params[0].name, "fc1.weight");
    EXPECT_EQ(params[0].kind, dm::ParamKind::fc_weight);
    EXPECT_EQ(params[5].name, "fc3.bias");

    // The same tensors in deepsz's own LeNet-300-100 give the same answers.
    std::vector<std::pair<std::string, std::vector<float>>> tensors;
    for (const auto& p : params) tensors.emplace_back(p.name, ts.parameter(p.name));
    dm::Model native = dm::Model::from_parameters("lenet300", {}, 10, tensors);
    dm::Evaluator ets(ts, *data), enat(native, *data);
    EXPECT_EQ(ets.correct(dm::Split::test), enat.correct(dm::Split::test));

    // Overrides, masks and metadata survive a TorchScript save.
    std::vector<float> w = ts.parameter("fc3.weight");
    std::vector<uint8_t> mask(w.size(), 1);
    for (size_t i = 0; i < mask.size(); i += 2) mask[i] = 0;
    ts.set_mask("fc3.weight", mask);
    ts.set_metadata(dm::meta::dense_val_top1, "0.5");
    ts.save(path + ".out.pt");
    dm::Model back = dm::Model::load(path + ".out.pt");
    EXPECT_EQ(back.file_kind(), dm::FileKind::torchscript);
    EXPECT_EQ(back.mask("fc3.weight"), mask);
    EXPECT_EQ(back.parameter("fc3.weight"), ts.parameter("fc3.weight"));
    EXPECT_EQ(back.metadata(dm::meta::dense_val_top1), "0.5");
  }
  // Pruning a TorchScript model keeps it TorchScript, masks held.
  dm::Model ts = dm::Model::load((d / "script.pt").string());
  dm::PruneOptions o;
  o.density = 0.2;
  o.step_epochs = 1;
  o.final_epochs = 0;
  dm::Model p = dm::prune(ts, *data, o);
  EXPECT_EQ(p.file_kind(), dm::FileKind::torchscript);
  for (const auto& n : p.masked_parameters()) {
    auto m = p.mask(n);
    auto w = p.parameter(n);
    for (size_t i = 0; i < w.size(); ++i)
      if (!m[i]) {
        ASSERT_EQ(w[i], 0.0f);
      }
  }
  dm::Evaluator ev(p, *data);
  EXPECT_GT(ev.evaluate(dm::Split::test).top1_rate(), 0.5);
}
