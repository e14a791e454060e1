// The compact float stream (format version 2, docs/CODEC.md "Compact
// stream"): round trips of small arrays of many sizes and distributions with
// the bound checked on every value, the choice between the two forms, large
// streams unchanged, and untrusted bytes (every truncation and byte flip).
#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codec_test_util.h"
#include "deepsz/codec.h"
#include "deepsz/synthetic.h"
#include "float_codec_internal.h"

namespace deepsz {
namespace {

using codec_detail::decompress_floats_unchecked;
using test::bits_of;
using test::code_of;
using test::every_value_within_bound;
using test::float_from_bits;
using test::lcg_floats;
using test::throws_deepsz_error;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kMax = std::numeric_limits<float>::max();

CodecOptions options(double eb, Predictor p = Predictor::automatic, bool compact = true) {
  CodecOptions o;
  o.abs_error_bound = eb;
  o.predictor = p;
  o.compact_small_streams = compact;
  return o;
}

uint8_t version_of(const std::vector<uint8_t>& s) { return s.size() > 4 ? s[4] : 0; }



struct Case {
  std::string name;
  std::vector<float> v;
};

// Many distributions of n values, adversarial ones included.
std::vector<Case> distributions(size_t n, double eb) {
  std::vector<Case> cases;
  std::mt19937_64 rng(n * 31 + 7);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  auto make = [&](const std::string& name, auto&& f) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = f(i);
    cases.push_back({name, std::move(v)});
  };
  make("gaussian", [&](size_t) { return gauss(rng) * 0.05f; });
  cases.push_back({"pruned laplacian", pruned_laplacian_array(n, n + 1)});
  make("all equal", [&](size_t) { return 0.123f; });
  make("all zero", [&](size_t) { return 0.0f; });
  make("alternating extremes", [&](size_t i) { return i % 2 ? kMax : -kMax; });
  make("alternating +-1000", [&](size_t i) { return i % 2 ? 1000.0f : -1000.0f; });
  make("nan inf mixed", [&](size_t i) {
    switch (i % 5) {
      case 0: return kNaN;
      case 1: return i % 2 ? kInf : -kInf;
      case 2: return float_from_bits(0x7FA5A5A5u);  // the v1 decoder's escape marker
      case 3: return float_from_bits(0xFFC00001u);  // negative NaN with a payload
      default: return gauss(rng);
    }
  });
  make("sparse nan", [&](size_t i) { return i % 97 == 3 ? kNaN : gauss(rng) * 0.01f; });
  make("bin centres", [&](size_t i) { return float(double(int(i % 41) - 20) * 2.0 * eb); });
  make("bin edges", [&](size_t i) {
    const float edge = float((double(int(i % 61) - 30) + 0.5) * 2.0 * eb);
    return i % 3 == 0 ? edge : std::nextafter(edge, i % 3 == 1 ? kInf : -kInf);
  });
  make("wide spread", [&](size_t) { return gauss(rng) * 1e4f; });
  make("smooth", [&](size_t i) { return float(std::sin(double(i) * 0.01) * 3.0); });
  make("denormals", [&](size_t i) {
    return float_from_bits(uint32_t(i * 2654435761u) & 0x807FFFFFu);
  });
  return cases;
}

TEST(CompactStream, given_small_arrays_of_many_sizes_and_distributions_expect_bound_everywhere) {
  size_t compact_streams = 0, total_streams = 0;
  for (size_t n : {0, 1, 2, 3, 10, 100, 1000, 5000, 20000}) {
    for (double eb : {0.0, 1e-3, 0.02, 1e30}) {
      for (const Case& c : distributions(n, eb == 0.0 || eb > 1 ? 1e-3 : eb)) {
        for (Predictor p : {Predictor::none, Predictor::lorenzo, Predictor::automatic}) {
          SCOPED_TRACE(c.name + " n=" + std::to_string(n) + " eb=" + std::to_string(eb) +
                       " predictor=" + predictor_name(p));
          const auto s = compress_floats(c.v.data(), n, options(eb, p));
          const auto info = inspect_float_stream(s.data(), s.size());
          EXPECT_EQ(info.count, n);
          EXPECT_EQ(info.format_version, version_of(s));
          const auto d = decompress_floats(s.data(), s.size());
          ASSERT_TRUE(every_value_within_bound(c.v, d, eb));
          std::vector<float> into(n);
          decompress_floats_into(s.data(), s.size(), into.data(), n, 2);
          if (n) {
            ASSERT_EQ(std::memcmp(into.data(), d.data(), 4 * n), 0);
          }
          // Never larger than the chunked form.
          const auto v1 = compress_floats(c.v.data(), n, options(eb, p, false));
          EXPECT_EQ(version_of(v1), 1);
          EXPECT_LE(s.size(), v1.size());
          if (version_of(s) == 2) {
            EXPECT_LT(s.size(), v1.size());
            ++compact_streams;
          } else {
            EXPECT_EQ(s, v1);
          }
          ++total_streams;
        }
      }
    }
  }
  // The compact form is the rule for small arrays, the chunked one the
  // exception (symbols with repeats that zstd finds).
  EXPECT_GT(compact_streams, total_streams * 9 / 10);
}

TEST(CompactStream, given_pruned_weights_expect_compact_close_to_entropy) {
  for (size_t n : {100, 300, 1000, 2600, 4600}) {
    const auto v = pruned_laplacian_array(n, n);
    double ss = 0;
    for (float x : v) ss += double(x) * x;
    const double eb = 0.02 * std::sqrt(ss / double(n));
    const auto s = compress_floats(v.data(), n, options(eb, Predictor::none));
    const auto v1 = compress_floats(v.data(), n, options(eb, Predictor::none, false));
    const double entropy_bytes = quantisation_entropy_bits(v.data(), n, eb) * double(n) / 8.0;
    EXPECT_EQ(version_of(s), 2) << n;
    // 18 bytes of header, and what the adaptive model pays to learn the
    // distribution (the empirical entropy of 100 values over ~40 codes is far
    // below the entropy of their distribution).
    EXPECT_LT(double(s.size()), entropy_bytes * 1.1 + 40) << n;
    EXPECT_LT(s.size() + 80, v1.size()) << n;
    EXPECT_TRUE(every_value_within_bound(v, decompress_floats(s.data(), s.size()), eb));
  }
}

TEST(CompactStream, given_large_or_multi_chunk_arrays_expect_the_chunked_form_unchanged) {
  const auto big = lcg_floats(70000, 3, 0.1f);
  for (Predictor p : {Predictor::none, Predictor::lorenzo}) {
    const auto a = compress_floats(big.data(), big.size(), options(1e-3, p));
    const auto b = compress_floats(big.data(), big.size(), options(1e-3, p, false));
    EXPECT_EQ(a, b);
    EXPECT_EQ(version_of(a), 1);
  }
  // Exactly 2^16 values may be compact; one more may not.
  const auto edge = pruned_laplacian_array(65537, 5);
  EXPECT_EQ(version_of(compress_floats(edge.data(), 65536, options(1e-3))), 2);
  EXPECT_EQ(version_of(compress_floats(edge.data(), 65537, options(1e-3))), 1);
  // An array of several chunks keeps the chunked form (chunk_values is
  // part of the format).
  CodecOptions o = options(1e-3);
  o.chunk_values = 1000;
  const auto small = lcg_floats(3000, 4, 0.1f);
  const auto s = compress_floats(small.data(), small.size(), o);
  EXPECT_EQ(version_of(s), 1);
  EXPECT_EQ(inspect_float_stream(s.data(), s.size()).chunks, 3u);
}

TEST(CompactStream, given_stream_expect_inspect_to_report_header) {
  auto v = lcg_floats(500, 9, 1.0f);
  v[7] = kNaN;
  v[8] = 1e30f;
  const auto s = compress_floats(v.data(), v.size(), options(1e-3, Predictor::none));
  const auto info = inspect_float_stream(s.data(), s.size());
  EXPECT_EQ(info.format_version, 2);
  EXPECT_EQ(info.count, 500u);
  EXPECT_EQ(info.abs_error_bound, 1e-3);
  EXPECT_EQ(info.predictor, Predictor::none);
  EXPECT_EQ(info.chunks, 1u);
  EXPECT_EQ(info.exact_values, 2u);
  const auto empty = compress_floats(nullptr, 0, options(0.5));
  EXPECT_EQ(empty.size(), 17u);  // magic, version, flags, count, bound, 2 varints
  EXPECT_EQ(inspect_float_stream(empty.data(), empty.size()).chunks, 0u);
  EXPECT_TRUE(decompress_floats(empty.data(), empty.size()).empty());
}

// Stored XXH64 of whole compact streams (they have no checksum of their own):
// a change of the v2 layout or of the encoder's choices fails here.
TEST(CompactStream, given_fixed_inputs_expect_stored_stream_hashes) {
  std::vector<float> mixed = lcg_floats(700, 42, 0.2f);
  mixed[10] = kNaN;
  mixed[20] = -kInf;
  mixed[30] = 3e38f;
  std::vector<float> lossless(300);
  for (size_t i = 0; i < lossless.size(); ++i) lossless[i] = float(i % 50) * 0.25f;
  struct Pinned {
    const char* name;
    std::vector<float> data;
    CodecOptions options;
  };
  const std::vector<Pinned> cases = {
      {"lcg none 1e-3", lcg_floats(1000, 1, 0.05f), options(1e-3, Predictor::none)},
      {"lcg lorenzo 1e-2", lcg_floats(300, 2, 1.0f), options(1e-2, Predictor::lorenzo)},
      {"mixed 1e-3", mixed, options(1e-3, Predictor::none)},
      {"lossless", lossless, options(0.0, Predictor::none)},
      {"constant", std::vector<float>(100, 0.5f), options(1e-3, Predictor::none)},
  };
  const std::pair<size_t, uint64_t> expected[] = {
      {732, 0x6cd93197075fbbc2ull},  // lcg none 1e-3
      {305, 0x6d910669b71eeaf3ull},  // lcg lorenzo 1e-2
      {708, 0xc9afd7d11ef2b3eaull},  // mixed 1e-3
      {106, 0x6f03a1f3f6ba4b3aull},  // lossless
      {19, 0xea79a888f50a3901ull},   // constant
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto s = compress_floats(cases[c].data.data(), cases[c].data.size(), cases[c].options);
    const uint64_t h = XXH64(s.data(), s.size(), 0);
    if (s.size() != expected[c].first || h != expected[c].second)
      std::printf("      {%zu, 0x%016llxull},  // %s\n", s.size(), (unsigned long long)h,
                  cases[c].name);
    EXPECT_EQ(version_of(s), 2) << cases[c].name;
    EXPECT_EQ(s.size(), expected[c].first) << cases[c].name;
    EXPECT_EQ(h, expected[c].second) << cases[c].name;
    EXPECT_TRUE(every_value_within_bound(cases[c].data, decompress_floats(s.data(), s.size()),
                                         cases[c].options.abs_error_bound));
  }
}

// ---------------------------------------------------------------- untrusted bytes

// Compact streams covering every section: escapes, the zstd exact section,
// Lorenzo, a single code, all exact, empty.
std::vector<std::pair<std::string, std::vector<uint8_t>>> compact_samples() {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  auto add = [&](const std::string& name, const std::vector<float>& v, const CodecOptions& o) {
    auto s = compress_floats(v.data(), v.size(), o);
    EXPECT_EQ(version_of(s), 2) << name;
    out.emplace_back(name, std::move(s));
  };
  std::vector<float> v = lcg_floats(300, 17, 0.05f);
  v[5] = kNaN;
  v[99] = 1e30f;
  add("none with escapes", v, options(1e-3, Predictor::none));
  add("lorenzo with escapes", v, options(1e-3, Predictor::lorenzo));
  std::vector<float> zstd_exact(200);
  for (size_t i = 0; i < zstd_exact.size(); ++i) zstd_exact[i] = float(i % 10) * 0.5f;
  add("lossless, zstd exact section", zstd_exact, options(0.0, Predictor::none));
  std::vector<float> some_exact = lcg_floats(200, 5, 0.05f);
  for (size_t i = 0; i < some_exact.size(); i += 2) some_exact[i] = float(i) * 1e20f;
  add("half exact, zstd", some_exact, options(1e-3, Predictor::none));
  add("single code", std::vector<float>(50, 0.25f), options(1e-3, Predictor::none));
  add("single code lorenzo", std::vector<float>(50, 0.25f), options(1e-3, Predictor::lorenzo));
  add("all exact raw", lcg_floats(20, 3, 1.0f), options(0.0, Predictor::none));
  add("empty", {}, options(1e-3, Predictor::none));
  add("one value", {0.5f}, options(1e-3, Predictor::none));
  return out;
}

// Decodes through every entry point: a deepsz::Error or `count` values,
// never a crash (the sanitizer builds and the fuzzers check the memory).
void decode_all_ways(const std::vector<uint8_t>& s) {
  const uint8_t* p = s.empty() ? nullptr : s.data();
  size_t count = 0;
  try {
    count = size_t(inspect_float_stream(p, s.size()).count);
  } catch (const Error&) {
    EXPECT_TRUE(throws_deepsz_error([&] { decompress_floats(p, s.size()); }));
    return;
  }
  EXPECT_LE(count, size_t(1) << 24);
  if (count > (size_t(1) << 24)) return;
  try {
    const auto d = decompress_floats(p, s.size(), 2);
    EXPECT_EQ(d.size(), count);
  } catch (const Error&) {
  }
  try {
    std::vector<float> out(count);
    decompress_floats_unchecked(p, s.size(), out.data(), out.size(), 1, false);
  } catch (const Error&) {
  }
}

TEST(CompactStreamMalformed, given_every_truncation_expect_error_or_decode) {
  for (const auto& [name, s] : compact_samples()) {
    SCOPED_TRACE(name);
    for (size_t len = 0; len < s.size(); ++len) {
      std::vector<uint8_t> cut(s.begin(), s.begin() + len);
      SCOPED_TRACE(len);
      decode_all_ways(cut);
      // The shortest header is 17 bytes: any shorter cut is an error.
      if (len < 17) {
        const ErrorCode e = code_of([&] {
          inspect_float_stream(cut.empty() ? nullptr : cut.data(), cut.size());
        });
        EXPECT_TRUE(e == ErrorCode::truncated || e == ErrorCode::corruption_detected);
      }
    }
  }
}

TEST(CompactStreamMalformed, given_flipped_bytes_anywhere_expect_error_or_decode) {
  for (const auto& [name, s] : compact_samples()) {
    SCOPED_TRACE(name);
    for (size_t i = 0; i < s.size(); ++i) {
      for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xFF)}) {
        auto bad = s;
        bad[i] ^= mask;
        SCOPED_TRACE(std::to_string(i) + " ^ " + std::to_string(mask));
        decode_all_ways(bad);
      }
    }
    // Appended bytes: rejected or decoded, never read beyond the count.
    for (uint8_t b : {uint8_t(0), uint8_t(1), uint8_t(0xFF)}) {
      auto longer = s;
      longer.push_back(b);
      decode_all_ways(longer);
    }
  }
}

