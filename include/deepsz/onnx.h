// deepsz/onnx.h: ONNX models taken apart for the weights-only path
// (deepsz/interchange.h). Built only where libonnx-dev was found at
// configure time (DEEPSZ_HAVE_ONNX); links the onnx_proto library.
//
// The frame is the ModelProto with the data of every float initializer (FLOAT,
// FLOAT16, BFLOAT16 of the main graph) removed; the rest of the model (nodes,
// attributes, other initializers, metadata, unknown fields) is kept as parsed.
#pragma once

#include <utility>

#include "deepsz/interchange.h"

namespace deepsz::interchange {

// Refuses a file protobuf cannot parse or that has no graph or ir_version,
// initializers with external data or segments, a data size other than the
// shape's, and two float initializers of one name.
WeightsFile parse_onnx(const uint8_t* data, size_t size);
// The model with each float initializer's data back, as raw_data. Refuses
// tensors that do not match the frame's initializers. With `properties`,
// the model's metadata_props whose key starts with "deepsz:" are replaced
// by these (each key must start so); without, they are kept verbatim.
std::vector<uint8_t> serialize_onnx(const WeightsFile& w,
                                    const std::vector<std::pair<std::string, std::string>>* properties = nullptr);
// The same, freeing each tensor's bytes once copied into the model (peak
// memory: the model and the output, not a third copy of the tensors).
std::vector<uint8_t> serialize_onnx(WeightsFile&& w,
                                    const std::vector<std::pair<std::string, std::string>>* properties = nullptr);

// ---- The graph, for running it (src/model/onnx_program.cpp) ----------------
struct OnnxAttribute {
  enum class Type { other, f, i, s, tensor, floats, ints };
  std::string name;
  Type type = Type::other;
  double f = 0;
  int64_t i = 0;
  std::string s;
  RawTensor t;                 // Type::tensor (bytes little-endian, dtype the ONNX name)
  std::vector<double> floats;
  std::vector<int64_t> ints;
};

struct OnnxNode {
  std::string op_type, domain, name;
  std::vector<std::string> inputs, outputs;  // "" = an omitted optional input
  std::vector<OnnxAttribute> attributes;
  const OnnxAttribute* attribute(const std::string& n) const;  // nullptr if absent
};

struct OnnxValue {
  std::string name;
  std::string dtype;          // "FLOAT", ... ("" when the type is not a tensor)
  std::vector<int64_t> dims;  // -1 for a symbolic or unknown dimension
};

struct OnnxGraph {
  int64_t opset = 0;                 // of the default domain
  std::vector<OnnxNode> nodes;       // in the file's (topological) order
  std::vector<OnnxValue> inputs;     // graph inputs that are not initializers
  std::vector<OnnxValue> outputs;
  std::vector<RawTensor> constants;  // the initializers that are not float (bytes, as in the file)
  std::vector<std::pair<std::string, std::string>> properties;  // metadata_props
};

// The graph of a parsed model (its frame). Refuses subgraphs (If, Loop:
// attributes of type GRAPH are `other`, the op is refused by the runner).
OnnxGraph onnx_graph(const WeightsFile& w);

}  // namespace deepsz::interchange
