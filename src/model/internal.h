// Internal to src/model: the libtorch side of Model. Includes torch; never
// include it from a header that src/cli or src/optimize sees.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deepsz/error.h"
#include "deepsz/model/model.h"
#include "native_format.h"

namespace deepsz::model {

struct Layer {
  enum class Kind { linear, conv, relu, maxpool, flatten, dropout, adaptive_avgpool };
  Kind kind = Kind::relu;
  std::string name;  // parameters are name + ".weight" / ".bias"
  int64_t in = 0, out = 0, kernel = 0, stride = 1, pad = 0;
};

std::vector<Layer> build_layers(const std::string& architecture, const InputShape& input, int64_t classes);

struct OnnxProgram;  // onnx_program.h

struct Model::Impl {
  FileKind kind = FileKind::native;
  std::map<std::string, std::string> meta;
  std::vector<Layer> layers;                                  // native only
  std::vector<std::pair<std::string, torch::Tensor>> params;  // torchscript: aliases of the module's
  std::optional<torch::jit::Module> module;                   // torchscript only
  std::shared_ptr<const OnnxProgram> onnx;                    // onnx only (immutable, shared by copies)
  std::map<std::string, torch::Tensor> masks;                 // bool, shaped like the parameter
  std::set<std::string> unloaded_masks;                       // present in the file, not read (MaskLoading::names_only)
  bool training = false;

  // deep: every tensor copied (Model's copy); shallow: the tensors shared (Model::alias).
  std::unique_ptr<Impl> clone(bool deep = true) const;
  void collect_module_params();
  torch::Tensor& param(const std::string& name);
  const torch::Tensor& param(const std::string& name) const;
  bool has_param(const std::string& name) const;
  int layer_of(const std::string& param_name) const;  // native; -1 if none
  ParamKind kind_of(const std::string& name) const;
  void set_training(bool on);
  torch::Tensor forward(const torch::Tensor& x);
  // Layers [first, last) of a native model; overrides replace parameters.
  torch::Tensor run_layers(torch::Tensor x, size_t first, size_t last,
                           const std::map<std::string, torch::Tensor>* overrides = nullptr);
};

// torch::linear, a block of linear_block_rows(out, in) rows at a time when
// the weight has more than kLinearBlockValues values (model.h): every large
// fully connected layer is computed so, its weights the model's or produced.
// The rows of a block; `out` (one block) for a layer that is not split.
int64_t linear_block_rows(int64_t out_features, int64_t in_features);
torch::Tensor linear_by_rows(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

// Images [first, first+count) of a set as an N x C x H x W float tensor.
torch::Tensor images_tensor(const ImageSet& set, const Preprocessing& pre, int64_t first = 0, int64_t count = -1);
torch::Tensor labels_tensor(const ImageSet& set);

// Metadata keys of the per-tensor and metadata checksums of a native file
// (native_format.h), reserved: set_metadata refuses them.
using native::is_checksum_key;

std::string shape_string(const InputShape& s);  // "CxHxW"
InputShape parse_shape(const std::string& text);  // of model metadata; throws corruption_detected
// A copy of `values` shaped like `like`; throws invalid_argument on a count mismatch.
torch::Tensor to_tensor(const std::vector<float>& values, const torch::Tensor& like, const std::string& name);
// The elements of a bool (or integer 0/1) tensor as bytes, in row-major order:
// masks and per-image correctness.
std::vector<uint8_t> flag_bytes(const torch::Tensor& flags);
// The names and shapes of the weights and biases of `layers` (weight, then
// bias, layer by layer).
std::vector<std::pair<std::string, std::vector<int64_t>>> native_param_shapes(const std::vector<Layer>& layers);
// The weights and biases of m.layers, initialised as PyTorch's defaults.
void init_native_params(Model::Impl& m);

[[noreturn]] void throw_from_torch(const c10::Error& e, const std::string& context);

}  // namespace deepsz::model
