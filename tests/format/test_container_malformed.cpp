// The .dsz container: rejection of malformed files (docs/FORMAT.md, "Decoder
// obligations"), writing through a temporary file, and the fixed overhead.
#include <fstream>

#include "container_test_support.h"

namespace deepsz {
namespace {

using namespace container_test;

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

TEST(Malformed, given_future_old_or_zero_version_expect_unsupported_version) {
  const auto good = serialize_container(small_container());
  for (uint32_t v : {0u, 1u, 3u, 0xFFFFFFFFu}) {
    auto b = good;
    put32(b, 8, v);
    EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version) << v;
    reseal(b);
    EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version) << v;
  }
  // Another version is named as such even when the rest is shorter than a
  // version 2 header.
  auto b = good;
  put32(b, 8, 3);
  b.resize(12);
  EXPECT_EQ(parse_error(b), ErrorCode::unsupported_version);
  // A version 1 file (its 48-byte header and an empty directory).
  Bytes v1 = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1A, '\n', 1, 0, 0, 0, 0, 0, 0, 0};
  v1.resize(56, 0);
  v1[16] = 48;
  v1[24] = 8;
  try {
    parse_container(v1.data(), v1.size());
    ADD_FAILURE() << "accepted a version 1 file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unsupported_version);
    EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
  }
}

TEST(Malformed, given_truncation_at_every_length_expect_truncated) {
  Container shapes;  // zero-sized and scalar tensors: records without sizes
  shapes.tensors.push_back(opaque_entry("empty", {4, 0}, ValueCodec::dsz, 0.5, true, {}, {}));
  shapes.tensors.push_back(opaque_entry("scalar", {}, ValueCodec::lossless, 0, false, {}, {1, 2}));
  for (const Container& c : {Container{}, small_container(), shapes, lenet300_like_container()}) {
    const auto good = serialize_container(c);
    for (size_t n = 0; n < good.size(); ++n) {
      std::vector<uint8_t> b(good.begin(), good.begin() + n);
      EXPECT_EQ(parse_error(b), ErrorCode::truncated) << "length " << n;
    }
  }
}

