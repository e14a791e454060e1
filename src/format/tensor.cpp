// encode_tensor / decode_tensor: one tensor of the container on top of the
// codecs (codec.h, sparse_index.h, zfp, zstd).
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>

#include "byte_io.h"
#include "deepsz/container.h"

namespace deepsz {

void zfp_decompress_floats_into(const uint8_t* stream, size_t size, float* out, size_t count);
namespace format {
// The rules of validate_tensor_entry that do not involve the streams.
void validate_tensor_description(const TensorEntry& e);
}  // namespace format

namespace {

constexpr int kLosslessZstdLevel = 3;
// zstd cannot expand more than this: every block of at most 128 KiB costs at
// least a 3-byte header and one byte (an RLE block).
constexpr uint64_t kZstdMaxRatio = (128 * 1024) / 4;

[[noreturn]] void fail(ErrorCode code, const std::string& what) { throw Error(code, what); }

std::vector<uint8_t> lossless_compress(const float* data, size_t count) {
  // The stream holds the floats' little-endian bytes: the memory itself on a
  // little-endian machine (no copy of the tensor), else a swapped copy.
  std::vector<uint8_t> swapped;
  const void* raw = data;
  if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
    swapped.resize(count * 4);
    for (size_t i = 0; i < count; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &data[i], 4);
      for (int b = 0; b < 4; ++b) swapped[4 * i + b] = uint8_t(bits >> (8 * b));
    }
    raw = swapped.data();
  }
  std::vector<uint8_t> out(ZSTD_compressBound(count * 4));
  const size_t n = ZSTD_compress(out.data(), out.size(), raw, count * 4, kLosslessZstdLevel);
  if (ZSTD_isError(n))
    fail(ErrorCode::invalid_argument, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

void lossless_decompress(const uint8_t* stream, size_t size, float* out, size_t count) {
  const uint64_t bytes = uint64_t(count) * 4;
  if (bytes > uint64_t(size) * kZstdMaxRatio)
    fail(ErrorCode::too_large, "lossless stream: declares more values than it can hold");
  const unsigned long long content = ZSTD_getFrameContentSize(stream, size);
  if (content == ZSTD_CONTENTSIZE_ERROR)
    fail(ErrorCode::corruption_detected, "lossless stream: not a zstd frame");
  if (content == ZSTD_CONTENTSIZE_UNKNOWN || content != bytes)
    fail(ErrorCode::corruption_detected, "lossless stream: frame does not declare " +
                                             std::to_string(bytes) + " bytes");
  const size_t frame = ZSTD_findFrameCompressedSize(stream, size);
  if (ZSTD_isError(frame)) fail(ErrorCode::truncated, "lossless stream: frame is cut short");
  if (frame != size) fail(ErrorCode::corruption_detected, "lossless stream: bytes after the frame");
  std::vector<uint8_t> raw(static_cast<size_t>(bytes));
  const size_t n = ZSTD_decompress(raw.data(), raw.size(), stream, size);
  if (ZSTD_isError(n))
    fail(ErrorCode::corruption_detected, std::string("lossless stream: zstd: ") + ZSTD_getErrorName(n));
  if (n != bytes) fail(ErrorCode::corruption_detected, "lossless stream: short frame");
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = raw.data() + 4 * i;
    const uint32_t bits = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                          uint32_t(p[3]) << 24;
    std::memcpy(&out[i], &bits, 4);
  }
}

std::vector<uint8_t> encode_values(const float* data, size_t count,
                                   const TensorEncodeOptions& o) {
  switch (o.codec) {
    case ValueCodec::lossless: return lossless_compress(data, count);
    case ValueCodec::dsz: {
      CodecOptions c;
      c.abs_error_bound = o.abs_error_bound;
      c.predictor = o.predictor;
      c.threads = o.threads;
      return compress_floats(data, count, c);
    }
    case ValueCodec::zfp: return zfp_compress_floats(data, count, o.abs_error_bound);
  }
  fail(ErrorCode::invalid_argument, "unknown value codec");
}

// Checks that the value stream declares `count` values and is large enough to
// hold them, before the caller allocates the output.
void check_value_count(const TensorEntry& e, uint64_t count) {
  const uint8_t* s = e.value_stream.data();
  const size_t n = e.value_stream.size();
  uint64_t declared = 0;
  switch (e.value_codec) {
    case ValueCodec::lossless: {
      if (count * 4 > uint64_t(n) * kZstdMaxRatio)
        fail(ErrorCode::too_large, "tensor '" + e.name +
                                       "': lossless stream is too small for its element count");
      const unsigned long long content = ZSTD_getFrameContentSize(s, n);
      if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
          content % 4 != 0)
        fail(ErrorCode::corruption_detected, "tensor '" + e.name + "': not a lossless stream");
      declared = content / 4;
      break;
    }
    case ValueCodec::dsz: declared = inspect_float_stream(s, n).count; break;
    case ValueCodec::zfp:
      if (n < 16) fail(ErrorCode::truncated, "tensor '" + e.name + "': zfp stream too short");
      declared = byte_io::load_u64(s);
      if ((declared + 3) / 4 > uint64_t(n - 16) * 8)
        fail(ErrorCode::too_large, "tensor '" + e.name + "': zfp stream too small for its count");
      break;
  }
  if (declared != count)
    fail(ErrorCode::corruption_detected,
         "tensor '" + e.name + "': value stream holds " + std::to_string(declared) +
             " values where " + std::to_string(count) + " are expected");
}

