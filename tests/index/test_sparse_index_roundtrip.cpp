// Round trips, input validation, ratio targets and stored checksums of the
// sparse index codings (include/deepsz/sparse_index.h).
#include <gtest/gtest.h>
#include <zstd.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "deepsz/sparse_index.h"
#include "index_test_masks.h"

using namespace deepsz;
using namespace deepsz_index_test;

namespace {

const IndexCoding kCodings[] = {IndexCoding::gap8_zstd, IndexCoding::context};

void expect_round_trip(const std::vector<uint64_t>& positions, uint64_t rows, uint64_t cols,
                       const std::string& what) {
  for (IndexCoding coding : kCodings) {
    SCOPED_TRACE(what + " / " + index_coding_name(coding));
    const std::vector<uint8_t> stream =
        encode_sparse_index(positions.data(), positions.size(), rows, cols, coding);
    ASSERT_FALSE(stream.empty());
    EXPECT_EQ(stream[0], static_cast<uint8_t>(coding));
    EXPECT_EQ(sparse_index_count(stream.data(), stream.size()), positions.size());
    EXPECT_EQ(decode_sparse_index(stream.data(), stream.size(), rows, cols), positions);
  }
}

double bits_per_nonzero(const std::vector<uint64_t>& positions, uint64_t rows, uint64_t cols,
                        IndexCoding coding) {
  const auto stream = encode_sparse_index(positions.data(), positions.size(), rows, cols, coding);
  return 8.0 * static_cast<double>(stream.size()) / static_cast<double>(positions.size());
}

double density(const std::vector<uint64_t>& positions, uint64_t rows, uint64_t cols) {
  return static_cast<double>(positions.size()) / static_cast<double>(rows * cols);
}

std::vector<uint64_t> all_positions(uint64_t n) {
  std::vector<uint64_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST(SparseIndexRoundTrip, given_edge_shapes_when_coded_expect_same_positions) {
  expect_round_trip({}, 0, 0, "0x0");
  expect_round_trip({}, 0, 7, "0x7");
  expect_round_trip({}, 1, 1, "1x1 empty");
  expect_round_trip({0}, 1, 1, "1x1 full");
  expect_round_trip({}, 30, 40, "no nonzero");
  expect_round_trip({0}, 30, 40, "one nonzero first");
  expect_round_trip({1199}, 30, 40, "one nonzero last");
  expect_round_trip({617}, 30, 40, "one nonzero middle");
  expect_round_trip(all_positions(1200), 30, 40, "all ones");
  expect_round_trip(random_mask(1, 5000, 0.05, 1), 1, 5000, "1xN");
  expect_round_trip(random_mask(5000, 1, 0.05, 2), 5000, 1, "Nx1");
  expect_round_trip(all_positions(5000), 1, 5000, "1xN full");
  expect_round_trip(all_positions(5000), 5000, 1, "Nx1 full");
  std::vector<uint64_t> all_but_one = all_positions(1200);
  all_but_one.erase(all_but_one.begin() + 555);
  expect_round_trip(all_but_one, 30, 40, "all but one");
}

TEST(SparseIndexRoundTrip, given_random_masks_of_any_density_when_coded_expect_same_positions) {
  for (double p : {0.0005, 0.01, 0.02, 0.08, 0.25, 0.5, 0.9, 0.99}) {
    expect_round_trip(random_mask(97, 131, p, 11), 97, 131, "random p=" + std::to_string(p));
  }
  expect_round_trip(random_mask(400, 400, 0.08, 12), 400, 400, "random 400x400");
}

TEST(SparseIndexRoundTrip, given_empty_rows_and_columns_when_coded_expect_same_positions) {
  std::vector<uint64_t> v;
  const uint64_t rows = 60, cols = 70;
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j)
      if (i % 3 != 0 && j % 4 != 1 && (i * 31 + j * 17) % 5 < 2) v.push_back(i * cols + j);
  expect_round_trip(v, rows, cols, "rows and columns empty");
  // Only the last row, only the last column, only one cell each.
  std::vector<uint64_t> last_row, last_col;
  for (uint64_t j = 0; j < cols; ++j) last_row.push_back((rows - 1) * cols + j);
  for (uint64_t i = 0; i < rows; ++i) last_col.push_back(i * cols + cols - 1);
  expect_round_trip(last_row, rows, cols, "last row only");
  expect_round_trip(last_col, rows, cols, "last column only");
  expect_round_trip({(rows - 1) * cols + cols - 1, }, rows, cols, "last cell only");
  // A full submatrix (every live cell a one).
  std::vector<uint64_t> block;
  for (uint64_t i = 10; i < 20; ++i)
    for (uint64_t j = 5; j < 9; ++j) block.push_back(i * cols + j);
  expect_round_trip(block, rows, cols, "full block");
}

TEST(SparseIndexRoundTrip, given_gaps_beyond_255_and_65535_when_coded_expect_same_positions) {
  expect_round_trip({0, 255, 256, 511, 767, 1022, 70000, 70001, 135537, 199999}, 1, 200000, "long gaps");
  expect_round_trip({254}, 1, 255, "gap exactly 255");
  expect_round_trip({255}, 1, 256, "gap 256");
  expect_round_trip({509, 510}, 1, 511, "gap 510");
  expect_round_trip({3, 3 + 65536 * 3}, 1000, 1000, "gap 3*65536");
  expect_round_trip(random_mask(300, 1000, 0.0002, 5), 300, 1000, "very sparse");
}

TEST(SparseIndexRoundTrip, given_structured_and_lenet_sized_masks_when_coded_expect_same_positions) {
  expect_round_trip(half_columns_dead(200, 300, 0.08, 1), 200, 300, "half columns dead");
  expect_round_trip(rows_of_different_density(200, 300, 0.08, 2), 200, 300, "row densities");
  expect_round_trip(magnitude_pruned(300, 784, 0.08, 0.5, 3), 300, 784, "lenet fc1");
  expect_round_trip(magnitude_pruned(100, 300, 0.08, 0.5, 4), 100, 300, "lenet fc2");
  expect_round_trip(magnitude_pruned(10, 100, 0.25, 0.5, 5), 10, 100, "lenet fc3");
  expect_round_trip(magnitude_pruned(50, 500, 0.08, 0.5, 6), 50, 500, "lenet conv2");
  expect_round_trip(magnitude_pruned(20, 25, 0.5, 0.5, 7), 20, 25, "lenet conv1");
}

// Many small random shapes, densities and structures (dead rows and columns,
// full rows and columns, dense blocks): the round trip of a fuzzer, seeded.
TEST(SparseIndexRoundTrip, given_many_random_small_masks_when_coded_expect_same_positions) {
  std::mt19937_64 g(2024);
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t rows = 1 + g() % 40, cols = 1 + g() % 40;
    const double p = static_cast<double>(g() % 1001) / 1000.0;
    const uint64_t dead_row_mod = 2 + g() % 5, dead_col_mod = 2 + g() % 5;
    const int structure = static_cast<int>(g() % 4);
    std::vector<uint64_t> mask;
    for (uint64_t i = 0; i < rows; ++i) {
      for (uint64_t j = 0; j < cols; ++j) {
        bool keep = g() < threshold(p);
        if (structure == 1) keep = keep && i % dead_row_mod != 0 && j % dead_col_mod != 0;
        if (structure == 2) keep = keep || i % dead_row_mod == 0;  // full rows
        if (structure == 3) keep = keep || j % dead_col_mod == 0;  // full columns
        if (keep) mask.push_back(i * cols + j);
      }
    }
    expect_round_trip(mask, rows, cols, "trial " + std::to_string(trial));
    if (HasFatalFailure() || HasFailure()) return;
  }
}

