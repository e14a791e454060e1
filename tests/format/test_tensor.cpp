// encode_tensor / decode_tensor on every value codec, dense and sparse, and
// the ZFP and lossless streams against malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "deepsz/container.h"

namespace deepsz {
namespace {

std::vector<float> gaussian(size_t n, double sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = float(d(rng));
  return v;
}

// Keeps about `density` of the values, zeroes the rest (a pruned layer).
std::vector<float> pruned(size_t n, double density, uint64_t seed) {
  auto v = gaussian(n, 0.05, seed);
  std::mt19937_64 rng(seed + 1);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& x : v)
    if (u(rng) >= density) x = 0.0f;
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

ErrorCode decode_error(const TensorEntry& e) {
  try {
    decode_tensor(e);
  } catch (const Error& err) {
    return err.code();
  }
  ADD_FAILURE() << "decode_tensor accepted a malformed entry";
  return ErrorCode::interrupted;
}

TensorEncodeOptions options(ValueCodec codec, double bound, bool sparse = false,
                            IndexCoding coding = IndexCoding::context) {
  TensorEncodeOptions o;
  o.codec = codec;
  o.abs_error_bound = bound;
  o.sparse = sparse;
  o.index_coding = coding;
  return o;
}

// Decoded through the container bytes, as a reader would see it.
std::vector<float> through_container(const TensorEntry& e) {
  Container c;
  c.tensors.push_back(e);
  const auto bytes = serialize_container(c);
  const Container back = parse_container(bytes.data(), bytes.size());
  return decode_tensor(back.tensors.at(0), 2);
}

// A fully pruned layer: one nonzero, a few bytes, any dense size.
TensorEntry pruned_bomb(uint64_t rows, uint64_t cols) {
  TensorEntry e;
  e.name = "pruned";
  e.shape = {rows, cols};
  e.value_codec = ValueCodec::lossless;
  e.sparse = true;
  const uint64_t position = 0;  // (a late one costs gap8 a filler per 255)
  e.index_stream = encode_sparse_index(&position, 1, rows, cols, IndexCoding::gap8_zstd);
  const float one = 1.0f;
  TensorEncodeOptions o;
  o.codec = ValueCodec::lossless;
  e.value_stream = encode_tensor("v", {1}, &one, o).value_stream;
  return e;
}

TEST(MemoryLimit, given_dense_output_above_limit_expect_too_large_before_allocating) {
  const TensorEntry e = pruned_bomb(1024, 1024);  // 4 MiB dense
  EXPECT_EQ(decode_tensor(e, 1, 0).size(), size_t(1) << 20);          // no limit
  EXPECT_EQ(decode_tensor(e, 1, uint64_t(4) << 20).size(), size_t(1) << 20);  // exactly at it
  try {
    decode_tensor(e, 1, (uint64_t(4) << 20) - 1);
    ADD_FAILURE() << "a dense output above the limit was decoded";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::too_large);
    EXPECT_NE(std::string(err.what()).find("memory limit"), std::string::npos) << err.what();
  }
}

TEST(MemoryLimit, given_tiny_file_declaring_2_pow_44_elements_expect_default_limit_refuses) {
  const TensorEntry e = pruned_bomb(uint64_t(1) << 22, uint64_t(1) << 22);
  Container c;
  c.tensors.push_back(e);
  const std::vector<uint8_t> bytes = serialize_container(c);
  EXPECT_LT(bytes.size(), 512u);
  const Container back = parse_container(bytes.data(), bytes.size());
  try {
    decode_tensor(back.tensors.at(0));
    ADD_FAILURE() << "64 TiB decoded";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::too_large);
    EXPECT_NE(std::string(err.what()).find("memory limit"), std::string::npos) << err.what();
  }
}

