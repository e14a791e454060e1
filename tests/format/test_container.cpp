// The .dsz container with opaque streams: round trips, the frozen byte
// layout, and rejection of malformed files (docs/FORMAT.md, "Decoder
// obligations").
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>

#include "deepsz/container.h"

namespace deepsz {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TensorEntry opaque_entry(const std::string& name, std::vector<uint64_t> shape, ValueCodec codec,
                         double bound, bool sparse, std::vector<uint8_t> index,
                         std::vector<uint8_t> values) {
  TensorEntry t;
  t.name = name;
  t.shape = std::move(shape);
  t.value_codec = codec;
  t.error_bound = bound;
  t.sparse = sparse;
  t.index_stream = std::move(index);
  t.value_stream = std::move(values);
  return t;
}

// One metadata pair and one dense and one sparse tensor, streams of odd
// lengths so that there is padding.
Container small_container() {
  Container c;
  c.set_meta("model", "lenet-300-100");
  c.tensors.push_back(opaque_entry("fc1.weight", {300, 784}, ValueCodec::dsz, 1e-3, true,
                                   bytes_of("index-stream"), bytes_of("values")));
  c.tensors.push_back(opaque_entry("fc1.bias", {300}, ValueCodec::lossless, 0.0, false, {},
                                   bytes_of("bias-bytes!")));
  return c;
}

void expect_same(const Container& a, const Container& b) {
  ASSERT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.value_codec, y.value_codec);
    EXPECT_EQ(x.error_bound, y.error_bound);
    EXPECT_EQ(x.sparse, y.sparse);
    EXPECT_EQ(x.index_stream, y.index_stream);
    EXPECT_EQ(x.value_stream, y.value_stream);
  }
}

Container round_trip(const Container& c) {
  const auto bytes = serialize_container(c);
  Container back = parse_container(bytes.data(), bytes.size());
  expect_same(c, back);
  EXPECT_EQ(serialize_container(back), bytes) << "the layout is canonical";
  return back;
}

ErrorCode parse_error(const std::vector<uint8_t>& bytes) {
  try {
    parse_container(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "parse_container accepted a malformed file";
  return ErrorCode::interrupted;
}

uint64_t le64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}
void put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Recomputes the directory and header checksums, as a malicious or buggy
// writer would, so that a test reaches the check behind them.
void reseal(std::vector<uint8_t>& b) {
  const uint64_t dir = le64(b, 16), dir_size = le64(b, 24);
  if (dir <= b.size() && dir_size <= b.size() - dir) put64(b, 32, XXH64(b.data() + dir, dir_size, 0));
  put64(b, 40, XXH64(b.data(), 40, 0));
}

// Field positions in the directory of small_container().
struct Layout {
  size_t dir, tensor_count, metadata_count, key_size, value_size;
  size_t t0_name_size, t0_dtype, t0_codec, t0_flags, t0_rank, t0_dims, t0_bound;
  size_t t0_index_offset, t0_index_size, t0_value_offset, t0_value_size, t0_checksum;
  size_t t1;
};
Layout layout_of(const std::vector<uint8_t>& b) {
  Layout l{};
  l.dir = size_t(le64(b, 16));
  l.tensor_count = l.dir;
  l.metadata_count = l.dir + 4;
  l.key_size = l.dir + 8;
  l.value_size = l.key_size + 4 + 5;  // "model"
  l.t0_name_size = l.value_size + 4 + 13;  // "lenet-300-100"
  l.t0_dtype = l.t0_name_size + 4 + 10;    // "fc1.weight"
  l.t0_codec = l.t0_dtype + 1;
  l.t0_flags = l.t0_dtype + 2;
  l.t0_rank = l.t0_dtype + 3;
  l.t0_dims = l.t0_dtype + 4;
  l.t0_bound = l.t0_dims + 16;
  l.t0_index_offset = l.t0_bound + 8;
  l.t0_index_size = l.t0_index_offset + 8;
  l.t0_value_offset = l.t0_index_size + 8;
  l.t0_value_size = l.t0_value_offset + 8;
  l.t0_checksum = l.t0_value_size + 8;
  l.t1 = l.t0_checksum + 8;
  return l;
}

TEST(Container, given_empty_container_when_round_tripped_expect_header_and_empty_directory) {
  Container c;
  const auto bytes = serialize_container(c);
  EXPECT_EQ(bytes.size(), kContainerHeaderSize + 8);
  const uint8_t magic[8] = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1A, '\n'};
  EXPECT_EQ(std::memcmp(bytes.data(), magic, 8), 0);
  round_trip(c);
}

