// safetensors reader and writer, the 16-bit conversions, and the weights-only
// compression: every value within its bound as written back in its own dtype,
// every other tensor bit-exact, and every malformed file refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "deepsz/interchange.h"

namespace ic = deepsz::interchange;
using deepsz::Error;

namespace {

std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out;
  for (int b = 0; b < 8; ++b) out.push_back(uint8_t(uint64_t(header.size()) >> (8 * b)));
  for (char c : header) out.push_back(uint8_t(c));
  for (uint8_t c : body) out.push_back(c);
  return out;
}

struct Spec {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> make_file(const std::vector<Spec>& tensors, const std::string& meta = "") {
  std::string header = "{";
  if (!meta.empty()) header += "\"__metadata__\":" + meta + ",";
  uint64_t at = 0;
  std::vector<uint8_t> body;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Spec& t = tensors[i];
    std::string shape;
    for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? "," : "") + std::to_string(t.shape[d]);
    header += (i ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(at) + "," + std::to_string(at + t.bytes.size()) + "]}";
    at += t.bytes.size();
    body.insert(body.end(), t.bytes.begin(), t.bytes.end());
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  return raw_file(header, body);
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint16_t> halves(const std::vector<float>& v, bool bf16) {
  std::vector<uint16_t> h;
  for (float x : v) h.push_back(bf16 ? ic::float_to_bfloat16(x) : ic::float_to_half(x));
  return h;
}

double value_at(const ic::RawTensor& t, size_t i) {
  uint16_t h;
  switch (t.storage) {
    case ic::Storage::f32: {
      float f;
      std::memcpy(&f, &t.bytes[4 * i], 4);
      return f;
    }
    case ic::Storage::f16: std::memcpy(&h, &t.bytes[2 * i], 2); return ic::half_to_float(h);
    case ic::Storage::bf16: std::memcpy(&h, &t.bytes[2 * i], 2); return ic::bfloat16_to_float(h);
    default: return 0;
  }
}

// Through the container's bytes and back, as the tools do.
ic::WeightsFile round_trip(const ic::WeightsFile& w, ic::BoundRule rule, ic::WeightsReport* r = nullptr) {
  ic::WeightsOptions o;
  o.bound = rule;
  const std::vector<uint8_t> dsz = deepsz::serialize_container(ic::compress_weights(w, o, r));
  return ic::decompress_weights(deepsz::parse_container(dsz.data(), dsz.size()));
}

// Every float value within `bound` of the original as its dtype holds it;
// non-finite values and non-float tensors bit-exact.
void expect_within(const ic::WeightsFile& a, const ic::WeightsFile& b, const ic::WeightsReport& r) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t k = 0; k < a.tensors.size(); ++k) {
    const ic::RawTensor &x = a.tensors[k], &y = b.tensors[k];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.shape, y.shape);
    ASSERT_EQ(x.bytes.size(), y.bytes.size()) << x.name;
    if (x.storage == ic::Storage::bytes || r.tensors[k].bound == 0) {
      EXPECT_EQ(x.bytes, y.bytes) << x.name;
      continue;
    }
    const size_t n = x.bytes.size() / ic::storage_element_bytes(x.storage), es = ic::storage_element_bytes(x.storage);
    for (size_t i = 0; i < n; ++i) {
      const double u = value_at(x, i), v = value_at(y, i);
      if (!std::isfinite(u))
        ASSERT_EQ(0, std::memcmp(&x.bytes[es * i], &y.bytes[es * i], es)) << x.name << "[" << i << "]";
      else
        ASSERT_LE(std::fabs(u - v), r.tensors[k].bound) << x.name << "[" << i << "] " << u << " -> " << v;
    }
  }
}

}  // namespace

TEST(Float16, HalfRoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = ic::float_to_half(ic::half_to_float(uint16_t(h)));
    ASSERT_EQ(back, h) << h;
  }
}

TEST(Float16, BFloat16RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) ASSERT_EQ(ic::float_to_bfloat16(ic::bfloat16_to_float(uint16_t(h))), h) << h;
}

