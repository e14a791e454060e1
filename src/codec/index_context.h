// index_context.h: IndexCoding::context, the payload after the common header
// (see docs/SPARSE_INDEX.md). Internal to src/codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepsz {
namespace index_detail {

// The model's constants. They are part of the stream format: a stream is
// decoded with exactly the parameters it was encoded with, so changing a
// default needs a new IndexCoding id. Tests and tuning may pass others.
struct ContextParams {
  uint32_t column_prior = 512;   // pseudo-ones of a column's estimate, 1/256 units
  uint32_t row_prior = 512;      // pseudo-ones of a row's estimate, 1/256 units
  uint32_t sse_prior = 16;       // weight (in observations) of a bucket's initial value
  uint32_t sse_limit = 1023;     // observations after which a bucket's rate stops falling
};

// Appends the range-coded payload for `count` valid positions (sorted,
// distinct, < rows * cols, 0 < count < rows * cols).
void context_encode(const uint64_t* positions, uint64_t count, uint64_t rows, uint64_t cols,
                    std::vector<uint8_t>& out, const ContextParams& params = ContextParams());

// Decodes exactly `count` positions (0 < count < rows * cols) from the payload
// or throws deepsz::Error(corruption_detected). Work is O(rows * cols).
std::vector<uint64_t> context_decode(const uint8_t* payload, size_t size, uint64_t count,
                                     uint64_t rows, uint64_t cols,
                                     const ContextParams& params = ContextParams());

}  // namespace index_detail
}  // namespace deepsz
