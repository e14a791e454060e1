// Untrusted bytes: every malformed stream is rejected with deepsz::Error,
// never a crash, an out-of-bounds access (run under ASan/UBSan), a hang or a
// huge allocation.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "codec_test_util.h"
#include "deepsz/codec.h"
#include "float_codec_internal.h"

namespace deepsz {
namespace {

using codec_detail::decompress_floats_unchecked;
using codec_detail::kChecksumSize;
using codec_detail::kFloatHeaderSize;
using test::code_of;
using test::lcg_floats;
using test::throws_deepsz_error;

std::vector<uint8_t> small_stream(Predictor p, double eb = 1e-3) {
  std::vector<float> v = lcg_floats(700, 17, 0.05f);
  v[5] = std::numeric_limits<float>::quiet_NaN();
  v[99] = 1e30f;
  CodecOptions o;
  o.abs_error_bound = eb;
  o.predictor = p;
  o.chunk_values = 256;  // three chunks, one partial
  return compress_floats(v.data(), v.size(), o);
}


void put_u32(std::vector<uint8_t>& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
void put_u64(std::vector<uint8_t>& s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }

// Decodes through every entry point; the unchecked path skips the checksum
// so that the parser and the rANS decoder see the damage themselves.
void decode_all_ways(const std::vector<uint8_t>& s, bool expect_failure) {
  const uint8_t* p = s.empty() ? nullptr : s.data();
  if (expect_failure) {
    EXPECT_TRUE(throws_deepsz_error([&] { decompress_floats(p, s.size()); }));
  }
  // Unchecked: must throw deepsz::Error or decode something, never crash.
  try {
    const FloatStreamInfo info = inspect_float_stream(p, s.size());
    if (info.count > (1u << 24)) return;  // valid-looking but huge: not worth the memory here
    std::vector<float> out(info.count);
    decompress_floats_unchecked(p, s.size(), out.data(), out.size(), 2, false);
  } catch (const Error&) {
  }
}

TEST(FloatStreamMalformed, given_every_truncation_expect_error) {
  for (Predictor pred : {Predictor::none, Predictor::lorenzo}) {
    const auto s = small_stream(pred);
    for (size_t len = 0; len < s.size(); ++len) {
      std::vector<uint8_t> cut(s.begin(), s.begin() + len);
      SCOPED_TRACE(len);
      decode_all_ways(cut, true);
      // Without a checksum to catch it, a cut stream is still rejected.
      EXPECT_TRUE(throws_deepsz_error([&] {
        std::vector<float> out(700);
        decompress_floats_unchecked(cut.empty() ? nullptr : cut.data(), cut.size(), out.data(),
                                    out.size(), 1, false);
      }));
    }
  }
}

TEST(FloatStreamMalformed, given_flipped_bytes_anywhere_expect_error_or_clean_decode) {
  for (Predictor pred : {Predictor::none, Predictor::lorenzo}) {
    for (double eb : {1e-3, 0.0}) {
      const auto s = small_stream(pred, eb);
      for (size_t i = 0; i < s.size(); ++i) {
        for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xFF)}) {
          auto bad = s;
          bad[i] ^= mask;
          SCOPED_TRACE(std::to_string(i) + " ^ " + std::to_string(mask));
          decode_all_ways(bad, true);
        }
      }
    }
  }
}

TEST(FloatStreamMalformed, given_random_garbage_expect_error) {
  std::vector<uint8_t> g(4096);
  uint64_t x = 1;
  for (int round = 0; round < 200; ++round) {
    for (auto& b : g) {
      x = x * 6364136223846793005ull + 1;
      b = uint8_t(x >> 56);
    }
    // Keep a valid magic and version half of the time, to get past them.
    if (round % 2) {
      put_u32(g, 0, codec_detail::kFloatMagic);
      g[4] = 1;
    }
    decode_all_ways(g, true);
  }
}

TEST(FloatStreamMalformed, given_bad_magic_expect_foreign_format) {
  auto s = small_stream(Predictor::none);
  s[0] ^= 0x20;
  EXPECT_EQ(code_of([&] { decompress_floats(s.data(), s.size()); }), ErrorCode::foreign_format);
  EXPECT_EQ(code_of([&] { inspect_float_stream(s.data(), s.size()); }),
            ErrorCode::foreign_format);
}

TEST(FloatStreamMalformed, given_future_version_or_unknown_predictor_expect_unsupported_version) {
  auto s = small_stream(Predictor::none);
  s[4] = 3;  // (2 is the compact form)
  EXPECT_EQ(code_of([&] { inspect_float_stream(s.data(), s.size()); }),
            ErrorCode::unsupported_version);
  s = small_stream(Predictor::none);
  s[5] = 9;
  EXPECT_EQ(code_of([&] { inspect_float_stream(s.data(), s.size()); }),
            ErrorCode::unsupported_version);
}

TEST(FloatStreamMalformed, given_huge_declared_counts_expect_error_before_allocating) {
  const auto s = small_stream(Predictor::none);
  // count 2^47 with a chunk size that makes the chunk count consistent.
  auto bad = s;
  put_u64(bad, 8, uint64_t(1) << 47);
  put_u32(bad, 24, 1u << 24);
  put_u32(bad, 28, 1u << 23);
  EXPECT_TRUE(throws_deepsz_error([&] { decompress_floats(bad.data(), bad.size()); }));
  EXPECT_EQ(code_of([&] { inspect_float_stream(bad.data(), bad.size()); }), ErrorCode::too_large);
  // count beyond the format limit.
  bad = s;
  put_u64(bad, 8, ~uint64_t(0));
  EXPECT_EQ(code_of([&] { inspect_float_stream(bad.data(), bad.size()); }), ErrorCode::too_large);
  // chunk count that disagrees with count / chunk size.
  bad = s;
  put_u32(bad, 28, 1000);
  EXPECT_EQ(code_of([&] { inspect_float_stream(bad.data(), bad.size()); }),
            ErrorCode::corruption_detected);
  // a chunk payload larger than the stream.
  bad = s;
  put_u32(bad, kFloatHeaderSize, 0x7FFFFFFF);
  EXPECT_EQ(code_of([&] { inspect_float_stream(bad.data(), bad.size()); }), ErrorCode::truncated);
  // more exact values than values.
  bad = s;
  put_u64(bad, 32, 1u << 20);
  EXPECT_EQ(code_of([&] { inspect_float_stream(bad.data(), bad.size()); }),
            ErrorCode::corruption_detected);
}

TEST(FloatStreamMalformed, given_damaged_payload_expect_checksum_wrong) {
  auto s = small_stream(Predictor::none);
  s[s.size() - kChecksumSize - 3] ^= 0x10;
  EXPECT_EQ(code_of([&] { decompress_floats(s.data(), s.size()); }), ErrorCode::checksum_wrong);
}

TEST(FloatStreamMalformed, given_trailing_bytes_expect_corruption) {
  auto s = small_stream(Predictor::none);
  s.insert(s.end() - kChecksumSize, uint8_t(0));
  EXPECT_EQ(code_of([&] { inspect_float_stream(s.data(), s.size()); }),
            ErrorCode::corruption_detected);
}

}  // namespace
}  // namespace deepsz
