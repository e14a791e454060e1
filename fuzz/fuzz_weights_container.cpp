// Untrusted .dsz bytes as a model file's weights (src/interchange): the
// container is parsed with its checksums off, so that the fuzzer reaches the
// checks of decompress_weights (records against metadata) and of the
// safetensors writer behind them; each refuses with an Error, never crashes.
#include "container_internal.h"
#include "deepsz/error.h"
#include "deepsz/interchange.h"
#include "fuzz_input.h"

namespace ic = deepsz::interchange;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const deepsz::Container c = deepsz::format::parse_container_impl(data, size, false, nullptr);
    if (!ic::is_weights_container(c)) return 0;
    const ic::WeightsFile w = ic::decompress_weights(c, 1, uint64_t(1) << 24);
    for (const ic::RawTensor& t : w.tensors) {
      const size_t unit = ic::storage_element_bytes(t.storage);
      if (unit && t.bytes.size() != unit * t.element_count()) deepsz::fuzz::die("decoded bytes differ from the shape");
    }
    if (w.format == "safetensors") ic::serialize_safetensors(w);
  } catch (const deepsz::Error&) {
  }
  return 0;
}
