// MNIST-format IDX reader (gzipped or not) and the validation split.
#include "deepsz/model/data.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "deepsz/error.h"

namespace deepsz::model {
namespace {

// A gzFile reads plain files transparently, so one path handles both.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw Error(ErrorCode::io_error, "cannot open " + path);
    gzbuffer(file_, 1 << 20);
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  void read(void* out, size_t bytes, const char* what) {
    auto* p = static_cast<unsigned char*>(out);
    while (bytes > 0) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes, 1u << 30));
      int got = gzread(file_, p, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        throw Error(ErrorCode::corruption_detected,
                    path_ + ": cannot decompress (" + (msg ? msg : "zlib error") + ")");
      }
      if (got == 0)
        throw Error(ErrorCode::truncated, path_ + ": truncated (file ends inside the " + what + ")");
      p += got;
      bytes -= static_cast<size_t>(got);
    }
  }
  uint32_t read_be32(const char* what) {
    unsigned char b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

// IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the rank.
std::vector<uint32_t> read_idx_header(GzReader& in, const std::string& path, uint32_t rank) {
  uint32_t magic = in.read_be32("header");
  if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08 || (magic & 0xff) != rank) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", magic);
    char want[16];
    std::snprintf(want, sizeof want, "0x%08x", 0x800u | rank);
    throw Error(ErrorCode::foreign_format, path + ": bad magic " + buf + " (an IDX file of unsigned bytes with " +
                                               std::to_string(rank) + " dimensions starts with " + want + ")");
  }
  std::vector<uint32_t> dims(rank);
  for (auto& d : dims) d = in.read_be32("header");
  return dims;
}

std::string find_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  for (const std::string& candidate : {name, name + ".gz"}) {
    fs::path p = fs::path(dir) / candidate;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  throw Error(ErrorCode::io_error, "missing data file " + (fs::path(dir) / name).string() + "[.gz]");
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
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "val") return Split::val;
  if (name == "test") return Split::test;
  throw Error(ErrorCode::invalid_argument, "unknown split '" + name + "' (train, val or test)");
}

const ImageSet& Dataset::split(Split s) const {
  switch (s) {
    case Split::train: return train;
    case Split::val: return val;
    case Split::test: return test;
  }
  return test;
}

ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  ImageSet set;
  GzReader images(images_path);
  auto idims = read_idx_header(images, images_path, 3);
  GzReader labels(labels_path);
  auto ldims = read_idx_header(labels, labels_path, 1);
  if (idims[0] != ldims[0])
    throw Error(ErrorCode::corruption_detected,
                images_path + " holds " + std::to_string(idims[0]) + " images but " + labels_path + " holds " +
                    std::to_string(ldims[0]) + " labels");
  if (idims[0] == 0 || idims[1] == 0 || idims[2] == 0)
    throw Error(ErrorCode::corruption_detected, images_path + ": empty image set");
  const uint64_t total = uint64_t{idims[0]} * idims[1] * idims[2];
  if (idims[1] > 65536 || idims[2] > 65536 || total > (uint64_t{1} << 36))
    throw Error(ErrorCode::too_large, images_path + ": declared size too large");
  set.rows = idims[1];
  set.cols = idims[2];
  set.pixels.resize(total);
  images.read(set.pixels.data(), total, "pixels");
  set.labels.resize(ldims[0]);
  labels.read(set.labels.data(), ldims[0], "labels");
  return set;
}

Dataset load_dataset(const std::string& directory, int64_t val_images) {
  Dataset data;
  data.directory = directory;
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec))
    throw Error(ErrorCode::io_error, "data directory " + directory + " does not exist");
  ImageSet train = read_idx_pair(find_file(directory, "train-images-idx3-ubyte"),
                                 find_file(directory, "train-labels-idx1-ubyte"));
  data.test = read_idx_pair(find_file(directory, "t10k-images-idx3-ubyte"),
                            find_file(directory, "t10k-labels-idx1-ubyte"));
  if (train.rows != data.test.rows || train.cols != data.test.cols)
    throw Error(ErrorCode::corruption_detected, directory + ": training and test images differ in size");
  if (val_images < 0 || val_images >= train.size())
    throw Error(ErrorCode::invalid_argument, "validation split of " + std::to_string(val_images) +
                                                 " images does not fit a training set of " +
                                                 std::to_string(train.size()));
  int max_label = 0;
  for (uint8_t l : train.labels) max_label = std::max<int>(max_label, l);
  for (uint8_t l : data.test.labels) max_label = std::max<int>(max_label, l);
  data.num_classes = max_label + 1;

  // Fisher-Yates with a fixed seed: the first val_images indices are the
  // validation set, the rest stay in file order for training.
  std::vector<int64_t> perm(static_cast<size_t>(train.size()));
  std::iota(perm.begin(), perm.end(), 0);
  uint64_t state = kValidationSeed;
  for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[splitmix64(state) % (i + 1)]);
  std::vector<int64_t> val(perm.begin(), perm.begin() + val_images);
  std::vector<int64_t> rest(perm.begin() + val_images, perm.end());
  std::sort(val.begin(), val.end());
  std::sort(rest.begin(), rest.end());
  data.val = subset(train, val);
  data.train = subset(train, rest);
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
