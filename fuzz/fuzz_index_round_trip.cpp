// encode_sparse_index -> decode_sparse_index on masks made of the input's
// bits, for both codings. Input: [rows u8][cols u8] mask bits...
#include <vector>

#include "deepsz/sparse_index.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepsz;
  fuzz::Params p(data, size);
  const uint64_t rows = p.u8();
  const uint64_t cols = p.u8() + 1;
  std::vector<uint64_t> positions;
  for (uint64_t i = 0; i < rows * cols && i / 8 < p.rest_size(); ++i)
    if (p.rest()[i / 8] >> (i % 8) & 1) positions.push_back(i);
  for (IndexCoding coding : {IndexCoding::gap8_zstd, IndexCoding::context}) {
    std::vector<uint64_t> back;
    try {
      const auto s = encode_sparse_index(positions.data(), positions.size(), rows, cols, coding);
      if (sparse_index_count(s.data(), s.size()) != positions.size())
        fuzz::die("declared count differs");
      back = decode_sparse_index(s.data(), s.size(), rows, cols);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      fuzz::die("index round trip threw");
    }
    if (back != positions) fuzz::die("index round trip changed the positions");
  }
  return 0;
}