TEST(Container, given_metadata_only_when_round_tripped_expect_same_pairs_in_order) {
  Container c;
  c.set_meta("z-last-key", "");
  c.set_meta("arch", "{\"layers\": [300, 100]}");
  c.set_meta("unicode", "\xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  c.set_meta("arch", "replaced");
  EXPECT_EQ(c.metadata.size(), 3u);
  EXPECT_EQ(c.meta("arch"), "replaced");
  EXPECT_EQ(c.meta("absent", "fallback"), "fallback");
  round_trip(c);
}

TEST(Container, given_many_tensors_of_all_kinds_when_round_tripped_expect_identical) {
  Container c;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> index, values(rng() % 50 + 1);
    for (auto& v : values) v = uint8_t(rng());
    const bool sparse = i % 3 == 0;
    if (sparse) index.assign(rng() % 20 + 1, uint8_t(i));
    const auto codec = ValueCodec(i % 3);
    const double bound = codec == ValueCodec::lossless ? 0.0 : 1e-3 * (i + 1);
    std::vector<uint64_t> shape;
    for (int d = 0; d < i % 5; ++d) shape.push_back(rng() % 7 + 1);
    c.tensors.push_back(opaque_entry("layer" + std::to_string(i) + "/w", shape, codec, bound,
                                     sparse, index, values));
  }
  const Container back = round_trip(c);
  ASSERT_NE(back.find("layer123/w"), nullptr);
  EXPECT_EQ(back.find("layer123/w")->value_stream, c.tensors[123].value_stream);
  EXPECT_EQ(back.find("nope"), nullptr);
}

TEST(Container, given_scalar_and_zero_sized_shapes_when_round_tripped_expect_identical) {
  Container c;
  c.tensors.push_back(opaque_entry("scalar", {}, ValueCodec::lossless, 0, false, {}, {1, 2, 3}));
  c.tensors.push_back(opaque_entry("empty", {0}, ValueCodec::dsz, 0.5, false, {}, {}));
  c.tensors.push_back(opaque_entry("empty2", {3, 0, 5}, ValueCodec::zfp, 0.5, true, {}, {}));
  c.tensors.push_back(opaque_entry("after", {2}, ValueCodec::lossless, 0, false, {}, {9}));
  const Container back = round_trip(c);
  EXPECT_EQ(back.tensors[0].element_count(), 1u);
  EXPECT_EQ(back.tensors[1].element_count(), 0u);
  EXPECT_EQ(back.tensors[2].element_count(), 0u);
}

// Format freeze: any change of these bytes is a format change (bump the
// version and update docs/FORMAT.md), never an accident.
TEST(Container, given_fixed_container_expect_frozen_bytes) {
  const auto bytes = serialize_container(small_container());
  EXPECT_EQ(bytes.size(), 276u);
  EXPECT_EQ(XXH64(bytes.data(), bytes.size(), 0), 0x77b2536c6ad4a36full) << std::hex
      << XXH64(bytes.data(), bytes.size(), 0);
}

