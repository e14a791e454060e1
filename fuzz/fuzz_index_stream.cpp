// Untrusted bytes as a sparse index stream: rows and cols come from the first
// 4 bytes (each 0..65535), the rest is the stream.
#include <vector>

#include "deepsz/sparse_index.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepsz;
  fuzz::Params p(data, size);
  const uint64_t rows = p.u16();
  const uint64_t cols = p.u16();
  try {
    const std::vector<uint64_t> pos = decode_sparse_index(p.rest(), p.rest_size(), rows, cols);
    if (pos.size() != sparse_index_count(p.rest(), p.rest_size()))
      fuzz::die("decoded count differs from the declared count");
    for (size_t i = 0; i < pos.size(); ++i) {
      if (pos[i] >= rows * cols) fuzz::die("position outside the matrix");
      if (i > 0 && pos[i] <= pos[i - 1]) fuzz::die("positions not strictly increasing");
    }
  } catch (const Error&) {
  }
  return 0;
}
