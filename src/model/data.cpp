// MNIST-format IDX reader (gzipped or not) and the validation split.
// Torch-free: the fuzzer (fuzz/fuzz_idx.cpp) compiles this file alone.
#include "deepsz/model/data.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "deepsz/error.h"

namespace deepsz::model {
namespace {

// Where the bytes of an IDX file come from: a file (gzipped or not) or memory.
class ByteSource {
 public:
  explicit ByteSource(std::string name) : name_(std::move(name)) {}
  virtual ~ByteSource() = default;
  const std::string& name() const { return name_; }
  // Up to `bytes` bytes; 0 at the end of the input.
  virtual size_t read_some(void* out, size_t bytes) = 0;

  void read(void* out, size_t bytes, const char* what) {
    auto* p = static_cast<unsigned char*>(out);
    while (bytes > 0) {
      const size_t got = read_some(p, bytes);
      if (got == 0) throw Error(ErrorCode::truncated, name_ + ": truncated (file ends inside the " + what + ")");
      p += got;
      bytes -= got;
    }
  }
  // `bytes` bytes into `out`, growing it as the data arrives: a header that
  // declares gigabytes makes the reader allocate no more than about twice
  // what the input actually holds (a decompression bomb fails as truncated).
  void read_grow(std::vector<uint8_t>& out, uint64_t bytes, const char* what) {
    out.clear();
    constexpr uint64_t kPiece = uint64_t(1) << 24;
    while (out.size() < bytes) {
      const size_t before = out.size();
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(kPiece, bytes - before));
      out.resize(before + piece);
      read(out.data() + before, piece, what);
    }
  }
  // Rejects bytes after the declared content.
  void expect_end() {
    unsigned char extra;
    if (read_some(&extra, 1) != 0)
      throw Error(ErrorCode::corruption_detected, name_ + ": unexpected bytes after the declared content");
  }
  uint32_t read_be32(const char* what) {
    unsigned char b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

 private:
  std::string name_;
};

// A gzFile reads plain files transparently, so one path handles both.
class GzFileSource : public ByteSource {
 public:
  explicit GzFileSource(const std::string& path) : ByteSource(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(ErrorCode::io_error, "cannot read " + path + ": a directory");
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw Error(ErrorCode::io_error, "cannot open " + path + ": " + std::strerror(errno));
    gzbuffer(file_, 1 << 20);
  }
  ~GzFileSource() override { gzclose(file_); }
  GzFileSource(const GzFileSource&) = delete;
  GzFileSource& operator=(const GzFileSource&) = delete;

  size_t read_some(void* out, size_t bytes) override {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
    const int got = gzread(file_, out, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(file_, &code);
      if (code == Z_ERRNO)
        throw Error(ErrorCode::io_error, "cannot read " + name() + ": " + std::strerror(errno));
      throw Error(ErrorCode::corruption_detected,
                  name() + ": cannot decompress (" + (msg ? msg : "zlib error") + ")");
    }
    return static_cast<size_t>(got);
  }

 private:
  gzFile file_ = nullptr;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(const uint8_t* data, size_t size, std::string name)
      : ByteSource(std::move(name)), data_(data), left_(size) {}
  size_t read_some(void* out, size_t bytes) override {
    const size_t n = std::min(bytes, left_);
    if (n) std::memcpy(out, data_, n);
    data_ += n;
    left_ -= n;
    return n;
  }

 private:
  const uint8_t* data_;
  size_t left_;
};

// IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the rank.
std::vector<uint32_t> read_idx_header(ByteSource& in, uint32_t rank) {
  uint32_t magic = in.read_be32("header");
  if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08 || (magic & 0xff) != rank) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", magic);
    char want[16];
    std::snprintf(want, sizeof want, "0x%08x", 0x800u | rank);
    throw Error(ErrorCode::foreign_format, in.name() + ": not an IDX file of " + std::to_string(rank) +
                                               "-dimensional unsigned bytes (magic " + buf + ", expected " +
                                               want + ")");
  }
  std::vector<uint32_t> dims(rank);
  for (auto& d : dims) d = in.read_be32("header");
  return dims;
}

