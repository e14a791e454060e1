// float_stream_parts.h: the pieces of a float stream (docs/CODEC.md) that
// the files of the codec share: flags and sizes of the layout, the exact
// section, the chunk coder of the chunked form (version 1) and the coder of
// the compact form (version 2). Private to src/codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "adaptive_range_coder.h"
#include "byte_io.h"
#include "deepsz/codec.h"
#include "float_quantiser.h"
#include "rans_coder.h"
#include "scratch_buffer.h"

namespace deepsz::codec_detail {

[[noreturn]] inline void fail(ErrorCode code, const std::string& what) { throw Error(code, what); }

[[noreturn]] inline void corrupt(const std::string& what) {
  fail(ErrorCode::corruption_detected, "float stream: " + what);
}

// The errors of the float stream readers, named by section ("float chunk").
std::string read_message(byte_io::ReadFault fault, const char* section, const char* field);

constexpr uint8_t kExactZstd = 1;    // chunk flag: exact section is zstd over byte planes
constexpr uint8_t kSymbolsZstd = 2;  // chunk flag: symbols coded by zstd instead of rANS
constexpr size_t kStateBytes = 8 * kRansLanes;
// Smallest possible chunk payload: flags, scale, alphabet, min_code, the
// symbol section size and at least a minimal zstd frame (9 bytes).
constexpr size_t kMinChunkPayload = 1 + 1 + 2 + 4 + 4 + 9;
constexpr int kZstdLevel = 3;
// Compact stream (v2) flags byte: bit 0 predictor, bit 1 exact section is
// zstd over byte planes, bits 2-4 the prior of the adaptive model.
constexpr uint8_t kCompactExactZstd = 2;
constexpr int kCompactPriorShift = 2;
constexpr uint8_t kCompactReservedFlags = 0xE0;

struct EncodeScratch : QuantiseScratch {
  std::vector<uint32_t> freqs;
  std::vector<RansEncSymbol> enc;
  ScratchBuffer<uint8_t> words, planes, packed, exact_packed;
};

struct LorenzoEntry {
  uint16_t freq;
  uint16_t bias;
  uint16_t symbol;
  uint16_t unused;
};

struct DecodeScratch {
  std::vector<uint32_t> freqs;
  ScratchBuffer<uint64_t> none_table;
  ScratchBuffer<LorenzoEntry> lorenzo_table;
  std::vector<double> deltas;
  ScratchBuffer<uint8_t> symbols_raw, exact_raw, exact_planes;
  AdaptiveModel model;
};

// The exact section: raw little-endian floats, or zstd over their byte
// planes when there are at least 64 and that saves 3%.
struct ExactSection {
  const uint8_t* data;
  size_t bytes;
  bool zstd;
};

ExactSection pack_exact(const uint32_t* exact, size_t nexact, EncodeScratch& sc);

// Exact section: raw little-endian floats, or zstd over their 4 byte planes.
// Returns the raw floats (in `e` or in the scratch).
const uint8_t* unpack_exact(const uint8_t* e, size_t rest, bool zstd, size_t nexact,
                            DecodeScratch& sc);

// ---------------------------------------------------------------- chunked form (v1)

struct ChunkRef {
  size_t offset;
  uint32_t bytes;
  uint32_t exact;
  uint64_t first;  // index of the first value
  uint32_t values;
};

struct ParsedStream {
  FloatStreamInfo info;
  uint32_t chunk_values = 0;
  std::vector<ChunkRef> chunks;
};

// Encodes one quantised chunk into `out` (appended). Returns the number of
// exact values.
uint32_t encode_chunk_v1(const QuantisedChunk& qc, EncodeScratch& sc, std::vector<uint8_t>& out);

void decode_chunk(const uint8_t* payload, size_t size, const ChunkRef& ch, Predictor pred,
                  const QuantParams& q, float* out, DecodeScratch& sc);

// ---------------------------------------------------------------- compact form (v2)

struct CompactStream {
  FloatStreamInfo info;
  bool exact_zstd = false;
  int prior = 0;
  uint32_t ncodes = 0;
  int32_t min_code = 0;
  uint32_t alphabet = 0;  // ncodes + 1 if there are exact values
  const uint8_t* exact = nullptr;
  size_t exact_bytes = 0;
  const uint8_t* symbols = nullptr;
  size_t symbol_bytes = 0;
};

// Varint header, no chunk table, no checksum, the symbols coded by the
// adaptive model, so no frequency table either.
std::vector<uint8_t> encode_compact(uint64_t count, double eb, Predictor pred,
                                    const QuantisedChunk& qc, EncodeScratch& sc);

// Header and section bounds of a compact stream; everything but the symbol
// section is checked, before anything is allocated (count <= 2^16). Its
// varints must be in their shortest form (the reader's default).
CompactStream parse_compact(const uint8_t* stream, size_t size);

void decode_compact(const CompactStream& cs, float* out, DecodeScratch& sc);

}  // namespace deepsz::codec_detail
