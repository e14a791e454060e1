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
  bool masked = false;
  bool sparse = false;  // index of nonzeros + values
  bool lossy = false;   // gets lossy candidates
};

std::vector<TensorPlan> plan_tensors(const model::Model& m, const CompressOptions& o);
// bound 0: the lossless option of the method.
TensorEntry encode_candidate(const TensorPlan& p, double bound, const MethodSettings& s);
std::string coding_name(const TensorEntry& e);
std::string short_number(double v);

}  // namespace deepsz::pipeline::detail
