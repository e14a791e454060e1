// Helpers shared by the fuzzers: a cursor over the fuzzer's bytes and a
// failure that libFuzzer reports as a crash with the input saved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace deepsz::fuzz {

// Takes parameters from the front of the input; returns 0 once exhausted.
class Params {
 public:
  Params(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return uint16_t(u8() | (u8() << 8)); }
  const uint8_t* rest() const { return p_; }
  size_t rest_size() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// Two files in one input, as the image-set fuzzers take them: the first two
// bytes give the first file's length (cut to what follows), the rest after it
// is the second file. fuzz_make_seeds writes its seeds the same way.
struct FilePair {
  const uint8_t* first;
  size_t first_size;
  const uint8_t* second;
  size_t second_size;
};
inline FilePair split_files(const uint8_t* data, size_t size) {
  Params p(data, size);
  const size_t declared = p.u16();
  const size_t n = declared < p.rest_size() ? declared : p.rest_size();
  return {p.rest(), n, p.rest() + n, p.rest_size() - n};
}

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace deepsz::fuzz
