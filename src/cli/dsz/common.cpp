#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "deepsz/container.h"

namespace dsz {

namespace fs = std::filesystem;

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

namespace {
deepsz::Error not_f32(const std::string& path, uint64_t size) {
  return deepsz::Error(deepsz::ErrorCode::invalid_argument,
                       path + ": size " + std::to_string(size) + " is not a multiple of 4 (raw float32 expected)");
}
}  // namespace

std::vector<float> read_f32_file(const std::string& path) {
  const std::vector<uint8_t> bytes = deepsz::read_file_bytes(path);
  if (bytes.size() % 4 != 0) throw not_f32(path, bytes.size());
  std::vector<float> v(bytes.size() / 4);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint8_t* p = bytes.data() + 4 * i;
    const uint32_t bits = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                          uint32_t(p[3]) << 24;
    std::memcpy(&v[i], &bits, 4);
  }
  return v;
}

F32Array read_f32_array(const std::string& path, unsigned threads) {
  F32Array a;
  struct stat st;
  if (kLittleEndian && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    if (st.st_size % 4 != 0) throw not_f32(path, uint64_t(st.st_size));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      const size_t bytes = size_t(st.st_size);
      a.count = bytes / 4;
      a.values.reset(new float[a.count]);
      char* base = reinterpret_cast<char*>(a.values.get());
      const unsigned k = std::max(1u, std::min<unsigned>(threads, unsigned(bytes >> 24)));  // 16 MB a thread at least
      std::vector<int> errors(k, 0);
      std::vector<char> short_read(k, 0);
      auto part = [&](unsigned i) {
        const size_t from = bytes / k * i, to = i + 1 == k ? bytes : bytes / k * (i + 1);
        for (size_t at = from; at < to;) {
          const ssize_t n = ::pread(fd, base + at, to - at, off_t(at));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) errors[i] = errno;
          if (n <= 0) {
            short_read[i] = 1;
            return;
          }
          at += size_t(n);
        }
      };
      std::vector<std::thread> pool;
      for (unsigned i = 1; i < k; ++i) pool.emplace_back(part, i);
      part(0);
      for (auto& t : pool) t.join();
      struct stat after;
      const bool same = ::fstat(fd, &after) == 0 && after.st_size == st.st_size;
      ::close(fd);
      for (unsigned i = 0; i < k; ++i)
        if (errors[i]) throw deepsz::Error(deepsz::ErrorCode::io_error, "cannot read '" + path + "': " + std::strerror(errors[i]));
      if (same && std::find(short_read.begin(), short_read.end(), 1) == short_read.end()) return a;
      // The file changed size while read: read it again the general way.
    }
  }
  std::vector<float> v = read_f32_file(path);
  a.count = v.size();
  a.values.reset(new float[a.count ? a.count : 1]);
  std::copy(v.begin(), v.end(), a.values.get());
  return a;
}

namespace {
// Appends `count` floats to `out` as little-endian float32.
void write_f32(deepsz::AtomicFileWriter& out, const float* values, size_t count) {
  if constexpr (kLittleEndian) {
    out.write(values, count * 4);
    return;
  }
  std::vector<uint8_t> bytes(count * 4);
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = uint8_t(bits >> (8 * b));
  }
  out.write(bytes.data(), bytes.size());
}
}  // namespace

void write_f32_file(const std::string& path, const std::vector<float>& values) {
  deepsz::AtomicFileWriter out(path);
  write_f32(out, values.data(), values.size());
  out.commit();
}

uint64_t write_tensor_f32_file(const deepsz::TensorEntry& tensor, const std::string& path, unsigned threads,
                               uint64_t max_output_bytes) {
  const uint64_t n = tensor.element_count();
  if (max_output_bytes != 0 && n > max_output_bytes / 4)
    throw deepsz::Error(deepsz::ErrorCode::too_large,
                        "tensor '" + tensor.name + "' decodes to " + std::to_string(n) + " floats (" +
                            std::to_string(n * 4) + " bytes), above the memory limit of " +
                            std::to_string(max_output_bytes) + " bytes (--max-memory)");
  deepsz::AtomicFileWriter out(path);
  if (threads < 2) {
    deepsz::decode_tensor_pieces(tensor, threads, [&](const float* v, size_t k) { write_f32(out, v, k); });
  } else {
    // The write of one piece overlaps the decoding of the next: a piece is
    // copied into one of two buffers and written by a second thread while
    // the decoder fills its own buffer again.
    std::vector<float> buffers[2];
    std::future<void> pending;
    size_t next = 0;
    try {
      deepsz::decode_tensor_pieces(tensor, threads, [&](const float* v, size_t k) {
        std::vector<float>& b = buffers[next];
        next ^= 1;
        if (pending.valid()) pending.get();  // the write of the previous piece (the other buffer)
        b.assign(v, v + k);
        pending = std::async(std::launch::async, [&out, &b] { write_f32(out, b.data(), b.size()); });
      });
    } catch (...) {
      if (pending.valid()) pending.wait();
      throw;
    }
    if (pending.valid()) pending.get();
  }
  out.commit();
  return n;
}

double checked_bound(double value, const char* option) {
  if (!std::isfinite(value) || value < 0.0)
    throw UsageError(std::string(option) + " must be a finite number >= 0");
  return value;
}

unsigned checked_threads(unsigned threads) {
  if (threads < 1 || threads > 1024) throw UsageError("--threads must be in 1..1024");
  return threads;
}

deepsz::Predictor parse_predictor(const std::string& name) {
  if (name == "auto") return deepsz::Predictor::automatic;
  if (name == "none") return deepsz::Predictor::none;
  if (name == "lorenzo") return deepsz::Predictor::lorenzo;
  throw UsageError("--predictor must be auto, none or lorenzo");
}

uint64_t parse_memory_limit(const std::string& text) {
  if (text.empty()) {
    uint64_t limit = deepsz::kDefaultMaxDecodedBytes;
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && uint64_t(pages) < limit / uint64_t(page))
      limit = uint64_t(pages) * uint64_t(page);
    return limit;
  }
  if (text == "none" || text == "0") return 0;
  const std::string bad = "--max-memory must be a size such as 512M, 16G or 1T (or none), not '" + text + "'";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15 || text.size() > digits + 1) throw UsageError(bad);
  uint64_t value = std::stoull(text.substr(0, digits));
  if (text.size() == digits + 1) {
    const char* units = "KMGT";
    const char* u = std::strchr(units, text[digits] & ~0x20);
    if (!u || text[digits] == '\0') throw UsageError(bad);
    const int shift = 10 * int(u - units + 1);
    if (value > (~uint64_t(0) >> shift)) throw UsageError(bad);
    value <<= shift;
  }
  if (value == 0) throw UsageError(bad);
  return value;
}

void check_distinct(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(in, out, ec))
    throw UsageError("output '" + out + "' is the input file");
  if (fs::weakly_canonical(in, ec) == fs::weakly_canonical(out, ec) && !ec)
    throw UsageError("output '" + out + "' is the input file");
}

std::string sanitise_file_name(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    out.push_back(keep ? char(c) : '_');
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  if (out.size() > 200) out.resize(200);
  return out;
}

}  // namespace dsz
