// float_codec.cpp: the error-bounded float32 codec of deepsz/codec.h: its
// entry points, the framing of the chunked stream (header, chunk table,
// checksum) and the chunks spread over threads.
//
// Per chunk: quantise (float_quantiser.cpp), code the symbols with 4-way
// interleaved static rANS (float_chunk_encoder.cpp, float_chunk_decoder.cpp),
// store escaped values verbatim (float_exact_section.cpp): the chunked form,
// format version 1. An array of one chunk of at most 2^16 values may instead
// get the compact form, version 2 (float_compact_stream.cpp), when that is
// smaller. docs/CODEC.md describes both streams field by field.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "deepsz/codec.h"
#include "float_codec_internal.h"
#include "float_stream_parts.h"
#include "parallel_tasks.h"

namespace deepsz {
namespace codec_detail {
using byte_io::ByteReader;
using byte_io::ByteWriter;
using byte_io::load_u32;
using byte_io::load_u64;
using byte_io::ReadFault;

std::string read_message(ReadFault fault, const char* section, const char* /*field*/) {
  switch (fault) {
    case ReadFault::truncated: return std::string(section) + ": stream ends early";
    case ReadFault::varint_not_shortest: return "float stream: varint not in its shortest form";
    default: return std::string(section) + ": overlong varint";
  }
}

namespace {

// Magic and version, common to both forms: returns the version (1 or 2).
uint8_t stream_version(const uint8_t* stream, size_t size) {
  if (!stream && size) fail(ErrorCode::invalid_argument, "float stream: null pointer");
  if (size < 4) fail(ErrorCode::truncated, "float stream: shorter than its magic number");
  if (load_u32(stream) != kFloatMagic)
    fail(ErrorCode::foreign_format, "float stream: bad magic (not a deepsz float stream)");
  if (size < 5) fail(ErrorCode::truncated, "float stream header: stream ends early");
  const uint8_t version = stream[4];
  if (version != kFloatVersion && version != kFloatVersionCompact)
    fail(ErrorCode::unsupported_version, "float stream: version " + std::to_string(version) +
                                             " not supported (this build reads 1 and 2)");
  return version;
}

// Format v1 (chunked) header and chunk table.
ParsedStream parse_stream(const uint8_t* stream, size_t size) {
  ByteReader r(stream, size, read_message, "float stream header");
  r.u32();
  r.u8();  // version, checked by stream_version
  const uint8_t predictor = r.u8();
  if (predictor > 1)
    fail(ErrorCode::unsupported_version,
         "float stream: unknown predictor id " + std::to_string(predictor));
  if (r.u8() != 0 || r.u8() != 0) corrupt("reserved header bytes are not zero");
  ParsedStream ps;
  ps.info.predictor = Predictor(predictor);
  ps.info.count = r.u64();
  ps.info.abs_error_bound = r.f64();
  ps.chunk_values = r.u32();
  ps.info.chunks = r.u32();
  ps.info.exact_values = r.u64();
  if (!(std::isfinite(ps.info.abs_error_bound) && ps.info.abs_error_bound >= 0.0))
    corrupt("error bound is negative or not finite");
  if (ps.chunk_values == 0 || ps.chunk_values > kMaxChunkValues)
    corrupt("chunk size out of range");
  if (ps.info.count > kMaxFloatCount) fail(ErrorCode::too_large, "float stream: count too large");
  const uint64_t expect_chunks = (ps.info.count + ps.chunk_values - 1) / ps.chunk_values;
  if (expect_chunks != ps.info.chunks) corrupt("chunk count does not match the value count");
  if (ps.info.exact_values > ps.info.count) corrupt("more exact values than values");
  // Every chunk needs a table entry and a minimal payload: the count cannot
  // claim more than the stream can hold, checked before allocating.
  const uint64_t fixed = kFloatHeaderSize + kChecksumSize;
  if (size < fixed) fail(ErrorCode::truncated, "float stream: stream ends early");
  if (uint64_t(ps.info.chunks) * (kChunkEntrySize + kMinChunkPayload) > size - fixed)
    fail(ErrorCode::too_large, "float stream: declares more values than the stream can hold");
  ps.chunks.resize(ps.info.chunks);
  size_t offset = kFloatHeaderSize + kChunkEntrySize * size_t(ps.info.chunks);
  uint64_t exact_total = 0;
  for (uint32_t c = 0; c < ps.info.chunks; ++c) {
    ChunkRef& ch = ps.chunks[c];
    ch.bytes = r.u32();
    ch.exact = r.u32();
    ch.first = uint64_t(c) * ps.chunk_values;
    ch.values = uint32_t(std::min<uint64_t>(ps.chunk_values, ps.info.count - ch.first));
    ch.offset = offset;
    if (ch.exact > ch.values) corrupt("chunk declares more exact values than values");
    if (ch.bytes < kMinChunkPayload) corrupt("chunk payload too small");
    if (uint64_t(ch.bytes) > size - kChecksumSize - offset)
      fail(ErrorCode::truncated, "float stream: chunk payload beyond the end");
    offset += ch.bytes;
    exact_total += ch.exact;
  }
  if (offset != size - kChecksumSize) {
    if (offset > size - kChecksumSize) fail(ErrorCode::truncated, "float stream: stream ends early");
    corrupt("trailing bytes after the last chunk");
  }
  if (exact_total != ps.info.exact_values) corrupt("exact value counts disagree");
  return ps;
}

void verify_checksum(const uint8_t* stream, size_t size) {
  const uint64_t stored = load_u64(stream + size - kChecksumSize);
  if (XXH64(stream, size - kChecksumSize, 0) != stored)
    fail(ErrorCode::checksum_wrong, "float stream: XXH64 checksum mismatch");
}

void check_options(const CodecOptions& o) {
  if (!(std::isfinite(o.abs_error_bound) && o.abs_error_bound >= 0.0))
    fail(ErrorCode::invalid_argument, "error bound must be finite and >= 0");
  if (o.threads == 0) fail(ErrorCode::invalid_argument, "threads must be >= 1");
  if (o.chunk_values == 0 || o.chunk_values > kMaxChunkValues)
    fail(ErrorCode::invalid_argument, "chunk_values must be in [1, 2^24]");
  if (o.predictor != Predictor::none && o.predictor != Predictor::lorenzo &&
      o.predictor != Predictor::automatic)
    fail(ErrorCode::invalid_argument, "unknown predictor");
}

// Format v1: header, chunk table, payloads, checksum.
std::vector<uint8_t> assemble_chunked(uint64_t count, double eb, Predictor pred, uint32_t cv,
                                      std::vector<std::vector<uint8_t>>& payloads,
                                      const std::vector<uint32_t>& exact_counts) {
  const size_t nchunks = payloads.size();
  uint64_t exact_total = 0;
  size_t total = kFloatHeaderSize + kChunkEntrySize * nchunks + kChecksumSize;
  for (size_t c = 0; c < nchunks; ++c) {
    exact_total += exact_counts[c];
    total += payloads[c].size();
  }
  std::vector<uint8_t> out;
  out.reserve(total);
  ByteWriter w(out);
  w.u32(kFloatMagic);
  w.u8(kFloatVersion);
  w.u8(uint8_t(pred));
  w.u8(0);
  w.u8(0);
  w.u64(count);
  w.f64(eb);
  w.u32(cv);
  w.u32(uint32_t(nchunks));
  w.u64(exact_total);
  for (size_t c = 0; c < nchunks; ++c) {
    w.u32(uint32_t(payloads[c].size()));
    w.u32(exact_counts[c]);
  }
  for (size_t c = 0; c < nchunks; ++c) {
    w.bytes(payloads[c].data(), payloads[c].size());
    std::vector<uint8_t>().swap(payloads[c]);
  }
  w.u64(XXH64(out.data(), out.size(), 0));
  return out;
}

}  // namespace

void decompress_floats_unchecked(const uint8_t* stream, size_t size, float* out, size_t count,
                                 unsigned threads, bool verify) {
  if (stream_version(stream, size) == kFloatVersionCompact) {
    const CompactStream cs = parse_compact(stream, size);
    if (cs.info.count != count)
      fail(ErrorCode::invalid_argument, "float stream: output count differs from the stream's");
    if (count && !out) fail(ErrorCode::invalid_argument, "float stream: null output");
    DecodeScratch scratch;
    decode_compact(cs, out, scratch);
    return;
  }
  const ParsedStream ps = parse_stream(stream, size);
  if (ps.info.count != count)
    fail(ErrorCode::invalid_argument, "float stream: output count differs from the stream's");
  if (count && !out) fail(ErrorCode::invalid_argument, "float stream: null output");
  if (verify) verify_checksum(stream, size);
  const QuantParams q = make_params(ps.info.abs_error_bound);
  const unsigned workers = std::max(1u, std::min<unsigned>(threads ? threads : 1, ps.info.chunks));
  std::vector<DecodeScratch> scratch(workers);
  run_parallel(ps.chunks.size(), workers, [&](size_t c, unsigned worker) {
    const ChunkRef& ch = ps.chunks[c];
    decode_chunk(stream + ch.offset, ch.bytes, ch, ps.info.predictor, q, out + ch.first,
                 scratch[worker]);
  });
}

}  // namespace codec_detail

using namespace codec_detail;

const char* predictor_name(Predictor p) noexcept {
  switch (p) {
    case Predictor::none: return "none";
    case Predictor::lorenzo: return "lorenzo";
    case Predictor::automatic: return "automatic";
  }
  return "unknown";
}

std::vector<uint8_t> compress_floats(const float* data, size_t count, const CodecOptions& options) {
  check_options(options);
  if (count && !data) fail(ErrorCode::invalid_argument, "null input");
  if (count > kMaxFloatCount) fail(ErrorCode::too_large, "more than 2^48 values");
  const double eb = options.abs_error_bound;
  Predictor pred = options.predictor;
  if (pred == Predictor::automatic) pred = choose_predictor(data, count, eb);
  const QuantParams q = make_params(eb);
  const uint32_t cv = options.chunk_values;
  const uint64_t nchunks = (uint64_t(count) + cv - 1) / cv;
  if (nchunks > 0xFFFFFFFFull) fail(ErrorCode::too_large, "too many chunks");

  std::vector<std::vector<uint8_t>> payloads(nchunks);
  std::vector<uint32_t> exact_counts(nchunks);
  if (options.compact_small_streams && count <= kCompactMaxCount && nchunks <= 1) {
    // One small chunk: both forms from one quantisation, the smaller kept
    // (the chunked form wins only where zstd finds repeats in the symbols).
    EncodeScratch sc;
    const QuantisedChunk qc = quantise_chunk(data, count, pred, q, sc);
    std::vector<uint8_t> compact = encode_compact(count, eb, pred, qc, sc);
    if (nchunks) exact_counts[0] = encode_chunk_v1(qc, sc, payloads[0]);
    std::vector<uint8_t> chunked = assemble_chunked(count, eb, pred, cv, payloads, exact_counts);
    return compact.size() < chunked.size() ? compact : chunked;
  }

  const unsigned workers = unsigned(std::max<uint64_t>(1, std::min<uint64_t>(options.threads, nchunks)));
  std::vector<EncodeScratch> scratch(workers);
  run_parallel(nchunks, workers, [&](size_t c, unsigned worker) {
    const uint64_t first = uint64_t(c) * cv;
    const size_t n = size_t(std::min<uint64_t>(cv, count - first));
    const QuantisedChunk qc = quantise_chunk(data + first, n, pred, q, scratch[worker]);
    exact_counts[c] = encode_chunk_v1(qc, scratch[worker], payloads[c]);
    if (payloads[c].size() > 0xFFFFFFFFull) fail(ErrorCode::too_large, "chunk payload over 4 GiB");
  });
  return assemble_chunked(count, eb, pred, cv, payloads, exact_counts);
}

FloatStreamInfo inspect_float_stream(const uint8_t* stream, size_t size) {
  if (stream_version(stream, size) == kFloatVersionCompact)
    return parse_compact(stream, size).info;
  return parse_stream(stream, size).info;
}

std::vector<float> decompress_floats(const uint8_t* stream, size_t size, unsigned threads) {
  if (stream_version(stream, size) == kFloatVersionCompact) {
    // No checksum; the count is at most 2^16, so the output is at most 256 KiB.
    const CompactStream cs = parse_compact(stream, size);
    std::vector<float> out(cs.info.count);
    DecodeScratch scratch;
    decode_compact(cs, out.data(), scratch);
    return out;
  }
  const ParsedStream ps = parse_stream(stream, size);
  verify_checksum(stream, size);  // before allocating the output
  std::vector<float> out(ps.info.count);
  decompress_floats_unchecked(stream, size, out.data(), out.size(), threads, false);
  return out;
}

void decompress_floats_into(const uint8_t* stream, size_t size, float* out, size_t count,
                            unsigned threads) {
  decompress_floats_unchecked(stream, size, out, count, threads, true);
}

}  // namespace deepsz

