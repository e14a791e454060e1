// Stored hashes of encoder outputs and decoded values over a grid of inputs,
// bounds, predictors and stream layouts. The pinned streams of
// float_codec_test.cpp cover one case per form; this grid reaches every path
// of the encoder's choices (window of codes, zstd-coded symbols, zstd exact
// section, only-escape chunks, compact and chunked forms, several chunks on
// several threads), so that a reorganisation of the codec that changes a
// single byte or a single decoded bit fails here.
#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "codec_test_util.h"
#include "deepsz/codec.h"

namespace deepsz {
namespace {

using test::every_value_within_bound;
using test::float_from_bits;
using test::lcg_floats;

struct Input {
  const char* name;
  std::vector<float> values;
};

// Integer arithmetic only (no libm), so that the hashes do not depend on the
// C library.
std::vector<Input> inputs() {
  std::vector<Input> in;
  in.push_back({"lcg 0.1", lcg_floats(6001, 7, 0.1f)});
  // Codes far wider than the alphabet at small bounds: the window path.
  in.push_back({"lcg wide", lcg_floats(6001, 8, 100.0f)});
  std::vector<float> ramp(6001);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = float(int(i % 300) - 150) * 0.003f;
  in.push_back({"ramp", ramp});
  in.push_back({"constant", std::vector<float>(6001, -1.25f)});
  // Mostly zeros, as a pruned layer is once its zeros are gone elsewhere.
  std::vector<float> sparse = lcg_floats(6001, 9, 0.5f);
  for (size_t i = 0; i < sparse.size(); ++i)
    if (i % 7) sparse[i] = 0.0f;
  in.push_back({"sparse", sparse});
  // Specials and values that cannot be quantised: many exact values.
  std::vector<float> special = lcg_floats(6001, 10, 0.2f);
  const uint32_t patterns[] = {0x7FC00000u, 0xFF800000u, 0x7F800000u, 0x00000001u,
                               0x80000000u, 0x7F7FFFFFu, 0x4F000000u, 0xFFC00001u};
  for (size_t i = 0; i < special.size(); i += 5) special[i] = float_from_bits(patterns[i % 8]);
  in.push_back({"special", special});
  // Below the size at which zstd is tried on the symbols, and not a multiple
  // of the 4 rANS lanes: the tails of every loop.
  in.push_back({"short", lcg_floats(777, 11, 0.3f)});
  return in;
}

struct Layout {
  const char* name;
  uint32_t chunk_values;
  bool compact;
  unsigned threads;
};

const Layout kLayouts[] = {
    {"one chunk, compact allowed", 1u << 18, true, 1},
    {"one chunk, chunked only", 1u << 18, false, 1},
    {"chunks of 1499 on 3 threads", 1499, true, 3},
};

const double kBounds[] = {0.0, 1e-4, 1e-2, 0.5};

struct Digest {
  uint64_t streams;
  uint64_t decoded;
  size_t bytes;
};

Digest digest_for(Predictor p) {
  XXH64_state_t* enc = XXH64_createState();
  XXH64_state_t* dec = XXH64_createState();
  XXH64_reset(enc, 0);
  XXH64_reset(dec, 0);
  size_t bytes = 0;
  for (const Input& in : inputs()) {
    for (const Layout& l : kLayouts) {
      for (double eb : kBounds) {
        CodecOptions o;
        o.abs_error_bound = eb;
        o.predictor = p;
        o.chunk_values = l.chunk_values;
        o.compact_small_streams = l.compact;
        o.threads = l.threads;
        const auto s = compress_floats(in.values.data(), in.values.size(), o);
        const auto back = decompress_floats(s.data(), s.size(), 2);
        std::vector<float> into(in.values.size());
        decompress_floats_into(s.data(), s.size(), into.data(), into.size(), 1);
        EXPECT_EQ(std::memcmp(back.data(), into.data(), 4 * back.size()), 0) << in.name;
        EXPECT_EQ(inspect_float_stream(s.data(), s.size()).count, in.values.size());
        EXPECT_TRUE(every_value_within_bound(in.values, back, eb))
            << in.name << ", " << l.name << ", eb " << eb;
        XXH64_update(enc, s.data(), s.size());
        XXH64_update(dec, back.data(), 4 * back.size());
        bytes += s.size();
      }
    }
  }
  const Digest d{XXH64_digest(enc), XXH64_digest(dec), bytes};
  XXH64_freeState(enc);
  XXH64_freeState(dec);
  return d;
}

TEST(FloatCodecGolden, given_grid_of_inputs_and_modes_expect_stored_hashes) {
  const Predictor predictors[] = {Predictor::none, Predictor::lorenzo, Predictor::automatic};
  const Digest expected[] = {
      {0xf8b109ebbf604414ull, 0x357423d1a9c24f4full, 494043},  // none
      {0x75d2fd228085b07dull, 0xb5aae6797ea95e4aull, 529377},  // lorenzo
      {0x0a759c44ddabcf44ull, 0xa4f7d4fd98a4e712ull, 458016},  // automatic
  };
  for (size_t k = 0; k < 3; ++k) {
    const Digest d = digest_for(predictors[k]);
    if (d.streams != expected[k].streams || d.decoded != expected[k].decoded ||
        d.bytes != expected[k].bytes)
      std::printf("      {0x%016llxull, 0x%016llxull, %zu},  // %s\n",
                  (unsigned long long)d.streams, (unsigned long long)d.decoded, d.bytes,
                  predictor_name(predictors[k]));
    EXPECT_EQ(d.streams, expected[k].streams) << predictor_name(predictors[k]);
    EXPECT_EQ(d.decoded, expected[k].decoded) << predictor_name(predictors[k]);
    EXPECT_EQ(d.bytes, expected[k].bytes) << predictor_name(predictors[k]);
  }
}

}  // namespace
}  // namespace deepsz
