// .npy data: the reader against arrays written here byte by byte in NumPy's
// format, and a data directory of .npy files against the same images as IDX.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "deepsz/error.h"
#include "deepsz/model/data.h"

namespace dm = deepsz::model;
namespace fs = std::filesystem;

namespace {

// One .npy file as numpy.save writes it: version 1.0, header padded with
// spaces to a multiple of 64 and ended by a newline.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data, bool fortran = false,
                int version = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(version);
  s += '\0';
  const size_t n = dict.size();
  s += static_cast<char>(n & 0xff);
  s += static_cast<char>((n >> 8) & 0xff);
  if (version != 1) s += std::string(2, '\0');
  return s + dict + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v, bool big_endian = false) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  if (big_endian)
    for (size_t i = 0; i < v.size(); ++i) std::reverse(s.begin() + long(i * sizeof(T)), s.begin() + long((i + 1) * sizeof(T)));
  return s;
}

dm::ImageSet parse(const std::string& x, const std::string& y) {
  return dm::parse_npy_pair(reinterpret_cast<const uint8_t*>(x.data()), x.size(),
                            reinterpret_cast<const uint8_t*>(y.data()), y.size(), "x.npy", "y.npy");
}

// Three 2x3 images with pixel (i, r, c) = 10 i + 3 r + c, labels 0, 2, 1.
std::vector<uint8_t> kPixels = [] {
  std::vector<uint8_t> p;
  for (int i = 0; i < 3; ++i)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) p.push_back(static_cast<uint8_t>(10 * i + 3 * r + c));
  return p;
}();
const std::string kLabels = npy("|u1", "(3,)", std::string("\x00\x02\x01", 3));

void expect_reference(const dm::ImageSet& s) {
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.rows, 2);
  EXPECT_EQ(s.cols, 3);
  EXPECT_EQ(s.pixels, kPixels);
  EXPECT_EQ(s.labels, (std::vector<uint8_t>{0, 2, 1}));
}

void expect_refused(const std::string& x, const std::string& y, deepsz::ErrorCode code, const std::string& needle) {
  try {
    parse(x, y);
    FAIL() << "accepted; expected an error containing '" << needle << "'";
  } catch (const deepsz::Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Npy, given_uint8_images_and_labels_expect_the_pixels_and_labels_as_written) {
  expect_reference(parse(npy("|u1", "(3, 2, 3)", bytes_of(kPixels)), kLabels));
}

TEST(Npy, given_other_dtypes_orders_and_versions_expect_the_same_set) {
  std::vector<float> f;
  std::vector<int64_t> wide;
  for (uint8_t p : kPixels) f.push_back(static_cast<float>(p / 255.0)), wide.push_back(p);
  const std::vector<int32_t> y32 = {0, 2, 1};
  const std::vector<int64_t> y64 = {0, 2, 1};
  // floats k/255 (what ToTensor makes of 8-bit images), big-endian labels
  expect_reference(parse(npy("<f4", "(3, 2, 3)", bytes_of(f)), npy(">i8", "(3,)", bytes_of(y64, true))));
  // int64 pixels, int32 labels of shape (N, 1), format version 2
  expect_reference(parse(npy("<i8", "(3, 1, 2, 3)", bytes_of(wide), false, 2), npy("<i4", "(3, 1)", bytes_of(y32))));
  // Fortran order: the file holds the transpose
  std::vector<uint8_t> fo(kPixels.size());
  for (int i = 0; i < 3; ++i)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) fo[size_t(i + 3 * (r + 2 * c))] = kPixels[size_t((i * 2 + r) * 3 + c)];
  expect_reference(parse(npy("|u1", "(3, 2, 3)", bytes_of(fo), true), kLabels));
}

TEST(Npy, given_channels_last_images_expect_planes_first) {
  // (N, H, W, C) = (1, 5, 6, 3): pixel (r, c, ch) = 30 ch + 6 r + c... stored channels last.
  std::vector<uint8_t> hwc;
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 6; ++c)
      for (int ch = 0; ch < 3; ++ch) hwc.push_back(static_cast<uint8_t>(30 * ch + 6 * r + c));
  const dm::ImageSet s = parse(npy("|u1", "(1, 5, 6, 3)", bytes_of(hwc)), npy("|u1", "(1,)", std::string(1, '\x04')));
  ASSERT_EQ(s.channels, 3);
  ASSERT_EQ(s.rows, 5);
  ASSERT_EQ(s.cols, 6);
  for (int ch = 0; ch < 3; ++ch)
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 6; ++c) EXPECT_EQ(s.pixels[size_t((ch * 5 + r) * 6 + c)], 30 * ch + 6 * r + c);
}

