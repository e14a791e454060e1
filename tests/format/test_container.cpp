// The .dsz container with opaque streams: round trips, the frozen byte
// layout, and rejection of malformed files (docs/FORMAT.md, "Decoder
// obligations").
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "byte_io.h"
#include "container_internal.h"
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
  const uint64_t dir_size = le64(b, 16);
  if (dir_size <= b.size() - kContainerHeaderSize)
    put64(b, 24, XXH64(b.data() + kContainerHeaderSize, dir_size, 0));
  put64(b, 32, XXH64(b.data(), 32, 0));
}

// ---- Version 2 written by hand --------------------------------------------
// docs/FORMAT.md as code, independent of the writer: a directory is a list of
// named fields, so that a test can replace one (an over-long varint, a huge
// count, a wrong name) and assemble a file whose checksums are right.

using Bytes = std::vector<uint8_t>;

// LEB128; `extra` > 0 makes it that many bytes longer than the shortest form.
Bytes varint(uint64_t v, size_t extra = 0) {
  Bytes b;
  while (v >= 0x80) {
    b.push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  b.push_back(uint8_t(v));
  for (size_t i = 0; i < extra; ++i) {
    b.back() |= 0x80;
    b.push_back(0);
  }
  return b;
}
Bytes u64_bytes(uint64_t v) {
  Bytes b(8);
  put64(b, 0, v);
  return b;
}
Bytes f64_bytes(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return u64_bytes(bits);
}

struct Field {
  std::string name;
  Bytes bytes;
};
struct Spec {
  std::vector<Field> dir;
  Bytes data;                            // the streams, back to back
  uint32_t version = 2, flags = 0;
  std::optional<uint64_t> dir_size;      // default: the directory's length

  Bytes& operator[](const std::string& name) {
    for (auto& f : dir)
      if (f.name == name) return f.bytes;
    throw std::logic_error("no field " + name);
  }
  void erase(const std::string& name) {
    for (auto it = dir.begin(); it != dir.end(); ++it)
      if (it->name == name) {
        dir.erase(it);
        return;
      }
    throw std::logic_error("no field " + name);
  }
  // Offset in the assembled file of the first byte of field `name`.
  size_t offset_of(const std::string& name) const {
    size_t at = kContainerHeaderSize;
    for (const auto& f : dir) {
      if (f.name == name) return at;
      at += f.bytes.size();
    }
    throw std::logic_error("no field " + name);
  }
  Bytes assemble() const {
    Bytes d;
    for (const auto& f : dir) d.insert(d.end(), f.bytes.begin(), f.bytes.end());
    Bytes out(kContainerHeaderSize, 0);
    const uint8_t magic[8] = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1A, '\n'};
    std::memcpy(out.data(), magic, 8);
    put32(out, 8, version);
    put32(out, 12, flags);
    put64(out, 16, dir_size.value_or(d.size()));
    put64(out, 24, XXH64(d.data(), d.size(), 0));
    put64(out, 32, XXH64(out.data(), 32, 0));
    out.insert(out.end(), d.begin(), d.end());
    out.insert(out.end(), data.begin(), data.end());
    reseal(out);  // the directory checksum covers what dir_size declares
    return out;
  }
};

Bytes str_bytes(const std::string& s) { return {s.begin(), s.end()}; }
Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes c = a;
  c.insert(c.end(), b.begin(), b.end());
  return c;
}

// small_container() by hand.
Spec small_spec() {
  const Bytes idx0 = str_bytes("index-stream"), val0 = str_bytes("values");
  const Bytes val1 = str_bytes("bias-bytes!");
  Spec s;
  s.dir = {
      {"tensor_count", varint(2)},
      {"metadata_count", varint(1)},
      {"key_size", varint(5)},
      {"key", str_bytes("model")},
      {"value_size", varint(13)},
      {"value", str_bytes("lenet-300-100")},
      {"t0.name_size", varint(10)},
      {"t0.name", str_bytes("fc1.weight")},
      {"t0.dtype", {1}},
      {"t0.codec", {1}},  // dsz
      {"t0.flags", {1}},  // sparse
      {"t0.rank", {2}},
      {"t0.dim0", varint(300)},
      {"t0.dim1", varint(784)},
      {"t0.bound", f64_bytes(1e-3)},
      {"t0.index_size", varint(idx0.size())},
      {"t0.value_size", varint(val0.size())},
      {"t0.checksum", u64_bytes(XXH64(concat(idx0, val0).data(), idx0.size() + val0.size(), 0))},
      {"t1.name_size", varint(8)},
      {"t1.name", str_bytes("fc1.bias")},
      {"t1.dtype", {1}},
      {"t1.codec", {0}},  // lossless: no bound
      {"t1.flags", {0}},  // dense: no index size
      {"t1.rank", {1}},
      {"t1.dim0", varint(300)},
      {"t1.value_size", varint(val1.size())},
      {"t1.checksum", u64_bytes(XXH64(val1.data(), val1.size(), 0))},
  };
  s.data = concat(concat(idx0, val0), val1);
  return s;
}

// The container of a pruned LeNet-300-100 as `deepsz run` writes it
// (/tmp/mainjob/cache/lenet300-0.3.dsz of 2026-11-28): the same 13 metadata
// pairs in the same order, names, shapes, codecs and stream sizes; the
// stream bytes themselves do not matter to the container.
Container lenet300_like_container() {
  Container c;
  for (const auto& kv : std::vector<std::pair<const char*, const char*>>{
           {"deepsz", "model1"}, {"architecture", "lenet300"}, {"input", "1x28x28"},
           {"classes", "10"}, {"preprocessing.mean", "0"}, {"preprocessing.std", "1"},
           {"data.val_images", "5000"}, {"dense.val_top1", "0.9016"},
           {"dense.test_top1", "0.8972"}, {"deepsz.masks", "fc1.weight,fc2.weight,fc3.weight"},
           {"deepsz.budget", "0.3 dense 0.3 deepsz"}, {"val_top1", "0.9034"},
           {"test_top1", "0.8953"}})
    c.set_meta(kv.first, kv.second);
  struct T { const char* name; std::vector<uint64_t> shape; ValueCodec codec; double bound;
             size_t index, value; };
  const std::vector<T> ts = {
      {"fc1.weight", {300, 784}, ValueCodec::dsz, 0.013439745367859506, 6686, 5274},
      {"fc1.bias", {300}, ValueCodec::dsz, 0.013614588499022142, 0, 238},
      {"fc2.weight", {100, 300}, ValueCodec::dsz, 0.04988415855336117, 1690, 1561},
      {"fc2.bias", {100}, ValueCodec::dsz, 0.007222664265861609, 0, 151},
      {"fc3.weight", {10, 100}, ValueCodec::dsz, 0.008225798123304658, 18, 1039},
      {"fc3.bias", {10}, ValueCodec::lossless, 0.0, 0, 49}};
  uint8_t fill = 1;
  for (const auto& t : ts) {
    std::vector<uint8_t> index(t.index, fill), values(t.value, uint8_t(fill + 1));
    fill = uint8_t(fill + 2);
    c.tensors.push_back(opaque_entry(t.name, t.shape, t.codec, t.bound, t.index > 0,
                                     std::move(index), std::move(values)));
  }
  return c;
}


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
