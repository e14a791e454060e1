// IndexCoding::gap8_zstd: the reference scheme of the DeepSZ paper.
//
// Gaps are measured from position -1, so every gap is >= 1 and the byte 0 is
// free to mean "advance 255, no nonzero here". A gap g is written as
// floor((g - 1) / 255) zero bytes followed by the byte g - 255 * that, which is
// in 1..255. The bytes are one zstd frame (level kGap8ZstdLevel, content size
// recorded, no checksum).
#include "index_gap8.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <memory>
#include <string>

#include "deepsz/error.h"

namespace deepsz {
namespace index_detail {
namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, "sparse index (gap8_zstd): " + what);
}

struct DctxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

void gap8_encode(const uint64_t* positions, uint64_t count, std::vector<uint8_t>& out) {
  std::vector<uint8_t> gaps;
  gaps.reserve(count);
  uint64_t next = 0;  // previous position + 1
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t gap = positions[i] - next + 1;  // >= 1
    while (gap > 255) {
      gaps.push_back(0);
      gap -= 255;
    }
    gaps.push_back(static_cast<uint8_t>(gap));
    next = positions[i] + 1;
  }
  const size_t bound = ZSTD_compressBound(gaps.size());
  const size_t start = out.size();
  out.resize(start + bound);
  const size_t n = ZSTD_compress(out.data() + start, bound, gaps.data(), gaps.size(), kGap8ZstdLevel);
  if (ZSTD_isError(n)) fail(ErrorCode::invalid_argument, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(start + n);
}

std::vector<uint64_t> gap8_decode(const uint8_t* payload, size_t size, uint64_t count,
                                  uint64_t cells) {
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx(ZSTD_createDCtx());
  if (!dctx) fail(ErrorCode::too_large, "cannot allocate a zstd context");
  // A valid frame holds at most count + cells / 255 + 1 bytes: refuse windows
  // larger than that instead of allocating them.
  const uint64_t max_bytes = count + cells / 255 + 1;
  int window_log = 10;
  while (window_log < 27 && (uint64_t{1} << window_log) < max_bytes) ++window_log;
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, window_log);

  std::vector<uint64_t> positions;
  positions.reserve(static_cast<size_t>(std::min<uint64_t>(count, uint64_t{1} << 20)));
  uint64_t next = 0;  // previous position + 1
  uint8_t buffer[1 << 14];
  ZSTD_inBuffer in{payload, size, 0};
  size_t hint = 1;
  while (true) {
    ZSTD_outBuffer outb{buffer, sizeof buffer, 0};
    hint = ZSTD_decompressStream(dctx.get(), &outb, &in);
    if (ZSTD_isError(hint)) {
      const ZSTD_ErrorCode e = ZSTD_getErrorCode(hint);
      fail(e == ZSTD_error_frameParameter_windowTooLarge ? ErrorCode::too_large
                                                         : ErrorCode::corruption_detected,
           std::string("zstd: ") + ZSTD_getErrorName(hint));
    }
    for (size_t i = 0; i < outb.pos; ++i) {
      const uint8_t g = buffer[i];
      if (positions.size() == count) fail(ErrorCode::corruption_detected, "bytes after the last gap");
      if (g == 0) {
        if (cells - next < 255) fail(ErrorCode::corruption_detected, "a gap runs past the end of the tensor");
        next += 255;
      } else {
        const uint64_t pos = next + g - 1;
        if (pos >= cells) fail(ErrorCode::corruption_detected, "a position past the end of the tensor");
        positions.push_back(pos);
        next = pos + 1;
      }
    }
    if (hint == 0) break;                       // frame complete, all flushed
    if (in.pos == in.size && outb.pos < outb.size) {
      fail(ErrorCode::truncated, "the zstd frame ends early");
    }
  }
  if (in.pos != in.size) fail(ErrorCode::corruption_detected, "bytes after the zstd frame");
  if (positions.size() != count) fail(ErrorCode::corruption_detected, "fewer gaps than the declared count");
  return positions;
}

}  // namespace index_detail
}  // namespace deepsz
