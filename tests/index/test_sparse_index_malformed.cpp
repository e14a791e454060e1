// Decoding untrusted bytes: every malformed stream is rejected with
// deepsz::Error (or, where no redundancy can tell, decodes to a valid index),
// never a crash, a hang or an unjustified allocation. Run under
// -DDEEPSZ_SANITIZE=ON as well.
#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "deepsz/sparse_index.h"
#include "index_test_masks.h"

using namespace deepsz;
using namespace deepsz_index_test;

namespace {

const IndexCoding kCodings[] = {IndexCoding::gap8_zstd, IndexCoding::context};

// Decodes; returns true if it threw deepsz::Error. Otherwise checks that the
// result is a valid index of the declared count.
bool rejected(const std::vector<uint8_t>& s, uint64_t rows, uint64_t cols, ErrorCode* code = nullptr) {
  std::vector<uint64_t> p;
  try {
    p = decode_sparse_index(s.data(), s.size(), rows, cols);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return true;
  }
  EXPECT_EQ(p.size(), sparse_index_count(s.data(), s.size()));
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_LT(p[i], rows * cols);
    if (i > 0) {
      EXPECT_GT(p[i], p[i - 1]);
    }
  }
  return false;
}

ErrorCode code_of(const std::vector<uint8_t>& s, uint64_t rows, uint64_t cols) {
  ErrorCode code{};
  EXPECT_TRUE(rejected(s, rows, cols, &code));
  return code;
}

std::vector<uint8_t> varint(uint64_t v) {
  std::vector<uint8_t> out;
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
  return out;
}

std::vector<uint8_t> header(uint8_t id, uint64_t rows, uint64_t cols, uint64_t count) {
  std::vector<uint8_t> h{id};
  for (uint64_t v : {rows, cols, count}) {
    const auto b = varint(v);
    h.insert(h.end(), b.begin(), b.end());
  }
  return h;
}

struct Sample {
  std::string name;
  std::vector<uint64_t> mask;
  uint64_t rows, cols;
};

std::vector<Sample> samples() {
  return {
      {"random", random_mask(40, 50, 0.08, 1), 40, 50},
      {"half columns", half_columns_dead(30, 60, 0.1, 2), 30, 60},
      {"long gaps", {0, 300, 70000, 199999}, 1, 200000},
      {"one", {17}, 10, 10},
  };
}

}  // namespace

TEST(SparseIndexMalformed, given_every_truncation_when_decoding_expect_error) {
  for (const Sample& s : samples()) {
    for (IndexCoding coding : kCodings) {
      SCOPED_TRACE(s.name + " / " + index_coding_name(coding));
      const auto stream = encode_sparse_index(s.mask.data(), s.mask.size(), s.rows, s.cols, coding);
      for (size_t n = 0; n < stream.size(); ++n) {
        std::vector<uint8_t> cut(stream.begin(), stream.begin() + n);
        ErrorCode code{};
        ASSERT_TRUE(rejected(cut, s.rows, s.cols, &code)) << "kept " << n << " of " << stream.size();
        if (coding == IndexCoding::context) {
          EXPECT_EQ(code, ErrorCode::truncated) << n;
        }
      }
      EXPECT_THROW(sparse_index_count(stream.data(), 0), Error);
    }
  }
}

TEST(SparseIndexMalformed, given_flipped_bytes_when_decoding_expect_error_or_valid_index) {
  for (const Sample& s : samples()) {
    for (IndexCoding coding : kCodings) {
      SCOPED_TRACE(s.name + " / " + index_coding_name(coding));
      const auto stream = encode_sparse_index(s.mask.data(), s.mask.size(), s.rows, s.cols, coding);
      for (size_t i = 0; i < stream.size(); ++i) {
        for (uint8_t flip : {0x01, 0x10, 0x80, 0xFF}) {
          auto bad = stream;
          bad[i] ^= flip;
          const bool threw = rejected(bad, s.rows, s.cols);
          if (i == 0) {
            EXPECT_TRUE(threw) << "coding id flipped by " << int(flip);
          }
        }
      }
    }
  }
}

TEST(SparseIndexMalformed, given_unknown_coding_id_when_decoding_expect_unsupported_version) {
  const auto good = encode_sparse_index(nullptr, 0, 3, 3, IndexCoding::context);
  for (uint8_t id : {0, 3, 7, 255}) {
    auto bad = good;
    bad[0] = id;
    EXPECT_EQ(code_of(bad, 3, 3), ErrorCode::unsupported_version) << int(id);
    EXPECT_THROW(sparse_index_count(bad.data(), bad.size()), Error);
  }
}

TEST(SparseIndexMalformed, given_count_beyond_cells_when_decoding_expect_too_large) {
  for (uint8_t id : {1, 2}) {
    auto bad = header(id, 10, 10, 101);
    bad.push_back(0);
    EXPECT_EQ(code_of(bad, 10, 10), ErrorCode::too_large);
    EXPECT_THROW(sparse_index_count(bad.data(), bad.size()), Error);
    auto huge = header(id, 10, 10, ~uint64_t{0});
    huge.push_back(0);
    EXPECT_EQ(code_of(huge, 10, 10), ErrorCode::too_large);
  }
}