namespace deepsz {

struct FloatStreamReader::State {
  const uint8_t* stream = nullptr;
  size_t size = 0;
  bool compact = false;
  codec_detail::CompactStream cs;
  codec_detail::ParsedStream ps;
  uint64_t count = 0, piece = 1;
};

FloatStreamReader::FloatStreamReader(const uint8_t* stream, size_t size) : state_(std::make_unique<State>()) {
  using namespace codec_detail;
  State& s = *state_;
  s.stream = stream;
  s.size = size;
  if (stream_version(stream, size) == kFloatVersionCompact) {
    s.compact = true;
    s.cs = parse_compact(stream, size);
    s.count = s.cs.info.count;
    s.piece = std::max<uint64_t>(1, s.count);
    return;
  }
  s.ps = parse_stream(stream, size);
  verify_checksum(stream, size);
  s.count = s.ps.info.count;
  s.piece = s.ps.chunk_values;
}

FloatStreamReader::~FloatStreamReader() = default;

uint64_t FloatStreamReader::count() const noexcept { return state_->count; }
uint64_t FloatStreamReader::piece_values() const noexcept { return state_->piece; }

void FloatStreamReader::decode(uint64_t first, size_t n, float* out, unsigned threads) const {
  using namespace codec_detail;
  const State& s = *state_;
  if (first > s.count || n > s.count - first || first % s.piece != 0 || (n % s.piece != 0 && first + n != s.count))
    throw Error(ErrorCode::invalid_argument, "float stream: range is not made of whole pieces");
  if (n == 0) return;
  if (!out) throw Error(ErrorCode::invalid_argument, "float stream: null output");
  DecodeScratch one;
  if (s.compact) {
    decode_compact(s.cs, out, one);
    return;
  }
  const QuantParams q = make_params(s.ps.info.abs_error_bound);
  const size_t c0 = size_t(first / s.piece), c1 = size_t((first + n + s.piece - 1) / s.piece);
  const unsigned workers = std::max(1u, std::min<unsigned>(threads ? threads : 1, unsigned(c1 - c0)));
  std::vector<DecodeScratch> scratch(workers);
  run_parallel(c1 - c0, workers, [&](size_t k, unsigned worker) {
    const ChunkRef& ch = s.ps.chunks[c0 + k];
    decode_chunk(s.stream + ch.offset, ch.bytes, ch, s.ps.info.predictor, q, out + (ch.first - first), scratch[worker]);
  });
}

}  // namespace deepsz
