// The measured table of docs/SPARSE_INDEX.md: bits per nonzero of both
// codings on the same masks, against H(p)/p. Regenerate with
//   build-index/tests/index/test_index --gtest_filter='SparseIndexReport.*'
// The decode speed on a 4096 x 9216 mask (AlexNet fc6 scale) is a disabled
// test, run with --gtest_also_run_disabled_tests.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include "deepsz/sparse_index.h"
#include "index_test_masks.h"

using namespace deepsz;
using namespace deepsz_index_test;

namespace {

struct Row {
  std::string name;
  std::vector<uint64_t> mask;
  uint64_t rows, cols;
};

double bits(const Row& r, IndexCoding c) {
  return 8.0 * static_cast<double>(encode_sparse_index(r.mask.data(), r.mask.size(), r.rows, r.cols, c).size()) /
         static_cast<double>(r.mask.size());
}

}  // namespace

TEST(SparseIndexReport, PrintsBitsPerNonzeroTable) {
  const Row rows[] = {
      {"random p=0.02", random_mask(1000, 1000, 0.02, 21), 1000, 1000},
      {"random p=0.08", random_mask(1000, 1000, 0.08, 21), 1000, 1000},
      {"random p=0.25", random_mask(1000, 1000, 0.25, 21), 1000, 1000},
      {"half columns dead, p=0.08", half_columns_dead(1000, 1000, 0.08, 31), 1000, 1000},
      {"row densities p/8..8p, p=0.04", rows_of_different_density(1000, 1000, 0.04, 32), 1000, 1000},
      {"magnitude pruned 8%, sigma 0.5", magnitude_pruned(1000, 1000, 0.08, 0.5, 33), 1000, 1000},
      {"magnitude pruned 8%, sigma 1.0", magnitude_pruned(1000, 1000, 0.08, 1.0, 33), 1000, 1000},
      {"LeNet-300 fc1 300x784, 8%", magnitude_pruned(300, 784, 0.08, 0.5, 34), 300, 784},
      {"LeNet-300 fc2 100x300, 8%", magnitude_pruned(100, 300, 0.08, 0.5, 36), 100, 300},
      {"LeNet-300 fc3 10x100, 25%", magnitude_pruned(10, 100, 0.25, 0.5, 35), 10, 100},
      {"LeNet-5 conv2 50x500, 8%", magnitude_pruned(50, 500, 0.08, 0.5, 37), 50, 500},
      {"random 300x784, p=0.08", random_mask(300, 784, 0.08, 38), 300, 784},
      {"random 10x100, p=0.25", random_mask(10, 100, 0.25, 39), 10, 100},
  };
  std::printf("| mask | shape | nonzeros | H(p)/p | gap8_zstd | context | context / H(p)/p |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    const double p = static_cast<double>(r.mask.size()) / static_cast<double>(r.rows * r.cols);
    const double ideal = random_mask_bits_per_nonzero(p);
    const double gap8 = bits(r, IndexCoding::gap8_zstd), context = bits(r, IndexCoding::context);
    std::printf("| %s | %llux%llu | %zu | %.3f | %.3f | %.3f | %.3f |\n", r.name.c_str(),
                static_cast<unsigned long long>(r.rows), static_cast<unsigned long long>(r.cols),
                r.mask.size(), ideal, gap8, context, context / ideal);
  }
}

TEST(SparseIndexReport, DISABLED_DecodeSpeedAlexNetFc6) {
  const uint64_t rows = 4096, cols = 9216;
  const auto mask = random_mask(rows, cols, 0.08, 41);
  for (IndexCoding c : {IndexCoding::context, IndexCoding::gap8_zstd}) {
    // CPU time (std::clock) and wall time: on a shared machine the first is
    // the one to quote.
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    const auto s = encode_sparse_index(mask.data(), mask.size(), rows, cols, c);
    const std::clock_t c1 = std::clock();
    const auto t1 = std::chrono::steady_clock::now();
    const auto d = decode_sparse_index(s.data(), s.size(), rows, cols);
    const std::clock_t c2 = std::clock();
    const auto t2 = std::chrono::steady_clock::now();
    EXPECT_EQ(d, mask);
    const double cpu_enc = static_cast<double>(c1 - c0) / CLOCKS_PER_SEC;
    const double cpu_dec = static_cast<double>(c2 - c1) / CLOCKS_PER_SEC;
    std::printf("%s: %.3f bits/nonzero; CPU encode %.3f s, decode %.3f s (%.1f ns/cell); wall %.3f s, %.3f s\n",
                index_coding_name(c), 8.0 * static_cast<double>(s.size()) / static_cast<double>(mask.size()),
                cpu_enc, cpu_dec, 1e9 * cpu_dec / static_cast<double>(rows * cols),
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
  }
}
