// dsz bench [IN.f32] --abs EB[,EB...] [--threads N] [--repetitions R] [--json]
//
// In-process throughput (MB/s of float32 input, best of R runs,
// steady_clock) and ratio of the dsz codec beside zstd -3 (lossless, same
// floats) and ZFP fixed-accuracy at the same tolerance, each with the max abs
// error it actually had, and the zero-order entropy bound on the ratio. Then
// the sparse index: bits per nonzero of both codings on random masks beside
// H(p)/p. Without IN, the pruned-like array of docs/BENCHMARKS.md.
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common.h"
#include "deepsz/container.h"
#include "deepsz/synthetic.h"

namespace dsz {

namespace {

struct BenchArgs {
  std::string in;
  std::vector<double> abs;
  unsigned threads = 1;
  unsigned repetitions = 3;
  bool json = false;
};

// Best wall time of `reps` runs, in seconds.
double best_seconds(unsigned reps, const std::function<void()>& f) {
  double best = 1e300;
  for (unsigned r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

double mb_per_s(size_t count, double seconds) {
  return seconds > 0 ? double(count) * 4.0 / 1e6 / seconds : 0.0;
}

nlohmann::json codec_row(const char* name, double bound, size_t count, size_t bytes,
                         double enc_s, double dec_s, const deepsz::Distortion& d) {
  nlohmann::json j;
  j["codec"] = name;
  j["abs_bound"] = bound;
  j["bytes"] = bytes;
  j["ratio"] = bytes ? double(count) * 4.0 / double(bytes) : 0.0;
  j["compress_mb_s"] = mb_per_s(count, enc_s);
  j["decompress_mb_s"] = mb_per_s(count, dec_s);
  j["max_abs_error"] = d.max_abs_error;
  j["over_bound"] = d.over_bound;
  return j;
}

void run_bench(const BenchArgs& a) {
  if (a.abs.empty()) throw UsageError("--abs is required");
  for (double eb : a.abs) checked_bound(eb, "--abs");
  checked_threads(a.threads);
  if (a.repetitions < 1 || a.repetitions > 100) throw UsageError("--repetitions must be in 1..100");

  const std::vector<float> data =
      a.in.empty() ? deepsz::pruned_like_array() : read_f32_file(a.in);
  const size_t n = data.size();
  nlohmann::json out;
  out["input"] = a.in.empty() ? "pruned_like_array() (20,000,000 Gaussian(0, 0.05), 2,000,000 "
                                "largest |w| kept)"
                              : a.in;
  out["values"] = n;
  out["threads"] = a.threads;
  out["repetitions"] = a.repetitions;
  out["rows"] = nlohmann::json::array();

  {  // zstd -3, lossless, on the same little-endian floats.
    std::vector<uint8_t> raw(n * 4);
    std::memcpy(raw.data(), data.data(), raw.size());  // x86/ARM hosts: little-endian
    std::vector<uint8_t> z(ZSTD_compressBound(raw.size()));
    size_t zsize = 0;
    const double enc = best_seconds(a.repetitions, [&] {
      zsize = ZSTD_compress(z.data(), z.size(), raw.data(), raw.size(), 3);
    });
    if (ZSTD_isError(zsize)) throw deepsz::Error(deepsz::ErrorCode::invalid_argument, "zstd failed");
    std::vector<uint8_t> back(raw.size());
    const double dec = best_seconds(a.repetitions, [&] {
      ZSTD_decompress(back.data(), back.size(), z.data(), zsize);
    });
    deepsz::Distortion d;
    d.max_abs_error = back == raw ? 0.0 : -1.0;
    out["rows"].push_back(codec_row("zstd-3", 0.0, n, zsize, enc, dec, d));
  }

  for (double eb : a.abs) {
    deepsz::CodecOptions o;
    o.abs_error_bound = eb;
    o.threads = a.threads;
    std::vector<uint8_t> s;
    const double enc = best_seconds(a.repetitions, [&] { s = deepsz::compress_floats(data.data(), n, o); });
    std::vector<float> back(n);
    const double dec = best_seconds(a.repetitions, [&] {
      deepsz::decompress_floats_into(s.data(), s.size(), back.data(), n, a.threads);
    });
    auto row = codec_row("dsz", eb, n, s.size(), enc, dec,
                         deepsz::measure_distortion(data.data(), back.data(), n, eb));
    row["predictor"] = deepsz::predictor_name(deepsz::inspect_float_stream(s.data(), s.size()).predictor);
    const double h = deepsz::quantisation_entropy_bits(data.data(), n, eb);
    row["entropy_bits_per_value"] = h;
    row["entropy_bound_ratio"] = h > 0 ? 32.0 / h : 0.0;
    out["rows"].push_back(row);

    if (eb > 0) {
      std::vector<uint8_t> zs;
      bool zfp_ok = true;
      double zenc = 0, zdec = 0;
      try {
        zenc = best_seconds(a.repetitions, [&] { zs = deepsz::zfp_compress_floats(data.data(), n, eb); });
        std::vector<float> zb;
        zdec = best_seconds(a.repetitions, [&] { zb = deepsz::zfp_decompress_floats(zs.data(), zs.size()); });
        back = std::move(zb);
      } catch (const deepsz::Error&) {
        zfp_ok = false;  // NaN/Inf in the input: ZFP cannot code it
      }
      if (zfp_ok)
        out["rows"].push_back(codec_row("zfp", eb, n, zs.size(), zenc, zdec,
                                        deepsz::measure_distortion(data.data(), back.data(), n, eb)));
    }
  }

  out["index"] = nlohmann::json::array();
  const uint64_t rows = 1000, cols = 2000;
  for (double p : {0.02, 0.08, 0.25}) {
    const std::vector<uint64_t> pos = deepsz::random_mask_positions(rows, cols, p);
    nlohmann::json j;
    j["rows"] = rows;
    j["cols"] = cols;
    j["density"] = p;
    j["nonzeros"] = pos.size();
    j["entropy_bits_per_nonzero"] = deepsz::random_mask_bits_per_nonzero(p);
    for (auto coding : {deepsz::IndexCoding::gap8_zstd, deepsz::IndexCoding::context}) {
      std::vector<uint8_t> s;
      const double enc = best_seconds(a.repetitions, [&] {
        s = deepsz::encode_sparse_index(pos.data(), pos.size(), rows, cols, coding);
      });
      std::vector<uint64_t> back;
      const double dec = best_seconds(a.repetitions, [&] {
        back = deepsz::decode_sparse_index(s.data(), s.size(), rows, cols);
      });
      if (back != pos)
        throw deepsz::Error(deepsz::ErrorCode::corruption_detected, "index round trip failed");
      nlohmann::json c;
      c["bytes"] = s.size();
      c["bits_per_nonzero"] = pos.empty() ? 0.0 : double(s.size()) * 8.0 / double(pos.size());
      c["encode_ms"] = enc * 1e3;
      c["decode_ms"] = dec * 1e3;
      j[deepsz::index_coding_name(coding)] = c;
    }
    out["index"].push_back(j);
  }

  if (a.json) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("input: %s, %zu values, threads %u, best of %u\n",
              out["input"].get<std::string>().c_str(), n, a.threads, a.repetitions);
  std::printf("%-8s %10s %10s %12s %12s %12s %14s\n", "codec", "abs bound", "ratio", "comp MB/s",
              "decomp MB/s", "max error", "entropy ratio");
  for (const auto& r : out["rows"]) {
    char entropy[32] = "";
    if (r.contains("entropy_bound_ratio"))
      std::snprintf(entropy, sizeof entropy, "%.2f", r["entropy_bound_ratio"].get<double>());
    std::printf("%-8s %10.3g %10.2f %12.0f %12.0f %12.3g %14s\n",
                r["codec"].get<std::string>().c_str(), r["abs_bound"].get<double>(),
                r["ratio"].get<double>(), r["compress_mb_s"].get<double>(),
                r["decompress_mb_s"].get<double>(), r["max_abs_error"].get<double>(), entropy);
  }
  std::printf("\nsparse index, random mask %llu x %llu: bits per nonzero\n",
              (unsigned long long)rows, (unsigned long long)cols);
  std::printf("%8s %10s %10s %10s %10s\n", "density", "nonzeros", "gap8_zstd", "context", "H(p)/p");
  for (const auto& r : out["index"]) {
    std::printf("%8.2f %10llu %10.3f %10.3f %10.3f\n", r["density"].get<double>(),
                (unsigned long long)r["nonzeros"].get<uint64_t>(),
                r[deepsz::index_coding_name(deepsz::IndexCoding::gap8_zstd)]["bits_per_nonzero"].get<double>(),
                r[deepsz::index_coding_name(deepsz::IndexCoding::context)]["bits_per_nonzero"].get<double>(),
                r["entropy_bits_per_nonzero"].get<double>());
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Throughput and ratio of dsz beside zstd -3 and ZFP, and of the sparse index codings");
  cmd->add_option("--abs", args->abs, "absolute error bound(s): repeat or give a list (1e-3,1e-2)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->required();
  cmd->add_option("--threads", args->threads, "threads of the dsz codec (1..1024)");
  cmd->add_option("--repetitions", args->repetitions, "runs per measurement, best kept (default 3)");
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->add_option("IN", args->in, "raw float32 input (default: the generated pruned-like array)");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace dsz