void decode_values(const TensorEntry& e, float* out, size_t count, unsigned threads) {
  const uint8_t* s = e.value_stream.data();
  const size_t n = e.value_stream.size();
  switch (e.value_codec) {
    case ValueCodec::lossless: lossless_decompress(s, n, out, count); return;
    case ValueCodec::dsz: {
      const FloatStreamInfo info = inspect_float_stream(s, n);
      if (info.count != count)
        fail(ErrorCode::corruption_detected,
             "tensor '" + e.name + "': value stream holds " + std::to_string(info.count) +
                 " values where " + std::to_string(count) + " are expected");
      decompress_floats_into(s, n, out, count, threads);
      return;
    }
    case ValueCodec::zfp: zfp_decompress_floats_into(s, n, out, count); return;
  }
  fail(ErrorCode::unsupported_version, "unknown value codec");
}

// The matrix view of sparse_index.h: rows = shape[0], cols = the rest (a
// scalar is 1 x 1, a vector of n is n x 1).
void matrix_view(const std::vector<uint64_t>& shape, uint64_t& rows, uint64_t& cols) {
  rows = shape.empty() ? 1 : shape[0];
  cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
}

// The positions of a sparse tensor's kept values, checked: as many as its
// value stream holds, strictly increasing, each within the tensor's n.
std::vector<uint64_t> checked_positions(const TensorEntry& entry, uint64_t n) {
  uint64_t rows, cols;
  matrix_view(entry.shape, rows, cols);
  const uint8_t* is = entry.index_stream.data();
  const size_t in = entry.index_stream.size();
  const uint64_t kept = sparse_index_count(is, in);
  if (kept > n)
    fail(ErrorCode::corruption_detected,
         "tensor '" + entry.name + "': index declares more positions than elements");
  check_value_count(entry, kept);
  std::vector<uint64_t> positions = decode_sparse_index(is, in, rows, cols);
  if (positions.size() != kept)
    fail(ErrorCode::corruption_detected, "tensor '" + entry.name + "': index count mismatch");
  for (size_t i = 0; i < positions.size(); ++i)
    if (positions[i] >= n || (i && positions[i] <= positions[i - 1]))
      fail(ErrorCode::corruption_detected,
           "tensor '" + entry.name + "': index position out of order or range");
  return positions;
}

}  // namespace

std::vector<uint64_t> sparse_positions(const TensorEntry& entry) {
  validate_tensor_entry(entry);
  if (!entry.sparse) fail(ErrorCode::invalid_argument, "tensor '" + entry.name + "' is not sparse");
  return checked_positions(entry, entry.element_count());
}

