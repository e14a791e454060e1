// Whole-file reads and crash-safe writes (temporary file, fsync, rename).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <fstream>

#include "container_internal.h"
#include "deepsz/container.h"
#include "deepsz/interrupt.h"

namespace deepsz {

namespace format {
void (*g_write_chunk_hook_for_testing)(size_t bytes_written) = nullptr;
}

namespace {

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorCode::io_error, what + " '" + path + "': " + std::strerror(err));
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { close(); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int close() {
    int rc = 0;
    if (fd_ >= 0) rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) io_fail("cannot open", path, errno);
  FileDescriptor file(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) io_fail("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) io_fail("cannot read", path, EISDIR);
  std::vector<uint8_t> out;
  if (S_ISREG(st.st_mode)) out.reserve(size_t(st.st_size));
  uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot read", path, errno);
    }
    if (n == 0) break;
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
}

struct AtomicFileWriter::State {
  std::string path, temp;
  std::unique_ptr<TemporaryFileRegistration> registration;
  int fd = -1;
  uint64_t written = 0;
};

AtomicFileWriter::AtomicFileWriter(const std::string& path) : state_(std::make_unique<State>()) {
  static std::atomic<uint64_t> counter{0};
  State& s = *state_;
  s.path = path;
  const std::string dir = directory_of(path);
  // The rename would replace a device or a pipe (/dev/full, /dev/null, a
  // FIFO) by a regular file, and as root it would succeed: refuse instead.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) io_fail("cannot write", path, EISDIR);
    if (!S_ISREG(st.st_mode))
      throw Error(ErrorCode::io_error, "cannot write '" + path + "': not a regular file");
  }
  struct stat dst;
  if (::stat(dir.c_str(), &dst) != 0) io_fail("cannot write", path, errno);
  if (!S_ISDIR(dst.st_mode)) io_fail("cannot write", path, ENOTDIR);
  for (int attempt = 0; attempt < 100 && s.fd < 0; ++attempt) {
    const uint64_t tick = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    s.temp = path + ".tmp." + std::to_string(::getpid()) + "." +
             std::to_string(counter.fetch_add(1)) + "." + std::to_string(tick % 1000000);
    // Registered before it exists, so that a signal between the open and the
    // registration cannot leave it behind; released again if the name is
    // taken (that file is someone else's).
    s.registration = std::make_unique<TemporaryFileRegistration>(s.temp);
    s.fd = ::open(s.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (s.fd < 0) s.registration.reset();
    if (s.fd < 0 && errno != EEXIST && errno != EINTR) io_fail("cannot create", path, errno);
  }
  if (s.fd < 0) io_fail("cannot create a temporary file for", path, EEXIST);
}

AtomicFileWriter::~AtomicFileWriter() {
  State& s = *state_;
  if (s.fd >= 0) {
    ::close(s.fd);
    ::unlink(s.temp.c_str());
  }
}

uint64_t AtomicFileWriter::bytes_written() const noexcept { return state_->written; }

void AtomicFileWriter::write(const void* data, size_t size) {
  State& s = *state_;
  if (s.fd < 0) throw Error(ErrorCode::invalid_argument, "write after commit to '" + s.path + "'");
  // In pieces, so that a signal is handled (and the temporary removed) in
  // the middle of a large write rather than after it.
  constexpr size_t kChunk = size_t(1) << 22;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(s.fd, p + done, std::min(kChunk, size - done));
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", s.path, errno);
    }
    // Start the writeback of what was just written (asynchronous, Linux),
    // so that it overlaps the producing of the rest and the fsync of
    // commit() finds little left to flush; an error here shows there.
    ::sync_file_range(s.fd, off_t(s.written), off_t(n), SYNC_FILE_RANGE_WRITE);
    done += size_t(n);
    s.written += uint64_t(n);
    if (format::g_write_chunk_hook_for_testing) format::g_write_chunk_hook_for_testing(size_t(s.written));
  }
}

void AtomicFileWriter::commit() {
  State& s = *state_;
  if (s.fd < 0) throw Error(ErrorCode::invalid_argument, "'" + s.path + "' was committed already");
  if (::fsync(s.fd) != 0) io_fail("cannot write", s.path, errno);
  const int fd = s.fd;
  s.fd = -1;
  if (::close(fd) != 0) {
    ::unlink(s.temp.c_str());
    io_fail("cannot write", s.path, errno);
  }
  if (::rename(s.temp.c_str(), s.path.c_str()) != 0) {
    const int err = errno;
    ::unlink(s.temp.c_str());
    io_fail("cannot rename to", s.path, err);
  }
  s.registration->release();
  // Make the rename durable; failure here leaves a complete file in place, so
  // it is not an error worth undoing the write for.
  const int dfd = ::open(directory_of(s.path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomically(const std::string& path, const uint8_t* data, size_t size) {
  AtomicFileWriter out(path);
  out.write(data, size);
  out.commit();
}

void write_container_file(const Container& c, const std::string& path) {
  const std::vector<uint8_t> head = serialize_container_head(c);  // validates c
  AtomicFileWriter out(path);
  out.write(head.data(), head.size());
  for (const auto& [data, size] : format::container_stream_parts(c)) out.write(data, size);
  out.commit();
}

bool container_file_matches(const Container& c, const std::string& path) {
  const std::vector<uint8_t> head = serialize_container_head(c);
  std::vector<std::pair<const uint8_t*, size_t>> parts{{head.data(), head.size()}};
  for (const auto& part : format::container_stream_parts(c)) parts.push_back(part);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io_error, "cannot open " + path);
  std::vector<char> buf(size_t(4) << 20);
  for (const auto& [data, size] : parts) {
    for (size_t at = 0; at < size;) {
      const size_t n = std::min(buf.size(), size - at);
      if (!in.read(buf.data(), std::streamsize(n))) return false;
      if (std::memcmp(buf.data(), data + at, n) != 0) return false;
      at += n;
    }
  }
  return in.peek() == std::char_traits<char>::eof();  // and nothing after
}

Container read_container_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return parse_container(bytes.data(), bytes.size());
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

}  // namespace deepsz
