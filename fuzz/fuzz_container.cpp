// Untrusted .dsz bytes. Parsed twice: as a reader would (checksums on; a
// file that passes must serialise back to the same bytes: the layout is
// canonical), and with the checksums off so that the fuzzer reaches the
// structural checks and the tensor decoders behind them; what passes there
// must serialise back to the same bytes but for the checksums.
#include <vector>

#include "container_internal.h"
#include "deepsz/container.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepsz;
  try {
    const Container c = parse_container(data, size);
    const std::vector<uint8_t> again = serialize_container(c);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0)
      fuzz::die("parse -> serialize is not the identity");
  } catch (const Error&) {
  }
  Container c;
  std::vector<size_t> checksum_fields;
  try {
    c = format::parse_container_impl(data, size, false, &checksum_fields);
  } catch (const Error&) {
    return 0;
  }
  {
    // Canonical layout, without the checksums: serialising what was parsed
    // gives the input back except for the checksums it recomputes (header
    // bytes 24..39 and each tensor's), so that any other accepted encoding
    // (an over-long varint, a field the rules make implicit) is caught.
    const std::vector<uint8_t> again = serialize_container(c);
    if (again.size() != size) fuzz::die("parse (no checksums) -> serialize changes the size");
    std::vector<uint8_t> expected(data, data + size);
    std::memcpy(expected.data() + 24, again.data() + 24, 16);
    for (size_t at : checksum_fields) std::memcpy(expected.data() + at, again.data() + at, 8);
    if (expected != again) fuzz::die("parse (no checksums) -> serialize is not the identity");
    parse_container(again.data(), again.size());  // throws (a crash) if not valid
  }
  for (const TensorEntry& t : c.tensors) {
    // The dense size of a sparse tensor is not bounded by the file
    // (docs/FORMAT.md, "Decompression bombs"): a real reader checks it.
    if (t.element_count() > (uint64_t(1) << 22)) continue;
    bool whole_ok = false;
    std::vector<float> v;
    try {
      v = decode_tensor(t, 1 + (size & 1));
      if (v.size() != t.element_count()) fuzz::die("decoded size differs from the shape");
      whole_ok = true;
    } catch (const Error&) {
    }
    // The piecewise decoder: the same values, bit for bit, or an error.
    std::vector<float> pieces;
    bool pieces_ok = false;
    try {
      decode_tensor_pieces(t, 1 + (size & 1), [&](const float* p, size_t n) { pieces.insert(pieces.end(), p, p + n); });
      pieces_ok = true;
    } catch (const Error&) {
    }
    if (whole_ok != pieces_ok) fuzz::die("decode_tensor and decode_tensor_pieces disagree on accepting a tensor");
    if (whole_ok && (pieces.size() != v.size() || (!v.empty() && std::memcmp(pieces.data(), v.data(), 4 * v.size()) != 0)))
      fuzz::die("decode_tensor_pieces differs from decode_tensor");
  }
  return 0;
}
