// index_range_coder.h: the binary range coder of IndexCoding::context.
//
// LZMA's carry-less-cache range coder (32-bit range, 33-bit low) with 16-bit
// probabilities. Differences from LZMA's rc, both part of the stream format
// (docs/SPARSE_INDEX.md):
//   * the first byte LZMA emits is always 0 and is not written;
//   * the encoder ends on the value of the final interval with the most
//     trailing zero bits and drops the trailing zero bytes; the decoder reads
//     bytes past the end of its payload as zeros.
// Everything is integer arithmetic, so a stream decodes identically on every
// platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepsz {
namespace index_detail {

constexpr uint32_t kProbBits = 16;
constexpr uint32_t kTop = 1u << 24;

class RangeEncoder {
 public:
  static constexpr bool kEncoding = true;

  explicit RangeEncoder(std::vector<uint8_t>& out) : out_(&out) {}

  // p1 = P(bit == 1) in units of 2^-16, 1 <= p1 <= 65535. Returns bit.
  int code(int bit, uint32_t p1) {
    const uint32_t bound = (range_ >> kProbBits) * p1;
    if (bit) {
      range_ = bound;
    } else {
      low_ += bound;
      range_ -= bound;
    }
    while (range_ < kTop) {
      range_ <<= 8;
      shift_low();
    }
    return bit;
  }

  void finish() {
    // Any value in [low, low + range) decodes the same symbols; take the one
    // with the most trailing zero bits, so that its tail is zero bytes that
    // need not be written.
    const uint64_t last = low_ + range_ - 1;
    for (int k = 32; k >= 0; --k) {
      const uint64_t mask = (uint64_t{1} << k) - 1;
      const uint64_t v = (low_ + mask) & ~mask;
      if (v <= last) {
        low_ = v;
        break;
      }
    }
    for (int i = 0; i < 5; ++i) shift_low();
    while (out_->size() > start_ && out_->back() == 0) out_->pop_back();
  }

  void set_start() { start_ = out_->size(); }

 private:
  void shift_low() {
    if (static_cast<uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
      const uint8_t carry = static_cast<uint8_t>(low_ >> 32);
      uint8_t temp = cache_;
      do {
        if (skip_first_) {
          skip_first_ = false;  // always 0 (+ no carry can reach it)
        } else {
          out_->push_back(static_cast<uint8_t>(temp + carry));
        }
        temp = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = static_cast<uint8_t>(low_ >> 24);
    }
    ++cache_size_;
    low_ = (low_ & 0x00FFFFFFu) << 8;
  }

  std::vector<uint8_t>* out_;  // a pointer, so that the coder can be copied
  size_t start_ = 0;
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
  bool skip_first_ = true;
};

class RangeDecoder {
 public:
  static constexpr bool kEncoding = false;

  // Bytes past `size` read as zero. Returns false from valid() if the first
  // four bytes cannot start any stream the encoder writes.
  RangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next();
  }

  bool valid() const { return code_ < range_; }

  int code(int /*unused*/, uint32_t p1) {
    const uint32_t bound = (range_ >> kProbBits) * p1;
    int bit;
    if (code_ < bound) {
      range_ = bound;
      bit = 1;
    } else {
      code_ -= bound;
      range_ -= bound;
      bit = 0;
    }
    while (range_ < kTop) {
      range_ <<= 8;
      code_ = (code_ << 8) | next();
    }
    return bit;
  }

 private:
  uint32_t next() { return pos_ < size_ ? data_[pos_++] : 0u; }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint32_t code_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
};

}  // namespace index_detail
}  // namespace deepsz
