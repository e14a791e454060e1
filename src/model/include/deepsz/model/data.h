// deepsz/model/data.h: MNIST-format (IDX) image sets, torch-free.
//
// A data directory holds the four files of the MNIST layout, gzipped or not:
// train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]. Image size and the
// number of classes come from the files. Pixels stay uint8 here; a model's
// Preprocessing turns them into floats (see preprocess()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepsz::model {

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kDefaultValidationImages = 5000;

// x = (pixel / 255 - mean) / std. The default is torchvision's ToTensor().
struct Preprocessing {
  double mean = 0.0;
  double std = 1.0;
};

struct ImageSet {
  int64_t channels = 1;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // size() * channels * rows * cols, row-major
  std::vector<uint8_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_elements() const { return channels * rows * cols; }
};

enum class Split { train, val, test };
const char* split_name(Split split) noexcept;
Split parse_split(const std::string& name);  // "train" | "val" | "test"

struct Dataset {
  std::string directory;
  ImageSet train;  // the training set minus the validation images
  ImageSet val;    // carved deterministically from the training files
  ImageSet test;   // the t10k files: reported, never optimised on
  int64_t num_classes = 0;
  const ImageSet& split(Split s) const;
};

// Reads one IDX image file and its label file. Throws deepsz::Error naming
// the offending file: missing (io_error), wrong magic (foreign_format),
// truncated (truncated), counts that differ (corruption_detected).
// Bytes after the declared content are rejected (corruption_detected); a
// header that declares more than the file holds fails as truncated after
// reading what is there, never allocating much more than that.
ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path);
// The same on two files' bytes in memory (not gzipped): the fuzzers' entry.
ImageSet parse_idx_pair(const uint8_t* images, size_t images_size, const uint8_t* labels, size_t labels_size);

// Reads a directory in the MNIST layout and carves `val_images` images out of
// the training set: the first val_images entries of a fixed pseudo-random
// permutation (seed kValidationSeed), so the split is identical in every run
// and every command. The remaining training images keep their file order.
inline constexpr uint64_t kValidationSeed = 0x5eed0f7a11da7e5ULL;
Dataset load_dataset(const std::string& directory,
                     int64_t val_images = kDefaultValidationImages);

// Images [first, first + count) of `set` as floats with `pre` applied.
std::vector<float> preprocess(const ImageSet& set, const Preprocessing& pre,
                              int64_t first = 0, int64_t count = -1);

}  // namespace deepsz::model