// Narrowing is round to nearest, ties to even: compare with the nearest of
// the two neighbouring 16-bit values, computed in double.
TEST(Float16, NarrowingRoundsToNearestEven) {
  std::mt19937 rng(7);
  for (bool bf : {false, true}) {
    for (int i = 0; i < 400000; ++i) {
      uint32_t u = rng();
      if (i % 2) u = (u & 0x807fffff) | (uint32_t(rng() % 60 + (bf ? 1 : 98)) << 23);  // f16's range more often
      float f;
      std::memcpy(&f, &u, 4);
      if (std::isnan(f)) continue;
      const uint16_t h = bf ? ic::float_to_bfloat16(f) : ic::float_to_half(f);
      auto val = [&](uint16_t x) { return double(bf ? ic::bfloat16_to_float(x) : ic::half_to_float(x)); };
      const double got = val(h);
      if (std::isinf(got)) {
        const double max = bf ? double(ic::bfloat16_to_float(0x7f7f)) : 65504.0;
        const double half_ulp = bf ? std::ldexp(1.0, 127 - 8) : 16.0;
        ASSERT_GE(std::fabs(double(f)), max + half_ulp) << f;
        continue;
      }
      const uint16_t mag = h & 0x7fff;
      for (int d : {-1, 1}) {  // no neighbour nearer, and a tie goes to the even one
        if ((d < 0 && mag == 0) || (mag + d) >= (bf ? 0x7f80 : 0x7c00)) continue;
        const double other = val(uint16_t((h & 0x8000) | (mag + d)));
        const double e0 = std::fabs(got - double(f)), e1 = std::fabs(other - double(f));
        ASSERT_TRUE(e0 < e1 || (e0 == e1 && (h & 1) == 0)) << f << " -> " << got << " not " << other;
      }
    }
  }
}

TEST(Safetensors, ParseKeepsNamesDtypesShapesAndHeader) {
  const std::vector<uint8_t> f = make_file({{"a", "F32", {2, 3}, bytes_of(std::vector<float>(6, 1.5f))},
                                            {"b.c", "I64", {}, bytes_of(std::vector<int64_t>{-7})},
                                            {"e", "BOOL", {0}, {}},
                                            {"h", "BF16", {2}, bytes_of(std::vector<uint16_t>{1, 2})}},
                                           "{\"format\":\"pt\"}");
  const ic::WeightsFile w = ic::parse_safetensors(f.data(), f.size());
  ASSERT_EQ(w.tensors.size(), 4u);
  EXPECT_EQ(w.tensors[0].name, "a");
  EXPECT_EQ(w.tensors[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(w.tensors[1].dtype, "I64");
  EXPECT_EQ(w.tensors[1].storage, ic::Storage::bytes);
  EXPECT_EQ(w.tensors[3].storage, ic::Storage::bf16);
  EXPECT_EQ(ic::serialize_safetensors(w), f);
}

TEST(Safetensors, LosslessRoundTripIsTheSameFile) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 0.05f);
  std::vector<float> v(5000);
  for (float& x : v) x = g(rng);
  const std::vector<uint8_t> f = make_file({{"w", "F32", {50, 100}, bytes_of(v)},
                                            {"h", "F16", {5000}, bytes_of(halves(v, false))},
                                            {"i", "U16", {3}, bytes_of(std::vector<uint16_t>{1, 2, 3})}},
                                           "{\"k\":\"v\"}");
  const ic::WeightsFile w = ic::parse_safetensors(f.data(), f.size());
  EXPECT_EQ(ic::serialize_safetensors(round_trip(w, {ic::BoundRule::Kind::absolute, 0.0})), f);
}

