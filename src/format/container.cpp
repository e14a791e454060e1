// The .dsz container, version 2: serialize_container / parse_container
// (docs/FORMAT.md).
//
// The layout is canonical: the header, the directory (LEB128 varints, each in
// its shortest form; no field whose value the rules fix), then the streams in
// directory order, back to back, to the end of the file. No offset is stored:
// the reader recomputes the layout, so every byte of a file is checked by an
// XXH64 and parse -> serialize reproduces the input exactly.
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

using byte_io::ByteReader;
using byte_io::ByteWriter;
using byte_io::load_u32;
using byte_io::load_u64;
using byte_io::ReadFault;
using byte_io::store_u32;
using byte_io::store_u64;

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'D', 'S', 'Z', '\r', '\n', 0x1A, '\n'};
constexpr uint8_t kTensorFlagSparse = 0x01;
constexpr uint8_t kTensorFlagsKnown = kTensorFlagSparse;
// Smallest encodings, used to bound declared counts by the bytes present: a
// metadata entry is a 1-byte key and an empty value; a tensor record a 1-byte
// name, dtype, codec, flags, rank 1, and the dimension 0 of a lossless empty
// tensor (no bound, no sizes, no checksum).
constexpr uint64_t kMinMetadataEntryBytes = 1 + 1 + 1;
constexpr uint64_t kMinTensorRecordBytes = 1 + 1 + 4 + 1;

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, "dsz container: " + what);
}

