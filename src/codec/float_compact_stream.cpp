// float_compact_stream.cpp: the compact single-chunk stream (format version
// 2, docs/CODEC.md "Compact stream") for arrays of at most 2^16 values:
// varint header, no chunk table, no checksum, symbols through the adaptive
// model and range coder of adaptive_range_coder.h.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "float_codec_internal.h"
#include "float_stream_parts.h"

namespace deepsz::codec_detail {
using byte_io::ByteReader;
using byte_io::ByteWriter;

namespace {

inline uint32_t zigzag(int32_t v) { return (uint32_t(v) << 1) ^ uint32_t(v >> 31); }
inline int64_t unzigzag(uint64_t u) { return int64_t(u >> 1) ^ -int64_t(u & 1); }

inline double prior_alpha(int prior) { return double(1u << prior) / double(kAdaptiveIncrement); }

// log Gamma(x) for x > 0: Stirling's series after shifting x to >= 8
// (error below 1e-10). std::lgamma writes the global `signgam`, a data race
// when streams are encoded on several threads.
double log_gamma(double x) {
  double acc = 0.0;
  while (x < 8.0) {
    acc -= std::log(x);
    x += 1.0;
  }
  const double inv = 1.0 / x, inv2 = inv * inv;
  return acc + (x - 0.5) * std::log(x) - x + 0.91893853320467274178 +
         inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260)));
}

// Bits the adaptive model with prior count `alpha` spends on a sequence with
// these symbol counts: the Dirichlet-multinomial code length, which does not
// depend on the order of the symbols. The fixed-point coder is within a few
// bits of it.
double adaptive_bits(const uint32_t* counts, uint32_t alphabet, uint64_t n, double alpha) {
  double nats = log_gamma(double(alphabet) * alpha + double(n)) -
                log_gamma(double(alphabet) * alpha);
  const double lg_alpha = log_gamma(alpha);
  for (uint32_t s = 0; s < alphabet; ++s)
    if (counts[s]) nats -= log_gamma(double(counts[s]) + alpha) - lg_alpha;
  return nats / std::log(2.0);
}

}  // namespace

std::vector<uint8_t> encode_compact(uint64_t count, double eb, Predictor pred,
                                    const QuantisedChunk& qc, EncodeScratch& sc) {
  const uint32_t alphabet = qc.ncodes + (qc.nexact ? 1 : 0);
  int prior = 0;
  if (alphabet > 1) {
    double best = std::numeric_limits<double>::infinity();
    for (int p = 0; p < kAdaptivePriors; ++p) {
      const double bits = adaptive_bits(qc.counts, alphabet, count, prior_alpha(p));
      if (bits < best) {
        best = bits;
        prior = p;
      }
    }
  }
  const ExactSection ex = pack_exact(qc.exact, qc.nexact, sc);
  std::vector<uint8_t> out;
  out.reserve(32 + ex.bytes + count);
  ByteWriter w(out);
  w.u32(kFloatMagic);
  w.u8(kFloatVersionCompact);
  w.u8(uint8_t(uint8_t(pred) | (ex.zstd ? kCompactExactZstd : 0) | (prior << kCompactPriorShift)));
  w.varint(count);
  w.f64(eb);
  w.varint(qc.nexact);
  w.varint(qc.ncodes);
  if (qc.ncodes) w.varint(zigzag(qc.min_code));
  if (ex.zstd) w.varint(ex.bytes);
  w.bytes(ex.data, ex.bytes);
  if (alphabet > 1) {
    AdaptiveModel model;
    model.reset(alphabet, prior);
    WideRangeEncoder enc(out);
    for (size_t i = 0; i < count; ++i) {
      const uint32_t s = qc.symbols[i];
      enc.encode(model.cum(s), model.freq(s), model.total());
      model.update(s);
    }
    enc.finish();
  }
  return out;
}