// Version 2 has no padding and no unchecked byte: past the magic and the
// version, every change is caught by a checksum.
TEST(Malformed, given_every_single_byte_change_expect_rejection_with_the_right_code) {
  for (const Container& c : {small_container(), lenet300_like_container()}) {
    const auto good = serialize_container(c);
    for (size_t i = 0; i < good.size(); ++i) {
      for (uint8_t mask : {0x01, 0x80, 0xFF}) {
        auto b = good;
        b[i] ^= mask;
        ErrorCode expected = ErrorCode::checksum_wrong;
        if (i < 8) expected = ErrorCode::foreign_format;
        else if (i < 12) expected = ErrorCode::unsupported_version;
        EXPECT_EQ(parse_error(b), expected) << "byte " << i << " ^ " << int(mask);
      }
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
  struct Case {
    std::string what;
    std::function<void(Spec&)> damage;
    ErrorCode expected;
  };
  const uint64_t huge = ~uint64_t(0);
  const ErrorCode corrupt = ErrorCode::corruption_detected, truncated = ErrorCode::truncated,
                  too_large = ErrorCode::too_large;
  const size_t dir_size = [] {
    size_t n = 0;
    for (const auto& f : small_spec().dir) n += f.bytes.size();
    return n;
  }();
  const std::vector<Case> cases = {
      // Header.
      {"header flags", [](Spec& s) { s.flags = 1; }, corrupt},
      {"directory size beyond file", [](Spec& s) { s.dir_size = 1u << 20; }, truncated},
      {"directory size huge", [&](Spec& s) { s.dir_size = huge; }, truncated},
      {"directory size short (last field cut)", [&](Spec& s) { s.dir_size = dir_size - 1; }, truncated},
      {"directory size long", [&](Spec& s) { s.dir_size = dir_size + 1; }, corrupt},
      {"directory size 0", [&](Spec& s) { s.dir_size = 0; }, truncated},
      // Counts.
      {"tensor count 2^64-1", [&](Spec& s) { s["tensor_count"] = varint(huge); }, too_large},
      {"tensor count above 2^20", [&](Spec& s) { s["tensor_count"] = varint(kMaxTensors + 1); }, too_large},
      {"tensor count beyond directory", [](Spec& s) { s["tensor_count"] = varint(1000); }, too_large},
      {"tensor count low", [](Spec& s) { s["tensor_count"] = varint(1); }, corrupt},
      {"tensor count high", [](Spec& s) { s["tensor_count"] = varint(3); }, truncated},
      {"metadata count huge", [&](Spec& s) { s["metadata_count"] = varint(huge); }, too_large},
      {"metadata count above 2^16", [](Spec& s) { s["metadata_count"] = varint(65537); }, too_large},
      // Metadata.
      {"key size huge", [](Spec& s) { s["key_size"] = varint(0xFFFFFFFFu); }, corrupt},
      {"key size 257", [](Spec& s) { s["key_size"] = varint(257); }, corrupt},
      {"key size beyond directory", [](Spec& s) { s["key_size"] = varint(200); }, truncated},
      {"empty key", [](Spec& s) { s["key_size"] = varint(0); s["key"] = {}; }, corrupt},
      {"value size huge", [](Spec& s) { s["value_size"] = varint(0xFFFFFFF0u); }, corrupt},
      {"value size 16 MiB + 1", [](Spec& s) { s["value_size"] = varint((16u << 20) + 1); }, corrupt},
      {"key not utf-8", [](Spec& s) { s["key"][3] = 0xFF; }, corrupt},
      {"value with NUL", [](Spec& s) { s["value"][0] = 0; }, corrupt},
      {"duplicate key", [](Spec& s) {
         s["metadata_count"] = varint(2);
         s["value"] = concat(s["value"], concat(concat(varint(5), str_bytes("model")), varint(0)));
       }, corrupt},
      // Tensor records.
      {"name size huge", [](Spec& s) { s["t0.name_size"] = varint(0x7FFFFFFFu); }, corrupt},
      {"name size 1025", [](Spec& s) { s["t0.name_size"] = varint(1025); }, corrupt},
      {"empty name", [](Spec& s) { s["t0.name_size"] = varint(0); s["t0.name"] = {}; }, corrupt},
      {"name with NUL", [](Spec& s) { s["t0.name"][2] = 0; }, corrupt},
      {"name not utf-8", [](Spec& s) { s["t0.name"][2] = 0xC0; }, corrupt},
      {"duplicate name", [](Spec& s) {
         s["t1.name_size"] = varint(10);
         s["t1.name"] = str_bytes("fc1.weight");
       }, corrupt},
      {"unknown dtype", [](Spec& s) { s["t0.dtype"] = {2}; }, ErrorCode::unsupported_version},
      {"dtype 0", [](Spec& s) { s["t1.dtype"] = {0}; }, ErrorCode::unsupported_version},
      {"unknown codec", [](Spec& s) { s["t0.codec"] = {3}; }, ErrorCode::unsupported_version},
      {"reserved tensor flag", [](Spec& s) { s["t0.flags"] = {0x03}; }, corrupt},
      {"reserved tensor flag 7", [](Spec& s) { s["t1.flags"] = {0x80}; }, corrupt},
      {"rank 9", [](Spec& s) { s["t0.rank"] = {9}; }, corrupt},
      {"rank 255", [](Spec& s) { s["t1.rank"] = {255}; }, corrupt},
      {"dimension 2^64-1", [&](Spec& s) { s["t0.dim0"] = varint(huge); }, too_large},
      {"dimension 2^48+1", [](Spec& s) { s["t1.dim0"] = varint((uint64_t(1) << 48) + 1); }, too_large},
      {"element count above 2^48", [](Spec& s) { s["t0.dim0"] = varint(uint64_t(1) << 40); }, too_large},
      {"dimension of 11 bytes", [](Spec& s) { s["t0.dim0"] = varint(300, 9); }, corrupt},
      {"dimension above 64 bits", [](Spec& s) {
         Bytes b(9, 0xFF);
         b.push_back(0x02);
         s["t0.dim0"] = b;
       }, corrupt},
      {"bound NaN", [](Spec& s) { s["t0.bound"] = u64_bytes(0x7FF8000000000000ull); }, corrupt},
      {"bound +inf", [](Spec& s) { s["t0.bound"] = u64_bytes(0x7FF0000000000000ull); }, corrupt},
      {"bound negative", [](Spec& s) { s["t0.bound"] = u64_bytes(0xBFF0000000000000ull); }, corrupt},
      {"bound -0", [](Spec& s) { s["t0.bound"] = u64_bytes(0x8000000000000000ull); }, corrupt},
      {"zfp with zero tolerance", [](Spec& s) { s["t0.codec"] = {2}; s["t0.bound"] = f64_bytes(0); }, corrupt},
      {"sparse with an empty index", [](Spec& s) { s["t0.index_size"] = varint(0); }, corrupt},
      {"empty value stream", [](Spec& s) { s["t1.value_size"] = varint(0); }, corrupt},
      {"zero dimension, streams left in the file", [](Spec& s) {
         s["t1.dim0"] = varint(0);
         s.erase("t1.value_size");
         s.erase("t1.checksum");
       }, corrupt},
      // Streams.
      {"index size huge", [&](Spec& s) { s["t0.index_size"] = varint(huge); }, truncated},
      {"index size beyond file", [](Spec& s) { s["t0.index_size"] = varint(10000); }, truncated},
      {"value size one long", [](Spec& s) { s["t1.value_size"] = varint(12); }, truncated},
      {"index size one short", [](Spec& s) { s["t0.index_size"] = varint(11); }, corrupt},
      {"a byte after the last stream", [](Spec& s) { s.data.push_back(0); }, corrupt},
      {"tensor checksum", [](Spec& s) { s["t0.checksum"][0] ^= 1; }, ErrorCode::checksum_wrong},
      {"tensor checksum of a lossless tensor", [](Spec& s) { s["t1.checksum"][7] ^= 0x80; },
       ErrorCode::checksum_wrong},
      {"stream byte", [](Spec& s) { s.data[20] ^= 1; }, ErrorCode::checksum_wrong},
  };
  std::vector<Case> all = cases;
  // Every varint field in a longer form than the shortest one.
  for (const char* f : {"tensor_count", "metadata_count", "key_size", "value_size", "t0.name_size",
                        "t0.dim0", "t0.dim1", "t0.index_size", "t0.value_size", "t1.name_size",
                        "t1.dim0", "t1.value_size"})
    for (size_t extra : {1, 2})
      all.push_back({std::string(f) + " over-long by " + std::to_string(extra), [f, extra](Spec& s) {
                       uint64_t v = 0;
                       const Bytes& b = s[f];
                       for (size_t i = b.size(); i-- > 0;) v = (v << 7) | (b[i] & 0x7F);
                       s[f] = varint(v, extra);
                     }, corrupt});
  for (const auto& c : all) {
    Spec s = small_spec();
    c.damage(s);
    const auto b = s.assemble();
    try {
      parse_container(b.data(), b.size());
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.expected) << c.what << ": got " << error_code_name(e.code()) << " ("
                                      << e.what() << ")";
    }
  }
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

// What compress checks after writing: the file is serialize_container's
// bytes, and one byte changed, missing or added anywhere is seen.
TEST_F(ContainerFile, given_written_file_expect_it_matches_its_container_and_any_change_seen) {
  const Container c = small_container();
  const std::string path = (dir_ / "model.dsz").string();
  write_container_file(c, path);
  const std::vector<uint8_t> bytes = serialize_container(c);
  EXPECT_EQ(read_file_bytes(path), bytes);
  EXPECT_TRUE(container_file_matches(c, path));
  auto write = [&](const std::vector<uint8_t>& b) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  };
  for (size_t at : {size_t(0), bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> b = bytes;
    b[at] ^= 1;
    write(b);
    EXPECT_FALSE(container_file_matches(c, path)) << "byte " << at;
  }
  write(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1));
  EXPECT_FALSE(container_file_matches(c, path));
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  write(longer);
  EXPECT_FALSE(container_file_matches(c, path));
  write(bytes);
  EXPECT_TRUE(container_file_matches(c, path));
  EXPECT_THROW(container_file_matches(c, (dir_ / "missing.dsz").string()), deepsz::Error);
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

// ---- Overhead -------------------------------------------------------------

// Prints what the container costs beyond the streams for the file of
// lenet300_like_container() (docs/FORMAT.md, "Overhead"):
//   build/tests/format/test_format_container --gtest_filter='Overhead.*'
TEST(Overhead, given_lenet300_like_container_expect_small_fixed_cost) {
  const Container c = lenet300_like_container();
  const auto bytes = serialize_container(c);
  size_t streams = 0, meta_text = 0, names = 0;
  for (const auto& t : c.tensors) {
    streams += t.index_stream.size() + t.value_stream.size();
    names += t.name.size();
  }
  for (const auto& kv : c.metadata) meta_text += kv.first.size() + kv.second.size();
  const size_t overhead = bytes.size() - streams;
  const double ratio = 4.0 * 266610 / double(bytes.size());
  std::printf("lenet300-like container (6 tensors, 13 metadata pairs), format version %u\n"
              "  file bytes               %zu (ratio %.2fx)\n"
              "  stream bytes             %zu\n"
              "  container overhead       %zu (%.2f%% of the file)\n"
              "    metadata key+value text %zu\n"
              "    tensor names            %zu\n"
              "    everything else         %zu (header, lengths, dims, bounds, sizes, "
              "offsets, checksums, padding)\n",
              unsigned(kContainerVersion), bytes.size(), ratio, streams, overhead,
              100.0 * double(overhead) / double(bytes.size()), meta_text, names,
              overhead - meta_text - names);
  expect_same(c, parse_container(bytes.data(), bytes.size()));
  // Version 1: 17622 bytes, overhead 916 (606 without the text). A change
  // here is a format change: update the table in docs/FORMAT.md.
  EXPECT_EQ(bytes.size(), 17231u);
  EXPECT_EQ(overhead - meta_text - names, 215u);
}

}  // namespace
}  // namespace deepsz
