// deepsz/model/model.h: trained networks as plain C++ objects, torch-free.
//
// The compression steps (error-bound assessment, knapsack, guarantee) and the
// command line are written against this header only; libtorch stays inside
// src/model/*.cpp. See docs/MODEL.md for the file formats and this API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deepsz/model/data.h"

namespace deepsz::model {

enum class ParamKind { fc_weight, conv_weight, bias, other };
const char* param_kind_name(ParamKind kind) noexcept;

struct ParamInfo {
  std::string name;            // PyTorch style: "fc1.weight", "conv2.bias"
  std::vector<int64_t> shape;  // PyTorch layout: fc [out, in], conv [out, in, kh, kw]
  ParamKind kind = ParamKind::other;
  int64_t numel = 0;
};

// native: written by deepsz (a torch.save-compatible pickle archive, see
// docs/MODEL.md); torchscript: a TorchScript module from PyTorch (or from
// deepsz after loading one), evaluated through its own forward().
// onnx: an ONNX model whose ops deepsz runs (docs/FORMATS.md); written back
// as ONNX, deepsz's metadata in its metadata_props.
enum class FileKind { native, torchscript, onnx };

struct InputShape {
  int64_t channels = 1;
  int64_t rows = 28;
  int64_t cols = 28;
};

// Architectures deepsz can build: "lenet300" (LeNet-300-100), "lenet5" (Caffe
// LeNet-5), "alexnet", "vgg16" (ImageNet shapes, 3x224x224, 1000 classes).
std::vector<std::string> architectures();

// Reserved metadata keys (all values are strings).
namespace meta {
inline constexpr const char* architecture = "architecture";
inline constexpr const char* input = "input";                  // "CxHxW"
inline constexpr const char* classes = "classes";
inline constexpr const char* pre_mean = "preprocessing.mean";
inline constexpr const char* pre_std = "preprocessing.std";
inline constexpr const char* val_images = "data.val_images";   // validation split size
// Dataset::split_record() of the data the model was trained, pruned or
// quantised with: its certification images are the only ones no step saw.
inline constexpr const char* data_split = "data.split";
// encode_flags() of the dense ancestor's top-1 correctness on each
// certification image: the reference of the paired certification test.
inline constexpr const char* dense_cert_correct = "dense.cert_correct";
inline constexpr const char* dense_val_top1 = "dense.val_top1";    // fraction
inline constexpr const char* dense_test_top1 = "dense.test_top1";  // fraction
inline constexpr const char* val_top1 = "val_top1";            // of this model, when measured
inline constexpr const char* test_top1 = "test_top1";
inline constexpr const char* train_weight_decay = "train.weight_decay";  // of the training that made it
inline constexpr const char* prune_max_loss = "prune.max_loss";          // budget of the pruning, points
inline constexpr const char* prune_density = "prune.density";            // or its fixed target density
// The pruning's steps, ";"-separated "density:drop:reserve:accepted" (the
// val drop in points against the dense ancestor, the certification reserve
// it was charged on top, 1 when accepted): the report's trajectory.
inline constexpr const char* prune_steps = "prune.steps";
inline constexpr const char* lattice_prefix = "lattice.";  // + tensor name: its values are step * k ("%.9g" of the float step)
inline constexpr const char* quantize_max_loss = "quantize.max_loss";      // budget of the quantisation, points
}  // namespace meta

class Model {
 public:
  Model();
  ~Model();
  Model(const Model& other);             // deep copy
  Model& operator=(const Model& other);  // deep copy
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  // Any accepted file: deepsz-native, TorchScript, or ONNX (by its
  // extension .onnx, any case). Throws deepsz::Error.
  // MaskLoading::names_only (native files): each mask is read and checked
  // against its checksum, one at a time, but not kept: has_mask() and
  // masked_parameters() answer, mask() and save() refuse. What compress
  // needs (AlexNet's fc masks are 59 MB as bytes, VGG-16's 124 MB).
  enum class MaskLoading { contents, names_only };
  static Model load(const std::string& path, MaskLoading masks = MaskLoading::contents);
  // A freshly initialised network (PyTorch's default init), seeded.
  static Model create(const std::string& architecture, const InputShape& input,
                      int64_t num_classes, uint64_t seed);
  // Rebuilds a deepsz-native model from its architecture and tensors (e.g. a
  // decoder of a .dsz file). Every parameter of the architecture must be
  // given, with the right number of values. Metadata is copied as given.
  static Model from_parameters(const std::string& architecture, const InputShape& input,
                               int64_t num_classes,
                               const std::vector<std::pair<std::string, std::vector<float>>>& params,
                               const std::map<std::string, std::string>& metadata = {});

  // A model that shares this one's parameter and mask storage: a change to
  // either shows in both. For read-only views of a large network (the
  // evaluators of compress), which would otherwise hold a copy each.
  Model alias() const;

  // Writes the same kind of file the model was loaded from (a temp file in the
  // same directory, then rename).
  void save(const std::string& path) const;

