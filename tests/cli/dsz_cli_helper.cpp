// Helper of tests/cli/test_dsz.sh.
//   gen OUT N DENSITY SEED [special]  raw float32, Gaussian(0, 0.05) kept with
//                                     probability DENSITY (+NaN/Inf if special)
//   check ORIG DECODED EB             every finite value within EB, non-finite
//                                     bit-exact, zeros of ORIG exact zeros
//   relbound FILE R                   prints R * (max - min) of FILE
//   inspect-json FILE                 validates `dsz inspect --json` output
//   bench-json FILE                   validates `dsz bench --json` output
//   multi OUT                         a container of three tensors
//   bomb OUT ROWS COLS                a sparse ROWS x COLS tensor with one
//                                     nonzero: tiny file, huge dense output
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "deepsz/container.h"

namespace {

std::vector<float> read_f32(const std::string& path) {
  const auto b = deepsz::read_file_bytes(path);
  if (b.size() % 4) throw std::runtime_error(path + ": size not a multiple of 4");
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "dsz_cli_helper: %s\n", what.c_str());
  return 1;
}

int check(const std::string& a, const std::string& b, double eb) {
  const auto x = read_f32(a), y = read_f32(b);
  if (x.size() != y.size()) return fail("sizes differ: " + std::to_string(x.size()) + " vs " + std::to_string(y.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      if (std::memcmp(&x[i], &y[i], 4) != 0) return fail("non-finite value " + std::to_string(i) + " changed");
      continue;
    }
    if (x[i] == 0.0f && y[i] != 0.0f && eb == 0.0) return fail("zero changed at " + std::to_string(i));
    const double e = std::fabs(double(x[i]) - double(y[i]));
    worst = std::max(worst, e);
    if (!(e <= eb)) return fail("value " + std::to_string(i) + " off by " + std::to_string(e) + " > " + std::to_string(eb));
  }
  std::printf("ok: %zu values, max error %.3g <= %.3g\n", x.size(), worst, eb);
  return 0;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);  // throws on malformed JSON
}

int inspect_json(const std::string& path) {
  const auto j = read_json(path);
  for (const char* k : {"file", "file_bytes", "format_version", "metadata", "tensors", "ratio"})
    if (!j.contains(k)) return fail(std::string("inspect json lacks ") + k);
  for (const auto& t : j["tensors"])
    for (const char* k : {"name", "shape", "codec", "error_bound", "index_bytes", "value_bytes", "ratio",
                          "density", "index_bits_per_nonzero", "value_bits_per_nonzero"})
      if (!t.contains(k)) return fail(std::string("inspect json tensor lacks ") + k);
  std::printf("ok: inspect json with %zu tensors\n", j["tensors"].size());
  return 0;
}

int bench_json(const std::string& path) {
  const auto j = read_json(path);
  int dsz_rows = 0;
  for (const auto& r : j.at("rows")) {
    if (r.at("codec") == "dsz") {
      ++dsz_rows;
      if (r.at("over_bound").get<uint64_t>() != 0) return fail("bench: dsz broke its bound");
      if (r.at("max_abs_error").get<double>() > r.at("abs_bound").get<double>()) return fail("bench: max error > bound");
    }
    if (!(r.at("ratio").get<double>() > 0)) return fail("bench: ratio not positive");
  }
  if (dsz_rows != 2) return fail("bench: expected two dsz rows (two bounds)");
  if (j.at("index").size() != 3) return fail("bench: expected three index densities");
  std::printf("ok: bench json\n");
  return 0;
}

int multi(const std::string& out) {
  deepsz::Container c;
  c.set_meta("model", "cli-test");
  std::vector<float> w(60), b(6), s(1, 3.5f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = (i % 3) ? 0.0f : float(i) * 0.01f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(i);
  deepsz::TensorEncodeOptions o;
  o.abs_error_bound = 1e-3;
  o.sparse = true;
  c.tensors.push_back(deepsz::encode_tensor("fc1/weight", {6, 10}, w.data(), o));
  o.sparse = false;
  c.tensors.push_back(deepsz::encode_tensor("fc1/bias", {6}, b.data(), o));
  o.codec = deepsz::ValueCodec::lossless;
  c.tensors.push_back(deepsz::encode_tensor("../scale", {}, s.data(), o));
  deepsz::write_container_file(c, out);
  return 0;
}

int bomb(const std::string& out, uint64_t rows, uint64_t cols) {
  deepsz::TensorEntry e;
  e.name = "pruned";
  e.shape = {rows, cols};
  e.value_codec = deepsz::ValueCodec::lossless;
  e.sparse = true;
  const uint64_t position = 0;
  e.index_stream = deepsz::encode_sparse_index(&position, 1, rows, cols, deepsz::IndexCoding::gap8_zstd);
  const float one = 1.0f;
  deepsz::TensorEncodeOptions o;
  o.codec = deepsz::ValueCodec::lossless;
  e.value_stream = deepsz::encode_tensor("v", {1}, &one, o).value_stream;
  deepsz::Container c;
  c.tensors.push_back(e);
  deepsz::write_container_file(c, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "gen" && argc >= 6) {
      const size_t n = std::stoull(argv[3]);
      const double density = std::stod(argv[4]);
      std::mt19937_64 rng(std::stoull(argv[5]));
      std::normal_distribution<double> g(0.0, 0.05);
      std::uniform_real_distribution<double> u(0, 1);
      std::vector<float> v(n);
      for (auto& x : v) x = u(rng) < density ? float(g(rng)) : 0.0f;
      if (argc > 6 && n >= 4) {
        v[0] = NAN;
        v[1] = INFINITY;
        v[2] = -INFINITY;
        v[3] = -0.0f;
      }
      deepsz::write_file_atomically(argv[2], reinterpret_cast<const uint8_t*>(v.data()), n * 4);
      return 0;
    }
    if (cmd == "check" && argc == 5) return check(argv[2], argv[3], std::stod(argv[4]));
    if (cmd == "relbound" && argc == 4) {
      const auto v = read_f32(argv[2]);
      std::printf("%.17g\n", deepsz::absolute_bound_from_relative(v.data(), v.size(), std::stod(argv[3])));
      return 0;
    }
    if (cmd == "inspect-json" && argc == 3) return inspect_json(argv[2]);
    if (cmd == "bench-json" && argc == 3) return bench_json(argv[2]);
    if (cmd == "multi" && argc == 3) return multi(argv[2]);
    if (cmd == "bomb" && argc == 5) return bomb(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return fail("bad usage");
}