TEST(Container, given_writer_input_breaking_rules_expect_invalid_argument) {
  auto expect_invalid = [](const Container& c) {
    try {
      serialize_container(c);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << e.what();
    }
  };
  auto with = [](TensorEntry t) {
    Container c;
    c.tensors.push_back(std::move(t));
    return c;
  };
  const auto ok = opaque_entry("w", {2, 2}, ValueCodec::dsz, 0.1, false, {}, {1});
  auto t = ok;
  t.name = "";
  expect_invalid(with(t));
  t.name = std::string(kMaxTensorNameBytes + 1, 'a');
  expect_invalid(with(t));
  t.name = "bad\xFFutf8";
  expect_invalid(with(t));
  t = ok;
  t.shape.assign(kMaxTensorRank + 1, 1);
  expect_invalid(with(t));
  t = ok;
  t.shape = {uint64_t(1) << 30, uint64_t(1) << 30};
  expect_invalid(with(t));
  t = ok;
  t.error_bound = -1;
  expect_invalid(with(t));
  t.error_bound = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(with(t));
  t = ok;
  t.value_codec = ValueCodec::lossless;  // with a nonzero bound
  expect_invalid(with(t));
  t = ok;
  t.value_codec = ValueCodec(7);
  expect_invalid(with(t));
  t = ok;
  t.sparse = true;  // without index
  expect_invalid(with(t));
  t = ok;
  t.index_stream = {1};  // dense with index
  expect_invalid(with(t));
  t = ok;
  t.value_stream.clear();
  expect_invalid(with(t));
  t = ok;
  t.shape = {0};  // empty with streams
  expect_invalid(with(t));
  Container dup = with(ok);
  dup.tensors.push_back(ok);
  expect_invalid(dup);
  Container meta;
  meta.metadata = {{"k", "1"}, {"k", "2"}};
  expect_invalid(meta);
  meta.metadata = {{"", "1"}};
  expect_invalid(meta);
  meta.metadata = {{std::string(kMaxMetadataKeyBytes + 1, 'k'), "1"}};
  expect_invalid(meta);
  meta.metadata = {{"k", std::string("a\0b", 3)}};
  expect_invalid(meta);
}

TEST(Utf8, given_strings_expect_strict_validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii/with.dots"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8(std::string("\0", 1)));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\x80"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xC3"));              // cut
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
}

// ---- Malformed files ------------------------------------------------------

TEST(Malformed, given_bad_magic_expect_foreign_format) {
  const auto good = serialize_container(small_container());
  for (size_t i = 0; i < 8; ++i) {
    auto b = good;
    b[i] ^= 0x20;
    EXPECT_EQ(parse_error(b), ErrorCode::foreign_format) << "byte " << i;
  }
  const std::string text = "PK\x03\x04 this is a zip, not a dsz file at all........................";
  EXPECT_EQ(parse_error(bytes_of(text)), ErrorCode::foreign_format);
  EXPECT_EQ(parse_error(bytes_of("x")), ErrorCode::foreign_format);
}

TEST(Malformed, given_future_or_zero_version_expect_unsupported_version) {
  const auto good = serialize_container(small_container());
  for (uint32_t v : {0u, 2u, 3u, 0xFFFFFFFFu}) {
    auto b = good;
    put32(b, 8, v);
    EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version) << v;
    reseal(b);
    EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version) << v;
  }
  // A future version is named as such even when the rest is shorter than a
  // version 1 header.
  auto b = good;
  put32(b, 8, 2);
  b.resize(12);
  EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version);
}

TEST(Malformed, given_truncation_at_every_length_expect_truncated) {
  for (const Container& c : {Container{}, small_container()}) {
    const auto good = serialize_container(c);
    for (size_t n = 0; n < good.size(); ++n) {
      std::vector<uint8_t> b(good.begin(), good.begin() + n);
      EXPECT_EQ(parse_error(b), ErrorCode::truncated) << "length " << n;
    }
  }
}

TEST(Malformed, given_every_single_byte_change_expect_rejection_with_the_right_code) {
  const auto good = serialize_container(small_container());
  const Layout l = layout_of(good);
  // Padding after "index-stream" (12 bytes at 48): 60..63; after "values"
  // (6 bytes at 64): 70..71; after "bias-bytes!" (11 at 72): 83..87.
  const std::set<size_t> padding = {60, 61, 62, 63, 70, 71, 83, 84, 85, 86, 87};
  ASSERT_EQ(l.dir, 88u);
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      auto b = good;
      b[i] ^= mask;
      ErrorCode expected = ErrorCode::checksum_wrong;
      if (i < 8) expected = ErrorCode::foreign_format;
      else if (i < 12) expected = ErrorCode::unsupported_version;
      else if (padding.count(i)) expected = ErrorCode::corruption_detected;
      EXPECT_EQ(parse_error(b), expected) << "byte " << i << " ^ " << int(mask);
    }
  }
}

TEST(Malformed, given_bytes_appended_expect_corruption_detected) {
  auto b = serialize_container(small_container());
  b.push_back(0);
  EXPECT_EQ(parse_error(b), ErrorCode::corruption_detected);
}