// The errors of the directory reader: `section` is "directory", `field` the
// varint's name. Every varint is in its shortest form.
std::string read_message(ReadFault fault, const char* section, const char* field) {
  const std::string where = std::string("dsz container: ") + section;
  if (fault == ReadFault::truncated) return where + " ends before a field it declares";
  if (fault == ReadFault::varint_above_64_bits)
    return where + " field " + field + " has more than 64 bits";
  return where + " field " + field + " is over-long (not the shortest encoding)";
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

std::string read_string(ByteReader& r, size_t max_bytes, const char* what,
                        const char* size_field) {
  const uint64_t size = r.varint(size_field);
  if (size > max_bytes)
    fail(ErrorCode::corruption_detected, std::string(what) + " of " + std::to_string(size) +
                                             " bytes exceeds the limit of " +
                                             std::to_string(max_bytes));
  const uint8_t* p = r.take(size_t(size));
  return std::string(reinterpret_cast<const char*>(p), size_t(size));
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

std::vector<std::pair<const uint8_t*, size_t>> format::container_stream_parts(const Container& c) {
  std::vector<std::pair<const uint8_t*, size_t>> parts;
  for (const auto& t : c.tensors) {
    parts.emplace_back(t.index_stream.data(), t.index_stream.size());
    parts.emplace_back(t.value_stream.data(), t.value_stream.size());
  }
  return parts;
}

std::vector<uint8_t> serialize_container(const Container& c) {
  std::vector<uint8_t> out = serialize_container_head(c);
  ByteWriter w(out);
  for (const auto& [data, size] : format::container_stream_parts(c)) w.bytes(data, size);
  return out;
}

std::vector<uint8_t> serialize_container_head(const Container& c) {
  if (c.tensors.size() > kMaxTensors)
    fail(ErrorCode::invalid_argument, "more than " + std::to_string(kMaxTensors) + " tensors");
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

  // Header, directory, then the streams back to back. Every field that the
  // rules fix (the bound of a lossless tensor, the sizes of an empty one, the
  // index size of a dense one) is left out, so there is nothing to get wrong.
  std::vector<uint8_t> out(kContainerHeaderSize, 0);
  ByteWriter w(out);
  w.varint(c.tensors.size());
  w.varint(c.metadata.size());
  for (const auto& kv : c.metadata) {
    w.varint(kv.first.size());
    w.bytes(kv.first.data(), kv.first.size());
    w.varint(kv.second.size());
    w.bytes(kv.second.data(), kv.second.size());
  }
  for (const auto& t : c.tensors) {
    w.varint(t.name.size());
    w.bytes(t.name.data(), t.name.size());
    w.u8(uint8_t(t.dtype));
    w.u8(uint8_t(t.value_codec));
    w.u8(t.sparse ? kTensorFlagSparse : 0);
    w.u8(uint8_t(t.shape.size()));
    for (uint64_t d : t.shape) w.varint(d);
    if (t.value_codec != ValueCodec::lossless)
      w.f64(t.error_bound == 0.0 ? 0.0 : t.error_bound);  // never -0.0
    if (t.element_count() > 0) {
      if (t.sparse) w.varint(t.index_stream.size());
      w.varint(t.value_stream.size());
      w.u64(tensor_checksum(t.index_stream.data(), t.index_stream.size(),
                            t.value_stream.data(), t.value_stream.size()));
    }
  }
  const uint64_t directory_size = out.size() - kContainerHeaderSize;

  uint8_t* h = out.data();
  std::memcpy(h, kMagic, 8);
  store_u32(h + 8, kContainerVersion);
  store_u32(h + 12, 0);  // flags: none defined in version 2
  store_u64(h + 16, directory_size);
  store_u64(h + 24, XXH64(h + kContainerHeaderSize, size_t(directory_size), 0));
  store_u64(h + 32, XXH64(h, 32, 0));
  return out;
}

Container parse_container(const uint8_t* data, size_t size) {
  return format::parse_container_impl(data, size, true);
}

// verify_checksums = false only for the fuzzer, so that it reaches the checks
// behind the checksums (zstd's FUZZING_BUILD_MODE idea, without the macro).
Container format::parse_container_impl(const uint8_t* data, size_t size, bool verify_checksums,
                                       std::vector<size_t>* checksum_fields) {
  // Header. Magic first (foreign_format), then version (so that another
  // layout is named as such, not as a checksum error), then the rest.
  const size_t magic_seen = std::min<size_t>(size, 8);
  if (size == 0) fail(ErrorCode::truncated, "file is empty");
  if (std::memcmp(data, kMagic, magic_seen) != 0)
    fail(ErrorCode::foreign_format, "not a .dsz file (bad magic number)");
  if (size < 12) fail(ErrorCode::truncated, "file ends inside the header");
  const uint32_t version = load_u32(data + 8);
  if (version != kContainerVersion)
    fail(ErrorCode::unsupported_version,
         "format version " + std::to_string(version) + " is not supported (this reader: " +
             std::to_string(kContainerVersion) + ")" +
             (version == 1 ? "; version 1 files are no longer read, compress the model again" : ""));
  if (size < kContainerHeaderSize) fail(ErrorCode::truncated, "file ends inside the header");
  if (verify_checksums && XXH64(data, 32, 0) != load_u64(data + 32))
    fail(ErrorCode::checksum_wrong, "header checksum mismatch");
  const uint32_t flags = load_u32(data + 12);
  if (flags != 0)
    fail(ErrorCode::corruption_detected, "reserved header flags are set");
  const uint64_t directory_size = load_u64(data + 16);
  if (directory_size > size - kContainerHeaderSize)
    fail(ErrorCode::truncated, "file ends before the end of the directory (" +
                                   std::to_string(size) + " bytes)");
  const uint8_t* dir = data + kContainerHeaderSize;
  if (verify_checksums && XXH64(dir, size_t(directory_size), 0) != load_u64(data + 24))
    fail(ErrorCode::checksum_wrong, "directory checksum mismatch");

  ByteReader r(dir, size_t(directory_size), read_message, "directory");
  const uint64_t tensor_count = r.varint("tensor_count");
  const uint64_t metadata_count = r.varint("metadata_count");
  if (tensor_count > kMaxTensors || metadata_count > kMaxMetadataEntries)
    fail(ErrorCode::too_large, "directory declares " + std::to_string(tensor_count) +
                                   " tensors and " + std::to_string(metadata_count) +
                                   " metadata entries (limits: " + std::to_string(kMaxTensors) +
                                   " and " + std::to_string(kMaxMetadataEntries) + ")");
  // Bounded by the bytes present before anything is reserved.
  if (tensor_count * kMinTensorRecordBytes + metadata_count * kMinMetadataEntryBytes >
      r.remaining())
    fail(ErrorCode::too_large, "directory declares " + std::to_string(tensor_count) +
                                   " tensors and " + std::to_string(metadata_count) +
                                   " metadata entries, more than its size can hold");

  Container c;
  c.metadata.reserve(size_t(metadata_count));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < metadata_count; ++i) {
    std::string key = read_string(r, kMaxMetadataKeyBytes, "metadata key", "key_size");
    std::string value = read_string(r, kMaxMetadataValueBytes, "metadata value", "value_size");
    check_metadata_pair(key, value, ErrorCode::corruption_detected);
    if (!seen.insert(key).second)
      fail(ErrorCode::corruption_detected, "duplicate metadata key '" + key + "'");
    c.metadata.emplace_back(std::move(key), std::move(value));
  }

  // Tensor records. What a record holds after its rank depends on its codec,
  // flags and element count, so those are checked before reading on.
  struct Streams { uint64_t index_size = 0, value_size = 0, checksum = 0; };
  std::vector<Streams> streams;
  streams.reserve(size_t(tensor_count));
  c.tensors.reserve(size_t(tensor_count));
  seen.clear();
  constexpr ErrorCode bad = ErrorCode::corruption_detected;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorEntry t;
    Streams s;
    t.name = read_string(r, kMaxTensorNameBytes, "tensor name", "name_size");
    const uint8_t dtype = r.u8();
    const uint8_t codec = r.u8();
    const uint8_t tflags = r.u8();
    const uint8_t rank = r.u8();
    if (t.name.empty())
      fail(bad, "tensor name of 0 bytes (1 to " + std::to_string(kMaxTensorNameBytes) + " allowed)");
    if (!is_valid_utf8(t.name)) fail(bad, "tensor name is not valid UTF-8");
    if (dtype != uint8_t(DType::float32))
      fail(ErrorCode::unsupported_version,
           "tensor '" + t.name + "' has unknown dtype id " + std::to_string(dtype));
    if (!known_codec(codec))
      fail(ErrorCode::unsupported_version,
           "tensor '" + t.name + "' has unknown value codec id " + std::to_string(codec));
    if (tflags & ~kTensorFlagsKnown)
      fail(bad, "tensor '" + t.name + "' has reserved flags set");
    if (rank > kMaxTensorRank)
      fail(bad, "tensor '" + t.name + "' declares rank " + std::to_string(rank));
    t.sparse = (tflags & kTensorFlagSparse) != 0;
    t.shape.resize(rank);
    for (auto& d : t.shape) d = r.varint("dimension");
    const uint64_t n = checked_element_count(t.shape, bad, t.name);
    if (codec != uint8_t(ValueCodec::lossless)) t.error_bound = r.f64();
    if (n > 0) {
      if (t.sparse) s.index_size = r.varint("index_size");
      s.value_size = r.varint("value_size");
      if (checksum_fields) checksum_fields->push_back(size_t(r.position() - data));
      s.checksum = r.u64();
    }
    check_entry_fields(t.name, dtype, codec, t.shape, t.error_bound, t.sparse, s.index_size,
                       s.value_size, bad);
    if (!seen.insert(t.name).second)
      fail(bad, "duplicate tensor name '" + t.name + "'");
    t.dtype = DType(dtype);
    t.value_codec = ValueCodec(codec);
    c.tensors.push_back(std::move(t));
    streams.push_back(s);
  }
  if (r.remaining() != 0) fail(bad, "bytes left at the end of the directory");

  // The streams follow the directory back to back, in directory order, and
  // end the file. Every size is checked against the bytes left before any
  // copy (a declared size beyond the file is a truncated file).
  uint64_t cursor = kContainerHeaderSize + directory_size;
  for (size_t i = 0; i < streams.size(); ++i) {
    for (uint64_t stream_size : {streams[i].index_size, streams[i].value_size}) {
      if (stream_size > size - cursor)
        fail(ErrorCode::truncated, "file ends inside the streams of tensor '" +
                                       c.tensors[i].name + "' (" + std::to_string(size) +
                                       " bytes)");
      cursor += stream_size;
    }
  }
  if (cursor != size) fail(bad, "bytes after the last stream");

  cursor = kContainerHeaderSize + directory_size;
  for (size_t i = 0; i < streams.size(); ++i) {
    TensorEntry& t = c.tensors[i];
    const uint8_t* index = data + cursor;
    const uint8_t* value = index + streams[i].index_size;
    const size_t index_size = size_t(streams[i].index_size);
    const size_t value_size = size_t(streams[i].value_size);
    cursor += index_size + value_size;
    if (verify_checksums && (index_size | value_size) != 0 &&
        tensor_checksum(index, index_size, value, value_size) != streams[i].checksum)
      fail(ErrorCode::checksum_wrong, "tensor '" + t.name + "' checksum mismatch");
    t.index_stream.assign(index, index + index_size);
    t.value_stream.assign(value, value + value_size);
  }
  return c;
}

}  // namespace deepsz