ImageSet read_idx_sources(ByteSource& images, ByteSource& labels) {
  ImageSet set;
  auto idims = read_idx_header(images, 3);
  auto ldims = read_idx_header(labels, 1);
  if (idims[0] != ldims[0])
    throw Error(ErrorCode::corruption_detected,
                images.name() + " holds " + std::to_string(idims[0]) + " images but " + labels.name() + " holds " +
                    std::to_string(ldims[0]) + " labels");
  if (idims[0] == 0 || idims[1] == 0 || idims[2] == 0)
    throw Error(ErrorCode::corruption_detected, images.name() + ": empty image set");
  const uint64_t total = uint64_t{idims[0]} * idims[1] * idims[2];
  if (idims[1] > 65536 || idims[2] > 65536 || total > (uint64_t{1} << 36))
    throw Error(ErrorCode::too_large, images.name() + ": declared size too large (" + std::to_string(idims[0]) +
                                          " images of " + std::to_string(idims[1]) + "x" +
                                          std::to_string(idims[2]) + ")");
  set.rows = idims[1];
  set.cols = idims[2];
  images.read_grow(set.pixels, total, "pixels");
  images.expect_end();
  labels.read_grow(set.labels, ldims[0], "labels");
  labels.expect_end();
  return set;
}

// The names under which a directory may hold its four .npy arrays.
struct NpyLayout {
  const char* train_images;
  const char* train_labels;
  const char* test_images;
  const char* test_labels;
};
constexpr NpyLayout kNpyLayouts[] = {
    {"train-images.npy", "train-labels.npy", "test-images.npy", "test-labels.npy"},
    {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"},
};

// The .npy layout whose training images the directory holds (then all four
// files must be there: a missing one is named when it is read), or null.
const NpyLayout* npy_layout_in(const std::string& dir) {
  std::error_code ec;
  for (const NpyLayout& l : kNpyLayouts)
    if (std::filesystem::exists(std::filesystem::path(dir) / l.train_images, ec)) return &l;
  return nullptr;
}

std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const std::string& candidate : {name, name + ".gz"}) {
    fs::path p = fs::path(dir) / candidate;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw Error(ErrorCode::io_error, "missing data file " + (fs::path(dir) / name).string() +
                                       "[.gz] (a data directory holds MNIST IDX files or train-images.npy, "
                                       "train-labels.npy, test-images.npy, test-labels.npy)");
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

ImageSet subset(const ImageSet& set, const std::vector<int64_t>& indices) {
  ImageSet out;
  out.channels = set.channels;
  out.rows = set.rows;
  out.cols = set.cols;
  const int64_t n = set.image_elements();
  out.pixels.resize(indices.size() * static_cast<size_t>(n));
  out.labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    std::copy_n(set.pixels.begin() + indices[i] * n, n, out.pixels.begin() + static_cast<int64_t>(i) * n);
    out.labels[i] = set.labels[static_cast<size_t>(indices[i])];
  }
  return out;
}

}  // namespace

const char* split_name(Split split) noexcept {
  switch (split) {
    case Split::train: return "train";
    case Split::val: return "val";
    case Split::test: return "test";
    case Split::cert: return "cert";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "val") return Split::val;
  if (name == "test") return Split::test;
  if (name == "cert") return Split::cert;
  throw Error(ErrorCode::invalid_argument, "unknown split '" + name + "' (train, val, cert or test)");
}

const ImageSet& Dataset::split(Split s) const {
  switch (s) {
    case Split::train: return train;
    case Split::val: return val;
    case Split::test: return test;
    case Split::cert: return cert;
  }
  return test;
}

std::string Dataset::split_record() const {
  return "seed=" + std::to_string(split_seed) + ",val=" + std::to_string(val.size()) +
         ",cert=" + std::to_string(cert.size());
}

