// Round trips of the float codec: the bound on every value, adversarial
// arrays, predictors, thread counts, and stored checksums of the format.
#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "codec_test_util.h"
#include "deepsz/codec.h"
#include "deepsz/synthetic.h"
#include "float_codec_internal.h"

namespace deepsz {
namespace {

using test::bits_of;
using test::every_value_within_bound;
using test::float_from_bits;
using test::lcg_floats;
using test::round_trip;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

CodecOptions options(double eb, Predictor p = Predictor::automatic, uint32_t chunk = 1u << 18) {
  CodecOptions o;
  o.abs_error_bound = eb;
  o.predictor = p;
  o.chunk_values = chunk;
  return o;
}

const Predictor kAllPredictors[] = {Predictor::none, Predictor::lorenzo, Predictor::automatic};

std::vector<float> adversarial_values() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          kNaN,
                          -kNaN,
                          float_from_bits(0x7FA00001u),  // signalling NaN with a payload
                          float_from_bits(0x7FA5A5A5u),  // the decoder's internal escape marker
                          kInf,
                          -kInf,
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(),
                          1e-38f,
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          3e38f,
                          -3e38f,
                          1e20f,
                          -1e-20f,
                          0.1f,
                          0.3f,
                          123456.789f};
  return v;
}

TEST(FloatCodec, given_random_values_when_round_tripped_expect_bound_on_every_value) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> v(50000);
  for (auto& x : v) x = gauss(rng);
  for (double eb : {1e-1, 1e-3, 1e-5, 1e-7}) {
    for (Predictor p : kAllPredictors) {
      SCOPED_TRACE(std::string(predictor_name(p)) + " eb=" + std::to_string(eb));
      const auto d = round_trip(v, options(eb, p, 8192));
      EXPECT_TRUE(every_value_within_bound(v, d, eb));
    }
  }
}

TEST(FloatCodec, given_empty_array_expect_empty_stream_round_trip) {
  for (Predictor p : kAllPredictors) {
    const std::vector<float> v;
    const auto s = compress_floats(nullptr, 0, options(1e-3, p));
    const auto info = inspect_float_stream(s.data(), s.size());
    EXPECT_EQ(info.count, 0u);
    EXPECT_EQ(info.chunks, 0u);
    EXPECT_TRUE(decompress_floats(s.data(), s.size()).empty());
  }
}

TEST(FloatCodec, given_one_value_expect_round_trip) {
  for (float x : adversarial_values()) {
    for (double eb : {0.0, 1e-3, 1e30}) {
      for (Predictor p : kAllPredictors) {
        const std::vector<float> v = {x};
        EXPECT_TRUE(every_value_within_bound(v, round_trip(v, options(eb, p)), eb))
            << "x bits " << std::hex << bits_of(x) << " eb " << eb;
      }
    }
  }
}

TEST(FloatCodec, given_all_equal_values_expect_tiny_stream) {
  const std::vector<float> v(1 << 20, 0.25f);
  for (Predictor p : kAllPredictors) {
    const auto s = compress_floats(v.data(), v.size(), options(1e-3, p));
    EXPECT_LT(s.size(), 400u);  // four 2^18 chunks of a single symbol: no payload bits
    const auto d = decompress_floats(s.data(), s.size());
    EXPECT_TRUE(every_value_within_bound(v, d, 1e-3));
  }
}

TEST(FloatCodec, given_adversarial_values_mixed_with_normal_ones_expect_bound) {
  std::vector<float> v;
  const auto special = adversarial_values();
  const auto normal = lcg_floats(4000, 3, 2.0f);
  for (size_t i = 0; i < normal.size(); ++i) {
    v.push_back(normal[i]);
    if (i % 7 == 0) v.push_back(special[i % special.size()]);
  }
  for (double eb : {0.0, 1e-30, 1e-6, 1e-2, 1.0, 1e30}) {
    for (Predictor p : kAllPredictors) {
      SCOPED_TRACE(std::string(predictor_name(p)) + " eb=" + std::to_string(eb));
      const auto d = round_trip(v, options(eb, p, 1000));
      EXPECT_TRUE(every_value_within_bound(v, d, eb));
    }
  }
}

