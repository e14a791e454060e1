// float_chunk_encoder.cpp: the entropy stage of the chunked form (format
// version 1): a probability scale, the frequency table and 4-way interleaved
// static rANS over a chunk's symbols, or zstd over the symbols themselves
// when that is smaller.
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "float_stream_parts.h"

namespace deepsz::codec_detail {
using byte_io::ByteWriter;
using byte_io::store_u64;

namespace {

int ceil_log2(uint64_t v) {
  int b = 0;
  while ((uint64_t(1) << b) < v) ++b;
  return b;
}

void write_frequency_table(ByteWriter& w, const uint32_t* freqs, size_t alphabet) {
  size_t s = 0;
  while (s < alphabet) {
    if (freqs[s]) {
      w.varint(freqs[s]);
      ++s;
    } else {
      size_t run = 1;
      while (s + run < alphabet && freqs[s + run] == 0) ++run;
      w.u8(0);
      w.varint(run - 1);
      s += run;
    }
  }
}

}  // namespace

uint32_t encode_chunk_v1(const QuantisedChunk& qc, EncodeScratch& sc, std::vector<uint8_t>& out) {
  const size_t n = qc.n;
  const uint32_t alphabet = qc.alphabet;
  const int32_t min_code = qc.min_code;
  const uint32_t* counts = qc.counts;
  const uint16_t* symbols = qc.symbols;
  const size_t nexact = qc.nexact;

  // Probability scale: the smallest one within 0.3% of the best coded size
  // (a 2^12-slot decode table of 8-byte entries fits the L1 cache; each
  // doubling beyond costs decoding speed for a gain of ~0.1% in size).
  uint32_t present = 0;
  for (uint32_t s = 0; s < alphabet; ++s) present += counts[s] != 0;
  sc.freqs.resize(alphabet);
  int scale_bits = std::max(kMinScaleBits, ceil_log2(present));
  {
    double best = std::numeric_limits<double>::infinity();
    int best_scale = scale_bits;
    std::vector<double> cost(kMaxScaleBits + 1, best);
    for (int sb = scale_bits; sb <= kMaxScaleBits; ++sb) {
      normalise_frequencies(counts, alphabet, n, sb, sc.freqs.data());
      cost[sb] = coded_bits(counts, sc.freqs.data(), alphabet, sb);
      if (cost[sb] < best) {
        best = cost[sb];
        best_scale = sb;
      }
    }
    int chosen = best_scale;
    for (int sb = scale_bits; sb <= best_scale; ++sb)
      if (cost[sb] <= best * 1.003 + 64.0) {
        chosen = sb;
        break;
      }
    scale_bits = chosen;
    normalise_frequencies(counts, alphabet, n, scale_bits, sc.freqs.data());
  }
  const uint32_t* freqs = sc.freqs.data();

  sc.enc.resize(alphabet);
  {
    uint32_t cum = 0;
    for (uint32_t s = 0; s < alphabet; ++s) {
      sc.enc[s] = make_enc_symbol(cum, freqs[s] ? freqs[s] : 1, scale_bits);
      cum += freqs[s];
    }
  }

  // Pass 3: rANS, symbols in reverse order, words written backwards.
  const size_t words_size = kStateBytes + 4 * n + 4;
  uint8_t* const wbegin = sc.words.get(words_size);
  uint8_t* const wend = wbegin + words_size;
  uint8_t* ptr = wend;
  {
    const RansEncSymbol* enc = sc.enc.data();
    uint64_t st[kRansLanes] = {kRansLow, kRansLow, kRansLow, kRansLow};
    size_t i = n;
    while (i & 3) {
      --i;
      st[i & 3] = rans_encode_step(st[i & 3], enc[symbols[i]], ptr);
    }
    uint64_t x0 = st[0], x1 = st[1], x2 = st[2], x3 = st[3];
    while (i) {
      i -= 4;
      x3 = rans_encode_step(x3, enc[symbols[i + 3]], ptr);
      x2 = rans_encode_step(x2, enc[symbols[i + 2]], ptr);
      x1 = rans_encode_step(x1, enc[symbols[i + 1]], ptr);
      x0 = rans_encode_step(x0, enc[symbols[i]], ptr);
    }
    ptr -= kStateBytes;
    store_u64(ptr, x0);
    store_u64(ptr + 8, x1);
    store_u64(ptr + 16, x2);
    store_u64(ptr + 24, x3);
  }
  const uint8_t* sym_data = ptr;
  size_t sym_bytes = size_t(wend - ptr);

  uint8_t flags = 0;
  // Below one bit per value the order-0 model may be far from the data
  // (runs, periodic patterns): then zstd on the symbols themselves is tried
  // and replaces rANS when it is smaller, table included.
  if (sym_bytes * 8 < n && n >= 1024) {
    const size_t width = alphabet <= 256 ? 1 : 2;
    uint8_t* narrow = sc.planes.get(n * width);
    if (width == 1) {
      for (size_t i = 0; i < n; ++i) narrow[i] = uint8_t(symbols[i]);
    } else {
      std::memcpy(narrow, symbols, 2 * n);
    }
    const size_t bound = ZSTD_compressBound(n * width);
    uint8_t* packed = sc.packed.get(bound);
    const size_t z = ZSTD_compress(packed, bound, narrow, n * width, kZstdLevel);
    const size_t table_bytes = 2 * size_t(present) + 8;  // rough size of the frequency table
    if (!ZSTD_isError(z) && z < sym_bytes + table_bytes - (sym_bytes + table_bytes) / 32) {
      flags |= kSymbolsZstd;
      sym_data = packed;
      sym_bytes = z;
    }
  }
  const ExactSection ex = pack_exact(qc.exact, nexact, sc);
  if (ex.zstd) flags |= kExactZstd;
  const uint8_t* exact_data = ex.data;
  const size_t exact_bytes = ex.bytes;

  ByteWriter w(out);
  w.u8(flags);
  w.u8(flags & kSymbolsZstd ? 0 : uint8_t(scale_bits));
  w.u16(uint16_t(alphabet));
  w.u32(uint32_t(min_code));
  if (!(flags & kSymbolsZstd)) write_frequency_table(w, freqs, alphabet);
  w.u32(uint32_t(sym_bytes));
  w.bytes(sym_data, sym_bytes);
  w.bytes(exact_data, exact_bytes);
  return uint32_t(nexact);
}

}  // namespace deepsz::codec_detail
