// The public side of the sparse index (include/deepsz/sparse_index.h): input
// validation, the common stream header, dispatch to the codings.
//
// Stream (docs/SPARSE_INDEX.md):
//   u8      coding id (IndexCoding)
//   varint  rows, varint cols     must equal the caller's shape
//   varint  count                 <= rows * cols
//   gap8_zstd: one zstd frame filling the rest of the stream
//   context:   varint payload size, then exactly that many range-coder bytes
#include "deepsz/sparse_index.h"

#include <cmath>
#include <limits>
#include <new>
#include <string>

#include "byte_io.h"
#include "index_context.h"
#include "index_gap8.h"

namespace deepsz {
namespace {

using byte_io::ByteReader;
using byte_io::ByteWriter;
using byte_io::ReadFault;

// The errors of the header reader, named by field ("rows"). Every varint is
// in its shortest form (at most 10 bytes, at most 2^64 - 1).
std::string read_message(ReadFault fault, const char* /*section*/, const char* field) {
  switch (fault) {
    case ReadFault::truncated: return std::string("sparse index: stream ends before ") + field;
    case ReadFault::varint_above_64_bits: return std::string("sparse index: varint overflow in ") + field;
    case ReadFault::varint_not_shortest: return std::string("sparse index: non-canonical varint in ") + field;
    default: return std::string("sparse index: varint too long in ") + field;
  }
}

// The context coder's arithmetic (64-bit products of counts and 2^-32
// densities) is exact up to this many cells.
constexpr uint64_t kContextMaxCells = uint64_t{1} << 48;

struct Header {
  IndexCoding coding;
  uint64_t rows, cols, count;
};

bool cells_of(uint64_t rows, uint64_t cols, uint64_t* cells) {
  if (cols != 0 && rows > std::numeric_limits<uint64_t>::max() / cols) return false;
  *cells = rows * cols;
  return true;
}

Header read_header(ByteReader& in) {
  Header h{};
  const uint8_t id = in.u8("the coding id");
  if (id != static_cast<uint8_t>(IndexCoding::gap8_zstd) && id != static_cast<uint8_t>(IndexCoding::context)) {
    throw Error(ErrorCode::unsupported_version, "sparse index: unknown coding id " + std::to_string(id));
  }
  h.coding = static_cast<IndexCoding>(id);
  h.rows = in.varint("rows");
  h.cols = in.varint("cols");
  h.count = in.varint("count");
  uint64_t cells = 0;
  if (!cells_of(h.rows, h.cols, &cells)) {
    throw Error(ErrorCode::corruption_detected, "sparse index: rows * cols overflows");
  }
  if (h.count > cells) {
    throw Error(ErrorCode::too_large, "sparse index: count " + std::to_string(h.count) +
                                          " exceeds rows * cols = " + std::to_string(cells));
  }
  return h;
}

}  // namespace

const char* index_coding_name(IndexCoding c) noexcept {
  switch (c) {
    case IndexCoding::gap8_zstd: return "gap8_zstd";
    case IndexCoding::context: return "context";
  }
  return "unknown";
}

std::vector<uint8_t> encode_sparse_index(const uint64_t* positions, size_t count, uint64_t rows,
                                         uint64_t cols, IndexCoding coding) {
  uint64_t cells = 0;
  if (!cells_of(rows, cols, &cells)) {
    throw Error(ErrorCode::invalid_argument, "sparse index: rows * cols overflows 64 bits");
  }
  if (coding != IndexCoding::gap8_zstd && coding != IndexCoding::context) {
    throw Error(ErrorCode::invalid_argument, "sparse index: unknown coding " +
                                                 std::to_string(static_cast<int>(coding)));
  }
  if (count > 0 && positions == nullptr) {
    throw Error(ErrorCode::invalid_argument, "sparse index: null positions");
  }
  for (size_t i = 0; i < count; ++i) {
    if (positions[i] >= cells) {
      throw Error(ErrorCode::invalid_argument, "sparse index: position " + std::to_string(positions[i]) +
                                                   " out of range for " + std::to_string(rows) + " x " +
                                                   std::to_string(cols));
    }
    if (i > 0 && positions[i] <= positions[i - 1]) {
      throw Error(ErrorCode::invalid_argument,
                  "sparse index: positions not strictly increasing at index " + std::to_string(i));
    }
  }
  if (coding == IndexCoding::context && cells > kContextMaxCells) {
    throw Error(ErrorCode::invalid_argument, "sparse index: context coding supports at most 2^48 cells");
  }

  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(coding));
  w.varint(rows);
  w.varint(cols);
  w.varint(count);
  if (coding == IndexCoding::gap8_zstd) {
    index_detail::gap8_encode(positions, count, out);
  } else {
    std::vector<uint8_t> payload;
    if (count != 0 && count != cells) {
      index_detail::context_encode(positions, count, rows, cols, payload);
    }
    w.varint(payload.size());
    w.bytes(payload.data(), payload.size());
  }
  return out;
}

