// Internal to src/pipeline: the per-tensor plan and the coding choices of
// each method. Exposed to tests/pipeline only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deepsz/pipeline/pipeline.h"

namespace deepsz::pipeline::detail {

struct MethodSettings {
  ValueCodec lossy_codec = ValueCodec::dsz;
  Predictor predictor = Predictor::automatic;
  IndexCoding index_coding = IndexCoding::context;
  bool lossless_dsz = true;  // lossless option = smaller of dsz eb=0 and zstd
};
MethodSettings settings_for(Method m);

// One parameter tensor as an item of the knapsack.
struct TensorPlan {
  model::ParamInfo info;
  std::vector<uint64_t> shape;
  std::vector<float> values;
  std::string layer;  // name without ".weight" / ".bias"
  uint64_t nonzeros = 0;
  double density = 1.0;
  double max_abs = 0.0;
  double rms = 0.0;   // of the nonzeros
  bool masked = false;
  bool sparse = false;  // index of nonzeros + values
  bool lossy = false;   // gets lossy candidates
  bool conv_layer = false;  // belongs to a convolution (weight or bias)
  // The step of the lattice the model records for this tensor
  // (meta::lattice_prefix, written by deepsz quantize) when every value was
  // checked to lie on it; 0: none. Bound lattice / 2 rebuilds it as it is.
  double lattice = 0.0;
};

std::vector<TensorPlan> plan_tensors(const model::Model& m, const CompressOptions& o);
// bound 0: the lossless option of the method.
TensorEntry encode_candidate(const TensorPlan& p, double bound, const MethodSettings& s);
// The adaptive search of one tensor's bounds (docs/PIPELINE.md): start,
// growth and number of measurements by the tensor's share of the lossless
// bytes and by its cost (convolutions rerun most of the network).
BoundSearchOptions search_options(const TensorPlan& p, uint64_t lossless_bytes, uint64_t lossless_total,
                                  double budget, size_t images, int max_candidates);
std::string coding_name(const TensorEntry& e);
std::string short_number(double v);

}  // namespace deepsz::pipeline::detail

namespace deepsz::pipeline::detail {

// TorchScript input: the module's archive with every parameter zeroed,
// zstd-compressed and base64-encoded, travels as the metadata value of
// kTorchScriptKey; the decoder loads it and sets the decoded parameters.
inline constexpr const char* kTorchScriptKey = "deepsz.torchscript";
std::string torchscript_shell(const model::Model& m);          // the metadata value
model::Model torchscript_from_shell(const std::string& value);  // the module, zero parameters
std::string base64_encode(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> base64_decode(const std::string& text);    // corruption_detected on bad input

}  // namespace deepsz::pipeline::detail
