// The .dsz container: serialize_container / parse_container (docs/FORMAT.md).
//
// The layout is canonical: streams follow the header in directory order, each
// at the next 8-byte boundary, zero padding between them, then the directory,
// then end of file. The reader recomputes that layout and rejects any
// deviation, so every byte of a file is either checked by an XXH64 or must be
// zero, and parse -> serialize reproduces the input exactly.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include "byte_io.h"
#include "container_internal.h"
#include "deepsz/container.h"

namespace deepsz {

using format::ByteReader;
using format::ByteWriter;
using format::load_le32;
using format::load_le64;

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1A, '\n'};
constexpr uint8_t kTensorFlagSparse = 0x01;
constexpr uint8_t kTensorFlagsKnown = kTensorFlagSparse;
// Smallest encodings, used to bound declared counts by the bytes present.
constexpr size_t kMinMetadataEntryBytes = 4 + 1 + 4;
constexpr size_t kMinTensorRecordBytes = 4 + 1 + 4 + 8 + 5 * 8;

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, "dsz container: " + what);
}

uint64_t align_up(uint64_t v) {
  return (v + (kContainerAlignment - 1)) & ~uint64_t(kContainerAlignment - 1);
}

bool known_codec(uint8_t c) { return c <= uint8_t(ValueCodec::zfp); }

uint64_t tensor_checksum(const uint8_t* index, size_t index_size, const uint8_t* value,
                         size_t value_size) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, index, index_size);
  XXH64_update(&state, value, value_size);
  return XXH64_digest(&state);
}

// Shape rules shared by writer and reader; returns the element count. Every
// dimension is at most 2^48 and so is the product (a zero dimension makes it
// 0), so n * 8 never overflows.
uint64_t checked_element_count(const std::vector<uint64_t>& shape, ErrorCode code,
                               const std::string& name) {
  if (shape.size() > kMaxTensorRank)
    fail(code, "tensor '" + name + "' has rank " + std::to_string(shape.size()) +
                   " (at most " + std::to_string(kMaxTensorRank) + ")");
  const ErrorCode size_code = code == ErrorCode::invalid_argument ? code : ErrorCode::too_large;
  bool zero = false;
  for (uint64_t d : shape) {
    if (d > kMaxTensorElements)
      fail(size_code, "tensor '" + name + "' has a dimension above 2^48");
    zero = zero || d == 0;
  }
  if (zero) return 0;
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (n > kMaxTensorElements / d)
      fail(size_code, "tensor '" + name + "' has more than 2^48 elements");
    n *= d;
  }
  return n;
}

// The rules of one tensor record other than its place in the file. `code` is
// the error to raise: invalid_argument for a caller's entry,
// corruption_detected for bytes read from a file.
void check_entry_fields(const std::string& name, uint8_t dtype, uint8_t codec,
                        const std::vector<uint64_t>& shape, double bound, bool sparse,
                        uint64_t index_size, uint64_t value_size, ErrorCode code,
                        bool check_streams = true) {
  if (name.empty() || name.size() > kMaxTensorNameBytes)
    fail(code, "tensor name of " + std::to_string(name.size()) + " bytes (1 to " +
                   std::to_string(kMaxTensorNameBytes) + " allowed)");
  if (!is_valid_utf8(name)) fail(code, "tensor name is not valid UTF-8");
  const ErrorCode id_code =
      code == ErrorCode::invalid_argument ? code : ErrorCode::unsupported_version;
  if (dtype != uint8_t(DType::float32))
    fail(id_code, "tensor '" + name + "' has unknown dtype id " + std::to_string(dtype));
  if (!known_codec(codec))
    fail(id_code, "tensor '" + name + "' has unknown value codec id " + std::to_string(codec));
  const uint64_t n = checked_element_count(shape, code, name);
  if (!std::isfinite(bound) || bound < 0.0 || std::signbit(bound))
    fail(code, "tensor '" + name + "' has an error bound that is negative or not finite");
  if (codec == uint8_t(ValueCodec::lossless) && bound != 0.0)
    fail(code, "tensor '" + name + "' is lossless but declares a nonzero error bound");
  if (codec == uint8_t(ValueCodec::zfp) && bound == 0.0 && n != 0)
    fail(code, "tensor '" + name + "' uses zfp with a zero tolerance");
  if (!check_streams) return;
  if (n == 0) {
    if (index_size != 0 || value_size != 0)
      fail(code, "tensor '" + name + "' has no elements but nonempty streams");
    return;
  }
  if (!sparse && index_size != 0)
    fail(code, "tensor '" + name + "' is dense but has an index stream");
  if (sparse && index_size == 0)
    fail(code, "tensor '" + name + "' is sparse but has no index stream");
  if (value_size == 0) fail(code, "tensor '" + name + "' has an empty value stream");
}

