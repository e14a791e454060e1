// codec_io.h: little-endian field writing and bounds-checked reading.
//
// Every read of an untrusted stream goes through ByteReader, which throws
// deepsz::Error(truncated) instead of reading past the end. The library only
// supports little-endian hosts (all of x86-64, AArch64 and RISC-V in practice);
// the static_assert keeps a big-endian build from silently writing a
// different format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "deepsz/error.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "deepsz streams are little-endian; big-endian hosts are not supported");
#endif

namespace deepsz::codec_detail {

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

[[noreturn]] inline void fail(ErrorCode code, const std::string& what) {
  throw Error(code, what);
}

// A reusable work buffer that is never zero-filled: get(n) keeps the old
// storage when it is large enough, so a worker pays for allocation (and page
// faults) once, not per chunk.
template <class T>
class ScratchBuffer {
 public:
  T* get(size_t n) {
    if (n > capacity_) {
      data_.reset(new T[n]);
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { append(&v, 2); }
  void u32(uint32_t v) { append(&v, 4); }
  void u64(uint64_t v) { append(&v, 8); }
  void f64(double v) { append(&v, 8); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(uint8_t(v) | 0x80);
      v >>= 7;
    }
    out_.push_back(uint8_t(v));
  }
  void bytes(const void* p, size_t n) { append(p, n); }
  size_t size() const { return out_.size(); }

 private:
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<uint8_t>& out_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, const char* what) : p_(p), end_(p + n), what_(what) {}
  size_t remaining() const { return size_t(end_ - p_); }
  const uint8_t* position() const { return p_; }
  uint8_t u8() { return *take(1); }
  uint16_t u16() { return load_u16(take(2)); }
  uint32_t u32() { return load_u32(take(4)); }
  uint64_t u64() { return load_u64(take(8)); }
  double f64() {
    double v;
    std::memcpy(&v, take(8), 8);
    return v;
  }
  // LEB128, at most `max_bytes` bytes (a longer one is corruption, not truncation).
  uint64_t varint(int max_bytes = 10) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      uint8_t b = u8();
      v |= uint64_t(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) return v;
    }
    fail(ErrorCode::corruption_detected, std::string(what_) + ": overlong varint");
  }
  const uint8_t* take(size_t n) {
    if (n > remaining()) fail(ErrorCode::truncated, std::string(what_) + ": stream ends early");
    const uint8_t* p = p_;
    p_ += n;
    return p;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const char* what_;
};

}  // namespace deepsz::codec_detail