TEST(SparseIndexMalformed, given_shape_mismatch_when_decoding_expect_error) {
  const auto mask = random_mask(20, 30, 0.1, 3);
  for (IndexCoding coding : kCodings) {
    const auto stream = encode_sparse_index(mask.data(), mask.size(), 20, 30, coding);
    EXPECT_EQ(code_of(stream, 30, 20), ErrorCode::corruption_detected);
    EXPECT_EQ(code_of(stream, 20, 31), ErrorCode::corruption_detected);
    EXPECT_EQ(code_of(stream, 600, 1), ErrorCode::corruption_detected);
    EXPECT_EQ(sparse_index_count(stream.data(), stream.size()), mask.size());
  }
  // The caller's own shape overflowing is the caller's error.
  const auto empty = encode_sparse_index(nullptr, 0, 1, 1, IndexCoding::context);
  try {
    decode_sparse_index(empty.data(), empty.size(), uint64_t{1} << 40, uint64_t{1} << 40);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

TEST(SparseIndexMalformed, given_trailing_bytes_or_noncanonical_fields_when_decoding_expect_corruption) {
  const auto mask = random_mask(20, 30, 0.1, 4);
  for (IndexCoding coding : kCodings) {
    auto longer = encode_sparse_index(mask.data(), mask.size(), 20, 30, coding);
    longer.push_back(1);
    EXPECT_TRUE(rejected(longer, 20, 30)) << index_coding_name(coding);
  }
  // rows = 20 written in two bytes (0x94 0x00): a varint no encoder writes.
  std::vector<uint8_t> padded{2, 0x94, 0x00, 30, 0, 0};
  EXPECT_EQ(code_of(padded, 20, 30), ErrorCode::corruption_detected);
  // A varint longer than 64 bits.
  std::vector<uint8_t> overlong{2};
  for (int i = 0; i < 10; ++i) overlong.push_back(0xFF);
  overlong.push_back(1);
  EXPECT_EQ(code_of(overlong, 20, 30), ErrorCode::corruption_detected);
  // A context payload with a trailing zero byte (the encoder drops them).
  const auto good = encode_sparse_index(mask.data(), mask.size(), 20, 30, IndexCoding::context);
  std::vector<uint8_t> zero_tail = header(2, 20, 30, mask.size());
  const size_t payload = good.size() - zero_tail.size() - 1;  // payload size < 128 here
  ASSERT_LT(payload, 127u);
  zero_tail.push_back(static_cast<uint8_t>(payload + 1));
  zero_tail.insert(zero_tail.end(), good.end() - payload, good.end());
  zero_tail.push_back(0);
  EXPECT_EQ(code_of(zero_tail, 20, 30), ErrorCode::corruption_detected);
  // Empty and full masks carry no payload.
  auto empty = encode_sparse_index(nullptr, 0, 20, 30, IndexCoding::context);
  empty.back() = 1;
  empty.push_back(7);
  EXPECT_EQ(code_of(empty, 20, 30), ErrorCode::corruption_detected);
}

TEST(SparseIndexMalformed, given_context_counts_the_flags_cannot_hold_when_decoding_expect_corruption) {
  // A payload of 0xFF bytes: rows and columns flags decode to some pattern;
  // whatever the pattern, declaring every cell but one of a 50 x 50 matrix
  // must fail or decode to exactly that count.
  for (uint64_t count : {1ull, 2ull, 60ull, 2499ull}) {
    auto s = header(2, 50, 50, count);
    s.push_back(40);
    for (int i = 0; i < 40; ++i) s.push_back(static_cast<uint8_t>(0xFF - i));
    rejected(s, 50, 50);
  }
}

// Random payloads after valid headers: nothing but Error or valid output,
// and decoding a large declared shape from a few bytes stays bounded.
TEST(SparseIndexMalformed, given_random_payloads_when_decoding_expect_no_crash) {
  std::mt19937_64 g(99);
  int threw = 0, total = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const uint64_t rows = 1 + g() % 64, cols = 1 + g() % 64;
    const uint64_t count = g() % (rows * cols + 1);
    const uint8_t id = 1 + trial % 2;
    auto s = header(id, rows, cols, count);
    const size_t n = g() % 48;
    if (id == 2) {
      s.push_back(static_cast<uint8_t>(n));
    } else {
      // A zstd frame magic, then noise, so some frames get past the magic.
      for (uint8_t b : {0x28, 0xB5, 0x2F, 0xFD}) s.push_back(b);
    }
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<uint8_t>(g()));
    threw += rejected(s, rows, cols);
    ++total;
  }
  EXPECT_GT(threw, total / 2);
}

TEST(SparseIndexMalformed, given_large_shape_and_tiny_stream_when_decoding_expect_bounded_work) {
  // 3000 x 3000 cells declared, 20 bytes of payload: the context decoder does
  // at most rows * cols steps, then must find the count wrong.
  auto s = header(2, 3000, 3000, 4000000);
  s.push_back(20);
  for (int i = 0; i < 20; ++i) s.push_back(static_cast<uint8_t>(0x5A + i));
  rejected(s, 3000, 3000);
  // gap8: a frame of 4 MB of gaps of 1 behind a 10 x 10 header: rejected by
  // the window limit or at the 101st gap, not after inflating 4 MB.
  std::vector<uint8_t> ones(4 << 20, 1);
  std::vector<uint8_t> frame(ZSTD_compressBound(ones.size()));
  frame.resize(ZSTD_compress(frame.data(), frame.size(), ones.data(), ones.size(), 3));
  auto bomb = header(1, 10, 10, 50);
  bomb.insert(bomb.end(), frame.begin(), frame.end());
  EXPECT_TRUE(rejected(bomb, 10, 10));
}
