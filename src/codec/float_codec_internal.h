// float_codec_internal.h: pieces of the float codec shared with its tests and
// benchmark. Not installed; the stable interface is deepsz/codec.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepsz/codec.h"

namespace deepsz::codec_detail {

// Format constants (docs/CODEC.md).
constexpr uint32_t kFloatMagic = 0x465A5344;  // bytes "DSZF"
constexpr uint8_t kFloatVersion = 1;          // chunked stream
constexpr uint8_t kFloatVersionCompact = 2;   // compact single-chunk stream
// The compact form holds at most this many values (the encoder uses it only
// when the whole array is one chunk of at most this size).
constexpr uint64_t kCompactMaxCount = uint64_t(1) << 16;
constexpr size_t kFloatHeaderSize = 40;
constexpr size_t kChunkEntrySize = 8;
constexpr size_t kChecksumSize = 8;
constexpr uint32_t kMaxChunkValues = 1u << 24;
constexpr uint64_t kMaxFloatCount = uint64_t(1) << 48;
constexpr uint32_t kMaxAlphabet = 1u << 14;  // codes + the escape symbol
constexpr int32_t kMaxCode = 1 << 30;        // |code| <= kMaxCode

// Decoding with the checksum test optional, so that the tests can reach the
// parser and the entropy decoder with corrupted bytes that a checksum would
// otherwise reject first. (Compact streams have no checksum of their own.)
void decompress_floats_unchecked(const uint8_t* stream, size_t size, float* out, size_t count,
                                 unsigned threads, bool verify_checksum);

// The predictor that Predictor::automatic picks for this data and bound.
Predictor choose_predictor(const float* data, size_t count, double abs_error_bound);

// Estimated coded bits of a sample of the data under a predictor (used by
// choose_predictor; exposed for the benchmark).
double estimate_sample_bits(const float* data, size_t count, double abs_error_bound,
                            Predictor predictor);

}  // namespace deepsz::codec_detail
