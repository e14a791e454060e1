// Writes the seed corpus of the fuzzers with the project's own encoders:
//   fuzz_make_seeds OUTDIR  ->  OUTDIR/<fuzzer>/seed_*.
// Seeds are small (libFuzzer mutates them best under a few KiB) and cover
// every codec, dense and sparse, both index codings, both predictors.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "deepsz/container.h"
#include "deepsz/interchange.h"

namespace {

namespace fs = std::filesystem;
using namespace deepsz;

void write_seed(const fs::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  fs::create_directories(dir);
  write_file_atomically((dir / name).string(), bytes.data(), bytes.size());
}

std::vector<float> pruned(size_t n, double density, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 0.05);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng) < density ? float(g(rng)) : 0.0f;
  return v;
}

std::vector<float> smooth(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(std::sin(double(i) * 0.05));
  return v;
}

// Two files as split_files (fuzz_input.h) takes them apart: the first's
// length in two bytes, then both.
std::vector<uint8_t> file_pair(const std::vector<uint8_t>& first, const std::vector<uint8_t>& second) {
  std::vector<uint8_t> seed = {uint8_t(first.size()), uint8_t(first.size() >> 8)};
  seed.insert(seed.end(), first.begin(), first.end());
  seed.insert(seed.end(), second.begin(), second.end());
  return seed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUTDIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  try {
    // Containers.
    int k = 0;
    const auto weights = pruned(24 * 16, 0.2, 1);
    const auto bias = smooth(24);
    for (ValueCodec codec : {ValueCodec::lossless, ValueCodec::dsz, ValueCodec::zfp}) {
      for (bool sparse : {false, true}) {
        Container c;
        c.set_meta("model", "seed");
        TensorEncodeOptions o;
        o.codec = codec;
        o.abs_error_bound = codec == ValueCodec::lossless ? 0.0 : 1e-3;
        o.sparse = sparse;
        o.index_coding = k % 4 < 2 ? IndexCoding::context : IndexCoding::gap8_zstd;
        c.tensors.push_back(encode_tensor("fc.weight", {24, 16}, weights.data(), o));
        o.sparse = false;
        c.tensors.push_back(encode_tensor("fc.bias", {24}, bias.data(), o));
        write_seed(out / "fuzz_container", "seed_" + std::to_string(k++), serialize_container(c));
      }
    }
    write_seed(out / "fuzz_container", "seed_empty", serialize_container(Container{}));
    {
      // Records of every shape of the version 2 directory: metadata of a real
      // model, a scalar, empty tensors (no sizes, no checksum; with and
      // without a bound), rank 3, dimensions and sizes of 1 and 2 varint bytes.
      Container c;
      c.set_meta("deepsz", "model1");
      c.set_meta("architecture", "lenet300");
      c.set_meta("dense.val_top1", "0.9016");
      c.set_meta("deepsz.masks", "fc1.weight,fc2.weight");
      c.set_meta("empty", "");
      TensorEncodeOptions o;
      o.codec = ValueCodec::dsz;
      o.abs_error_bound = 1e-2;
      o.sparse = true;
      const auto big = pruned(200 * 130, 0.05, 9);
      c.tensors.push_back(encode_tensor("fc1.weight", {200, 130}, big.data(), o));
      const float one = 0.5f;
      o.sparse = false;
      o.codec = ValueCodec::lossless;
      o.abs_error_bound = 0.0;
      c.tensors.push_back(encode_tensor("scalar", {}, &one, o));
      c.tensors.push_back(encode_tensor("empty.lossless", {4, 0}, nullptr, o));
      o.codec = ValueCodec::zfp;
      o.abs_error_bound = 1e-3;
      o.sparse = true;
      c.tensors.push_back(encode_tensor("empty.zfp", {0}, nullptr, o));
      c.tensors.push_back(encode_tensor("conv", {2, 3, 4}, weights.data(), o));
      write_seed(out / "fuzz_container", "seed_shapes", serialize_container(c));
    }

    // Float streams and round-trip inputs.
    k = 0;
    for (const auto& v : {pruned(300, 1.0, 2), smooth(500), pruned(100, 0.3, 3), std::vector<float>{}}) {
      for (Predictor p : {Predictor::none, Predictor::lorenzo}) {
        for (double eb : {0.0, 1e-3, 1e-1}) {
          CodecOptions o;
          o.abs_error_bound = eb;
          o.predictor = p;
          o.chunk_values = 128;
          write_seed(out / "fuzz_float_stream", "seed_" + std::to_string(k++),
                     compress_floats(v.data(), v.size(), o));
        }
      }
      std::vector<uint8_t> rt = {uint8_t(80 + k), uint8_t(k), 7, 2};
      const auto* b = reinterpret_cast<const uint8_t*>(v.data());
      rt.insert(rt.end(), b, b + v.size() * 4);
      write_seed(out / "fuzz_float_round_trip", "seed_" + std::to_string(k), rt);
      rt[2] = 0xFF;  // one chunk: the compact form
      write_seed(out / "fuzz_float_round_trip", "seed_" + std::to_string(k) + "_compact", rt);
    }
    // Compact streams (format version 2: one chunk of at most 2^16 values):
    // pruned weights, smooth data, escapes (NaN, Inf, out of range), the zstd
    // exact section, a single code, lossless, empty.
    std::vector<float> escapes = pruned(400, 1.0, 5);
    for (size_t i = 0; i < escapes.size(); i += 37) escapes[i] = i % 2 ? NAN : INFINITY;
    escapes[1] = 1e30f;
    std::vector<float> half_exact = pruned(200, 1.0, 6);
    for (size_t i = 0; i < half_exact.size(); i += 2) half_exact[i] = float(i) * 1e20f;
    k = 0;
    for (const auto& v : {pruned(300, 1.0, 2), smooth(500), pruned(100, 0.3, 3), escapes,
                          half_exact, std::vector<float>(64, 0.25f), std::vector<float>{1.0f},
                          std::vector<float>{}}) {
      for (Predictor p : {Predictor::none, Predictor::lorenzo}) {
        for (double eb : {0.0, 1e-3, 1e-1}) {
          CodecOptions o;
          o.abs_error_bound = eb;
          o.predictor = p;
          const auto s = compress_floats(v.data(), v.size(), o);
          if (s.size() > 4 && s[4] == 2)
            write_seed(out / "fuzz_float_stream", "seed_compact_" + std::to_string(k++), s);
        }
      }
    }

    // Index streams, prefixed by rows and cols (u16 each), and round-trip masks.
    k = 0;
    for (double density : {0.02, 0.25, 0.9}) {
      const uint16_t rows = 40, cols = 50;
      const auto v = pruned(size_t(rows) * cols, density, 4 + k);
      const auto pos = nonzero_positions(v.data(), v.size());
      for (IndexCoding coding : {IndexCoding::gap8_zstd, IndexCoding::context}) {
        std::vector<uint8_t> s = {uint8_t(rows), uint8_t(rows >> 8), uint8_t(cols), uint8_t(cols >> 8)};
        const auto idx = encode_sparse_index(pos.data(), pos.size(), rows, cols, coding);
        s.insert(s.end(), idx.begin(), idx.end());
        write_seed(out / "fuzz_index_stream", "seed_" + std::to_string(k++), s);
      }
      std::vector<uint8_t> mask = {uint8_t(rows), uint8_t(cols - 1)};
      std::vector<uint8_t> bits((size_t(rows) * cols + 7) / 8, 0);
      for (uint64_t p : pos) bits[p / 8] |= uint8_t(1u << (p % 8));
      mask.insert(mask.end(), bits.begin(), bits.end());
      write_seed(out / "fuzz_index_round_trip", "seed_" + std::to_string(k), mask);
    }
    // fuzz_idx: u16 length of the image file, the image file, the label file.
    for (uint32_t n : {1u, 3u, 10u}) {
      for (uint32_t side : {1u, 4u, 7u}) {
        auto be32 = [](std::vector<uint8_t>& v, uint32_t x) {
          for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
        };
        std::vector<uint8_t> images, labels;
        be32(images, 0x803);
        be32(images, n);
        be32(images, side);
        be32(images, side);
        for (uint32_t i = 0; i < n * side * side; ++i) images.push_back(uint8_t(i * 37));
        be32(labels, 0x801);
        be32(labels, n);
        for (uint32_t i = 0; i < n; ++i) labels.push_back(uint8_t(i % 10));
        write_seed(out / "fuzz_idx", "seed_" + std::to_string(n) + "_" + std::to_string(side),
                   file_pair(images, labels));
      }
    }
    // fuzz_npy: the same framing around two .npy files (numpy.save's header).
    auto npy = [](const std::string& descr, const std::string& shape, const std::vector<uint8_t>& body, bool fortran) {
      std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                         ", 'shape': " + shape + ", }";
      while ((10 + dict.size() + 1) % 64) dict += ' ';
      dict += '\n';
      std::vector<uint8_t> v = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(dict.size()), uint8_t(dict.size() >> 8)};
      v.insert(v.end(), dict.begin(), dict.end());
      v.insert(v.end(), body.begin(), body.end());
      return v;
    };
    int k_npy = 0;
    for (const char* descr : {"|u1", "<f4", ">i2"}) {
      for (bool fortran : {false, true}) {
        const uint32_t n = 3, side = 4;
        const size_t item = descr[2] == '1' ? 1 : descr[2] == '4' ? 4 : 2;
        std::vector<uint8_t> body(n * side * side * item, 0), labels = {0, 1, 2};
        if (item == 4)
          for (size_t i = 0; i < n * side * side; ++i) {
            const float f = float(i % 256) / 255.0f;
            std::memcpy(&body[i * 4], &f, 4);
          }
        else
          for (size_t i = 0; i < body.size(); i += item) body[i + item - 1] = uint8_t(i * 7);
        const auto x = npy(descr, "(3, 4, 4)", body, fortran), y = npy("|u1", "(3,)", labels, false);
        write_seed(out / "fuzz_npy", "seed_" + std::to_string(k_npy++), file_pair(x, y));
      }
    }
    // fuzz_safetensors: small files of each float dtype, a mixed one with an
    // integer tensor and metadata; fuzz_weights_container: their .dsz.
    auto safetensors = [](const std::vector<std::pair<std::string, std::vector<uint8_t>>>& tensors,
                          const std::string& dtype_of_first, const std::string& meta) {
      std::string header = "{" + (meta.empty() ? "" : "\"__metadata__\":" + meta + ",");
      std::vector<uint8_t> body;
      for (size_t i = 0; i < tensors.size(); ++i) {
        const std::string dtype = i == 0 ? dtype_of_first : "I32";
        const size_t unit = dtype == "F32" || dtype == "I32" ? 4 : 2;
        header += (i ? "," : "") + std::string("\"") + tensors[i].first + "\":{\"dtype\":\"" + dtype +
                  "\",\"shape\":[" + std::to_string(tensors[i].second.size() / unit) + "],\"data_offsets\":[" +
                  std::to_string(body.size()) + "," + std::to_string(body.size() + tensors[i].second.size()) + "]}";
        body.insert(body.end(), tensors[i].second.begin(), tensors[i].second.end());
      }
      header += "}";
      while (header.size() % 8) header += ' ';
      std::vector<uint8_t> v;
      for (int b = 0; b < 8; ++b) v.push_back(uint8_t(uint64_t(header.size()) >> (8 * b)));
      v.insert(v.end(), header.begin(), header.end());
      v.insert(v.end(), body.begin(), body.end());
      return v;
    };
    int k_st = 0;
    const auto w = pruned(64, 0.3, 7);
    for (const char* dtype : {"F32", "F16", "BF16"}) {
      std::vector<uint8_t> bytes;
      for (float x : w) {
        if (dtype[0] == 'F' && dtype[1] == '3') {
          uint8_t b[4];
          std::memcpy(b, &x, 4);
          bytes.insert(bytes.end(), b, b + 4);
        } else {
          const uint16_t h = dtype[0] == 'F' ? interchange::float_to_half(x) : interchange::float_to_bfloat16(x);
          bytes.push_back(uint8_t(h));
          bytes.push_back(uint8_t(h >> 8));
        }
      }
      for (bool mixed : {false, true}) {
        std::vector<std::pair<std::string, std::vector<uint8_t>>> tensors = {{"fc.weight", bytes}};
        if (mixed) tensors.push_back({"steps", {1, 0, 0, 0, 2, 0, 0, 0}});
        const auto file = safetensors(tensors, dtype, mixed ? "{\"format\":\"pt\"}" : "");
        write_seed(out / "fuzz_safetensors", "seed_" + std::to_string(k_st), file);
        interchange::WeightsOptions o;
        o.bound.value = 1e-3;
        const Container c = interchange::compress_weights(interchange::parse_safetensors(file.data(), file.size()), o);
        write_seed(out / "fuzz_weights_container", "seed_" + std::to_string(k_st++), serialize_container(c));
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
