// index_gap8.h: IndexCoding::gap8_zstd, the payload after the common header
// (see docs/SPARSE_INDEX.md). Internal to src/codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepsz {
namespace index_detail {

// The zstd level of gap8_zstd (any level decodes; this is what we write).
constexpr int kGap8ZstdLevel = 19;

// Appends one zstd frame of the uint8 gaps of `count` valid positions.
void gap8_encode(const uint64_t* positions, uint64_t count, std::vector<uint8_t>& out);

// Decodes exactly `count` positions < cells from one zstd frame that fills
// the payload, or throws deepsz::Error. Work is bounded by count + cells / 255.
std::vector<uint64_t> gap8_decode(const uint8_t* payload, size_t size, uint64_t count,
                                  uint64_t cells);

}  // namespace index_detail
}  // namespace deepsz
