// compress_floats -> decompress_floats: the bound holds on every finite
// value, NaN/Inf come back bit-exact, bound 0 is bit-exact, the stream
// does not depend on the number of threads, and the compact form (version 2,
// small single-chunk arrays) is never larger than the chunked one.
// Input: [bound selector][predictor][chunk size selector][flags] floats...
// chunk selector >= 0xF0: the default chunk size (the whole input one chunk);
// flags: bits 0-2 == 0 -> 2 threads; bit 3 -> compact form not allowed.
#include <cmath>
#include <cstring>
#include <vector>

#include "deepsz/codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepsz;
  fuzz::Params p(data, size);
  const uint8_t b = p.u8();
  const uint8_t pred = p.u8();
  const uint8_t chunk = p.u8();
  const uint8_t flags = p.u8();
  const unsigned threads = flags % 8 == 0 ? 2 : 1;  // threads start slowly under ASan
  const bool compact = (flags & 8) == 0;
  std::vector<float> v(p.rest_size() / 4);
  if (!v.empty()) std::memcpy(v.data(), p.rest(), v.size() * 4);

  CodecOptions o;
  // 0, or 2^-40 .. 2^23 (tiny, ordinary and huge bounds).
  o.abs_error_bound = b == 0 ? 0.0 : std::ldexp(1.0 + (b & 7) / 8.0, int(b >> 2) % 64 - 40);
  o.predictor = pred % 3 == 0 ? Predictor::none
                : pred % 3 == 1 ? Predictor::lorenzo
                                : Predictor::automatic;
  // several chunks on small inputs, or one
  o.chunk_values = chunk >= 0xF0 ? CodecOptions().chunk_values : 16u + chunk * 16u;
  o.compact_small_streams = compact;
  std::vector<uint8_t> s;
  try {
    o.threads = threads;
    s = compress_floats(v.data(), v.size(), o);
  } catch (const Error&) {
    fuzz::die("compress_floats rejected valid options");
  }
  o.threads = 1;
  if (threads != 1 && compress_floats(v.data(), v.size(), o) != s)
    fuzz::die("output depends on the thread count");
  const bool single_small_chunk = v.size() <= 65536 && v.size() <= o.chunk_values;
  const uint8_t version = s.size() > 4 ? s[4] : 0;
  if (version == 2 && !(compact && single_small_chunk))
    fuzz::die("compact form where it is not allowed");
  if (compact && single_small_chunk) {
    o.compact_small_streams = false;
    const std::vector<uint8_t> chunked = compress_floats(v.data(), v.size(), o);
    if (chunked.size() > 4 && chunked[4] != 1) fuzz::die("compact form although disabled");
    if (version == 2 && s.size() >= chunked.size()) fuzz::die("compact form not smaller");
    if (version == 1 && s != chunked) fuzz::die("chunked form differs with compact allowed");
  }
  std::vector<float> d;
  try {
    d = decompress_floats(s.data(), s.size(), threads);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    fuzz::die("decompress_floats rejected its own stream");
  }
  if (d.size() != v.size()) fuzz::die("count changed");
  const Distortion dist = measure_distortion(v.data(), d.data(), v.size(), o.abs_error_bound);
  if (dist.over_bound != 0) fuzz::die("error bound broken");
  if (dist.non_finite_mismatch != 0) fuzz::die("NaN/Inf not reproduced");
  for (size_t i = 0; i < v.size(); ++i) {
    const bool exact = std::memcmp(&v[i], &d[i], 4) == 0;
    if (!std::isfinite(v[i]) && !exact) fuzz::die("NaN/Inf not bit-exact");
    if (o.abs_error_bound == 0.0 && !exact) fuzz::die("bound 0 not bit-exact");
    if (std::isfinite(v[i]) && !(std::fabs(double(d[i]) - double(v[i])) <= o.abs_error_bound))
      fuzz::die("error bound broken (direct check)");
  }
  return 0;
}