TEST(LosslessTensor, given_special_values_expect_bit_exact) {
  std::vector<float> v = gaussian(1001, 1.0, 3);
  v[0] = std::numeric_limits<float>::quiet_NaN();
  v[1] = -0.0f;
  v[2] = std::numeric_limits<float>::infinity();
  v[3] = -std::numeric_limits<float>::infinity();
  v[4] = std::numeric_limits<float>::denorm_min();
  const auto e = encode_tensor("w", {7, 11, 13}, v.data(), options(ValueCodec::lossless, 0));
  EXPECT_EQ(e.error_bound, 0.0);
  const auto d = through_container(e);
  ASSERT_EQ(d.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_TRUE(same_bits(d[i], v[i])) << i;
}

TEST(LosslessTensor, given_stream_of_wrong_size_expect_corruption) {
  const auto v = gaussian(100, 1.0, 4);
  auto e = encode_tensor("w", {100}, v.data(), options(ValueCodec::lossless, 0));
  e.shape = {99};
  EXPECT_EQ(decode_error(e), ErrorCode::corruption_detected);
  e.shape = {100};
  e.value_stream.pop_back();
  EXPECT_NE(decode_error(e), ErrorCode::interrupted);
  e.shape = {uint64_t(1) << 40};  // far beyond what zstd can expand to
  EXPECT_EQ(decode_error(e), ErrorCode::too_large);
  e.value_stream = {1, 2, 3, 4, 5, 6, 7, 8};
  e.shape = {2};
  EXPECT_EQ(decode_error(e), ErrorCode::corruption_detected);
}

TEST(ZfpTensor, given_tolerance_expect_every_value_within_it) {
  for (size_t n : {1, 3, 4, 5, 1000, 4099}) {
    const auto v = gaussian(n, 1.0, n);
    for (double tol : {1e-1, 1e-3, 1e-5}) {
      const auto e = encode_tensor("z", {n}, v.data(), options(ValueCodec::zfp, tol));
      EXPECT_EQ(e.error_bound, tol);
      const auto d = through_container(e);
      ASSERT_EQ(d.size(), n);
      for (size_t i = 0; i < n; ++i) ASSERT_LE(std::fabs(double(d[i]) - v[i]), tol) << n << " " << i;
    }
  }
}

TEST(ZfpTensor, given_bad_arguments_expect_invalid_argument) {
  std::vector<float> v = {1, 2, std::numeric_limits<float>::quiet_NaN()};
  for (double tol : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
    try {
      zfp_compress_floats(v.data(), 2, tol);
      ADD_FAILURE() << tol;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    }
  }
  try {
    zfp_compress_floats(v.data(), 3, 0.1);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
  }
}

TEST(ZfpStream, given_truncation_or_garbage_expect_error_never_a_crash) {
  const auto v = gaussian(777, 1.0, 9);
  const auto s = zfp_compress_floats(v.data(), v.size(), 1e-4);
  EXPECT_EQ(zfp_decompress_floats(s.data(), s.size()).size(), v.size());
  for (size_t n = 0; n < s.size(); n += (n < 64 ? 1 : 37)) {
    try {
      zfp_decompress_floats(s.data(), n);  // may succeed on a short tail
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::truncated || e.code() == ErrorCode::too_large)
          << n << " " << error_code_name(e.code());
    }
  }
  std::vector<uint8_t> bomb(16 + 8, 0xFF);
  std::memset(bomb.data(), 0, 16);
  bomb[7] = 0x01;  // 2^56 values in 8 bytes
  const double tol = 0.1;
  std::memcpy(bomb.data() + 8, &tol, 8);
  try {
    zfp_decompress_floats(bomb.data(), bomb.size());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::too_large);
  }
  std::mt19937_64 rng(5);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> junk(16 + rng() % 64);
    for (auto& b : junk) b = uint8_t(rng());
    junk[0] = uint8_t(rng() % 200);
    for (int k = 1; k < 8; ++k) junk[k] = 0;
    std::memcpy(junk.data() + 8, &tol, 8);
    try {
      zfp_decompress_floats(junk.data(), junk.size());
    } catch (const Error&) {
    }
  }
}

TEST(DszTensor, given_dense_gaussian_expect_bound_on_every_value) {
  const auto v = gaussian(5000, 0.05, 11);
  for (double eb : {0.0, 1e-4, 1e-2}) {
    auto o = options(ValueCodec::dsz, eb);
    o.threads = 3;
    const auto e = encode_tensor("fc", {50, 100}, v.data(), o);
    const auto d = through_container(e);
    ASSERT_EQ(d.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (eb == 0.0) ASSERT_TRUE(same_bits(d[i], v[i])) << i;
      else ASSERT_LE(std::fabs(double(d[i]) - double(v[i])), eb) << i;
    }
  }
}

TEST(SparseTensor, given_every_codec_and_index_coding_expect_zeros_exact_and_bound_held) {
  const auto v = pruned(300 * 784, 0.08, 21);
  for (auto coding : {IndexCoding::gap8_zstd, IndexCoding::context}) {
    for (auto codec : {ValueCodec::lossless, ValueCodec::dsz, ValueCodec::zfp}) {
      const double eb = codec == ValueCodec::lossless ? 0.0 : 1e-3;
      const auto e = encode_tensor("fc1.weight", {300, 784}, v.data(),
                                   options(codec, eb, true, coding));
      EXPECT_TRUE(e.sparse);
      EXPECT_FALSE(e.index_stream.empty());
      const auto d = through_container(e);
      ASSERT_EQ(d.size(), v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == 0.0f) ASSERT_TRUE(same_bits(d[i], 0.0f)) << i;
        else ASSERT_LE(std::fabs(double(d[i]) - double(v[i])), eb) << i;
      }
    }
  }
}