SplitSpec parse_split_record(const std::string& record) {
  SplitSpec spec;
  unsigned long long seed = 0;
  long long val = -1, cert = -1;
  int used = 0;
  if (std::sscanf(record.c_str(), "seed=%llu,val=%lld,cert=%lld%n", &seed, &val, &cert, &used) != 3 ||
      used != static_cast<int>(record.size()) || seed == 0 || val < 0 || cert < 0)
    throw Error(ErrorCode::corruption_detected, "malformed data split record '" + record + "'");
  spec.seed = seed;
  spec.selection = val;
  spec.certification = cert;
  return spec;
}

namespace {
std::string split_flags(const SplitSpec& s) {
  return "--split-seed " + std::to_string(s.seed) + " --val " + std::to_string(s.selection) + " --cert " +
         std::to_string(s.certification);
}
}  // namespace

void check_split_record(const std::string& recorded, const Dataset& data, const std::string& what) {
  const SplitSpec now = parse_split_record(data.split_record());
  if (recorded.empty()) {
    if (data.certified())
      throw Error(ErrorCode::invalid_argument,
                  what + " records no data split (made by an older deepsz or outside it): its training may have "
                         "seen the certification images; train it with this deepsz, or pass --cert 0 (uncertified)");
    return;
  }
  const SplitSpec was = parse_split_record(recorded);
  if (data.certified() ? (was.seed != now.seed || was.selection != now.selection ||
                          was.certification != now.certification)
                       : (was.seed != now.seed || was.selection != now.selection))
    throw Error(ErrorCode::invalid_argument,
                what + " was made on the split " + split_flags(was) + ", this data is split " + split_flags(now) +
                    ": pass " + (data.certified() ? split_flags(was)
                                                  : "--split-seed " + std::to_string(was.seed) + " --val " +
                                                        std::to_string(was.selection)) +
                    (data.certified() ? " (other certification images may have been trained or chosen on)" : ""));
}

std::string encode_flags(const std::vector<uint8_t>& flags) {
  static const char* kHex = "0123456789abcdef";
  std::string out = std::to_string(flags.size()) + ":";
  for (size_t i = 0; i < flags.size(); i += 4) {
    unsigned nibble = 0;
    for (size_t b = 0; b < 4 && i + b < flags.size(); ++b) nibble |= (flags[i + b] ? 1u : 0u) << b;
    out += kHex[nibble];
  }
  return out;
}

std::vector<uint8_t> decode_flags(const std::string& text) {
  const size_t colon = text.find(':');
  auto bad = [] { return Error(ErrorCode::corruption_detected, "recorded per-image flags are malformed"); };
  if (colon == std::string::npos || colon == 0 || colon > 12) throw bad();
  uint64_t n = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') throw bad();
    n = n * 10 + uint64_t(text[i] - '0');
  }
  if (text.size() - colon - 1 != (n + 3) / 4) throw bad();
  std::vector<uint8_t> flags(static_cast<size_t>(n));
  for (size_t i = 0; i < flags.size(); ++i) {
    const char c = text[colon + 1 + i / 4];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) throw bad();
    flags[i] = static_cast<uint8_t>((v >> (i % 4)) & 1);
  }
  // Bits past the count must be zero (the encoder writes them so).
  if (n % 4) {
    const char c = text.back();
    const int v = c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
    if (v >> (n % 4)) throw bad();
  }
  return flags;
}

ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  GzFileSource images(images_path);
  GzFileSource labels(labels_path);
  return read_idx_sources(images, labels);
}

ImageSet parse_idx_pair(const uint8_t* images, size_t images_size, const uint8_t* labels, size_t labels_size) {
  MemorySource i(images, images_size, "images");
  MemorySource l(labels, labels_size, "labels");
  return read_idx_sources(i, l);
}