// Header and section bounds of a compact stream; everything but the symbol
// section is checked, before anything is allocated (count <= 2^16). Its
// varints must be in their shortest form (the reader's default).
CompactStream parse_compact(const uint8_t* stream, size_t size) {
  ByteReader r(stream, size, read_message, "compact float stream");
  r.u32();
  r.u8();  // magic and version, checked by stream_version
  CompactStream cs;
  const uint8_t flags = r.u8();
  if (flags & kCompactReservedFlags) corrupt("reserved flag bits are set");
  cs.info.format_version = kFloatVersionCompact;
  cs.info.predictor = Predictor(flags & 1);
  cs.exact_zstd = (flags & kCompactExactZstd) != 0;
  cs.prior = (flags >> kCompactPriorShift) & (kAdaptivePriors - 1);
  cs.info.count = r.varint("count", 3);
  if (cs.info.count > kCompactMaxCount) corrupt("compact stream declares more than 65536 values");
  cs.info.abs_error_bound = r.f64();
  if (!(std::isfinite(cs.info.abs_error_bound) && cs.info.abs_error_bound >= 0.0))
    corrupt("error bound is negative or not finite");
  cs.info.chunks = cs.info.count ? 1 : 0;
  cs.info.exact_values = r.varint("exact_count", 3);
  if (cs.info.exact_values > cs.info.count) corrupt("more exact values than values");
  const uint64_t ncodes = r.varint("ncodes", 2);
  if (ncodes > kMaxAlphabet - 1) corrupt("alphabet size out of range");
  cs.ncodes = uint32_t(ncodes);
  // No codes exactly when every value is stored exactly (or there is none).
  if ((cs.ncodes == 0) != (cs.info.exact_values == cs.info.count))
    corrupt("code count disagrees with exact count");
  if (cs.ncodes) {
    const uint64_t z = r.varint("min_code", 5);
    if (z > 0xFFFFFFFFull) corrupt("code range out of bounds");
    const int64_t min_code = unzigzag(z);
    if (min_code < -kMaxCode || min_code + int64_t(cs.ncodes) - 1 > kMaxCode)
      corrupt("code range out of bounds");
    cs.min_code = int32_t(min_code);
  }
  cs.alphabet = cs.ncodes + (cs.info.exact_values ? 1 : 0);
  if (cs.alphabet <= 1 && cs.prior != 0) corrupt("prior given without symbols to code");
  if (cs.exact_zstd) {
    if (cs.info.exact_values == 0) corrupt("compressed exact section without exact values");
    cs.exact_bytes = size_t(r.varint("exact_bytes", 3));
  } else {
    cs.exact_bytes = size_t(4 * cs.info.exact_values);
  }
  cs.exact = r.take(cs.exact_bytes);
  cs.symbol_bytes = r.remaining();
  cs.symbols = r.take(cs.symbol_bytes);
  if (cs.alphabet <= 1 && cs.symbol_bytes) corrupt("trailing bytes after the last section");
  if (cs.symbol_bytes && cs.symbols[cs.symbol_bytes - 1] == 0)
    corrupt("symbol section ends with a zero byte");
  return cs;
}

void decode_compact(const CompactStream& cs, float* out, DecodeScratch& sc) {
  const size_t n = size_t(cs.info.count);
  const size_t nexact = size_t(cs.info.exact_values);
  const Predictor pred = cs.info.predictor;
  const QuantParams q = make_params(cs.info.abs_error_bound);
  const uint8_t* exact = unpack_exact(cs.exact, cs.exact_bytes, cs.exact_zstd, nexact, sc);
  if (cs.ncodes == 0) {  // every value stored exactly
    if (n) std::memcpy(out, exact, 4 * n);
    return;
  }
  const uint32_t esc = cs.ncodes;  // the escape symbol, when alphabet > ncodes
  size_t k = 0;
  float prev = 0.0f;
  auto emit = [&](size_t i, uint32_t s) {
    float v;
    if (s == esc) {
      if (k == nexact) corrupt("more escapes than exact values");
      std::memcpy(&v, exact + 4 * k++, 4);
    } else if (pred == Predictor::none) {
      v = rebuild_none(cs.min_code + int32_t(s), q.step_f);
    } else {
      v = rebuild_lorenzo(prev, code_delta(cs.min_code + int32_t(s), q.step));
    }
    out[i] = v;
    prev = v;
  };
  if (cs.alphabet == 1) {  // a single code, no escape: nothing was coded
    for (size_t i = 0; i < n; ++i) emit(i, 0);
    return;
  }
  AdaptiveModel& model = sc.model;
  model.reset(cs.alphabet, cs.prior);
  WideRangeDecoder dec(cs.symbols, cs.symbol_bytes);
  if (!dec.valid()) corrupt("range coder start out of range");
  for (size_t i = 0; i < n; ++i) {
    const uint32_t total = model.total();
    const uint32_t t = dec.target(total);
    if (t >= total) corrupt("range coder value out of range");
    uint32_t cum;
    const uint32_t s = model.find(t, &cum);
    dec.consume(cum, model.freq(s));
    model.update(s);
    emit(i, s);
  }
  if (k != nexact) corrupt("escape count disagrees with exact count");
  if (dec.consumed() < cs.symbol_bytes) corrupt("unused bytes after the symbols");
}

}  // namespace deepsz::codec_detail