TEST(SparseTensor, given_scalar_vector_and_4d_shapes_expect_round_trip) {
  const std::vector<std::vector<uint64_t>> shapes = {{}, {1}, {17}, {4, 3, 2, 5}, {1, 1, 1}};
  for (const auto& shape : shapes) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    auto v = pruned(size_t(n), 0.5, n);
    const auto e = encode_tensor("t", shape, v.data(), options(ValueCodec::dsz, 1e-3, true));
    const auto d = through_container(e);
    ASSERT_EQ(d.size(), v.size());
    for (size_t i = 0; i < v.size(); ++i) ASSERT_LE(std::fabs(double(d[i]) - v[i]), 1e-3);
  }
}

TEST(SparseTensor, given_all_zero_and_all_nonzero_expect_round_trip) {
  std::vector<float> zeros(1000, 0.0f), full = gaussian(1000, 1.0, 2);
  zeros[10] = -0.0f;  // counts as zero, comes back as +0
  for (const auto* v : {&zeros, &full}) {
    const auto e = encode_tensor("t", {10, 100}, v->data(), options(ValueCodec::lossless, 0, true));
    const auto d = through_container(e);
    for (size_t i = 0; i < v->size(); ++i)
      ASSERT_TRUE((*v)[i] == 0.0f ? same_bits(d[i], 0.0f) : same_bits(d[i], (*v)[i]));
  }
}

TEST(Tensor, given_zero_sized_dimension_expect_empty_streams_and_empty_result) {
  for (bool sparse : {false, true}) {
    for (auto codec : {ValueCodec::lossless, ValueCodec::dsz, ValueCodec::zfp}) {
      const auto e = encode_tensor("e", {3, 0}, nullptr, options(codec, 0.5, sparse));
      EXPECT_TRUE(e.index_stream.empty());
      EXPECT_TRUE(e.value_stream.empty());
      EXPECT_TRUE(through_container(e).empty());
    }
  }
}

TEST(Tensor, given_mismatched_streams_expect_clear_errors) {
  const auto v = pruned(2000, 0.1, 31);
  auto sparse = encode_tensor("s", {20, 100}, v.data(), options(ValueCodec::dsz, 1e-3, true));
  auto dense = encode_tensor("d", {20, 100}, v.data(), options(ValueCodec::dsz, 1e-3));
  auto e = dense;
  e.shape = {2001};
  EXPECT_EQ(decode_error(e), ErrorCode::corruption_detected);
  e = sparse;
  e.value_stream = dense.value_stream;  // 2000 values for fewer positions
  EXPECT_EQ(decode_error(e), ErrorCode::corruption_detected);
  e = sparse;
  e.shape = {20, 99};  // index does not fit the matrix
  EXPECT_NE(decode_error(e), ErrorCode::interrupted);
  e = dense;
  e.value_codec = ValueCodec::zfp;
  EXPECT_NE(decode_error(e), ErrorCode::interrupted);
}

TEST(Tensor, given_bad_encode_options_expect_invalid_argument) {
  const std::vector<float> v(4, 1.0f);
  auto bad = [&](const std::string& name, std::vector<uint64_t> shape, TensorEncodeOptions o) {
    try {
      encode_tensor(name, shape, v.data(), o);
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << name << ": " << e.what();
    }
  };
  bad("", {4}, options(ValueCodec::dsz, 0.1));
  bad("neg", {4}, options(ValueCodec::dsz, -0.1));
  bad("nan", {4}, options(ValueCodec::dsz, std::nan("")));
  bad("zfp0", {4}, options(ValueCodec::zfp, 0.0));
  bad("rank", std::vector<uint64_t>(9, 1), options(ValueCodec::dsz, 0.1));
  auto o = options(ValueCodec::dsz, 0.1);
  o.threads = 0;
  bad("threads", {4}, o);
}


// decode_tensor_pieces: the concatenated pieces are decode_tensor's values,
// bit for bit, every piece at most kTensorPieceValues long, for every codec,
// dense and sparse, sizes on and off the piece and chunk boundaries.
std::vector<float> through_pieces(const TensorEntry& e, unsigned threads, size_t* largest = nullptr) {
  std::vector<float> out;
  size_t big = 0;
  decode_tensor_pieces(e, threads, [&](const float* v, size_t n) {
    EXPECT_GT(n, 0u);
    big = std::max(big, n);
    out.insert(out.end(), v, v + n);
  });
  if (largest) *largest = big;
  return out;
}

