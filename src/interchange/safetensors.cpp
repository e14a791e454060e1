// safetensors (https://github.com/huggingface/safetensors, "Format"): an
// u64 little-endian header length N, N bytes of a JSON object, then the
// tensor bytes. The header is kept verbatim as the frame, so a file written
// back from lossless tensors is the same file byte for byte.
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include "deepsz/interchange.h"

namespace deepsz::interchange {

namespace {

// The reference implementation's own limit on the header (100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, "safetensors: " + what);
}

struct DTypeInfo {
  const char* name;
  size_t bytes;
  Storage storage;
};

constexpr DTypeInfo kDTypes[] = {
    {"F32", 4, Storage::f32},     {"F16", 2, Storage::f16},    {"BF16", 2, Storage::bf16},
    {"F64", 8, Storage::bytes},   {"I64", 8, Storage::bytes},  {"U64", 8, Storage::bytes},
    {"I32", 4, Storage::bytes},   {"U32", 4, Storage::bytes},  {"I16", 2, Storage::bytes},
    {"U16", 2, Storage::bytes},   {"I8", 1, Storage::bytes},   {"U8", 1, Storage::bytes},
    {"BOOL", 1, Storage::bytes},  {"F8_E5M2", 1, Storage::bytes}, {"F8_E4M3", 1, Storage::bytes},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

struct Entry {
  std::string name, dtype;
  Storage storage = Storage::bytes;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
};

uint64_t checked_u64(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<uint64_t>();
    fail(ErrorCode::corruption_detected, what + " is not a non-negative integer");
  }
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const nlohmann::json& v) {
  const std::string where = "tensor '" + name + "'";
  if (!v.is_object()) fail(ErrorCode::corruption_detected, where + ": entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) fail(ErrorCode::corruption_detected, where + ": no \"" + key + "\"");
  Entry e;
  e.name = name;
  if (!v["dtype"].is_string()) fail(ErrorCode::corruption_detected, where + ": dtype is not a string");
  e.dtype = v["dtype"].get<std::string>();
  const DTypeInfo* d = find_dtype(e.dtype);
  if (!d) fail(ErrorCode::unsupported_version, where + ": unsupported dtype '" + e.dtype + "'");
  e.storage = d->storage;
  if (!v["shape"].is_array()) fail(ErrorCode::corruption_detected, where + ": shape is not an array");
  unsigned __int128 bytes = d->bytes;
  for (const auto& dim : v["shape"]) {
    e.shape.push_back(checked_u64(dim, where + ": a dimension"));
    bytes *= e.shape.back();
    if (bytes > std::numeric_limits<uint64_t>::max())
      fail(ErrorCode::too_large, where + ": shape holds more bytes than 2^64");
  }
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    fail(ErrorCode::corruption_detected, where + ": data_offsets is not a pair [begin, end]");
  e.begin = checked_u64(off[0], where + ": data_offsets[0]");
  e.end = checked_u64(off[1], where + ": data_offsets[1]");
  if (e.begin > e.end)
    fail(ErrorCode::corruption_detected, where + ": data_offsets [" + std::to_string(e.begin) + ", " +
                                             std::to_string(e.end) + "] end before they begin");
  if (e.end - e.begin != uint64_t(bytes))
    fail(ErrorCode::corruption_detected, where + ": " + std::to_string(e.end - e.begin) + " bytes for " +
                                             e.dtype + " of " + std::to_string(uint64_t(bytes) / d->bytes) +
                                             " elements (" + std::to_string(uint64_t(bytes)) + " bytes)");
  return e;
}

// The tensors of a header in data order, checked against `data_bytes`: they
// tile the data exactly (no overlap, no gap, nothing after the last).
std::vector<Entry> parse_header(const std::string& header, uint64_t data_bytes) {
  // nlohmann keeps the last of duplicate keys; safetensors files must not
  // have any, so count them while parsing.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) keys.emplace_back();
    if (event == E::object_end && !keys.empty()) keys.pop_back();
    if (event == E::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, callback);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::corruption_detected, std::string("malformed header: ") + e.what());
  }
  if (!duplicate.empty()) fail(ErrorCode::corruption_detected, "header has the key '" + duplicate + "' twice");
  if (!j.is_object()) fail(ErrorCode::corruption_detected, "header is not a JSON object");

  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(ErrorCode::corruption_detected, "__metadata__ is not an object");
      for (const auto& kv : it.value().items())
        if (!kv.value().is_string())
          fail(ErrorCode::corruption_detected, "__metadata__ value of '" + kv.key() + "' is not a string");
      continue;
    }
    entries.push_back(parse_entry(it.key(), it.value()));
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.end > data_bytes)
      fail(ErrorCode::truncated, "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                                     std::to_string(e.end) + "] past the end of the data (" +
                                     std::to_string(data_bytes) + " bytes)");
    if (e.begin < at)
      fail(ErrorCode::corruption_detected, "tensors '" + previous->name + "' and '" + e.name + "' overlap");
    if (e.begin > at)
      fail(ErrorCode::corruption_detected, std::to_string(e.begin - at) + " bytes no tensor covers before '" +
                                               e.name + "' (offset " + std::to_string(at) + ")");
    at = e.end;
    previous = &e;
  }
  if (at != data_bytes)
    fail(ErrorCode::corruption_detected,
         std::to_string(data_bytes - at) + " bytes after the last tensor that no tensor covers");
  return entries;
}

}  // namespace

