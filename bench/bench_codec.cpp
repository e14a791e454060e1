// bench_codec: ratio and single/multi-thread throughput of the float codec on
// the pruned-like array of ../shared/DEEPSZ.md (20,000,000 Gaussian(0, 0.05)
// values, the 2,000,000 largest |w| kept in order), against the zero-order
// entropy bound 32 / H(round(x / 2eb)).
//
// usage: bench_codec [--repeats N] [--threads a,b,...] [--bounds e1,e2,...]
//                    [--predictor none|lorenzo|automatic] [--smooth]
//        bench_codec --small [--repeats N]
// Throughput is MB/s of float32 input bytes (10^6 bytes), best of N runs;
// the (cpu) columns divide by process CPU time per thread, which on a loaded
// machine shows what the codec itself costs.
//
// --small: stored bytes of small pruned-like streams (Laplacian weights, the
// largest 5% of |w| kept, eb = 0.02 * rms of the kept values) in the chunked
// form of format v1 (the stream before the compact form existed, byte for
// byte) and as compress_floats now stores them, against the empirical order-0
// entropy of the quantisation codes; the table of docs/CODEC.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "deepsz/codec.h"
#include "deepsz/synthetic.h"

namespace {

std::vector<double> parse_list(const char* s) {
  std::vector<double> v;
  std::string str(s);
  size_t p = 0;
  while (p <= str.size()) {
    size_t q = str.find(',', p);
    if (q == std::string::npos) q = str.size();
    v.push_back(std::atof(str.substr(p, q - p).c_str()));
    p = q + 1;
  }
  return v;
}

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Timing {
  double wall = 1e300;  // best wall-clock seconds
  double cpu = 1e300;   // best process CPU seconds (all threads)
};

// Best of `repeats`; the process CPU time is reported beside the wall time
// because the machine is shared: with one thread it is the time the codec
// actually ran, unaffected by waiting for a core.
template <class F>
Timing best_time(int repeats, F&& f) {
  Timing t;
  for (int r = 0; r < repeats; ++r) {
    const double c0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = cpu_now();
    t.wall = std::min(t.wall, std::chrono::duration<double>(t1 - t0).count());
    t.cpu = std::min(t.cpu, c1 - c0);
  }
  return t;
}


int small_streams(int repeats) {
  std::printf("pruned-like Laplacian weights (5%% kept), eb = 0.02 * rms, predictor none; "
              "decode MB/s of float32 output (16 arrays of the size), best of %d runs\n\n", repeats);
  std::printf("| values | distinct codes | entropy B | v1 chunked B | stored B | stored / entropy | "
              "saved | form | decode MB/s (cpu) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  size_t total_before = 0, total_after = 0;
  double total_entropy = 0;
  for (size_t n : {100, 300, 1000, 2600, 4600, 20000, 65536}) {
    const std::vector<float> v = deepsz::pruned_laplacian_array(n, n);
    double ss = 0;
    for (float x : v) ss += double(x) * x;
    const double eb = 0.02 * std::sqrt(ss / double(n));
    deepsz::CodecOptions o;
    o.abs_error_bound = eb;
    o.predictor = deepsz::Predictor::none;
    o.compact_small_streams = false;
    const auto before = deepsz::compress_floats(v.data(), n, o);
    o.compact_small_streams = true;
    const auto after = deepsz::compress_floats(v.data(), n, o);
    const double entropy = deepsz::quantisation_entropy_bits(v.data(), n, eb) * double(n) / 8.0;
    std::vector<long> codes;
    for (float x : v) codes.push_back(std::lround(double(x) / (2 * eb)));
    std::sort(codes.begin(), codes.end());
    const size_t distinct = size_t(std::unique(codes.begin(), codes.end()) - codes.begin());
    std::vector<float> out(n);
    deepsz::decompress_floats_into(after.data(), after.size(), out.data(), n, 1);
    const auto d = deepsz::measure_distortion(v.data(), out.data(), n, eb);
    // Decode speed over 16 other arrays of the same size, each decoded once
    // a round: one stream decoded again and again lets the branch predictor
    // learn its symbols.
    std::vector<std::vector<uint8_t>> others;
    for (uint64_t k = 1; k <= 16; ++k) {
      const std::vector<float> w = deepsz::pruned_laplacian_array(n, n * 1000 + k);
      others.push_back(deepsz::compress_floats(w.data(), n, o));
    }
    const Timing td = best_time(repeats, [&] {
      for (const auto& s : others)
        deepsz::decompress_floats_into(s.data(), s.size(), out.data(), n, 1);
    });
    if (d.over_bound || d.non_finite_mismatch) {
      std::printf("BOUND BROKEN at %zu values\n", n);
      return 1;
    }
    const auto info = deepsz::inspect_float_stream(after.data(), after.size());
    std::printf("| %zu | %zu | %.0f | %zu | %zu | %.3f | %.1f%% | v%d | %.0f |\n", n, distinct,
                entropy, before.size(), after.size(), double(after.size()) / entropy,
                100.0 * (1.0 - double(after.size()) / double(before.size())),
                int(info.format_version), 16.0 * double(n) * 4e-6 / td.cpu);
    if (n <= 4600) {
      total_before += before.size();
      total_after += after.size();
      total_entropy += entropy;
    }
  }
  std::printf("\n100..4600 together: entropy %.0f B, v1 %zu B, stored %zu B (%.1f%% saved)\n",
              total_entropy, total_before, total_after,
              100.0 * (1.0 - double(total_after) / double(total_before)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 7;
  std::vector<double> threads = {1, 2};
  std::vector<double> bounds = {1e-3, 1e-2};
  deepsz::Predictor pred = deepsz::Predictor::automatic;
  bool smooth = false, small = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "--bounds") && i + 1 < argc) bounds = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "--smooth")) smooth = true;
    else if (!std::strcmp(argv[i], "--small")) small = true;
    else if (!std::strcmp(argv[i], "--predictor") && i + 1 < argc) {
      const std::string p = argv[++i];
      pred = p == "none" ? deepsz::Predictor::none
             : p == "lorenzo" ? deepsz::Predictor::lorenzo : deepsz::Predictor::automatic;
    } else {
      std::fprintf(stderr, "usage: %s [--repeats N] [--threads 1,2] [--bounds 1e-3,1e-2] "
                   "[--predictor none|lorenzo|automatic] [--smooth] | --small [--repeats N]\n", argv[0]);
      return 2;
    }
  }
  if (small) return small_streams(repeats);
  std::vector<float> data;
  const char* name;
  if (smooth) {
    // A smooth signal (sum of sines), where the Lorenzo predictor pays.
    name = "smooth sines, 2,000,000 values";
    data.resize(2000000);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = float(std::sin(i * 1e-4) + 0.3 * std::sin(i * 3.7e-3));
  } else {
    name = "pruned-like, 2,000,000 of 20,000,000 Gaussian(0, 0.05)";
    data = deepsz::pruned_like_array();
  }
  const double mb = double(data.size()) * 4.0 / 1e6;
  std::printf("data: %s; best of %d runs; MB/s of float32 input\n\n", name, repeats);
  std::printf("| bound | predictor | threads | ratio | entropy bound | %% of bound | "
              "compress MB/s | decompress MB/s | compress MB/s (cpu) | decompress MB/s (cpu) | "
              "max error | exact values |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (double eb : bounds) {
    const double h = deepsz::quantisation_entropy_bits(data.data(), data.size(), eb);
    const double bound_ratio = 32.0 / h;
    for (double tf : threads) {
      const unsigned t = unsigned(tf);
      deepsz::CodecOptions o;
      o.abs_error_bound = eb;
      o.predictor = pred;
      o.threads = t;
      std::vector<uint8_t> stream;
      const Timing tc = best_time(repeats, [&] {
        stream = deepsz::compress_floats(data.data(), data.size(), o);
      });
      std::vector<float> out(data.size());
      const Timing td = best_time(repeats, [&] {
        deepsz::decompress_floats_into(stream.data(), stream.size(), out.data(), out.size(), t);
      });
      const auto info = deepsz::inspect_float_stream(stream.data(), stream.size());
      const auto d = deepsz::measure_distortion(data.data(), out.data(), data.size(), eb);
      const double ratio = double(data.size()) * 4.0 / double(stream.size());
      std::printf("| %g | %s | %u | %.3f | %.3f | %.2f%% | %.0f | %.0f | %.0f | %.0f | %.3g%s | %llu |\n",
                  eb, deepsz::predictor_name(info.predictor), t, ratio, bound_ratio,
                  100.0 * ratio / bound_ratio, mb / tc.wall, mb / td.wall, t * mb / tc.cpu,
                  t * mb / td.cpu, d.max_abs_error,
                  d.over_bound ? " (BOUND BROKEN)" : "",
                  (unsigned long long)info.exact_values);
      if (d.over_bound || d.non_finite_mismatch) return 1;
    }
  }
  return 0;
}