void check_metadata_pair(const std::string& key, const std::string& value, ErrorCode code) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes)
    fail(code, "metadata key of " + std::to_string(key.size()) + " bytes (1 to " +
                   std::to_string(kMaxMetadataKeyBytes) + " allowed)");
  if (value.size() > kMaxMetadataValueBytes)
    fail(code, "metadata value of key '" + key + "' is longer than 16 MiB");
  if (!is_valid_utf8(key)) fail(code, "metadata key is not valid UTF-8");
  if (!is_valid_utf8(value)) fail(code, "metadata value of key '" + key + "' is not valid UTF-8");
}

std::string read_string(ByteReader& r, size_t max_bytes, const char* what) {
  const uint32_t size = r.u32();
  if (size > max_bytes)
    fail(ErrorCode::corruption_detected, std::string(what) + " of " + std::to_string(size) +
                                             " bytes exceeds the limit of " +
                                             std::to_string(max_bytes));
  const uint8_t* p = r.take(size);
  return std::string(reinterpret_cast<const char*>(p), size);
}

}  // namespace

const char* value_codec_name(ValueCodec c) noexcept {
  switch (c) {
    case ValueCodec::lossless: return "lossless";
    case ValueCodec::dsz: return "dsz";
    case ValueCodec::zfp: return "zfp";
  }
  return "unknown";
}

bool is_valid_utf8(const std::string& s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c == 0) return false;
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

uint64_t TensorEntry::element_count() const {
  return checked_element_count(shape, ErrorCode::invalid_argument, name);
}

const TensorEntry* Container::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string Container::meta(const std::string& key, const std::string& fallback) const {
  for (const auto& kv : metadata)
    if (kv.first == key) return kv.second;
  return fallback;
}

void Container::set_meta(const std::string& key, const std::string& value) {
  for (auto& kv : metadata)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  metadata.emplace_back(key, value);
}

void validate_tensor_entry(const TensorEntry& e) {
  check_entry_fields(e.name, uint8_t(e.dtype), uint8_t(e.value_codec), e.shape, e.error_bound,
                     e.sparse, e.index_stream.size(), e.value_stream.size(),
                     ErrorCode::invalid_argument);
}

namespace format {
void validate_tensor_description(const TensorEntry& e) {
  check_entry_fields(e.name, uint8_t(e.dtype), uint8_t(e.value_codec), e.shape, e.error_bound,
                     e.sparse, 0, 0, ErrorCode::invalid_argument, false);
}
}  // namespace format