TensorEntry encode_tensor(const std::string& name, const std::vector<uint64_t>& shape,
                          const float* data, const TensorEncodeOptions& options) {
  TensorEntry e;
  e.name = name;
  e.shape = shape;
  e.value_codec = options.codec;
  e.sparse = options.sparse;
  if (options.codec != ValueCodec::lossless && options.codec != ValueCodec::dsz &&
      options.codec != ValueCodec::zfp)
    fail(ErrorCode::invalid_argument, "unknown value codec");
  if (!std::isfinite(options.abs_error_bound) || options.abs_error_bound < 0.0)
    fail(ErrorCode::invalid_argument, "error bound must be finite and >= 0");
  if (options.threads == 0) fail(ErrorCode::invalid_argument, "threads must be >= 1");
  e.error_bound = options.codec == ValueCodec::lossless ? 0.0 : options.abs_error_bound;
  // Checks name, shape and bound before touching `data`.
  format::validate_tensor_description(e);
  const uint64_t n = e.element_count();
  if (n > std::numeric_limits<size_t>::max() / 8)
    fail(ErrorCode::too_large, "tensor '" + name + "' does not fit in memory");
  if (n == 0) return e;  // empty tensors have empty streams
  if (options.sparse) {
    uint64_t rows, cols;
    matrix_view(shape, rows, cols);
    std::vector<float> values;
    {
      const std::vector<uint64_t> positions = nonzero_positions(data, size_t(n));
      e.index_stream =
          encode_sparse_index(positions.data(), positions.size(), rows, cols, options.index_coding);
      values.resize(positions.size());
      for (size_t i = 0; i < positions.size(); ++i) values[i] = data[positions[i]];
    }  // the positions (8 bytes a kept value) freed before the values' coder allocates
    e.value_stream = encode_values(values.data(), values.size(), options);
  } else {
    e.value_stream = encode_values(data, size_t(n), options);
  }
  validate_tensor_entry(e);
  return e;
}

std::vector<float> decode_tensor(const TensorEntry& entry, unsigned threads,
                                 uint64_t max_output_bytes) {
  validate_tensor_entry(entry);
  const uint64_t n = entry.element_count();
  if (max_output_bytes != 0 && n > max_output_bytes / 4)
    fail(ErrorCode::too_large, "tensor '" + entry.name + "' decodes to " + std::to_string(n) +
                                   " floats (" + std::to_string(n * 4) +
                                   " bytes), above the memory limit of " +
                                   std::to_string(max_output_bytes) + " bytes");
  if (n > std::numeric_limits<size_t>::max() / 8)
    fail(ErrorCode::too_large, "tensor '" + entry.name + "' does not fit in memory");
  try {
    std::vector<float> out(static_cast<size_t>(n));
    decode_tensor_into(entry, out.data(), out.size(), threads);
    return out;
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::too_large, "tensor '" + entry.name + "' does not fit in memory");
  } catch (const std::length_error&) {
    fail(ErrorCode::too_large, "tensor '" + entry.name + "' does not fit in memory");
  }
}

void decode_tensor_into(const TensorEntry& entry, float* out, size_t count, unsigned threads) {
  if (threads == 0) threads = 1;
  validate_tensor_entry(entry);
  const uint64_t n = entry.element_count();
  if (n != count)
    fail(ErrorCode::invalid_argument, "tensor '" + entry.name + "' has " + std::to_string(n) +
                                          " elements, the output buffer " + std::to_string(count));
  if (n == 0) return;
  if (!entry.sparse) {
    check_value_count(entry, n);
    decode_values(entry, out, count, threads);
    return;
  }
  const std::vector<uint64_t> positions = checked_positions(entry, n);
  std::vector<float> values(positions.size());
  decode_values(entry, values.data(), values.size(), threads);
  std::fill(out, out + count, 0.0f);
  for (size_t i = 0; i < positions.size(); ++i) out[size_t(positions[i])] = values[i];
}

}  // namespace deepsz