  FileKind file_kind() const;
  bool is_sequential() const;        // native models: activations can be cached
  std::string architecture() const;  // "torchscript" or "onnx" for foreign models
  InputShape input_shape() const;    // torchscript: unknown until evaluated (default 1x28x28)
  int64_t num_classes() const;       // torchscript: 0 until evaluated
  Preprocessing preprocessing() const;
  void set_preprocessing(const Preprocessing& pre);

  std::vector<ParamInfo> parameters() const;
  ParamInfo parameter_info(const std::string& name) const;
  std::vector<float> parameter(const std::string& name) const;
  // The parameter's values where they are (float32, row-major, `count` of
  // them), no copy: valid while this model lives and the parameter is not
  // set, filled or masked. nullptr when they are stored otherwise (another
  // dtype, not contiguous): then parameter() copies them.
  const float* parameter_data(const std::string& name, size_t& count) const;
  void set_parameter(const std::string& name, const std::vector<float>& values);
  // Lets `fill` write the parameter's values in place (row-major float32,
  // count = numel): a decoder writes a layer straight into the model
  // instead of through a second copy of it.
  void fill_parameter(const std::string& name, const std::function<void(float* data, size_t count)>& fill);
  int64_t nonzeros(const std::string& name) const;

  // Pruning masks: one byte per element (1 kept, 0 pruned), same layout as
  // the parameter. A masked parameter is exactly zero where the mask is 0.
  bool has_mask(const std::string& name) const;
  std::vector<uint8_t> mask(const std::string& name) const;
  void set_mask(const std::string& name, const std::vector<uint8_t>& mask);
  void clear_mask(const std::string& name);
  std::vector<std::string> masked_parameters() const;

  // Free-form string metadata; keys in deepsz::model::meta are reserved.
  std::map<std::string, std::string> metadata() const;
  std::string metadata(const std::string& key, const std::string& fallback = "") const;
  void set_metadata(const std::string& key, const std::string& value);
  // Drops every key but the structural ones (architecture, input, classes).
  void clear_metadata();

  struct Impl;
  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Per-image results of one evaluation.
struct Evaluation {
  std::vector<uint8_t> top1;  // 1 where the arg-max is the label
  std::vector<uint8_t> top5;  // empty when the model has <= 5 classes
  std::vector<float> loss;    // cross-entropy of each image (nats): a signal that does not saturate
  double seconds = 0.0;
  int64_t images() const { return static_cast<int64_t>(top1.size()); }
  double top1_rate() const;
  double top5_rate() const;  // -1 when top5 is empty
  double mean_loss() const;
};

// A parameter's replacement values for one evaluation: held whole, or
// produced in flat order a piece at a time (an encoded candidate's decoder,
// decode_tensor_pieces). A produced weight of a fully connected layer is
// consumed a block of rows at a time (Evaluator below), so the tensor never
// exists whole in memory; anything else produced is first gathered whole.
using FloatSink = std::function<void(const float* values, size_t count)>;
struct ParameterValues {
  std::vector<float> values;
  std::function<void(const FloatSink&)> produce;  // set: the values come from here
  ParameterValues() = default;
  ParameterValues(std::vector<float> v) : values(std::move(v)) {}  // NOLINT: a vector is the common case
  static ParameterValues produced(std::function<void(const FloatSink&)> p) {
    ParameterValues v;
    v.produce = std::move(p);
    return v;
  }
  bool is_produced() const { return static_cast<bool>(produce); }
};
using ParameterOverrides = std::map<std::string, ParameterValues>;

// A fully connected layer with more weights than this is computed a block of
// rows (output units) at a time, each block's product a separate BLAS call,
// whether its weights are the model's own or produced: the same calls and so
// the same rounding either way (a lossless override scores exactly as the
// model), and a produced weight is held one block at a time. Smaller layers
// (every layer of the LeNets) are one call, as torch::linear computes them,
// and so is every layer while it trains (with gradients).
constexpr int64_t kLinearBlockValues = int64_t(1) << 20;

// Evaluates a snapshot of a model on a data set with parameter overrides.
// For sequential (native) models the activations entering the first
// overridden layer are computed once per split and cached, so candidates for
// a late layer do not rerun the early layers; a layer with a produced weight
// is computed for all images of the split at once, its weights read once.
// Not thread-safe.
class Evaluator {
 public:
  // Evaluates a copy of `model`. With share_parameters, a native model's
  // parameters are read where they are (Model::alias): the caller must not
  // change them while the evaluator lives. Other kinds are always copied
  // (their evaluation writes the overrides into the parameters).
  Evaluator(const Model& model, const Dataset& data, bool share_parameters = false);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  Evaluation evaluate(Split split, const ParameterOverrides& overrides = {});
  // Top-1 correctness per image, the input of paired comparisons.
  std::vector<uint8_t> correct(Split split, const ParameterOverrides& overrides = {});
  void clear_cache();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fraction of ones.
double mean_of(const std::vector<uint8_t>& flags);

}  // namespace deepsz::model
