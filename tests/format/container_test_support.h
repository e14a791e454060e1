// Helpers of the container tests (test_container.cpp,
// test_container_malformed.cpp): containers of opaque streams, and version 2
// written by hand from docs/FORMAT.md.
#pragma once

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


namespace deepsz::container_test {

namespace fs = std::filesystem;

inline std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

inline TensorEntry opaque_entry(const std::string& name, std::vector<uint64_t> shape, ValueCodec codec,
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
inline Container small_container() {
  Container c;
  c.set_meta("model", "lenet-300-100");
  c.tensors.push_back(opaque_entry("fc1.weight", {300, 784}, ValueCodec::dsz, 1e-3, true,
                                   bytes_of("index-stream"), bytes_of("values")));
  c.tensors.push_back(opaque_entry("fc1.bias", {300}, ValueCodec::lossless, 0.0, false, {},
                                   bytes_of("bias-bytes!")));
  return c;
}

inline void expect_same(const Container& a, const Container& b) {
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

inline Container round_trip(const Container& c) {
  const auto bytes = serialize_container(c);
  Container back = parse_container(bytes.data(), bytes.size());
  expect_same(c, back);
  EXPECT_EQ(serialize_container(back), bytes) << "the layout is canonical";
  return back;
}

inline ErrorCode parse_error(const std::vector<uint8_t>& bytes) {
  try {
    parse_container(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "parse_container accepted a malformed file";
  return ErrorCode::interrupted;
}

inline uint64_t le64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}
inline void put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
inline void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Recomputes the directory and header checksums, as a malicious or buggy
// writer would, so that a test reaches the check behind them.
inline void reseal(std::vector<uint8_t>& b) {
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
inline Bytes varint(uint64_t v, size_t extra = 0) {
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
inline Bytes u64_bytes(uint64_t v) {
  Bytes b(8);
  put64(b, 0, v);
  return b;
}
inline Bytes f64_bytes(double d) {
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

inline Bytes str_bytes(const std::string& s) { return {s.begin(), s.end()}; }
inline Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes c = a;
  c.insert(c.end(), b.begin(), b.end());
  return c;
}

// small_container() by hand.
inline Spec small_spec() {
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
inline Container lenet300_like_container() {
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

}  // namespace deepsz::container_test
