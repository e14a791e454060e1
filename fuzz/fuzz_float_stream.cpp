// Untrusted bytes as a float stream of the dsz codec.
#include <vector>

#include "deepsz/codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepsz;
  FloatStreamInfo info;
  try {
    info = inspect_float_stream(data, size);
  } catch (const Error&) {
    info.count = ~uint64_t(0);
  }
  try {
    const std::vector<float> v = decompress_floats(data, size, 1 + (size % 3));
    if (info.count == ~uint64_t(0)) fuzz::die("decoded a stream whose header was rejected");
    if (v.size() != info.count) fuzz::die("decoded count differs from the header's");
  } catch (const Error&) {
  }
  return 0;
}