std::vector<uint8_t> serialize_container(const Container& c) {
  if (c.tensors.size() > kMaxTensors)
    fail(ErrorCode::invalid_argument, "more than 2^24 tensors");
  if (c.metadata.size() > kMaxMetadataEntries)
    fail(ErrorCode::invalid_argument, "more than 65536 metadata entries");
  std::set<std::string> seen;
  for (const auto& kv : c.metadata) {
    check_metadata_pair(kv.first, kv.second, ErrorCode::invalid_argument);
    if (!seen.insert(kv.first).second)
      fail(ErrorCode::invalid_argument, "duplicate metadata key '" + kv.first + "'");
  }
  seen.clear();
  for (const auto& t : c.tensors) {
    validate_tensor_entry(t);
    if (!seen.insert(t.name).second)
      fail(ErrorCode::invalid_argument, "duplicate tensor name '" + t.name + "'");
  }

  std::vector<uint8_t> out(kContainerHeaderSize, 0);
  ByteWriter w(out);
  struct Place { uint64_t index_offset, value_offset, checksum; };
  std::vector<Place> places;
  places.reserve(c.tensors.size());
  auto pad = [&] { out.resize(align_up(out.size()), 0); };
  for (const auto& t : c.tensors) {
    Place p;
    p.index_offset = out.size();
    w.bytes(t.index_stream.data(), t.index_stream.size());
    pad();
    p.value_offset = out.size();
    w.bytes(t.value_stream.data(), t.value_stream.size());
    pad();
    p.checksum = tensor_checksum(t.index_stream.data(), t.index_stream.size(),
                                 t.value_stream.data(), t.value_stream.size());
    places.push_back(p);
  }

  const uint64_t directory_offset = out.size();
  w.u32(uint32_t(c.tensors.size()));
  w.u32(uint32_t(c.metadata.size()));
  for (const auto& kv : c.metadata) {
    w.u32(uint32_t(kv.first.size()));
    w.bytes(kv.first.data(), kv.first.size());
    w.u32(uint32_t(kv.second.size()));
    w.bytes(kv.second.data(), kv.second.size());
  }
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const auto& t = c.tensors[i];
    w.u32(uint32_t(t.name.size()));
    w.bytes(t.name.data(), t.name.size());
    w.u8(uint8_t(t.dtype));
    w.u8(uint8_t(t.value_codec));
    w.u8(t.sparse ? kTensorFlagSparse : 0);
    w.u8(uint8_t(t.shape.size()));
    for (uint64_t d : t.shape) w.u64(d);
    w.f64(t.error_bound == 0.0 ? 0.0 : t.error_bound);  // never -0.0
    w.u64(places[i].index_offset);
    w.u64(t.index_stream.size());
    w.u64(places[i].value_offset);
    w.u64(t.value_stream.size());
    w.u64(places[i].checksum);
  }
  const uint64_t directory_size = out.size() - directory_offset;

  uint8_t* h = out.data();
  std::memcpy(h, kMagic, 8);
  format::store_le32(h + 8, kContainerVersion);
  format::store_le32(h + 12, 0);  // flags: none defined in version 1
  format::store_le64(h + 16, directory_offset);
  format::store_le64(h + 24, directory_size);
  format::store_le64(h + 32, XXH64(out.data() + directory_offset, directory_size, 0));
  format::store_le64(h + 40, XXH64(h, 40, 0));
  return out;
}

Container parse_container(const uint8_t* data, size_t size) {
  return format::parse_container_impl(data, size, true);
}