TEST(FloatCodec, given_zero_bound_expect_bit_exact_including_negative_zero_and_nan_payloads) {
  std::vector<float> v = lcg_floats(10000, 11, 1e3f);
  for (float x : adversarial_values()) v.push_back(x);
  for (uint32_t b : {0x80000000u, 0x7FC12345u, 0xFFFFFFFFu, 0x00000001u}) v.push_back(float_from_bits(b));
  for (Predictor p : kAllPredictors) {
    const auto s = compress_floats(v.data(), v.size(), options(0.0, p, 4096));
    const auto d = decompress_floats(s.data(), s.size());
    ASSERT_EQ(d.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(bits_of(d[i]), bits_of(v[i])) << i;
    EXPECT_EQ(inspect_float_stream(s.data(), s.size()).exact_values, v.size());
  }
}

TEST(FloatCodec, given_lossless_smooth_data_expect_zstd_on_exact_values_to_pay) {
  std::vector<float> v(1 << 16);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 1000) * 0.5f;
  const auto s = compress_floats(v.data(), v.size(), options(0.0, Predictor::none));
  EXPECT_LT(s.size(), v.size() * 4 / 2);
  const auto d = decompress_floats(s.data(), s.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(bits_of(d[i]), bits_of(v[i]));
}

TEST(FloatCodec, given_values_at_bin_edges_expect_bound) {
  // x = (k + 1/2) * 2eb and its float neighbours: the code rounds either way
  // and the check must catch whatever the float rebuild loses.
  for (double eb : {1e-3, 0.5, 1e-7, 0.1}) {
    std::vector<float> v;
    for (int k = -300; k <= 300; ++k) {
      const float edge = float((k + 0.5) * 2.0 * eb);
      v.push_back(edge);
      v.push_back(std::nextafter(edge, kInf));
      v.push_back(std::nextafter(edge, -kInf));
      v.push_back(float(k * 2.0 * eb));
    }
    for (Predictor p : kAllPredictors) {
      const auto d = round_trip(v, options(eb, p));
      EXPECT_TRUE(every_value_within_bound(v, d, eb)) << "eb " << eb;
    }
  }
}

TEST(FloatCodec, given_tiny_bound_expect_values_stored_exactly) {
  const auto v = lcg_floats(5000, 5, 1.0f);
  const auto s = compress_floats(v.data(), v.size(), options(1e-30, Predictor::none));
  const auto d = decompress_floats(s.data(), s.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(bits_of(d[i]), bits_of(v[i]));
  EXPECT_EQ(inspect_float_stream(s.data(), s.size()).exact_values, v.size());
}

TEST(FloatCodec, given_huge_bound_expect_bound_and_tiny_stream) {
  auto v = lcg_floats(5000, 5, 1e30f);
  v.push_back(3e38f);
  v.push_back(-3e38f);
  for (Predictor p : kAllPredictors) {
    const auto s = compress_floats(v.data(), v.size(), options(1e30, p));
    const auto d = decompress_floats(s.data(), s.size());
    EXPECT_TRUE(every_value_within_bound(v, d, 1e30));
    EXPECT_LT(s.size(), v.size());  // a few bits per value
  }
}

TEST(FloatCodec, given_values_far_beyond_the_code_range_expect_exact_storage) {
  // |x / 2eb| > 2^30: no code; also codes too spread for one table.
  std::vector<float> v = lcg_floats(20000, 9, 1e4f);
  for (Predictor p : kAllPredictors) {
    const auto s = compress_floats(v.data(), v.size(), options(1e-6, p));
    const auto d = decompress_floats(s.data(), s.size());
    EXPECT_TRUE(every_value_within_bound(v, d, 1e-6));
  }
  // Spread of ~10^6 codes: the window of 2^14 codes around the median.
  for (Predictor p : kAllPredictors) {
    const auto s = compress_floats(v.data(), v.size(), options(1e-2, p));
    const auto d = decompress_floats(s.data(), s.size());
    EXPECT_TRUE(every_value_within_bound(v, d, 1e-2));
    EXPECT_GT(inspect_float_stream(s.data(), s.size()).exact_values, 0u);
  }
}

TEST(FloatCodec, given_smooth_data_expect_automatic_to_choose_lorenzo) {
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(std::sin(double(i) * 1e-3) * 10.0);
  const auto s = compress_floats(v.data(), v.size(), options(1e-3));
  EXPECT_EQ(inspect_float_stream(s.data(), s.size()).predictor, Predictor::lorenzo);
  EXPECT_TRUE(every_value_within_bound(v, decompress_floats(s.data(), s.size()), 1e-3));
  const auto none = compress_floats(v.data(), v.size(), options(1e-3, Predictor::none));
  EXPECT_LT(s.size(), none.size());
}

TEST(FloatCodec, given_pruned_like_weights_expect_automatic_to_choose_none_near_entropy) {
  const auto v = pruned_like_array(400000, 40000);
  for (double eb : {1e-3, 1e-2}) {
    const auto s = compress_floats(v.data(), v.size(), options(eb));
    EXPECT_EQ(inspect_float_stream(s.data(), s.size()).predictor, Predictor::none);
    const double bound = 32.0 / quantisation_entropy_bits(v.data(), v.size(), eb);
    const double ratio = 4.0 * double(v.size()) / double(s.size());
    EXPECT_GT(ratio, 0.98 * bound) << "eb " << eb;  // 99% holds on the 2M benchmark array
    EXPECT_TRUE(every_value_within_bound(v, decompress_floats(s.data(), s.size()), eb));
  }
}

TEST(FloatCodec, given_sparse_periodic_codes_expect_zstd_after_rans_to_pay) {
  // Order-0 entropy ~0.3 bit per value, but the pattern repeats exactly.
  std::vector<float> v(1 << 18, 0.0f);
  for (size_t i = 0; i < v.size(); i += 16) v[i] = float((i / 16) % 5);
  const auto s = compress_floats(v.data(), v.size(), options(1e-3, Predictor::none));
  const size_t first_payload = codec_detail::kFloatHeaderSize + codec_detail::kChunkEntrySize;
  EXPECT_TRUE(s[first_payload] & 2) << "symbol section not zstd-coded";
  EXPECT_LT(s.size(), 2000u);
  EXPECT_TRUE(every_value_within_bound(v, decompress_floats(s.data(), s.size()), 1e-3));
}

TEST(FloatCodec, given_any_thread_count_expect_identical_bytes_and_values) {
  auto v = pruned_like_array(200000, 60000);
  v[12345] = kNaN;
  for (Predictor p : kAllPredictors) {
    CodecOptions o = options(1e-3, p, 5000);
    o.threads = 1;
    const auto reference = compress_floats(v.data(), v.size(), o);
    const auto decoded = decompress_floats(reference.data(), reference.size(), 1);
    for (unsigned t : {2u, 3u, 8u}) {
      o.threads = t;
      EXPECT_EQ(compress_floats(v.data(), v.size(), o), reference) << t << " threads";
      const auto d = decompress_floats(reference.data(), reference.size(), t);
      ASSERT_EQ(d.size(), decoded.size());
      EXPECT_EQ(std::memcmp(d.data(), decoded.data(), 4 * d.size()), 0) << t << " threads";
    }
  }
}

TEST(FloatCodec, given_caller_memory_expect_decode_into_it) {
  const auto v = lcg_floats(3000, 1, 1.0f);
  const auto s = compress_floats(v.data(), v.size(), options(1e-4));
  std::vector<float> out(v.size());
  decompress_floats_into(s.data(), s.size(), out.data(), out.size(), 2);
  EXPECT_TRUE(every_value_within_bound(v, out, 1e-4));
  std::vector<float> wrong(v.size() - 1);
  try {
    decompress_floats_into(s.data(), s.size(), wrong.data(), wrong.size());
    FAIL() << "count mismatch accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

TEST(FloatCodec, given_invalid_options_expect_invalid_argument) {
  const std::vector<float> v = {1.0f, 2.0f};
  for (double eb : {-1e-3, -0.0 - 1e-300, double(kNaN), double(kInf), -double(kInf)}) {
    try {
      compress_floats(v.data(), v.size(), options(eb));
      FAIL() << "bound " << eb << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    }
  }
  CodecOptions o = options(1e-3);
  o.threads = 0;
  EXPECT_THROW(compress_floats(v.data(), v.size(), o), Error);
  o = options(1e-3);
  o.chunk_values = 0;
  EXPECT_THROW(compress_floats(v.data(), v.size(), o), Error);
  o.chunk_values = (1u << 24) + 1;
  EXPECT_THROW(compress_floats(v.data(), v.size(), o), Error);
  o = options(1e-3);
  o.predictor = Predictor(7);
  EXPECT_THROW(compress_floats(v.data(), v.size(), o), Error);
  EXPECT_THROW(compress_floats(nullptr, 3, options(1e-3)), Error);
}

TEST(FloatCodec, given_stream_expect_inspect_to_report_header) {
  const auto v = lcg_floats(10000, 2, 1.0f);
  const auto s = compress_floats(v.data(), v.size(), options(1e-3, Predictor::lorenzo, 3000));
  const auto info = inspect_float_stream(s.data(), s.size());
  EXPECT_EQ(info.count, 10000u);
  EXPECT_EQ(info.abs_error_bound, 1e-3);
  EXPECT_EQ(info.predictor, Predictor::lorenzo);
  EXPECT_EQ(info.chunks, 4u);
}

// Stored XXH64 of whole streams (the stream's own trailing checksum, or for a
// compact stream the XXH64 of all its bytes, plus its size): an unintended
// change of the format or of the encoder's choices fails here. Update only
// with a deliberate format change (and say so in docs/CODEC.md).
// "mixed lossless" (5,000 values, one chunk) became a compact stream with
// format version 2 (was {18546, 0x3f365fb68c8b39f3}); the other four are
// several chunks and keep their v1 bytes.
struct PinnedStream {
  const char* name;
  std::vector<float> data;
  CodecOptions options;
  size_t size;
  uint64_t checksum;
};

TEST(FloatCodec, given_fixed_inputs_expect_stored_stream_checksums) {
  std::vector<float> smooth(20000);
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = float(int(i % 200) - 100) * 0.01f;
  std::vector<float> mixed = lcg_floats(5000, 42, 0.2f);
  mixed[10] = kNaN;
  mixed[20] = -kInf;
  mixed[30] = 3e38f;
  std::vector<PinnedStream> cases = {
      {"lcg none 1e-3", lcg_floats(30000, 1, 0.1f), options(1e-3, Predictor::none, 8192), 0, 0},
      {"lcg lorenzo 1e-2", lcg_floats(30000, 2, 1.0f), options(1e-2, Predictor::lorenzo, 8192), 0, 0},
      {"smooth automatic 1e-4", smooth, options(1e-4, Predictor::automatic, 8192), 0, 0},
      {"mixed lossless", mixed, options(0.0, Predictor::none), 0, 0},
      {"mixed 1e-3", mixed, options(1e-3, Predictor::automatic, 1000), 0, 0},
  };
  const std::pair<size_t, uint64_t> expected[] = {
      {25556, 0xd49c9ec9c85908e0ull},  // lcg none 1e-3
      {28670, 0x00857d93f2b1ede0ull},  // lcg lorenzo 1e-2
      {205, 0x49881f53dcd83db1ull},    // smooth automatic 1e-4
      {18481, 0x63ee21fe64c2067cull},  // mixed lossless (compact, v2)
      {5978, 0xe3aaff489e6a5b61ull},   // mixed 1e-3
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto s = compress_floats(cases[c].data.data(), cases[c].data.size(), cases[c].options);
    // A compact stream (version 2) has no checksum of its own: its hash.
    uint64_t checksum;
    if (s[4] == codec_detail::kFloatVersionCompact)
      checksum = XXH64(s.data(), s.size(), 0);
    else
      std::memcpy(&checksum, s.data() + s.size() - 8, 8);
    if (s.size() != expected[c].first || checksum != expected[c].second)
      std::printf("      {%zu, 0x%016llxull},  // %s\n", s.size(),
                  (unsigned long long)checksum, cases[c].name);
    EXPECT_EQ(s.size(), expected[c].first) << cases[c].name;
    EXPECT_EQ(checksum, expected[c].second) << cases[c].name;
    EXPECT_TRUE(every_value_within_bound(cases[c].data, decompress_floats(s.data(), s.size()),
                                         cases[c].options.abs_error_bound));
  }
}

}  // namespace
}  // namespace deepsz
