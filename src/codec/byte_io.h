// byte_io.h: little-endian fields and LEB128 varints, written and read with
// bounds checks. The one byte reader and writer of the float streams, the
// sparse index streams (src/codec) and the .dsz container (src/format).
// Private: not installed, not under include/deepsz/.
//
// Every read of untrusted bytes goes through ByteReader, which throws
// deepsz::Error instead of reading past the end: truncated when a field runs
// past the end, corruption_detected for a malformed varint. The caller words
// the message (a ReadMessage function given to the constructor), so that each
// stream keeps its own error texts.
//
// Varints are unsigned LEB128: 7 bits a byte, least significant group first,
// bit 7 set on every byte but the last, at most 10 bytes for a u64.
//
// The library only supports little-endian hosts (all of x86-64, AArch64 and
// RISC-V in practice); the static_assert keeps a big-endian build from
// silently writing a different format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "deepsz/error.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "deepsz streams are little-endian; big-endian hosts are not supported");
#endif

namespace deepsz::byte_io {

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void store_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

constexpr int kMaxVarintBytes = 10;  // enough for any u64

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { bytes(&v, 2); }
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void f64(double v) { bytes(&v, 8); }
  // Always the shortest encoding.
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(uint8_t(v | 0x80));
      v >>= 7;
    }
    out_.push_back(uint8_t(v));
  }
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  size_t size() const { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

// What went wrong in a read. truncated throws ErrorCode::truncated, the
// others ErrorCode::corruption_detected.
enum class ReadFault {
  truncated,            // the field runs past the end
  varint_too_long,      // no last byte within the allowed number of bytes
  varint_above_64_bits, // the 10th byte holds bits beyond 2^64 - 1
  varint_not_shortest,  // a last byte 0x00 after other bytes
};

// Words the error of a fault: `section` as given to the reader, `field` as
// given to the read ("" when none).
using ReadMessage = std::string (*)(ReadFault fault, const char* section, const char* field);

// Whether varint() accepts only the shortest encoding of a value.
enum class VarintForm { shortest, any };

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, ReadMessage message, const char* section = "")
      : p_(data), end_(data + size), message_(message), section_(section) {}

  size_t remaining() const { return size_t(end_ - p_); }
  const uint8_t* position() const { return p_; }

  // The next n bytes, in place.
  const uint8_t* take(size_t n, const char* field = "") {
    if (n > remaining()) fault(ReadFault::truncated, field);
    const uint8_t* p = p_;
    p_ += n;
    return p;
  }
  uint8_t u8(const char* field = "") { return *take(1, field); }
  uint16_t u16(const char* field = "") { return load_u16(take(2, field)); }
  uint32_t u32(const char* field = "") { return load_u32(take(4, field)); }
  uint64_t u64(const char* field = "") { return load_u64(take(8, field)); }
  double f64(const char* field = "") {
    double v;
    std::memcpy(&v, take(8, field), 8);
    return v;
  }

  // A LEB128 varint of at most max_bytes (<= 10) bytes; a 10th byte above 1
  // (bits beyond 2^64 - 1) is rejected. With VarintForm::shortest, so is a
  // last byte 0x00 after other bytes (an over-long encoding): every value
  // then has exactly one encoding.
  uint64_t varint(const char* field = "", int max_bytes = kMaxVarintBytes,
                  VarintForm form = VarintForm::shortest) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes && i < kMaxVarintBytes; ++i) {
      const uint8_t b = u8(field);
      if (i == kMaxVarintBytes - 1 && b > 1) fault(ReadFault::varint_above_64_bits, field);
      v |= uint64_t(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) {
        if (b == 0 && i > 0 && form == VarintForm::shortest)
          fault(ReadFault::varint_not_shortest, field);
        return v;
      }
    }
    fault(ReadFault::varint_too_long, field);
  }

 private:
  [[noreturn]] void fault(ReadFault f, const char* field) const {
    throw Error(f == ReadFault::truncated ? ErrorCode::truncated : ErrorCode::corruption_detected,
                message_(f, section_, field));
  }

  const uint8_t* p_;
  const uint8_t* end_;
  ReadMessage message_;
  const char* section_;
};

}  // namespace deepsz::byte_io