TEST(TensorPieces, given_every_codec_dense_and_sparse_expect_decode_tensor_bit_for_bit) {
  const size_t P = kTensorPieceValues;
  for (size_t n : {size_t(1), size_t(1000), size_t(1) << 18, P, P + 1, 3 * P - 7}) {
    for (double density : {1.0, 0.1, 0.0}) {
      const auto v = density == 1.0 ? gaussian(n, 0.05, n) : pruned(n, density, n);
      for (ValueCodec codec : {ValueCodec::dsz, ValueCodec::lossless, ValueCodec::zfp}) {
        for (bool sparse : {false, true}) {
          const TensorEntry e = encode_tensor("t", {n}, v.data(), options(codec, codec == ValueCodec::lossless ? 0 : 1e-3, sparse));
          const std::vector<float> whole = decode_tensor(e);
          for (unsigned threads : {1u, 2u}) {
            size_t largest = 0;
            const std::vector<float> pieces = through_pieces(e, threads, &largest);
            ASSERT_EQ(pieces.size(), whole.size()) << n << " " << density << " " << int(codec) << " " << sparse;
            EXPECT_LE(largest, P);
            for (size_t i = 0; i < n; ++i)
              ASSERT_TRUE(same_bits(pieces[i], whole[i])) << "value " << i << " of " << n << ", codec " << int(codec)
                                                            << (sparse ? " sparse" : " dense");
          }
        }
      }
    }
  }
}

TEST(TensorPieces, given_malformed_entries_expect_the_errors_of_decode_tensor_before_any_piece) {
  const auto v = pruned(3000, 0.1, 5);
  const auto sparse = encode_tensor("s", {30, 100}, v.data(), options(ValueCodec::dsz, 1e-3, true));
  const auto dense = encode_tensor("d", {30, 100}, v.data(), options(ValueCodec::dsz, 1e-3));
  const auto lossless = encode_tensor("l", {30, 100}, v.data(), options(ValueCodec::lossless, 0));
  std::vector<TensorEntry> bad;
  auto e = dense;
  e.shape = {3001};
  bad.push_back(e);
  e = sparse;
  e.value_stream = dense.value_stream;
  bad.push_back(e);
  const auto big = gaussian(100000, 0.05, 6);  // chunked (a compact stream has no checksum)
  e = encode_tensor("b", {100000}, big.data(), options(ValueCodec::dsz, 1e-3));
  e.value_stream[e.value_stream.size() / 2] ^= 0x40;  // the stream's checksum
  bad.push_back(e);
  e = lossless;
  e.value_stream.push_back(0);  // bytes after the frame
  bad.push_back(e);
  e = lossless;
  e.value_stream.resize(e.value_stream.size() - 3);
  bad.push_back(e);
  for (size_t i = 0; i < bad.size(); ++i) {
    size_t pieces = 0;
    try {
      decode_tensor_pieces(bad[i], 1, [&](const float*, size_t) { ++pieces; });
      ADD_FAILURE() << "case " << i << " accepted";
    } catch (const Error& err) {
      EXPECT_NE(err.code(), ErrorCode::interrupted) << i;
    }
    EXPECT_EQ(pieces, 0u) << "case " << i << ": a piece before the error";
    EXPECT_NE(decode_error(bad[i]), ErrorCode::interrupted) << i;
  }
}

TEST(FloatStreamReader, given_ranges_of_whole_pieces_expect_the_whole_decode_and_others_refused) {
  const auto v = gaussian((3u << 18) + 5, 0.1, 9);
  CodecOptions o;
  o.abs_error_bound = 1e-3;
  const auto stream = compress_floats(v.data(), v.size(), o);
  const auto whole = decompress_floats(stream.data(), stream.size());
  FloatStreamReader r(stream.data(), stream.size());
  ASSERT_EQ(r.count(), v.size());
  ASSERT_EQ(r.piece_values(), 1u << 18);
  std::vector<float> part(2u << 18);
  r.decode(1u << 18, part.size(), part.data(), 2);
  for (size_t i = 0; i < part.size(); ++i) ASSERT_TRUE(same_bits(part[i], whole[(1u << 18) + i])) << i;
  r.decode(3u << 18, 5, part.data());
  for (size_t i = 0; i < 5; ++i) ASSERT_TRUE(same_bits(part[i], whole[(3u << 18) + i])) << i;
  EXPECT_THROW(r.decode(1, 10, part.data()), Error);              // not at a piece
  EXPECT_THROW(r.decode(0, 10, part.data()), Error);              // not whole pieces
  EXPECT_THROW(r.decode(3u << 18, 6, part.data()), Error);        // past the end
  auto bad = stream;
  bad[bad.size() / 2] ^= 1;
  EXPECT_THROW(FloatStreamReader(bad.data(), bad.size()), Error);  // checksum, on construction
}

}  // namespace
}  // namespace deepsz
