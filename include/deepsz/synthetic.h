// deepsz/synthetic.h: the generated test and benchmark data of
// ../shared/DEEPSZ.md, made the same way everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepsz {

// The "pruned-like" array: `total` Gaussian(0, sigma) values (std::mt19937_64
// seeded with `seed`, Box-Muller in double), keep the `keep` largest |w|, in
// row-major (original) order. Defaults are the benchmark's: 20,000,000 drawn,
// 2,000,000 kept.
std::vector<float> pruned_like_array(uint64_t total = 20000000, uint64_t keep = 2000000,
                                     double sigma = 0.05, uint64_t seed = 1);

// A pruned layer at 5% density: 20 n Laplacian(0, 0.05) values drawn
// (std::mt19937_64 seeded with `seed`), the n largest |w| kept in drawing
// order. Small arrays for the compact-stream tests and `bench_codec --small`.
std::vector<float> pruned_laplacian_array(size_t n, uint64_t seed);

// A random mask of `rows` x `cols` with each position kept with probability
// `density`, as sorted flat positions.
std::vector<uint64_t> random_mask_positions(uint64_t rows, uint64_t cols, double density,
                                            uint64_t seed = 1);

}  // namespace deepsz
