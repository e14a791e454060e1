// The deepsz-native model file's constants and checksums (docs/MODEL.md),
// shared by Model::save/load (model_file.cpp, libtorch) and the streaming
// writer (native_stream.cpp, torch-free). Internal to src/model.
#pragma once

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace deepsz::model::native {

constexpr const char* kFormat = "deepsz-model";
constexpr int64_t kVersion = 1;
// Integrity of deepsz-native files: Model::save adds to the metadata dict one
// XXH64 per tensor ("xxh64:parameter:NAME", "xxh64:mask:NAME") and one of the
// other metadata entries ("xxh64:metadata"), 16 hex digits each; Model::load
// checks them and keeps them out of Model::metadata(). Files without them
// (written before) load unchecked.
constexpr const char* kChecksumMetadata = "xxh64:metadata";
inline std::string parameter_checksum_key(const std::string& name) { return "xxh64:parameter:" + name; }
inline std::string mask_checksum_key(const std::string& name) { return "xxh64:mask:" + name; }
inline bool is_checksum_key(const std::string& key) { return key.rfind("xxh64:", 0) == 0; }

inline std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// XXH64 over little-endian u64s, length-prefixed strings and raw bytes.
class Hash {
 public:
  Hash() { XXH64_reset(&s_, 0); }
  void u64(uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    XXH64_update(&s_, le, 8);
  }
  void string(const std::string& v) {
    u64(v.size());
    XXH64_update(&s_, v.data(), v.size());
  }
  void bytes(const void* p, size_t n) {
    if (n) XXH64_update(&s_, p, n);
  }
  std::string hex() const { return hex64(XXH64_digest(&s_)); }

 private:
  XXH64_state_t s_;
};

// The checksum of a tensor as pickled: name, dtype ("Float", "Bool": c10's
// names), shape, byte count, then its bytes in row-major order (bytes()).
inline Hash tensor_hash(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                        uint64_t nbytes) {
  Hash h;
  h.string(name);
  h.string(dtype);
  h.u64(shape.size());
  for (int64_t d : shape) h.u64(static_cast<uint64_t>(d));
  h.u64(nbytes);
  return h;
}

// XXH64 of the metadata entries other than the checksums, in key order.
inline std::string metadata_checksum(const std::map<std::string, std::string>& meta) {
  Hash h;
  for (const auto& [k, v] : meta)
    if (!is_checksum_key(k)) {
      h.string(k);
      h.string(v);
    }
  return h.hex();
}

}  // namespace deepsz::model::native