TEST(SparseIndexInput, given_bad_positions_when_encoding_expect_invalid_argument) {
  auto expect_invalid = [](std::vector<uint64_t> p, uint64_t rows, uint64_t cols) {
    for (IndexCoding coding : kCodings) {
      try {
        encode_sparse_index(p.data(), p.size(), rows, cols, coding);
        ADD_FAILURE() << "accepted bad input for " << index_coding_name(coding);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << e.what();
      }
    }
  };
  expect_invalid({3, 2}, 4, 4);          // unsorted
  expect_invalid({1, 2, 2}, 4, 4);       // duplicate
  expect_invalid({16}, 4, 4);            // out of range
  expect_invalid({0}, 0, 5);             // no cells
  expect_invalid({0}, uint64_t{1} << 33, uint64_t{1} << 32);  // rows * cols overflows
  try {
    encode_sparse_index(nullptr, 0, 3, 3, static_cast<IndexCoding>(9));
    ADD_FAILURE() << "accepted an unknown coding";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

TEST(SparseIndexHelpers, given_signed_zeros_and_nan_when_listing_nonzeros_expect_only_nonzeros) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float data[] = {0.0f, -0.0f, 1.0f, -2.0f, 1e-45f, nan, 0.0f};
  EXPECT_EQ(nonzero_positions(data, 7), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_TRUE(nonzero_positions(data, 0).empty());
}

TEST(SparseIndexHelpers, given_densities_when_asking_ideal_bits_expect_entropy_over_density) {
  EXPECT_DOUBLE_EQ(random_mask_bits_per_nonzero(0.5), 2.0);
  EXPECT_DOUBLE_EQ(random_mask_bits_per_nonzero(1.0), 0.0);
  EXPECT_NEAR(random_mask_bits_per_nonzero(0.08), 5.0272, 1e-3);
  EXPECT_THROW(random_mask_bits_per_nonzero(0.0), Error);
  EXPECT_THROW(random_mask_bits_per_nonzero(1.5), Error);
  EXPECT_THROW(random_mask_bits_per_nonzero(std::nan("")), Error);
  EXPECT_STREQ(index_coding_name(IndexCoding::gap8_zstd), "gap8_zstd");
  EXPECT_STREQ(index_coding_name(IndexCoding::context), "context");
  EXPECT_STREQ(index_coding_name(static_cast<IndexCoding>(0)), "unknown");
}

// The target: within 2% of the entropy of a random mask.
TEST(SparseIndexRatio, given_random_masks_when_context_coded_expect_within_two_percent_of_entropy) {
  for (double p : {0.02, 0.08, 0.25}) {
    const auto mask = random_mask(1000, 1000, p, 21);
    const double ideal = random_mask_bits_per_nonzero(density(mask, 1000, 1000));
    const double bits = bits_per_nonzero(mask, 1000, 1000, IndexCoding::context);
    EXPECT_LE(bits, 1.02 * ideal) << "p=" << p;
  }
}

// With structure the context coder goes below the entropy of a random mask of
// the same overall density, and below the paper's gap8_zstd.
TEST(SparseIndexRatio, given_structured_masks_when_context_coded_expect_below_random_entropy_and_gap8) {
  struct Case {
    const char* name;
    std::vector<uint64_t> mask;
    uint64_t rows, cols;
  };
  const Case cases[] = {
      {"half columns dead", half_columns_dead(1000, 1000, 0.08, 31), 1000, 1000},
      {"row densities p/8..8p", rows_of_different_density(1000, 1000, 0.04, 32), 1000, 1000},
      {"magnitude pruned", magnitude_pruned(1000, 1000, 0.08, 0.5, 33), 1000, 1000},
      {"lenet fc1 sized", magnitude_pruned(300, 784, 0.08, 0.5, 34), 300, 784},
      {"lenet fc3 sized", magnitude_pruned(10, 100, 0.25, 0.5, 35), 10, 100},
  };
  for (const Case& c : cases) {
    const double ideal = random_mask_bits_per_nonzero(density(c.mask, c.rows, c.cols));
    const double context = bits_per_nonzero(c.mask, c.rows, c.cols, IndexCoding::context);
    const double gap8 = bits_per_nonzero(c.mask, c.rows, c.cols, IndexCoding::gap8_zstd);
    EXPECT_LT(context, ideal) << c.name;
    EXPECT_LT(context, gap8) << c.name;
  }
}

// Stored XXH64 of the streams for fixed inputs: an unintended change of a
// format fails here. The context stream is hashed whole; of the gap8_zstd
// stream the header and the gap bytes inside the zstd frame are hashed (the
// compressed bytes depend on the zstd version, the format does not).
namespace {

uint64_t format_hash(const std::vector<uint8_t>& stream) {
  if (stream[0] != static_cast<uint8_t>(IndexCoding::gap8_zstd)) {
    return XXH64(stream.data(), stream.size(), 0);
  }
  size_t header = 1;
  for (int field = 0; field < 3; ++field)
    while (stream[header++] & 0x80) {
    }
  const unsigned long long content = ZSTD_getFrameContentSize(stream.data() + header, stream.size() - header);
  std::vector<uint8_t> bytes(stream.begin(), stream.begin() + header);
  std::vector<uint8_t> gaps(content);
  const size_t n = ZSTD_decompress(gaps.data(), gaps.size(), stream.data() + header, stream.size() - header);
  EXPECT_EQ(n, content);
  bytes.insert(bytes.end(), gaps.begin(), gaps.end());
  return XXH64(bytes.data(), bytes.size(), 0);
}

}  // namespace

TEST(SparseIndexFormat, given_fixed_inputs_when_encoded_expect_stored_checksums) {
  struct Case {
    const char* name;
    std::vector<uint64_t> mask;
    uint64_t rows, cols;
    IndexCoding coding;
    uint64_t hash;
    size_t size;
  };
  const Case cases[] = {
      {"random 0.08", random_mask(100, 300, 0.08, 1), 100, 300, IndexCoding::context, 0xb51a738c1de01616ull, 1517},
      {"half columns", half_columns_dead(100, 300, 0.08, 2), 100, 300, IndexCoding::context, 0x252df4b534eabbebull, 1190},
      {"long gaps", {0, 255, 256, 511, 70000, 199999}, 1, 200000, IndexCoding::context, 0x5c0a752f87ce94cbull, 17},
      {"random 0.08", random_mask(100, 300, 0.08, 1), 100, 300, IndexCoding::gap8_zstd, 0xb990c2ec6c452ef1ull, 0},
      {"long gaps", {0, 255, 256, 511, 70000, 199999}, 1, 200000, IndexCoding::gap8_zstd, 0x8a84a0826df429beull, 0},
  };
  for (const Case& c : cases) {
    const auto stream = encode_sparse_index(c.mask.data(), c.mask.size(), c.rows, c.cols, c.coding);
    const uint64_t h = format_hash(stream);
    EXPECT_EQ(h, c.hash) << c.name << " " << index_coding_name(c.coding);
    if (c.coding == IndexCoding::context) {
      EXPECT_EQ(stream.size(), c.size) << c.name;
    }
  }
}
