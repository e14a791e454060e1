// deepsz/model/data.h: image sets from MNIST-format (IDX) or NumPy (.npy)
// files, torch-free.
//
// A data directory holds either the four files of the MNIST layout, gzipped
// or not: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; or four .npy
// arrays, named train-images.npy, train-labels.npy, test-images.npy,
// test-labels.npy (or x_train.npy, y_train.npy, x_test.npy, y_test.npy).
// Image size, channels and the number of classes come from the files.
// Pixels stay uint8 here; a model's Preprocessing turns them into floats
// (see preprocess()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepsz::model {

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kDefaultValidationImages = 5000;      // the selection split
inline constexpr int64_t kDefaultCertificationImages = 10000;  // the certification split

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

// The roles of the images (docs/PIPELINE.md, "Roles of the data"):
//   train  what the weights are fitted on;
//   val    the selection split: every decision (prune steps, quantize levels,
//          error-bound assessment, the optimiser's checks) is made on it;
//   cert   the certification split: used only to accept or refuse a finished
//          candidate model, never to choose anything; empty in the
//          uncertified mode (--cert 0, the rule before certification);
//   test   the t10k files: reported, never used to choose anything.
// val and cert are carved from the training files, disjoint, by a
// permutation that follows the split seed.
enum class Split { train, val, test, cert };
const char* split_name(Split split) noexcept;
Split parse_split(const std::string& name);  // "train" | "val" | "test" | "cert"

// How the training files are divided. -1: the default for the file's size,
// min(5,000, n / 12) selection and min(10,000, n / 6) certification images
// (Fashion-MNIST, n = 60,000: 5,000 and 10,000; 45,000 left for training).
struct SplitSpec {
  int64_t selection = -1;
  int64_t certification = -1;  // 0: no certification split
  uint64_t seed = 1;           // 1 carves the same selection split as before certification existed
};

struct Dataset {
  std::string directory;
  ImageSet train;  // the training files minus the selection and certification images
  ImageSet val;    // the selection split
  ImageSet cert;   // the certification split (empty: uncertified)
  ImageSet test;   // the t10k files: reported, never optimised on
  int64_t num_classes = 0;
  uint64_t split_seed = 1;
  const ImageSet& split(Split s) const;
  bool certified() const { return cert.size() > 0; }
  // "seed=S,val=N,cert=M": what a model records (meta::data_split) so that a
  // later step can refuse images an earlier one trained or chose on.
  std::string split_record() const;
};

// The split a model records (Dataset::split_record()), parsed; throws
// Error(corruption_detected) on a malformed record.
SplitSpec parse_split_record(const std::string& record);
// Refuses (Error(invalid_argument), naming the flags that fix it) data whose
// split cannot serve a model that records `recorded` (empty: nothing
// recorded): with a certification split, the model must record exactly this
// split, because a model trained or chosen on other images may have seen
// these certification images; without one (--cert 0, uncertified), the
// seed and the selection split must match (budgets count from the dense
// ancestor's reading on the same images). `what` names the model ("the input").
void check_split_record(const std::string& recorded, const Dataset& data, const std::string& what);

// Per-image flags (0/1) as compact text for metadata: hexadecimal of the
// bits, least significant bit first, prefixed by the count ("10000:3fa9...").
std::string encode_flags(const std::vector<uint8_t>& flags);
// Throws Error(corruption_detected) on anything encode_flags does not write.
std::vector<uint8_t> decode_flags(const std::string& text);

// Reads one IDX image file and its label file. Throws deepsz::Error naming
// the offending file: missing (io_error), wrong magic (foreign_format),
// truncated (truncated), counts that differ (corruption_detected).
// Bytes after the declared content are rejected (corruption_detected); a
// header that declares more than the file holds fails as truncated after
// reading what is there, never allocating much more than that.
ImageSet read_idx_pair(const std::string& images_path, const std::string& labels_path);
// The same on two files' bytes in memory (not gzipped): the fuzzers' entry.
ImageSet parse_idx_pair(const uint8_t* images, size_t images_size, const uint8_t* labels, size_t labels_size);

// Reads a pair of .npy arrays: images of shape (N, H, W), (N, C, H, W) or
// (N, H, W, C) (channels last when the last axis is at most 4 and the
// second is more), of any integer dtype holding 0..255 or of floats holding
// k/255 in [0, 1]; labels of shape (N,) or (N, 1), integers 0..255. C or
// Fortran order, either byte order. Anything else is refused with an Error
// naming the file: not .npy (foreign_format), short (truncated), bytes after
// the data or a malformed header (corruption_detected), a dtype it cannot
// hold (unsupported_version), values or shapes outside the above
// (invalid_argument).
ImageSet read_npy_pair(const std::string& images_path, const std::string& labels_path);
// The same on the two files' bytes in memory (the fuzzers' and tests' entry).
ImageSet parse_npy_pair(const uint8_t* images, size_t images_size, const uint8_t* labels, size_t labels_size,
                        const std::string& images_name = "images", const std::string& labels_name = "labels");

// Reads a data directory (IDX or .npy, see the top of this file) and carves the selection and
// certification splits out of the training set: the first `selection`
// entries of a pseudo-random permutation, then the next `certification`
// ones. The permutation follows spec.seed (seed 1: kValidationSeed), so the
// split is identical in every run and every command with the same seed. The
// remaining training images keep their file order.
inline constexpr uint64_t kValidationSeed = 0x5eed0f7a11da7e5ULL;
Dataset load_dataset(const std::string& directory, const SplitSpec& spec);
// The uncertified split of before: `val_images` selection images, no
// certification split, seed 1.
Dataset load_dataset(const std::string& directory,
                     int64_t val_images = kDefaultValidationImages);

// Images [first, first + count) of `set` as floats with `pre` applied.
std::vector<float> preprocess(const ImageSet& set, const Preprocessing& pre,
                              int64_t first = 0, int64_t count = -1);

}  // namespace deepsz::model