// Adversarial values for the 16-bit types: on the grid and between, near
// binade edges, subnormals, the largest finite values (where rounding the
// decoded value could overflow), NaN and infinities; bounds both far below
// and far above the spacing of the grid.
TEST(Weights, EveryValueWithinTheBoundInItsOwnDtype) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0, 0.05f);
  std::vector<float> v;
  for (int i = 0; i < 30000; ++i) v.push_back(i % 10 ? 0.0f : g(rng));  // pruned
  for (int i = 0; i < 20000; ++i) v.push_back(g(rng) * 40.0f);
  for (float x : {1.0f, 0.99951171875f, 2.0f, 1.9990234375f, 6.1e-5f, 5.96e-8f, -6.1e-5f, 65504.0f, -65504.0f,
                  65000.0f, 3.0e38f, -3.3e38f, 1e-40f, INFINITY, -INFINITY, NAN, -0.0f})
    for (int k = 0; k < 50; ++k) v.push_back(x);
  for (double bound : {1e-6, 1e-4, 1e-3, 0.02, 0.5, 7.0, 40.0}) {
    ic::WeightsFile w;
    w.format = "safetensors";
    std::vector<Spec> specs = {{"f32", "F32", {v.size()}, bytes_of(v)},
                               {"f16", "F16", {v.size()}, bytes_of(halves(v, false))},
                               {"bf16", "BF16", {v.size()}, bytes_of(halves(v, true))},
                               {"int", "I32", {2}, bytes_of(std::vector<int32_t>{-1, 7})}};
    const std::vector<uint8_t> f = make_file(specs);
    w = ic::parse_safetensors(f.data(), f.size());
    ic::WeightsReport r;
    const ic::WeightsFile back = round_trip(w, {ic::BoundRule::Kind::absolute, bound}, &r);
    SCOPED_TRACE(bound);
    expect_within(w, back, r);
    EXPECT_EQ(ic::serialize_safetensors(back).size(), f.size());
    for (const auto& t : r.tensors)
      if (t.max_abs_error >= 0) {
        EXPECT_LE(t.max_abs_error, bound);
      }
  }
}

TEST(Weights, RelativeRulesAreAFractionOfEachTensor) {
  std::vector<float> a(994), b(994);  // -3..3, each value 142 times: rms 2, range 6
  for (int i = 0; i < 994; ++i) a[i] = float(i % 7) - 3.0f, b[i] = a[i] * 100.0f;
  const std::vector<uint8_t> f = make_file({{"a", "F32", {994}, bytes_of(a)}, {"b", "F16", {994}, bytes_of(halves(b, false))}});
  const ic::WeightsFile w = ic::parse_safetensors(f.data(), f.size());
  ic::WeightsReport r;
  expect_within(w, round_trip(w, {ic::BoundRule::Kind::relative_rms, 0.01}, &r), r);
  EXPECT_NEAR(r.tensors[0].bound, 0.02, 1e-9);  // rms of -3..3 evenly = 2
  EXPECT_NEAR(r.tensors[1].bound, 2.0, 1e-6);
  expect_within(w, round_trip(w, {ic::BoundRule::Kind::relative_range, 0.01}, &r), r);
  EXPECT_NEAR(r.tensors[0].bound, 0.06, 1e-9);
}

TEST(Weights, RefusesNamesTheContainerCannotHold) {
  for (const std::string& name : {std::string(ic::kFrameTensorName), std::string(1100, 'x'), std::string("\\u0000")}) {
    const std::vector<uint8_t> f = make_file({{name, "U8", {1}, {1}}});
    const ic::WeightsFile w = ic::parse_safetensors(f.data(), f.size());
    EXPECT_THROW(ic::compress_weights(w, {}), Error) << name;
  }
}

