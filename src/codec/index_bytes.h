// index_bytes.h: the byte-level helpers of the sparse index streams
// (LEB128 varints, a bounds-checked reader). Internal to src/codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "deepsz/error.h"

namespace deepsz {
namespace index_detail {

inline void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// Reads fields of an untrusted stream: every read is checked against the end;
// a read past the end throws truncated, a malformed field corruption_detected.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const uint8_t* cursor() const { return data_ + pos_; }

  uint8_t byte(const char* field) {
    if (pos_ >= size_) throw Error(ErrorCode::truncated, std::string("sparse index: stream ends before ") + field);
    return data_[pos_++];
  }

  // Canonical LEB128: at most 10 bytes, no value above 2^64 - 1, no redundant
  // trailing zero byte (so every value has exactly one encoding).
  uint64_t varint(const char* field) {
    uint64_t v = 0;
    for (int i = 0; i < 10; ++i) {
      const uint8_t b = byte(field);
      if (i == 9 && b > 1) {
        throw Error(ErrorCode::corruption_detected, std::string("sparse index: varint overflow in ") + field);
      }
      v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) {
          throw Error(ErrorCode::corruption_detected, std::string("sparse index: non-canonical varint in ") + field);
        }
        return v;
      }
    }
    throw Error(ErrorCode::corruption_detected, std::string("sparse index: varint too long in ") + field);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace index_detail
}  // namespace deepsz