namespace deepsz {

namespace {

// A tensor's value stream read in order, a batch at a time: next() returns
// the next values (n > 0) or nullptr at the end. Every check a whole decode
// makes is made by the constructor (the stream's count; a dsz stream's
// checksum; a zstd frame's declared size) or, for zstd's payload, as it is read.
class ValueSource {
 public:
  ValueSource(const TensorEntry& e, uint64_t count, unsigned threads) : e_(e), count_(count), threads_(threads) {
    check_value_count(e, count);
    const uint8_t* s = e.value_stream.data();
    const size_t n = e.value_stream.size();
    switch (e.value_codec) {
      case ValueCodec::dsz: {
        reader_ = std::make_unique<FloatStreamReader>(s, n);
        const uint64_t piece = reader_->piece_values();
        batch_ = size_t(std::max<uint64_t>(1, kTensorPieceValues / piece) * piece);
        break;
      }
      case ValueCodec::lossless: {
        const size_t frame = ZSTD_findFrameCompressedSize(s, n);
        if (ZSTD_isError(frame)) fail(ErrorCode::truncated, "tensor '" + e.name + "': lossless stream: frame is cut short");
        if (frame != n) fail(ErrorCode::corruption_detected, "tensor '" + e.name + "': lossless stream: bytes after the frame");
        dctx_ = ZSTD_createDCtx();
        if (!dctx_) fail(ErrorCode::too_large, "zstd: out of memory");
        in_ = {s, n, 0};
        batch_ = kTensorPieceValues;
        break;
      }
      case ValueCodec::zfp:
        all_.resize(size_t(count));
        zfp_decompress_floats_into(s, n, all_.data(), all_.size());
        batch_ = kTensorPieceValues;
        break;
    }
    if (all_.empty()) buffer_.resize(size_t(std::min<uint64_t>(batch_, count)));
  }
  ~ValueSource() {
    if (dctx_) ZSTD_freeDCtx(dctx_);
  }
  ValueSource(const ValueSource&) = delete;
  ValueSource& operator=(const ValueSource&) = delete;

  const float* next(size_t& n) {
    if (done_ == count_) {
      n = 0;
      return nullptr;
    }
    n = size_t(std::min<uint64_t>(count_ - done_, batch_));
    const float* out = buffer_.data();
    if (reader_) {
      reader_->decode(done_, n, buffer_.data(), threads_);
    } else if (dctx_) {
      ZSTD_outBuffer ob{buffer_.data(), n * 4, 0};
      while (ob.pos < ob.size) {
        const size_t before = ob.pos;
        const size_t r = ZSTD_decompressStream(dctx_, &ob, &in_);
        if (ZSTD_isError(r))
          fail(ErrorCode::corruption_detected, "tensor '" + e_.name + "': lossless stream: zstd: " + ZSTD_getErrorName(r));
        if (ob.pos == before && in_.pos == in_.size)
          fail(ErrorCode::truncated, "tensor '" + e_.name + "': lossless stream ends early");
      }
      if (!kLittleEndian) {
        for (size_t i = 0; i < n; ++i) {
          const uint8_t* p = reinterpret_cast<const uint8_t*>(buffer_.data()) + 4 * i;
          const uint32_t bits = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
          std::memcpy(&buffer_[i], &bits, 4);
        }
      }
    } else {
      out = all_.data() + done_;
    }
    done_ += n;
    return out;
  }

 private:
  static constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  const TensorEntry& e_;
  uint64_t count_, done_ = 0;
  unsigned threads_;
  size_t batch_ = 0;
  std::unique_ptr<FloatStreamReader> reader_;
  ZSTD_DCtx* dctx_ = nullptr;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  std::vector<float> buffer_, all_;
};

}  // namespace

void decode_tensor_pieces(const TensorEntry& entry, unsigned threads,
                          const std::function<void(const float*, size_t)>& sink) {
  if (threads == 0) threads = 1;
  validate_tensor_entry(entry);
  const uint64_t n = entry.element_count();
  if (n == 0) return;
  if (!entry.sparse) {
    ValueSource values(entry, n, threads);
    size_t k = 0;
    while (const float* p = values.next(k)) sink(p, k);
    return;
  }
  const std::vector<uint64_t> positions = checked_positions(entry, n);
  const uint64_t kept = positions.size();
  ValueSource values(entry, kept, threads);
  std::vector<float> window(size_t(std::min<uint64_t>(n, kTensorPieceValues)));
  const float* batch = nullptr;
  size_t batch_n = 0, batch_at = 0;  // the current batch of values and the next one to use
  size_t next = 0;                   // the next position
  for (uint64_t w0 = 0; w0 < n; w0 += window.size()) {
    const size_t m = size_t(std::min<uint64_t>(window.size(), n - w0));
    std::fill(window.begin(), window.begin() + std::ptrdiff_t(m), 0.0f);
    while (next < positions.size() && positions[next] < w0 + m) {
      if (batch_at == batch_n) {
        batch = values.next(batch_n);
        batch_at = 0;
      }
      window[size_t(positions[next] - w0)] = batch[batch_at++];
      ++next;
    }
    sink(window.data(), m);
  }
}

}  // namespace deepsz