// verify_checksums = false only for the fuzzer, so that it reaches the checks
// behind the checksums (zstd's FUZZING_BUILD_MODE idea, without the macro).
Container format::parse_container_impl(const uint8_t* data, size_t size, bool verify_checksums) {
  // Header. Magic first (foreign_format), then version (so that a future
  // layout is named as such, not as a checksum error), then the rest.
  const size_t magic_seen = std::min<size_t>(size, 8);
  if (size == 0) fail(ErrorCode::truncated, "file is empty");
  if (std::memcmp(data, kMagic, magic_seen) != 0)
    fail(ErrorCode::foreign_format, "not a .dsz file (bad magic number)");
  if (size < 12) fail(ErrorCode::truncated, "file ends inside the header");
  const uint32_t version = load_le32(data + 8);
  if (version != kContainerVersion)
    fail(ErrorCode::unsupported_version,
         "format version " + std::to_string(version) + " is not supported (this reader: " +
             std::to_string(kContainerVersion) + ")");
  if (size < kContainerHeaderSize) fail(ErrorCode::truncated, "file ends inside the header");
  if (verify_checksums && XXH64(data, 40, 0) != load_le64(data + 40))
    fail(ErrorCode::checksum_wrong, "header checksum mismatch");
  const uint32_t flags = load_le32(data + 12);
  if (flags != 0)
    fail(ErrorCode::corruption_detected, "reserved header flags are set");
  const uint64_t directory_offset = load_le64(data + 16);
  const uint64_t directory_size = load_le64(data + 24);
  if (directory_offset < kContainerHeaderSize || directory_offset % kContainerAlignment != 0)
    fail(ErrorCode::corruption_detected, "directory offset is misplaced");
  if (directory_offset > size || directory_size > size - directory_offset)
    fail(ErrorCode::truncated, "file ends before the end of the directory (" +
                                   std::to_string(size) + " bytes)");
  if (directory_offset + directory_size != size)
    fail(ErrorCode::corruption_detected, "bytes after the directory");
  const uint8_t* dir = data + directory_offset;
  if (verify_checksums && XXH64(dir, size_t(directory_size), 0) != load_le64(data + 32))
    fail(ErrorCode::checksum_wrong, "directory checksum mismatch");

  ByteReader r(dir, size_t(directory_size), "directory");
  const uint32_t tensor_count = r.u32();
  const uint32_t metadata_count = r.u32();
  if (tensor_count > kMaxTensors || metadata_count > kMaxMetadataEntries ||
      uint64_t(tensor_count) * kMinTensorRecordBytes +
              uint64_t(metadata_count) * kMinMetadataEntryBytes >
          r.remaining())
    fail(ErrorCode::too_large, "directory declares " + std::to_string(tensor_count) +
                                   " tensors and " + std::to_string(metadata_count) +
                                   " metadata entries, more than its size can hold");

  Container c;
  c.metadata.reserve(metadata_count);
  std::set<std::string> seen;
  for (uint32_t i = 0; i < metadata_count; ++i) {
    std::string key = read_string(r, kMaxMetadataKeyBytes, "metadata key");
    std::string value = read_string(r, kMaxMetadataValueBytes, "metadata value");
    check_metadata_pair(key, value, ErrorCode::corruption_detected);
    if (!seen.insert(key).second)
      fail(ErrorCode::corruption_detected, "duplicate metadata key '" + key + "'");
    c.metadata.emplace_back(std::move(key), std::move(value));
  }

  seen.clear();
  c.tensors.reserve(tensor_count);
  uint64_t cursor = kContainerHeaderSize;  // where the next stream must start
  for (uint32_t i = 0; i < tensor_count; ++i) {
    TensorEntry t;
    t.name = read_string(r, kMaxTensorNameBytes, "tensor name");
    const uint8_t dtype = r.u8();
    const uint8_t codec = r.u8();
    const uint8_t tflags = r.u8();
    const uint8_t rank = r.u8();
    if (rank > kMaxTensorRank)
      fail(ErrorCode::corruption_detected, "tensor '" + t.name + "' declares rank " +
                                               std::to_string(rank));
    t.shape.resize(rank);
    for (auto& d : t.shape) d = r.u64();
    t.error_bound = r.f64();
    const uint64_t index_offset = r.u64();
    const uint64_t index_size = r.u64();
    const uint64_t value_offset = r.u64();
    const uint64_t value_size = r.u64();
    const uint64_t checksum = r.u64();
    if (tflags & ~kTensorFlagsKnown)
      fail(ErrorCode::corruption_detected, "tensor '" + t.name + "' has reserved flags set");
    t.sparse = (tflags & kTensorFlagSparse) != 0;
    check_entry_fields(t.name, dtype, codec, t.shape, t.error_bound, t.sparse, index_size,
                       value_size, ErrorCode::corruption_detected);
    if (!seen.insert(t.name).second)
      fail(ErrorCode::corruption_detected, "duplicate tensor name '" + t.name + "'");
    t.dtype = DType(dtype);
    t.value_codec = ValueCodec(codec);

    // Both streams must sit where the canonical layout puts them, inside the
    // bytes before the directory; sizes are checked before any copy.
    const uint8_t* streams[2] = {nullptr, nullptr};
    const uint64_t offsets[2] = {index_offset, value_offset};
    const uint64_t sizes[2] = {index_size, value_size};
    for (int s = 0; s < 2; ++s) {
      if (offsets[s] != cursor)
        fail(ErrorCode::corruption_detected, "tensor '" + t.name + "' stream offset " +
                                                 std::to_string(offsets[s]) + " is misplaced");
      if (sizes[s] > directory_offset - cursor)
        fail(ErrorCode::too_large, "tensor '" + t.name + "' declares a stream of " +
                                       std::to_string(sizes[s]) +
                                       " bytes, beyond the end of the data section");
      streams[s] = data + cursor;
      const uint64_t end = cursor + sizes[s];
      cursor = align_up(end);
      if (cursor > directory_offset)
        fail(ErrorCode::corruption_detected, "tensor '" + t.name + "' overlaps the directory");
      for (uint64_t k = end; k < cursor; ++k)
        if (data[k] != 0) fail(ErrorCode::corruption_detected, "nonzero padding byte");
    }
    if (verify_checksums &&
        tensor_checksum(streams[0], size_t(index_size), streams[1], size_t(value_size)) != checksum)
      fail(ErrorCode::checksum_wrong, "tensor '" + t.name + "' checksum mismatch");
    t.index_stream.assign(streams[0], streams[0] + index_size);
    t.value_stream.assign(streams[1], streams[1] + value_size);
    c.tensors.push_back(std::move(t));
  }
  if (r.remaining() != 0)
    fail(ErrorCode::corruption_detected, "bytes left at the end of the directory");
  if (cursor != directory_offset)
    fail(ErrorCode::corruption_detected, "bytes between the last stream and the directory");
  return c;
}

}  // namespace deepsz