TEST(Weights, DecoderRefusesMetadataThatDisagrees) {
  const std::vector<uint8_t> f = make_file({{"a", "F16", {4}, bytes_of(std::vector<uint16_t>{1, 2, 3, 4})}});
  const ic::WeightsFile w = ic::parse_safetensors(f.data(), f.size());
  const deepsz::Container good = ic::compress_weights(w, {});
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"interchange.tensors", "[[\"a\",\"F16\",\"f16\",[5],10,0]]"},
                                                        {"interchange.tensors", "[[\"b\",\"F16\",\"f16\",[4],8,0]]"},
                                                        {"interchange.tensors", "[[\"a\",\"F16\",\"f99\",[4],8,0]]"},
                                                        {"interchange.tensors", "[]"},
                                                        {"interchange.tensors", "{"},
                                                        {"interchange.frame_bytes", "x"},
                                                        {"interchange.frame_bytes", "3"}}) {
    deepsz::Container c = good;
    c.set_meta(key, value);
    EXPECT_THROW(ic::serialize_safetensors(ic::decompress_weights(c)), Error) << key << "=" << value;
  }
  deepsz::Container c = good;
  c.tensors.pop_back();
  EXPECT_THROW(ic::decompress_weights(c), Error);
}

struct Bad {
  const char* what;
  std::vector<uint8_t> file;
  const char* message;  // part of the error
};

TEST(Safetensors, RefusesMalformedFiles) {
  const std::vector<uint8_t> four(4, 0), eight(8, 0);
  const std::string ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  std::vector<uint8_t> huge_len(8, 0xff);
  std::vector<Bad> cases = {
      {"short", {1, 2, 3}, "no 8-byte header length"},
      {"length past end", huge_len, "past the end of the file"},
      {"not json", raw_file("{nope}", four), "malformed header"},
      {"not object", raw_file("[1]     ", {}), "start with '{'"},
      {"trailing garbage", raw_file(ok + "x", four), "malformed header"},
      {"duplicate key", raw_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1}), "twice"},
      {"unknown dtype", raw_file("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", std::vector<uint8_t>(16)), "unsupported dtype"},
      {"no shape", raw_file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", four), "no \"shape\""},
      {"negative dim", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", four), "non-negative"},
      {"float dim", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", four), "non-negative"},
      {"byte count", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", four), "4 bytes for F32 of 2"},
      {"shape overflow", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", four), "2^64"},
      {"end before begin", raw_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", four), "end before"},
      {"offsets past end", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", four), "past the end of the data"},
      {"overlap", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[2,4]}}", four), "overlap"},
      {"gap", raw_file("{\"a\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[2,4]}}", four), "no tensor covers before"},
      {"bytes after", raw_file(ok, eight), "after the last tensor"},
      {"offsets not pair", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", four), "pair"},
      {"metadata not strings", raw_file("{\"__metadata__\":{\"a\":1}}", {}), "not a string"},
      {"entry not object", raw_file("{\"a\":3}", {}), "not an object"},
      {"invalid utf-8", raw_file("{\"\xff\":{}}", {}), "malformed header"},
  };
  for (const Bad& b : cases) {
    try {
      ic::parse_safetensors(b.file.data(), b.file.size());
      ADD_FAILURE() << b.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << b.what << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << b.what;
    }
  }
}

// Every cut of a valid file is refused (the data section must be covered).
TEST(Safetensors, EveryTruncationIsRefused) {
  const std::vector<uint8_t> f = make_file({{"a", "F32", {3}, bytes_of(std::vector<float>{1, 2, 3})},
                                            {"b", "I8", {2}, {1, 2}}});
  for (size_t n = 0; n < f.size(); ++n) EXPECT_THROW(ic::parse_safetensors(f.data(), n), Error) << n;
}

// Single-byte damage: refused or parsed, never a crash or a file that
// serialises to other bytes.
TEST(Safetensors, SingleByteDamageNeverCrashes) {
  const std::vector<uint8_t> f = make_file({{"a", "F16", {3}, bytes_of(std::vector<uint16_t>{1, 2, 3})}}, "{\"x\":\"y\"}");
  for (size_t i = 0; i < f.size(); ++i)
    for (uint8_t mask : {0x01, 0x20, 0x80}) {
      std::vector<uint8_t> g = f;
      g[i] ^= mask;
      try {
        const ic::WeightsFile w = ic::parse_safetensors(g.data(), g.size());
        EXPECT_EQ(ic::serialize_safetensors(w), g);
      } catch (const Error&) {
      }
    }
}
