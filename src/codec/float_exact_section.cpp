// float_exact_section.cpp: the values a chunk stores exactly, as raw floats
// or as zstd over their byte planes when there are at least 64 and that
// saves 3% (the sign and exponent bytes of escaped weights repeat).
#include <zstd.h>

#include "float_stream_parts.h"

namespace deepsz::codec_detail {
using byte_io::store_u32;

namespace {

void byte_planes(const uint32_t* v, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t b = v[i];
    out[i] = uint8_t(b);
    out[n + i] = uint8_t(b >> 8);
    out[2 * n + i] = uint8_t(b >> 16);
    out[3 * n + i] = uint8_t(b >> 24);
  }
}

}  // namespace

ExactSection pack_exact(const uint32_t* exact, size_t nexact, EncodeScratch& sc) {
  ExactSection e{reinterpret_cast<const uint8_t*>(exact), 4 * nexact, false};
  if (nexact >= 64) {
    uint8_t* planes = sc.planes.get(e.bytes);
    byte_planes(exact, nexact, planes);
    const size_t bound = ZSTD_compressBound(e.bytes);
    uint8_t* packed = sc.exact_packed.get(bound);
    const size_t z = ZSTD_compress(packed, bound, planes, e.bytes, kZstdLevel);
    if (!ZSTD_isError(z) && z < e.bytes - e.bytes / 32) e = {packed, z, true};
  }
  return e;
}

const uint8_t* unpack_exact(const uint8_t* e, size_t rest, bool zstd, size_t nexact,
                           DecodeScratch& sc) {
  const size_t exact_raw = 4 * nexact;
  if (!zstd) {
    if (rest != exact_raw) corrupt("exact section size disagrees with exact count");
    return e;
  }
  if (nexact == 0) corrupt("compressed exact section without exact values");
  uint8_t* pl = sc.exact_planes.get(exact_raw);
  const size_t got = ZSTD_decompress(pl, exact_raw, e, rest);
  if (ZSTD_isError(got) || got != exact_raw) corrupt("exact section zstd frame is damaged");
  uint8_t* raw = sc.exact_raw.get(exact_raw);
  const size_t m = nexact;
  for (size_t i = 0; i < m; ++i) {
    const uint32_t b = uint32_t(pl[i]) | uint32_t(pl[m + i]) << 8 | uint32_t(pl[2 * m + i]) << 16 |
                       uint32_t(pl[3 * m + i]) << 24;
    store_u32(raw + 4 * i, b);
  }
  return raw;
}

}  // namespace deepsz::codec_detail
