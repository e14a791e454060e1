// IEEE binary16 and bfloat16 to and from float32 by their bits: the
// widening is exact, the narrowing rounds to nearest, ties to even, as a
// hardware conversion does, and keeps the high bits of a NaN's payload (so a
// 16-bit NaN survives the round trip through float32 bit for bit).
#include <cstring>

#include "deepsz/interchange.h"

namespace deepsz::interchange {

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

float half_to_float(uint16_t h) noexcept {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return float_of(sign | 0x7f800000 | mant << 13);
  if (exp != 0) return float_of(sign | (exp + 112) << 23 | mant << 13);
  if (mant == 0) return float_of(sign);
  // Subnormal: normalise into float32's range.
  int e = 113;
  while (!(mant & 0x400)) {
    mant <<= 1;
    --e;
  }
  return float_of(sign | uint32_t(e) << 23 | (mant & 0x3ff) << 13);
}

uint16_t float_to_half(float f) noexcept {
  const uint32_t x = bits_of(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) {
    const uint16_t m = uint16_t((ax >> 13) & 0x3ff);
    return sign | 0x7c00 | (m ? m : 0x200);
  }
  if (ax >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity (65520 ties to even)
  const uint32_t e = ax >> 23;
  if (e < 113) {  // below 2^-14: a subnormal of 2^-24 units, or zero
    const uint32_t s = 126 - e;
    if (s > 24) return sign;
    const uint32_t mant = (ax & 0x7fffff) | 0x800000;
    uint32_t q = mant >> s;
    const uint32_t rem = mant & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t h = (e - 112) << 10 | (ax & 0x7fffff) >> 13;
  const uint32_t rem = ax & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry moves into the exponent, as it should
  return uint16_t(sign | h);
}

float bfloat16_to_float(uint16_t h) noexcept { return float_of(uint32_t(h) << 16); }

uint16_t float_to_bfloat16(float f) noexcept {
  const uint32_t x = bits_of(f);
  if ((x & 0x7fffffff) > 0x7f800000) {
    const uint16_t top = uint16_t(x >> 16);
    return (top & 0x7f) ? top : uint16_t(top | 0x40);
  }
  return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace deepsz::interchange