// Structural damage behind valid checksums: the checks of the reader itself.
TEST(Malformed, given_resealed_structural_damage_expect_specific_codes) {
  const auto good = serialize_container(small_container());
  const Layout l = layout_of(good);
  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> damage;
    ErrorCode expected;
  };
  const uint64_t huge = ~uint64_t(0);
  const std::vector<Case> cases = {
      {"header flags", [](auto& b) { put32(b, 12, 1); }, ErrorCode::corruption_detected},
      {"directory offset beyond file", [](auto& b) { put64(b, 16, 1u << 20); }, ErrorCode::truncated},
      {"directory offset huge", [&](auto& b) { put64(b, 16, huge & ~uint64_t(7)); }, ErrorCode::truncated},
      {"directory offset misaligned", [](auto& b) { put64(b, 16, 89); }, ErrorCode::corruption_detected},
      {"directory offset inside header", [](auto& b) { put64(b, 16, 40); }, ErrorCode::corruption_detected},
      {"directory size huge", [&](auto& b) { put64(b, 24, huge); }, ErrorCode::truncated},
      {"directory size short", [&](auto& b) { put64(b, 24, le64(b, 24) - 1); }, ErrorCode::corruption_detected},
      {"tensor count huge", [&](auto& b) { put32(b, l.tensor_count, 0xFFFFFFFFu); }, ErrorCode::too_large},
      {"tensor count beyond directory", [&](auto& b) { put32(b, l.tensor_count, 1000); }, ErrorCode::too_large},
      {"tensor count low", [&](auto& b) { put32(b, l.tensor_count, 1); }, ErrorCode::corruption_detected},
      {"metadata count huge", [&](auto& b) { put32(b, l.metadata_count, 0xFFFFFFFFu); }, ErrorCode::too_large},
      {"key size huge", [&](auto& b) { put32(b, l.key_size, 0xFFFFFFFFu); }, ErrorCode::corruption_detected},
      {"key size beyond directory", [&](auto& b) { put32(b, l.key_size, 200); }, ErrorCode::truncated},
      {"key size zero", [&](auto& b) { put32(b, l.key_size, 0); }, ErrorCode::corruption_detected},
      {"value size huge", [&](auto& b) { put32(b, l.value_size, 0xFFFFFFF0u); }, ErrorCode::corruption_detected},
      {"key not utf-8", [&](auto& b) { b[l.key_size + 4] = 0xFF; }, ErrorCode::corruption_detected},
      {"name size huge", [&](auto& b) { put32(b, l.t0_name_size, 0x7FFFFFFFu); }, ErrorCode::corruption_detected},
      {"name with NUL", [&](auto& b) { b[l.t0_name_size + 4] = 0; }, ErrorCode::corruption_detected},
      {"unknown dtype", [&](auto& b) { b[l.t0_dtype] = 2; }, ErrorCode::unsupported_version},
      {"unknown codec", [&](auto& b) { b[l.t0_codec] = 3; }, ErrorCode::unsupported_version},
      {"reserved tensor flag", [&](auto& b) { b[l.t0_flags] |= 0x02; }, ErrorCode::corruption_detected},
      {"rank 9", [&](auto& b) { b[l.t0_rank] = 9; }, ErrorCode::corruption_detected},
      {"dimension huge", [&](auto& b) { put64(b, l.t0_dims, huge); }, ErrorCode::too_large},
      {"element count above 2^48", [&](auto& b) { put64(b, l.t0_dims, uint64_t(1) << 40); }, ErrorCode::too_large},
      {"zero dimension with streams", [&](auto& b) { put64(b, l.t0_dims, 0); }, ErrorCode::corruption_detected},
      {"bound NaN", [&](auto& b) { put64(b, l.t0_bound, 0x7FF8000000000000ull); }, ErrorCode::corruption_detected},
      {"bound negative", [&](auto& b) { put64(b, l.t0_bound, 0xBFF0000000000000ull); }, ErrorCode::corruption_detected},
      {"bound -0", [&](auto& b) { put64(b, l.t0_bound, 0x8000000000000000ull); }, ErrorCode::corruption_detected},
      {"index offset moved", [&](auto& b) { put64(b, l.t0_index_offset, 56); }, ErrorCode::corruption_detected},
      {"index offset huge", [&](auto& b) { put64(b, l.t0_index_offset, huge); }, ErrorCode::corruption_detected},
      {"index size huge", [&](auto& b) { put64(b, l.t0_index_size, huge); }, ErrorCode::too_large},
      {"index size into directory", [&](auto& b) { put64(b, l.t0_index_size, 41); }, ErrorCode::too_large},
      {"index size grown into padding", [&](auto& b) { put64(b, l.t0_index_size, 13); }, ErrorCode::checksum_wrong},
      {"index size grown past padding", [&](auto& b) { put64(b, l.t0_index_size, 20); }, ErrorCode::corruption_detected},
      {"value offset misplaced", [&](auto& b) { put64(b, l.t0_value_offset, 72); }, ErrorCode::corruption_detected},
      {"value size huge", [&](auto& b) { put64(b, l.t0_value_size, huge - 3); }, ErrorCode::too_large},
      {"dense with index", [&](auto& b) { b[l.t0_flags] = 0; }, ErrorCode::corruption_detected},
      {"tensor checksum", [&](auto& b) { b[l.t0_checksum] ^= 1; }, ErrorCode::checksum_wrong},
      {"nonzero padding", [&](auto& b) { b[62] = 1; }, ErrorCode::corruption_detected},
  };
  for (const auto& c : cases) {
    auto b = good;
    c.damage(b);
    reseal(b);
    try {
      parse_container(b.data(), b.size());
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.expected) << c.what << ": got " << error_code_name(e.code()) << " ("
                                      << e.what() << ")";
    }
  }
}

