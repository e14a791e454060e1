// adaptive_range_coder.h: the entropy coder of the compact float stream
// (format version 2, docs/CODEC.md "Compact stream").
//
// An adaptive order-0 model (Dirichlet / additive estimator: every symbol
// starts with the same fractional count `alpha`, each coded symbol adds 1)
// driving a multi-symbol range coder. Nothing is stored but the prior's
// index: small streams do not pay for a frequency table.
//
// Counts are fixed-point, in units of 1/32: a symbol starts at 2^prior
// (prior 0..7, alpha = 2^prior / 32 = 1/32 .. 4) and each occurrence adds 32.
// With at most 2^14 symbols and 2^16 values the total stays below 2^23.
//
// The range coder is LZMA's carry-propagating coder (cache byte + run of
// 0xFF bytes) widened to a 56-bit range: range in (2^48, 2^56] after
// renormalisation, low 56 bits + a carry bit, one byte out per shift. With a
// total below 2^23 the truncation of range / total costs less than 2^-25
// bits a symbol. As in the sparse index coder: the first byte (always 0) is
// not written, the encoder ends on the value of the final interval with the
// most trailing zero bits and drops trailing zero bytes, and the decoder reads
// bytes past the end as zeros. All integer arithmetic: identical everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepsz::codec_detail {

constexpr int kAdaptivePriors = 8;            // prior index 0..7
constexpr uint32_t kAdaptiveIncrement = 32;   // count unit: 1/32
constexpr uint64_t kRangeTop = uint64_t(1) << 56;
constexpr uint64_t kRangeBottom = uint64_t(1) << 48;
constexpr int kRangeInitBytes = 7;            // bytes the decoder reads first

// Symbol counts in a Fenwick tree: cumulative count and search by cumulative
// count in O(log alphabet). The tree is padded to a power of two with
// symbols of count 0 (never found: a search lands on a symbol whose count
// covers the target), so the search needs no bounds test. (A branch-free
// search measured ~20% slower: the top levels of the tree are predictable
// on peaked distributions, and a branch lets the next load start early.)
class AdaptiveModel {
 public:
  // alphabet >= 1, prior in [0, kAdaptivePriors).
  void reset(uint32_t alphabet, int prior) {
    size_ = 1;
    while (size_ < alphabet) size_ *= 2;
    const uint32_t init = 1u << prior;
    freq_.assign(alphabet, init);
    tree_.assign(size_t(size_) + 1, 0);
    for (uint32_t i = 1; i <= size_; ++i) {
      if (i <= alphabet) tree_[i] += init;
      const uint32_t j = i + (i & (0u - i));
      if (j <= size_) tree_[j] += tree_[i];
    }
    total_ = init * alphabet;
  }
  uint32_t total() const { return total_; }
  uint32_t freq(uint32_t s) const { return freq_[s]; }
  // Sum of the counts of the symbols below s.
  uint32_t cum(uint32_t s) const {
    uint32_t c = 0;
    for (uint32_t i = s; i; i &= i - 1) c += tree_[i];
    return c;
  }
  // The symbol s with cum(s) <= target < cum(s) + freq(s); needs
  // target < total(). Sets *cum_out to cum(s).
  uint32_t find(uint32_t target, uint32_t* cum_out) const {
    uint32_t pos = 0, rem = target;
    const uint32_t* tree = tree_.data();
    for (uint32_t step = size_; step; step >>= 1) {
      const uint32_t v = tree[pos + step];
      if (v <= rem) {
        pos += step;
        rem -= v;
      }
    }
    *cum_out = target - rem;
    return pos;  // 0-based: the pos symbols below it sum to at most target
  }
  void update(uint32_t s) {
    freq_[s] += kAdaptiveIncrement;
    total_ += kAdaptiveIncrement;
    for (uint32_t i = s + 1; i <= size_; i += i & (0u - i)) tree_[i] += kAdaptiveIncrement;
  }

 private:
  std::vector<uint32_t> freq_, tree_;
  uint32_t size_ = 1, total_ = 0;
};

class WideRangeEncoder {
 public:
  explicit WideRangeEncoder(std::vector<uint8_t>& out) : out_(&out), start_(out.size()) {}

  void encode(uint32_t cum, uint32_t freq, uint32_t total) {
    const uint64_t r = range_ / total;
    low_ += r * cum;
    range_ = r * freq;
    while (range_ < kRangeBottom) {
      range_ <<= 8;
      shift_low();
    }
  }

  void finish() {
    // Any value in [low, low + range) decodes the same symbols: take the one
    // with the most trailing zero bits, whose tail need not be written.
    const uint64_t last = low_ + range_ - 1;
    for (int k = 56; k >= 0; --k) {
      const uint64_t mask = (uint64_t(1) << k) - 1;
      const uint64_t v = (low_ + mask) & ~mask;
      if (v >= low_ && v <= last) {
        low_ = v;
        break;
      }
    }
    for (int i = 0; i < kRangeInitBytes + 1; ++i) shift_low();
    while (out_->size() > start_ && out_->back() == 0) out_->pop_back();
  }

 private:
  void shift_low() {
    if ((low_ & (kRangeTop - 1)) < (uint64_t(0xFF) << 48) || (low_ >> 56) != 0) {
      const uint8_t carry = uint8_t(low_ >> 56);
      uint8_t temp = cache_;
      do {
        if (skip_first_) {
          skip_first_ = false;  // always 0: the coded value is below the initial range
        } else {
          out_->push_back(uint8_t(temp + carry));
        }
        temp = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = uint8_t(low_ >> 48);
    }
    ++cache_size_;
    low_ = (low_ & (kRangeBottom - 1)) << 8;
  }

  std::vector<uint8_t>* out_;
  size_t start_;
  uint64_t low_ = 0;                 // 56 bits + carry
  uint64_t range_ = kRangeTop - 1;
  uint8_t cache_ = 0;
  uint64_t cache_size_ = 1;
  bool skip_first_ = true;
};

// Reads bytes past the end as zeros and counts every byte it asked for, so
// the caller can check that the whole section was used.
class WideRangeDecoder {
 public:
  WideRangeDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    for (int i = 0; i < kRangeInitBytes; ++i) code_ = (code_ << 8) | next();
  }

  // False when the first bytes cannot start a stream of the encoder.
  bool valid() const { return code_ < range_; }

  // Returns the target count in [0, total), or total (or more) if the
  // stream is damaged; then decode_update must not be called.
  uint32_t target(uint32_t total) {
    r_ = range_ / total;
    const uint64_t t = code_ / r_;
    return t < total ? uint32_t(t) : total;
  }
  void consume(uint32_t cum, uint32_t freq) {
    code_ -= r_ * cum;
    range_ = r_ * freq;
    while (range_ < kRangeBottom) {
      range_ <<= 8;
      code_ = (code_ << 8) | next();
    }
  }
  // Bytes requested so far (real and past-the-end zeros).
  uint64_t consumed() const { return pos_; }

 private:
  uint64_t next() {
    const uint64_t b = pos_ < size_ ? data_[pos_] : 0;
    ++pos_;
    return b;
  }

  const uint8_t* data_;
  size_t size_;
  uint64_t pos_ = 0;
  uint64_t code_ = 0;
  uint64_t range_ = kRangeTop - 1;
  uint64_t r_ = 1;
};

}  // namespace deepsz::codec_detail
