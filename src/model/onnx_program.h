// Internal to src/model: ONNX graphs run on libtorch (docs/FORMATS.md,
// "ONNX models through the pipeline"). The program is the parsed graph,
// immutable and shared between copies of a model; the parameters (the
// float initializers) live in Model::Impl like any other model's.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deepsz/model/model.h"

namespace deepsz::model {

struct OnnxProgram;

// The ONNX ops a graph may use to be run (the others are refused at load by
// name, pointing to the weights-only path).
const std::vector<std::string>& onnx_supported_ops();

struct OnnxLoaded {
  std::shared_ptr<const OnnxProgram> program;
  std::vector<std::pair<std::string, torch::Tensor>> params;  // the float initializers, float32, file order
  std::map<std::string, std::string> meta;                    // deepsz's, from metadata_props, + input/classes
  std::vector<std::string> masked;                            // parameters whose zeros are their mask
};
// Throws deepsz::Error (one line naming `path`): not ONNX, an unsupported op,
// a float initializer that is not FLOAT, not one input and one output.
OnnxLoaded onnx_load(std::vector<char>&& bytes, const std::string& path);  // frees bytes once parsed

torch::Tensor onnx_run(const OnnxProgram& p, const torch::Tensor& images,
                       const std::vector<std::pair<std::string, torch::Tensor>>& params);
ParamKind onnx_param_kind(const OnnxProgram& p, const std::string& name);

// The model file: the graph as read, the parameters' values, deepsz's
// metadata and the names of the masked parameters in metadata_props.
std::vector<uint8_t> onnx_save(const OnnxProgram& p, const std::vector<std::pair<std::string, torch::Tensor>>& params,
                               const std::map<std::string, std::string>& meta, const std::vector<std::string>& masked);

}  // namespace deepsz::model
