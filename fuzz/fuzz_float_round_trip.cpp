// compress_floats -> decompress_floats: the bound holds on every finite
// value, NaN/Inf come back bit-exact, bound 0 is bit-exact, and the stream
// does not depend on the number of threads.
// Input: [bound selector][predictor][chunk size selector][threads] floats...
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
  const unsigned threads = p.u8() % 8 == 0 ? 2 : 1;  // threads start slowly under ASan
  std::vector<float> v(p.rest_size() / 4);
  if (!v.empty()) std::memcpy(v.data(), p.rest(), v.size() * 4);

  CodecOptions o;
  // 0, or 2^-40 .. 2^23 (tiny, ordinary and huge bounds).
  o.abs_error_bound = b == 0 ? 0.0 : std::ldexp(1.0 + (b & 7) / 8.0, int(b >> 2) % 64 - 40);
  o.predictor = pred % 3 == 0 ? Predictor::none
                : pred % 3 == 1 ? Predictor::lorenzo
                                : Predictor::automatic;
  o.chunk_values = 16u + chunk * 16u;  // several chunks on small inputs
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
