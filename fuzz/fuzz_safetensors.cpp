// Untrusted .safetensors bytes (src/interchange, torch-free). A file that
// parses serialises back to the same bytes, and its weights-only compression
// at the bound the first byte picks gives back every float within the bound
// in its own dtype and every other tensor, and the header, bit-exact.
#include <cmath>
#include <cstring>

#include "deepsz/error.h"
#include "deepsz/interchange.h"
#include "fuzz_input.h"

namespace ic = deepsz::interchange;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ic::WeightsFile w;
  try {
    w = ic::parse_safetensors(data, size);
  } catch (const deepsz::Error&) {
    return 0;
  }
  const std::vector<uint8_t> again = ic::serialize_safetensors(w);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0)
    deepsz::fuzz::die("parse -> serialize is not the identity");

  ic::WeightsOptions o;
  const double bounds[] = {0.0, 1e-3, 0.5};
  o.bound.value = bounds[size % 3];
  ic::WeightsReport report;
  const deepsz::Container c = ic::compress_weights(w, o, &report);
  const std::vector<uint8_t> blob = deepsz::serialize_container(c);
  const ic::WeightsFile back = ic::decompress_weights(deepsz::parse_container(blob.data(), blob.size()));
  if (back.frame != w.frame || back.tensors.size() != w.tensors.size()) deepsz::fuzz::die("frame or tensor list changed");
  for (size_t k = 0; k < w.tensors.size(); ++k) {
    const ic::RawTensor &a = w.tensors[k], &b = back.tensors[k];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.bytes.size() != b.bytes.size())
      deepsz::fuzz::die("a tensor's name, dtype, shape or size changed");
    if (a.storage == ic::Storage::bytes || o.bound.value == 0) {
      if (a.bytes != b.bytes) deepsz::fuzz::die("a bit-exact tensor changed");
      continue;
    }
    const std::vector<float> xs = ic::float_values(a), ys = ic::float_values(b);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i], y = ys[i];
      if (std::isnan(x) ? !std::isnan(y) : (std::isinf(x) ? x != y : !(std::fabs(x - y) <= o.bound.value)))
        deepsz::fuzz::die("a value outside the bound");
    }
  }
  serialize_safetensors(back);  // throws (a crash) if the frame and tensors disagree
  return 0;
}
