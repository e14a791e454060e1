// deepsz/sparse_index.h: lossless coding of the positions of the surviving
// weights of a pruned tensor.
//
// A tensor of shape [d0, d1, ...] is viewed as a row-major matrix with
// rows = d0 and cols = d1 * d2 * ... (for a fully connected layer in PyTorch
// layout [out, in], a column is one input; for a convolution
// [out, in, kh, kw], a row is one output channel). Positions are flat
// row-major indices, strictly increasing, each < rows * cols.
//
// The stream is self-describing (its first byte names the coding, then the
// count); see docs/SPARSE_INDEX.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "deepsz/error.h"

namespace deepsz {

enum class IndexCoding : uint8_t {
  gap8_zstd = 1,  // the paper's: uint8 gaps, 255-fillers, then zstd
  context = 2,    // adaptive binary arithmetic coding with row/column context
};

const char* index_coding_name(IndexCoding c) noexcept;

std::vector<uint8_t> encode_sparse_index(const uint64_t* positions, size_t count,
                                         uint64_t rows, uint64_t cols,
                                         IndexCoding coding);

// Throws deepsz::Error on a malformed stream or one that does not fit
// rows x cols; never reads out of bounds; allocates nothing the stream's
// size cannot justify.
std::vector<uint64_t> decode_sparse_index(const uint8_t* stream, size_t size,
                                          uint64_t rows, uint64_t cols);

// Number of positions the stream declares (validated header only).
uint64_t sparse_index_count(const uint8_t* stream, size_t size);

// Positions of the values that are not zero (+0.0 and -0.0 count as zero).
std::vector<uint64_t> nonzero_positions(const float* data, size_t count);

// H(p) / p: bits per nonzero of the ideal coder of a random mask of density p.
double random_mask_bits_per_nonzero(double density);

}  // namespace deepsz
