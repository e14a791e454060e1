// ZFP fixed-accuracy 1-D, the peer codec (Debian's libzfp 1.0).
//
// Stream: u64 count, f64 tolerance (both little-endian), then libzfp's bit
// stream in its native 64-bit words. libzfp's bit reader does not check the
// end of its buffer, so the decoder copies the payload into a buffer padded
// by more than one block's worst case and checks the read position against
// the real payload before every block: a malformed stream cannot make libzfp
// read out of bounds, and a count the payload cannot hold (every block costs
// at least one bit) is rejected before allocating.
#include <zfp.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "byte_io.h"
#include "deepsz/container.h"

// libzfp writes its bit stream as native 64-bit words; the format stores them
// little-endian, which is what a big-endian port would have to byte-swap.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "zfp words are stored little-endian");

namespace deepsz {

namespace {

constexpr size_t kZfpHeaderBytes = 16;
constexpr size_t kZfpPadBytes = (ZFP_MAX_BITS + 2 * 64) / 8 + 8;

[[noreturn]] void fail(ErrorCode code, const std::string& what) {
  throw Error(code, "zfp stream: " + what);
}

struct StreamCloser {
  void operator()(zfp_stream* z) const { zfp_stream_close(z); }
};
struct BitstreamCloser {
  void operator()(bitstream* b) const { stream_close(b); }
};
struct FieldFree {
  void operator()(zfp_field* f) const { zfp_field_free(f); }
};

}  // namespace

std::vector<uint8_t> zfp_compress_floats(const float* data, size_t count, double tolerance) {
  if (!std::isfinite(tolerance) || !(tolerance > 0.0))
    fail(ErrorCode::invalid_argument, "tolerance must be positive and finite");
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(data[i]))
      fail(ErrorCode::invalid_argument, "ZFP cannot code NaN or infinity (value " +
                                            std::to_string(i) + ")");
  std::vector<uint8_t> out(kZfpHeaderBytes);
  byte_io::store_u64(out.data(), count);
  uint64_t tolerance_bits;
  std::memcpy(&tolerance_bits, &tolerance, 8);
  byte_io::store_u64(out.data() + 8, tolerance_bits);
  if (count == 0) return out;

  std::unique_ptr<zfp_stream, StreamCloser> zfp(zfp_stream_open(nullptr));
  zfp_stream_set_accuracy(zfp.get(), tolerance);
  std::unique_ptr<zfp_field, FieldFree> field(
      zfp_field_1d(const_cast<float*>(data), zfp_type_float, count));
  const size_t capacity = zfp_stream_maximum_size(zfp.get(), field.get());
  std::vector<uint64_t> words((capacity + 7) / 8 + 1);
  std::unique_ptr<bitstream, BitstreamCloser> bits(stream_open(words.data(), words.size() * 8));
  zfp_stream_set_bit_stream(zfp.get(), bits.get());
  zfp_stream_rewind(zfp.get());
  const size_t bytes = zfp_compress(zfp.get(), field.get());
  if (bytes == 0) fail(ErrorCode::invalid_argument, "libzfp failed to compress");
  const size_t header = out.size();
  out.resize(header + bytes);
  std::memcpy(out.data() + header, words.data(), bytes);
  return out;
}

namespace {

void zfp_decompress_into(const uint8_t* stream, size_t size, float* out, size_t count) {
  if (size < kZfpHeaderBytes) fail(ErrorCode::truncated, "shorter than its header");
  const uint64_t declared = byte_io::load_u64(stream);
  const uint64_t tolerance_bits = byte_io::load_u64(stream + 8);
  double tolerance;
  std::memcpy(&tolerance, &tolerance_bits, 8);
  if (declared != count)
    fail(ErrorCode::corruption_detected, "declares " + std::to_string(declared) +
                                             " values where " + std::to_string(count) +
                                             " are expected");
  if (!std::isfinite(tolerance) || !(tolerance > 0.0))
    fail(ErrorCode::corruption_detected, "tolerance is not positive and finite");
  const size_t payload = size - kZfpHeaderBytes;
  if (count == 0) {
    if (payload != 0) fail(ErrorCode::corruption_detected, "payload after an empty stream");
    return;
  }
  const uint64_t payload_bits = uint64_t(payload) * 8;
  const uint64_t blocks = (uint64_t(count) + 3) / 4;
  if (blocks > payload_bits)
    fail(ErrorCode::too_large, "declares " + std::to_string(count) +
                                   " values, more than its payload can hold");

  std::vector<uint64_t> words((payload + kZfpPadBytes + 7) / 8, 0);
  std::memcpy(words.data(), stream + kZfpHeaderBytes, payload);
  std::unique_ptr<zfp_stream, StreamCloser> zfp(zfp_stream_open(nullptr));
  zfp_stream_set_accuracy(zfp.get(), tolerance);
  std::unique_ptr<bitstream, BitstreamCloser> bits(stream_open(words.data(), words.size() * 8));
  zfp_stream_set_bit_stream(zfp.get(), bits.get());
  zfp_stream_rewind(zfp.get());
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    if (stream_rtell(bits.get()) > payload_bits)
      fail(ErrorCode::truncated, "payload ends before the last block");
    zfp_decode_block_float_1(zfp.get(), out + i);
  }
  if (i < count) {
    if (stream_rtell(bits.get()) > payload_bits)
      fail(ErrorCode::truncated, "payload ends before the last block");
    zfp_decode_partial_block_strided_float_1(zfp.get(), out + i, count - i, 1);
  }
  if (stream_rtell(bits.get()) > payload_bits)
    fail(ErrorCode::truncated, "payload ends before the last block");
}

}  // namespace

std::vector<float> zfp_decompress_floats(const uint8_t* stream, size_t size) {
  if (size < kZfpHeaderBytes) fail(ErrorCode::truncated, "shorter than its header");
  const uint64_t count = byte_io::load_u64(stream);
  // Checked here too so that the allocation below is justified by the bytes.
  if (count > uint64_t(size - kZfpHeaderBytes) * 8 * 4)
    fail(ErrorCode::too_large, "declares more values than its payload can hold");
  std::vector<float> out(size_t(count), 0.0f);
  zfp_decompress_into(stream, size, out.data(), out.size());
  return out;
}

// Used by decode_tensor (declared in tensor.cpp).
void zfp_decompress_floats_into(const uint8_t* stream, size_t size, float* out,
                                size_t count) {
  zfp_decompress_into(stream, size, out, count);
}

}  // namespace deepsz
