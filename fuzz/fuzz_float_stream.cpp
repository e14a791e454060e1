// Untrusted bytes as a float stream of the dsz codec, chunked (version 1,
// checksummed) or compact (version 2, no checksum: the fuzzer reaches its
// entropy decoder directly).
#include <cstring>
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
    if (info.format_version == 2) {
      if (v.size() > 65536) fuzz::die("compact stream above 65536 values");
      // The other entry point decodes the same values, bit for bit.
      std::vector<float> into(v.size());
      decompress_floats_into(data, size, into.data(), into.size(), 2);
      if (!v.empty() && std::memcmp(into.data(), v.data(), 4 * v.size()) != 0)
        fuzz::die("decompress_floats_into differs from decompress_floats");
    }
  } catch (const Error&) {
  }
  return 0;
}