TEST(Npy, given_bad_files_expect_each_refused_naming_the_file_and_the_fault) {
  using deepsz::ErrorCode;
  const std::string good = npy("|u1", "(3, 2, 3)", bytes_of(kPixels));
  expect_refused("PK\x03\x04 not npy at all", kLabels, ErrorCode::foreign_format, "x.npy: not a NumPy");
  expect_refused(good.substr(0, good.size() - 1), kLabels, ErrorCode::truncated, "x.npy: truncated");
  expect_refused(good.substr(0, 30), kLabels, ErrorCode::truncated, "x.npy");
  expect_refused(good + "x", kLabels, ErrorCode::corruption_detected, "1 bytes after");
  expect_refused(npy("|u1", "(3, 2, 3", bytes_of(kPixels)), kLabels, ErrorCode::corruption_detected, "malformed");
  std::string evil = good;
  evil.replace(evil.find("'shape'"), 7, "'shapf'");
  expect_refused(evil, kLabels, ErrorCode::corruption_detected, "unexpected or repeated key");
  expect_refused(npy("<c8", "(3, 2, 3)", std::string(18 * 8, '\0')), kLabels, ErrorCode::unsupported_version, "<c8");
  expect_refused(npy("|u1", "(18,)", bytes_of(kPixels)), kLabels, ErrorCode::invalid_argument, "expected (N, H, W)");
  expect_refused(npy("|u1", "(2, 3, 3)", bytes_of(kPixels)), kLabels, ErrorCode::corruption_detected,
                 "2 images but y.npy holds 3 labels");
  std::vector<float> f(kPixels.size(), 0.5f);  // 127.5 / 255: not an 8-bit pixel
  expect_refused(npy("<f4", "(3, 2, 3)", bytes_of(f)), kLabels, ErrorCode::invalid_argument, "k/255");
  std::vector<int16_t> neg(kPixels.begin(), kPixels.end());
  neg[4] = -1;
  expect_refused(npy("<i2", "(3, 2, 3)", bytes_of(neg)), kLabels, ErrorCode::invalid_argument, "element 4 is -1");
  const std::vector<int32_t> big = {0, 300, 1};
  expect_refused(good, npy("<i4", "(3,)", bytes_of(big)), ErrorCode::invalid_argument, "label 1 is 300");
  expect_refused(good, npy("<f4", "(3,)", bytes_of(std::vector<float>{0, 1, 2})), ErrorCode::invalid_argument,
                 "integer class indices");
  expect_refused(npy("|u1", "(99999999999, 99999999999, 99999999999)", ""), kLabels, ErrorCode::too_large, "too large");
}

TEST(Npy, given_a_directory_of_npy_files_expect_the_same_dataset_as_from_idx) {
  const fs::path root = fs::temp_directory_path() / ("deepsz_npy_test_" + std::to_string(getpid()));
  fs::remove_all(root);
  const fs::path idx = root / "idx", np = root / "npy";
  fs::create_directories(idx);
  fs::create_directories(np);
  auto be32 = [](uint32_t v) {
    std::string s;
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return s;
  };
  auto write = [](const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; };
  uint32_t state = 12345;
  auto make = [&](const std::string& idx_prefix, const std::string& npy_prefix, uint32_t n) {
    std::string pixels, labels;
    for (uint32_t i = 0; i < n * 28 * 28; ++i) pixels.push_back(static_cast<char>((state = state * 1103515245u + 12345u) >> 24));
    for (uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<char>(((state = state * 1103515245u + 12345u) >> 24) % 10));
    write(idx / (idx_prefix + "-images-idx3-ubyte"), be32(0x803) + be32(n) + be32(28) + be32(28) + pixels);
    write(idx / (idx_prefix + "-labels-idx1-ubyte"), be32(0x801) + be32(n) + labels);
    write(np / (npy_prefix + "-images.npy"), npy("|u1", "(" + std::to_string(n) + ", 28, 28)", pixels));
    write(np / (npy_prefix + "-labels.npy"), npy("|u1", "(" + std::to_string(n) + ",)", labels));
  };
  make("train", "train", 600);
  make("t10k", "test", 100);
  dm::SplitSpec spec;
  spec.selection = 50;
  spec.certification = 100;
  spec.seed = 3;
  const dm::Dataset a = dm::load_dataset(idx.string(), spec), b = dm::load_dataset(np.string(), spec);
  for (dm::Split s : {dm::Split::train, dm::Split::val, dm::Split::cert, dm::Split::test}) {
    EXPECT_EQ(a.split(s).pixels, b.split(s).pixels) << dm::split_name(s);
    EXPECT_EQ(a.split(s).labels, b.split(s).labels) << dm::split_name(s);
  }
  EXPECT_EQ(b.val.size(), 50);
  EXPECT_EQ(b.cert.size(), 100);
  EXPECT_EQ(a.num_classes, b.num_classes);
  EXPECT_EQ(a.split_record(), b.split_record());

  fs::remove(np / "test-labels.npy");
  try {
    dm::load_dataset(np.string(), spec);
    ADD_FAILURE() << "a directory without test-labels.npy was accepted";
  } catch (const deepsz::Error& e) {
    EXPECT_NE(std::string(e.what()).find("test-labels.npy"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}
