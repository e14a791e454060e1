// The IDX reader of the model layer (src/model/data.cpp): plain and gzipped
// sets, preprocessing, and every malformed set refused naming its file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "deepsz/error.h"
#include "deepsz/model/data.h"
#include "test_files.h"

namespace dm = deepsz::model;
using namespace deepsz::model_test;

namespace {

void put_be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint8_t fill = 7) {
  std::string s;
  put_be32(s, 0x803);
  put_be32(s, n);
  put_be32(s, rows);
  put_be32(s, cols);
  s.append(static_cast<size_t>(n) * rows * cols, static_cast<char>(fill));
  return s;
}

std::string idx_labels(uint32_t n, uint8_t classes = 3) {
  std::string s;
  put_be32(s, 0x801);
  put_be32(s, n);
  for (uint32_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i % classes));
  return s;
}

void write_set(const fs::path& dir, uint32_t ntrain, uint32_t ntest, uint32_t rows, uint32_t cols, bool gz) {
  const std::string ext = gz ? ".gz" : "";
  write_file(dir / ("train-images-idx3-ubyte" + ext), idx_images(ntrain, rows, cols), gz);
  write_file(dir / ("train-labels-idx1-ubyte" + ext), idx_labels(ntrain), gz);
  write_file(dir / ("t10k-images-idx3-ubyte" + ext), idx_images(ntest, rows, cols), gz);
  write_file(dir / ("t10k-labels-idx1-ubyte" + ext), idx_labels(ntest), gz);
}

// Expects load_dataset to throw deepsz::Error with `code` and a message that
// contains every one of `needles`.
void expect_rejected(const fs::path& dir, deepsz::ErrorCode code, std::vector<std::string> needles) {
  try {
    dm::load_dataset(dir.string(), 2);
    FAIL() << "accepted a bad data set in " << dir;
  } catch (const deepsz::Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}


}  // namespace

// ---- data ------------------------------------------------------------------

TEST(Idx, given_plain_and_gzipped_sets_when_loaded_expect_same_content) {
  auto plain = temp_dir("plain"), gz = temp_dir("gz");
  write_set(plain, 20, 6, 5, 4, false);
  write_set(gz, 20, 6, 5, 4, true);
  dm::Dataset a = dm::load_dataset(plain.string(), 5), b = dm::load_dataset(gz.string(), 5);
  EXPECT_EQ(a.train.size(), 15);
  EXPECT_EQ(a.val.size(), 5);
  EXPECT_EQ(a.test.size(), 6);
  EXPECT_EQ(a.train.rows, 5);
  EXPECT_EQ(a.train.cols, 4);
  EXPECT_EQ(a.num_classes, 3);
  EXPECT_EQ(a.val.labels, b.val.labels);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  // Deterministic split: the same in every load.
  EXPECT_EQ(dm::load_dataset(plain.string(), 5).val.labels, a.val.labels);
}

TEST(Idx, given_preprocessing_expect_totensor_then_normalise) {
  dm::ImageSet s;
  s.rows = 1;
  s.cols = 2;
  s.pixels = {0, 255};
  s.labels = {0};
  auto v = dm::preprocess(s, {});
  EXPECT_FLOAT_EQ(v[0], 0.0f);
  EXPECT_FLOAT_EQ(v[1], 1.0f);
  auto w = dm::preprocess(s, {0.5, 0.25});
  EXPECT_FLOAT_EQ(w[0], -2.0f);
  EXPECT_FLOAT_EQ(w[1], 2.0f);
}

TEST(Idx, given_bad_magic_expect_foreign_format_naming_file) {
  auto d = temp_dir("magic");
  write_set(d, 20, 6, 5, 4, false);
  std::string bad = idx_images(20, 5, 4);
  bad[2] = 0x09;  // element type: signed byte
  write_file(d / "train-images-idx3-ubyte", bad);
  expect_rejected(d, deepsz::ErrorCode::foreign_format, {"train-images-idx3-ubyte", "not an IDX file"});
  write_file(d / "train-images-idx3-ubyte", idx_labels(20));  // a label file where images belong
  expect_rejected(d, deepsz::ErrorCode::foreign_format, {"train-images-idx3-ubyte", "not an IDX file"});
}

TEST(Idx, given_truncated_file_expect_truncated_naming_file) {
  auto d = temp_dir("trunc");
  write_set(d, 20, 6, 5, 4, true);
  std::string img = idx_images(6, 5, 4);
  write_file(d / "t10k-images-idx3-ubyte.gz", img.substr(0, img.size() - 3), true);
  expect_rejected(d, deepsz::ErrorCode::truncated, {"t10k-images-idx3-ubyte.gz", "truncated"});
  write_file(d / "t10k-images-idx3-ubyte.gz", img, true);
  write_file(d / "t10k-labels-idx1-ubyte.gz", idx_labels(6).substr(0, 6), true);  // inside the header
  expect_rejected(d, deepsz::ErrorCode::truncated, {"t10k-labels-idx1-ubyte.gz", "truncated"});
}

TEST(Idx, given_counts_that_differ_expect_corruption_naming_both_files) {
  auto d = temp_dir("count");
  write_set(d, 20, 6, 5, 4, false);
  write_file(d / "train-labels-idx1-ubyte", idx_labels(19));
  expect_rejected(d, deepsz::ErrorCode::corruption_detected,
                  {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "20 images", "19 labels"});
}

TEST(Idx, given_missing_file_expect_io_error_naming_file) {
  auto d = temp_dir("missing");
  write_set(d, 20, 6, 5, 4, false);
  fs::remove(d / "t10k-labels-idx1-ubyte");
  expect_rejected(d, deepsz::ErrorCode::io_error, {"t10k-labels-idx1-ubyte"});
  EXPECT_THROW(dm::load_dataset((d / "nope").string()), deepsz::Error);
}

TEST(Idx, given_validation_larger_than_training_expect_invalid_argument) {
  auto d = temp_dir("val");
  write_set(d, 20, 6, 5, 4, false);
  EXPECT_THROW(dm::load_dataset(d.string(), 20), deepsz::Error);
}

