// Shared pieces of the dsz commands: errors, raw float32 files, parameter
// checks, output paths.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "deepsz/codec.h"
#include "deepsz/container.h"

namespace dsz {

// A wrong command line (exit code 2); everything else is a failure (exit 1).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raw little-endian float32 files. The reader rejects a size that is not a
// multiple of 4; the writer goes through a temporary file and a rename.
std::vector<float> read_f32_file(const std::string& path);
// The same values without zero-filling them first, a regular file read by
// `threads` threads at once (each its own range: the copies and page faults
// in parallel), for dsz compress.
struct F32Array {
  std::unique_ptr<float[]> values;
  size_t count = 0;
  const float* data() const { return values.get(); }
  size_t size() const { return count; }
};
F32Array read_f32_array(const std::string& path, unsigned threads);
void write_f32_file(const std::string& path, const std::vector<float>& values);
// A tensor of the container decoded straight into a raw float32 file, a piece
// at a time (decode_tensor_pieces): the dense values are never held whole.
// Refuses (Error too_large, before writing) a dense output above
// `max_output_bytes` (0: no limit). Returns the number of values.
uint64_t write_tensor_f32_file(const deepsz::TensorEntry& tensor, const std::string& path, unsigned threads,
                               uint64_t max_output_bytes);

// Usage checks, each throwing UsageError with one line.
double checked_bound(double value, const char* option);
unsigned checked_threads(unsigned threads);
deepsz::Predictor parse_predictor(const std::string& name);

// --max-memory: a byte count with an optional K, M, G or T suffix (powers of
// 1024), "0" or "none" for no limit. Empty: the default, the smaller of
// deepsz::kDefaultMaxDecodedBytes and the physical memory.
uint64_t parse_memory_limit(const std::string& text);

// Throws UsageError when `out` names the same file as `in`, or if `out` is
// an existing directory where a file is expected (`allow_directory` false).
void check_distinct(const std::string& in, const std::string& out);

// A file name made of the tensor name: [A-Za-z0-9._-] kept, the rest '_',
// no leading '.', never empty.
std::string sanitise_file_name(const std::string& name);

// Subcommand registration: each adds its options and a callback that does
// the work (throwing on failure).
void add_compress_command(CLI::App& app);
void add_decompress_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_report_command(CLI::App& app);

}  // namespace dsz