TEST(CompactStreamMalformed, given_random_bytes_after_a_valid_header_expect_error_or_decode) {
  uint64_t x = 1;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> g(size_t(round % 300));
    for (auto& b : g) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b = uint8_t(x >> 56);
    }
    // magic, version 2, a plausible flags byte and count.
    const uint8_t head[] = {0x44, 0x53, 0x5A, 0x46, 2, uint8_t(g.empty() ? 0 : g[0] & 0x1F),
                            uint8_t(round % 128)};
    g.insert(g.begin(), head, head + sizeof head);
    decode_all_ways(g);
  }
}

TEST(CompactStreamMalformed, given_specific_damage_expect_specific_errors) {
  const auto v = lcg_floats(300, 17, 0.05f);
  const auto s = compress_floats(v.data(), v.size(), options(1e-3, Predictor::none));
  ASSERT_EQ(version_of(s), 2);
  auto inspect = [](const std::vector<uint8_t>& b) {
    return code_of([&] { inspect_float_stream(b.data(), b.size()); });
  };
  auto bad = s;
  bad[0] ^= 0x20;
  EXPECT_EQ(inspect(bad), ErrorCode::foreign_format);
  bad = s;
  bad[4] = 3;
  EXPECT_EQ(inspect(bad), ErrorCode::unsupported_version);
  bad = s;
  bad[5] |= 0x80;  // reserved flag bit
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // count 300 is the varint AC 02; 65537 (beyond the compact limit) is 81 80 04.
  ASSERT_EQ(s[6], 0xAC);
  ASSERT_EQ(s[7], 0x02);
  bad = s;
  bad[6] = 0x81;
  bad[7] = 0x80;
  bad.insert(bad.begin() + 8, 0x04);
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // the same count in a longer (non-shortest) varint
  bad = s;
  bad[7] = 0x82;
  bad.insert(bad.begin() + 8, 0x00);
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // bound: NaN, negative
  bad = s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(bad.data() + 8, &nan, 8);
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  bad = s;
  bad[15] |= 0x80;
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // exact count above the count
  bad = s;
  ASSERT_EQ(bad[16], 0);  // no exact values
  bad[16] = 0xAD;
  bad.insert(bad.begin() + 17, 0x02);  // 301
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // every value exact but codes declared
  bad = s;
  bad[16] = 0xAC;
  bad.insert(bad.begin() + 17, 0x02);  // 300 exact values, ncodes > 0
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // a trailing zero byte (the encoder drops them)
  bad = s;
  bad.push_back(0);
  EXPECT_EQ(inspect(bad), ErrorCode::corruption_detected);
  // a huge declared count with the checksum-free path: refused before allocating
  bad = s;
  bad[6] = 0xFF;
  bad[7] = 0xFF;
  bad.insert(bad.begin() + 8, 0x7F);
  EXPECT_EQ(code_of([&] { decompress_floats(bad.data(), bad.size()); }),
            ErrorCode::corruption_detected);
  // a single-code stream with symbol bytes after it
  const std::vector<float> constant(50, 0.25f);
  auto c = compress_floats(constant.data(), constant.size(), options(1e-3, Predictor::none));
  ASSERT_EQ(version_of(c), 2);
  c.push_back(7);
  EXPECT_EQ(inspect(c), ErrorCode::corruption_detected);
  // a prior index where nothing is coded
  c.pop_back();
  c[5] |= 1 << 2;
  EXPECT_EQ(inspect(c), ErrorCode::corruption_detected);
}

}  // namespace
}  // namespace deepsz
