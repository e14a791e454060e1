// Little-endian field readers and writers for the .dsz container.
//
// The reader never trusts a length: every read checks what is left first and
// throws deepsz::Error(truncated) instead of reading past the end, so a caller
// can parse untrusted bytes field by field without its own bounds arithmetic.
//
// Varints are unsigned LEB128 (7 bits a byte, least significant group first,
// bit 7 set on every byte but the last), at most 10 bytes for a u64. Only the
// shortest encoding is valid: the reader rejects a last byte of 0x00 after
// other bytes (over-long) and bits beyond 64, with corruption_detected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "deepsz/error.h"

namespace deepsz::format {

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    uint8_t b[4];
    store_le32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void u64(uint64_t v) {
    uint8_t b[8];
    store_le64(b, v);
    out_.insert(out_.end(), b, b + 8);
  }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
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

class ByteReader {
 public:
  // `what` names the section in error messages ("directory", ...).
  ByteReader(const uint8_t* data, size_t size, const char* what)
      : p_(data), end_(data + size), what_(what) {}

  size_t remaining() const { return size_t(end_ - p_); }
  const uint8_t* position() const { return p_; }

  uint8_t u8() { return *take(1); }
  uint32_t u32() { return load_le32(take(4)); }
  uint64_t u64() { return load_le64(take(8)); }
  double f64() {
    uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  // The canonical (shortest) LEB128 encoding of a u64; `field` names it in
  // the error of an over-long or overflowing encoding.
  uint64_t varint(const char* field) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = u8();
      if (shift == 63 && b > 1) bad(field, "has more than 64 bits");
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        if (b == 0 && shift != 0) bad(field, "is over-long (not the shortest encoding)");
        return v;
      }
    }
  }
  const uint8_t* take(size_t n) {
    if (n > remaining())
      throw Error(ErrorCode::truncated, std::string("dsz container: ") + what_ +
                                            " ends before a field it declares");
    const uint8_t* p = p_;
    p_ += n;
    return p;
  }

 private:
  [[noreturn]] void bad(const char* field, const char* what) const {
    throw Error(ErrorCode::corruption_detected, std::string("dsz container: ") + what_ + " field " +
                                                    field + " " + what);
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const char* what_;
};

}  // namespace deepsz::format
