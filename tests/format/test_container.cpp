// The .dsz container with opaque streams: round trips and the frozen byte
// layout (docs/FORMAT.md); malformed files are in test_container_malformed.cpp.
#include "container_test_support.h"

namespace deepsz {
namespace {

using namespace container_test;

TEST(Container, given_empty_container_when_round_tripped_expect_header_and_empty_directory) {
  Container c;
  const auto bytes = serialize_container(c);
  EXPECT_EQ(bytes.size(), kContainerHeaderSize + 2);  // two counts of 0
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

// The writer produces exactly the layout of docs/FORMAT.md, field by field.
TEST(Container, given_small_container_expect_the_bytes_of_the_hand_written_layout) {
  EXPECT_EQ(serialize_container(small_container()), small_spec().assemble());
  round_trip(small_container());
}

// Format freeze: any change of these bytes is a format change (bump the
// version and update docs/FORMAT.md), never an accident.
TEST(Container, given_fixed_container_expect_frozen_bytes) {
  const auto bytes = serialize_container(small_container());
  EXPECT_EQ(bytes.size(), 152u);  // version 1: 276
  EXPECT_EQ(XXH64(bytes.data(), bytes.size(), 0), 0xdede38d153f4a1adull) << std::hex
      << XXH64(bytes.data(), bytes.size(), 0);
}

// Every varint is written in its shortest form, at each length boundary.
TEST(Container, given_dimensions_and_sizes_at_varint_boundaries_expect_shortest_encoding) {
  const uint64_t edges[] = {1, 127, 128, 16383, 16384, 2097151, 2097152, uint64_t(1) << 48};
  for (uint64_t d : edges) {
    Container c;
    c.tensors.push_back(opaque_entry("w", {d}, ValueCodec::zfp, 0.5, true, {7}, {8}));
    round_trip(c);
    const auto expected = [&] {
      Spec s;
      s.dir = {{"tensor_count", varint(1)}, {"metadata_count", varint(0)},
               {"name_size", varint(1)},    {"name", str_bytes("w")},
               {"dtype", {1}},              {"codec", {2}},
               {"flags", {1}},              {"rank", {1}},
               {"dim0", varint(d)},         {"bound", f64_bytes(0.5)},
               {"index_size", varint(1)},   {"value_size", varint(1)},
               {"checksum", u64_bytes(XXH64(Bytes{7, 8}.data(), 2, 0))}};
      s.data = {7, 8};
      return s.assemble();
    }();
    EXPECT_EQ(serialize_container(c), expected) << d;
  }
  // A value stream of 300 bytes: its size takes two bytes.
  Container c;
  c.tensors.push_back(opaque_entry("v", {3}, ValueCodec::lossless, 0, false, {}, Bytes(300, 1)));
  round_trip(c);
}

TEST(Container, given_zero_sized_tensors_by_hand_expect_no_sizes_no_checksum_no_bound) {
  Spec s;
  s.dir = {{"tensor_count", varint(2)}, {"metadata_count", varint(0)},
           {"t0.name_size", varint(1)}, {"t0.name", str_bytes("e")},
           {"t0.dtype", {1}}, {"t0.codec", {0}}, {"t0.flags", {1}}, {"t0.rank", {2}},
           {"t0.dim0", varint(3)}, {"t0.dim1", varint(0)},
           {"t1.name_size", varint(1)}, {"t1.name", str_bytes("z")},
           {"t1.dtype", {1}}, {"t1.codec", {2}}, {"t1.flags", {0}}, {"t1.rank", {1}},
           {"t1.dim0", varint(0)}, {"t1.bound", f64_bytes(0.0)}};
  const auto bytes = s.assemble();
  const Container c = parse_container(bytes.data(), bytes.size());
  ASSERT_EQ(c.tensors.size(), 2u);
  EXPECT_EQ(c.tensors[0].shape, (std::vector<uint64_t>{3, 0}));
  EXPECT_TRUE(c.tensors[0].sparse);
  EXPECT_EQ(c.tensors[1].value_codec, ValueCodec::zfp);
  EXPECT_EQ(serialize_container(c), bytes);
}

TEST(Container, given_parse_impl_expect_offsets_of_the_tensor_checksums) {
  const Spec s = small_spec();
  const auto bytes = s.assemble();
  std::vector<size_t> at;
  format::parse_container_impl(bytes.data(), bytes.size(), true, &at);
  EXPECT_EQ(at, (std::vector<size_t>{s.offset_of("t0.checksum"), s.offset_of("t1.checksum")}));
}

// The directory's varint reader (byte_io.h) picks the error codes; the
// wording comes from the caller (container.cpp has its own).
std::string test_read_message(byte_io::ReadFault, const char*, const char*) { return "test"; }

TEST(Varint, given_values_and_malformed_encodings_expect_round_trip_or_clean_error) {
  for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(127), uint64_t(128), uint64_t(300),
                     uint64_t(1) << 48, ~uint64_t(0) >> 1, ~uint64_t(0)}) {
    Bytes b;
    byte_io::ByteWriter(b).varint(v);
    EXPECT_EQ(b, varint(v));
    byte_io::ByteReader r(b.data(), b.size(), test_read_message, "test");
    EXPECT_EQ(r.varint("v"), v);
    EXPECT_EQ(r.remaining(), 0u);
  }
  auto code_of = [](const Bytes& b) {
    try {
      byte_io::ByteReader r(b.data(), b.size(), test_read_message, "test");
      r.varint("v");
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::interrupted;  // accepted
  };
  EXPECT_EQ(code_of({}), ErrorCode::truncated);
  EXPECT_EQ(code_of({0x80}), ErrorCode::truncated);
  EXPECT_EQ(code_of({0xFF, 0xFF}), ErrorCode::truncated);
  EXPECT_EQ(code_of({0x80, 0x00}), ErrorCode::corruption_detected);  // 0, over-long
  EXPECT_EQ(code_of(varint(300, 1)), ErrorCode::corruption_detected);
  EXPECT_EQ(code_of(varint(1, 8)), ErrorCode::corruption_detected);  // 10 bytes, over-long
  Bytes max = varint(~uint64_t(0));
  ASSERT_EQ(max.size(), 10u);
  max.back() = 0x02;  // bit 64
  EXPECT_EQ(code_of(max), ErrorCode::corruption_detected);
  max.back() = 0x81;  // an 11th byte
  max.push_back(0x01);
  EXPECT_EQ(code_of(max), ErrorCode::corruption_detected);
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

}  // namespace
}  // namespace deepsz