WeightsFile parse_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) fail(ErrorCode::truncated, "file of " + std::to_string(size) + " bytes has no 8-byte header length");
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = n << 8 | data[b];
  if (n > size - 8)
    fail(ErrorCode::truncated, "header length " + std::to_string(n) + " past the end of the file (" +
                                   std::to_string(size) + " bytes)");
  if (n > kMaxHeaderBytes) fail(ErrorCode::too_large, "header of " + std::to_string(n) + " bytes (limit 100 MB)");
  if (n < 2 || data[8] != '{') fail(ErrorCode::foreign_format, "header does not start with '{'");
  WeightsFile w;
  w.format = "safetensors";
  w.frame.assign(data + 8, data + 8 + n);
  const std::string header(w.frame.begin(), w.frame.end());
  const uint8_t* body = data + 8 + n;
  for (Entry& e : parse_header(header, size - 8 - n)) {
    RawTensor t;
    t.name = std::move(e.name);
    t.dtype = std::move(e.dtype);
    t.storage = e.storage;
    t.shape = std::move(e.shape);
    t.bytes.assign(body + e.begin, body + e.end);
    w.tensors.push_back(std::move(t));
  }
  return w;
}

std::vector<uint8_t> serialize_safetensors(const WeightsFile& w) {
  if (w.format != "safetensors") fail(ErrorCode::invalid_argument, "not a safetensors model: " + w.format);
  const std::string header(w.frame.begin(), w.frame.end());
  uint64_t data_bytes = 0;
  for (const RawTensor& t : w.tensors) data_bytes += t.bytes.size();
  const std::vector<Entry> entries = parse_header(header, data_bytes);
  if (entries.size() != w.tensors.size())
    fail(ErrorCode::corruption_detected, "header names " + std::to_string(entries.size()) + " tensors, " +
                                             std::to_string(w.tensors.size()) + " given");
  std::vector<uint8_t> out(8 + header.size() + data_bytes);
  for (int b = 0; b < 8; ++b) out[b] = uint8_t(uint64_t(header.size()) >> (8 * b));
  std::memcpy(out.data() + 8, header.data(), header.size());
  uint8_t* body = out.data() + 8 + header.size();
  // Both lists are in data order when the tensors come from parse_safetensors
  // or decompress_weights; anything else is refused rather than reordered.
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    const RawTensor& t = w.tensors[i];
    if (t.name != e.name || t.dtype != e.dtype || t.shape != e.shape || t.bytes.size() != e.end - e.begin)
      fail(ErrorCode::corruption_detected, "tensor '" + t.name + "' does not match the header's '" + e.name + "'");
    if (!t.bytes.empty()) std::memcpy(body + e.begin, t.bytes.data(), t.bytes.size());
  }
  return out;
}

}  // namespace deepsz::interchange
