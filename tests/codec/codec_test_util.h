// codec_test_util.h: shared helpers of the codec tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "deepsz/codec.h"

namespace deepsz::test {

inline uint32_t bits_of(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}
inline float float_from_bits(uint32_t b) {
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

// The codec's guarantee, checked on every value: finite values within the
// bound (bit-exact when the bound is 0), non-finite values bit-exact.
inline ::testing::AssertionResult every_value_within_bound(const std::vector<float>& original,
                                                          const std::vector<float>& decoded,
                                                          double eb) {
  if (original.size() != decoded.size())
    return ::testing::AssertionFailure() << "size " << decoded.size() << " != " << original.size();
  for (size_t i = 0; i < original.size(); ++i) {
    const float x = original[i], y = decoded[i];
    if (!std::isfinite(x) || eb == 0.0) {
      if (bits_of(x) != bits_of(y))
        return ::testing::AssertionFailure() << "value " << i << ": bits " << std::hex
                                             << bits_of(x) << " decoded as " << bits_of(y);
    } else if (!(std::fabs(double(y) - double(x)) <= eb)) {
      return ::testing::AssertionFailure()
             << "value " << i << ": " << x << " decoded as " << y << ", error "
             << std::fabs(double(y) - double(x)) << " > bound " << eb;
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::vector<float> round_trip(const std::vector<float>& v, const CodecOptions& o,
                                     unsigned decode_threads = 1) {
  const std::vector<uint8_t> s = compress_floats(v.data(), v.size(), o);
  return decompress_floats(s.data(), s.size(), decode_threads);
}

// Deterministic data made with integer arithmetic only (no libm), so that
// stored checksums do not depend on the C library.
inline std::vector<float> lcg_floats(size_t n, uint64_t seed, float scale) {
  std::vector<float> v(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const int32_t r = int32_t(s >> 32);
    v[i] = float(r) * (scale / 2147483648.0f);
  }
  return v;
}

inline ::testing::AssertionResult throws_deepsz_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error&) {
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-deepsz exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// The code of the deepsz::Error that f throws (a test failure if none).
inline ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no deepsz::Error thrown";
  return ErrorCode::io_error;
}

}  // namespace deepsz::test