Dataset load_dataset(const std::string& directory, int64_t val_images) {
  SplitSpec spec;
  spec.selection = val_images;
  spec.certification = 0;
  return load_dataset(directory, spec);
}

Dataset load_dataset(const std::string& directory, const SplitSpec& spec) {
  Dataset data;
  data.directory = directory;
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec))
    throw Error(ErrorCode::io_error, "data directory " + directory + " does not exist");
  ImageSet train;
  if (const NpyLayout* npy = npy_layout_in(directory)) {
    const std::filesystem::path d(directory);
    train = read_npy_pair((d / npy->train_images).string(), (d / npy->train_labels).string());
    data.test = read_npy_pair((d / npy->test_images).string(), (d / npy->test_labels).string());
  } else {
    train = read_idx_pair(find_file(directory, "train-images-idx3-ubyte"),
                          find_file(directory, "train-labels-idx1-ubyte"));
    data.test = read_idx_pair(find_file(directory, "t10k-images-idx3-ubyte"),
                              find_file(directory, "t10k-labels-idx1-ubyte"));
  }
  if (train.rows != data.test.rows || train.cols != data.test.cols || train.channels != data.test.channels)
    throw Error(ErrorCode::corruption_detected, directory + ": training and test images differ in size");
  const int64_t n = train.size();
  const int64_t val_images = spec.selection >= 0 ? spec.selection : std::min(kDefaultValidationImages, n / 12);
  const int64_t cert_images =
      spec.certification >= 0 ? spec.certification : std::min(kDefaultCertificationImages, n / 6);
  if (spec.seed == 0) throw Error(ErrorCode::invalid_argument, "--seed must be >= 1");
  if (val_images < 0 || val_images >= n)
    throw Error(ErrorCode::invalid_argument, "validation split of " + std::to_string(val_images) +
                                                 " images does not fit a training set of " + std::to_string(n));
  if (cert_images < 0 || cert_images >= n - val_images)
    throw Error(ErrorCode::invalid_argument, "certification split of " + std::to_string(cert_images) +
                                                 " images does not fit a training set of " + std::to_string(n) +
                                                 " with " + std::to_string(val_images) +
                                                 " validation images (--cert 0: no certification split)");
  int max_label = 0;
  for (uint8_t l : train.labels) max_label = std::max<int>(max_label, l);
  for (uint8_t l : data.test.labels) max_label = std::max<int>(max_label, l);
  data.num_classes = max_label + 1;

  // Fisher-Yates seeded by the split seed: the first val_images indices are
  // the selection split, the next cert_images the certification split, the
  // rest stay in file order for training.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  uint64_t state = kValidationSeed + (spec.seed - 1) * 0x9e3779b97f4a7c15ULL;
  for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[splitmix64(state) % (i + 1)]);
  std::vector<int64_t> val(perm.begin(), perm.begin() + val_images);
  std::vector<int64_t> cert(perm.begin() + val_images, perm.begin() + val_images + cert_images);
  std::vector<int64_t> rest(perm.begin() + val_images + cert_images, perm.end());
  std::sort(val.begin(), val.end());
  std::sort(cert.begin(), cert.end());
  std::sort(rest.begin(), rest.end());
  data.val = subset(train, val);
  data.cert = subset(train, cert);
  data.train = subset(train, rest);
  data.split_seed = spec.seed;
  return data;
}

std::vector<float> preprocess(const ImageSet& set, const Preprocessing& pre, int64_t first, int64_t count) {
  if (count < 0) count = set.size() - first;
  if (first < 0 || first + count > set.size()) throw Error(ErrorCode::invalid_argument, "image range out of the set");
  const int64_t n = set.image_elements();
  std::vector<float> out(static_cast<size_t>(count * n));
  const float scale = static_cast<float>(1.0 / (255.0 * pre.std));
  const float shift = static_cast<float>(pre.mean / pre.std);
  const uint8_t* src = set.pixels.data() + first * n;
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(src[i]) * scale - shift;
  return out;
}

}  // namespace deepsz::model