TEST(Malformed, given_duplicate_tensor_name_behind_valid_checksums_expect_corruption) {
  Container c;
  c.tensors.push_back(opaque_entry("aa", {1}, ValueCodec::lossless, 0, false, {}, {1}));
  c.tensors.push_back(opaque_entry("ab", {1}, ValueCodec::lossless, 0, false, {}, {1}));
  auto b = serialize_container(c);
  const size_t dir = size_t(le64(b, 16));
  // Second record's name: after counts (8) and first record (4+2+4+8+40+8).
  const size_t second_name = dir + 8 + (4 + 2 + 4 + 8 + 8 + 40) + 4;
  ASSERT_EQ(b[second_name + 1], 'b');
  b[second_name + 1] = 'a';
  reseal(b);
  EXPECT_EQ(parse_error(b), ErrorCode::corruption_detected);
}

// ---- Files ----------------------------------------------------------------

class ContainerFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("deepsz_format_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  size_t files_in_dir() const {
    return size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(ContainerFile, given_container_when_written_and_read_expect_identical_and_no_temp_left) {
  const Container c = small_container();
  const std::string path = (dir_ / "model.dsz").string();
  write_container_file(c, path);
  expect_same(c, read_container_file(path));
  EXPECT_EQ(files_in_dir(), 1u);
  Container other;
  other.set_meta("k", "v");
  write_container_file(other, path);  // replaces
  expect_same(other, read_container_file(path));
  EXPECT_EQ(files_in_dir(), 1u);
}

TEST_F(ContainerFile, given_missing_directory_when_written_expect_io_error_and_nothing_left) {
  const std::string path = (dir_ / "no" / "such" / "model.dsz").string();
  try {
    write_container_file(small_container(), path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
  EXPECT_EQ(files_in_dir(), 0u);
}

TEST_F(ContainerFile, given_rename_onto_directory_fails_expect_temp_removed) {
  fs::create_directories(dir_ / "taken");
  fs::create_directories(dir_ / "taken" / "sub");  // non-empty: rename fails
  try {
    write_container_file(small_container(), (dir_ / "taken").string());
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
  EXPECT_EQ(files_in_dir(), 1u);  // only "taken"
}

TEST_F(ContainerFile, given_missing_or_invalid_file_when_read_expect_clear_error) {
  try {
    read_container_file((dir_ / "absent.dsz").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
  const std::string path = (dir_ / "junk.dsz").string();
  const auto junk = bytes_of("not a model");
  write_file_atomically(path, junk.data(), junk.size());
  EXPECT_EQ(read_file_bytes(path), junk);
  try {
    read_container_file(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::foreign_format);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  try {
    read_container_file(dir_.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
  }
}

}  // namespace
}  // namespace deepsz