namespace {

std::vector<uint64_t> decode_checked(const uint8_t* stream, size_t size, uint64_t rows,
                                     uint64_t cols) {
  uint64_t cells = 0;
  if (!cells_of(rows, cols, &cells)) {
    throw Error(ErrorCode::invalid_argument, "sparse index: rows * cols overflows 64 bits");
  }
  if (stream == nullptr && size != 0) {
    throw Error(ErrorCode::invalid_argument, "sparse index: null stream");
  }
  ByteReader in(stream, size, read_message);
  const Header h = read_header(in);
  if (h.rows != rows || h.cols != cols) {
    throw Error(ErrorCode::corruption_detected,
                "sparse index: stream shape " + std::to_string(h.rows) + " x " + std::to_string(h.cols) +
                    " does not match the tensor's " + std::to_string(rows) + " x " + std::to_string(cols));
  }

  if (h.coding == IndexCoding::gap8_zstd) {
    return index_detail::gap8_decode(in.position(), in.remaining(), h.count, cells);
  }

  const uint64_t payload_size = in.varint("the payload size");
  if (payload_size > in.remaining()) {
    throw Error(ErrorCode::truncated, "sparse index (context): payload ends early");
  }
  if (payload_size < in.remaining()) {
    throw Error(ErrorCode::corruption_detected, "sparse index (context): bytes after the payload");
  }
  const uint8_t* payload = in.position();
  std::vector<uint64_t> positions;
  if (h.count == 0 || h.count == cells) {
    if (payload_size != 0) {
      throw Error(ErrorCode::corruption_detected, "sparse index (context): payload where none is written");
    }
    for (uint64_t i = 0; i < h.count; ++i) positions.push_back(i);
    return positions;
  }
  if (payload_size != 0 && payload[payload_size - 1] == 0) {
    // The encoder drops trailing zero bytes (the decoder reads them back).
    throw Error(ErrorCode::corruption_detected, "sparse index (context): payload not in canonical form");
  }
  if (cells > kContextMaxCells) {
    throw Error(ErrorCode::too_large, "sparse index (context): more than 2^48 cells");
  }
  return index_detail::context_decode(payload, payload_size, h.count, rows, cols);
}

}  // namespace

std::vector<uint64_t> decode_sparse_index(const uint8_t* stream, size_t size, uint64_t rows,
                                          uint64_t cols) {
  try {
    return decode_checked(stream, size, rows, cols);
  } catch (const std::bad_alloc&) {
    // Memory grows with the work done, which the caller's shape bounds; a
    // shape too large to hold is reported like any other oversized field.
    throw Error(ErrorCode::too_large, "sparse index: out of memory for a " + std::to_string(rows) +
                                          " x " + std::to_string(cols) + " index");
  }
}

uint64_t sparse_index_count(const uint8_t* stream, size_t size) {
  if (stream == nullptr && size != 0) {
    throw Error(ErrorCode::invalid_argument, "sparse index: null stream");
  }
  ByteReader in(stream, size, read_message);
  return read_header(in).count;
}

std::vector<uint64_t> nonzero_positions(const float* data, size_t count) {
  // Counted first: the vector is allocated once at its size (growing it
  // by doubling held 1.5x the final 8 bytes a position at the last copy).
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) kept += data[i] != 0.0f;  // -0.0f == 0.0f; NaN is kept
  std::vector<uint64_t> positions;
  positions.reserve(kept);
  for (size_t i = 0; i < count; ++i) {
    if (data[i] != 0.0f) positions.push_back(i);
  }
  return positions;
}

double random_mask_bits_per_nonzero(double density) {
  if (!(density > 0.0 && density <= 1.0)) {
    throw Error(ErrorCode::invalid_argument, "random_mask_bits_per_nonzero: density must be in (0, 1]");
  }
  if (density == 1.0) return 0.0;
  const double q = 1.0 - density;
  const double h = -density * std::log2(density) - q * std::log2(q);
  return h / density;
}

}  // namespace deepsz
