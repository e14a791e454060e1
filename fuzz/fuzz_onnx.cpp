// Untrusted .onnx bytes (src/interchange/onnx, on libonnx's protobuf): a
// model that parses gives its graph (the structs src/model runs), serialises
// with its tensors back, and parses again to the same tensors and graph.
// Seeds: make_models.py's LeNets (scripts/fuzz.sh).
#include "deepsz/error.h"
#include "deepsz/onnx.h"
#include "fuzz_input.h"

namespace ic = deepsz::interchange;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ic::WeightsFile w;
  ic::OnnxGraph g;
  try {
    w = ic::parse_onnx(data, size);
    g = ic::onnx_graph(w);
  } catch (const deepsz::Error&) {
    return 0;
  }
  std::vector<uint8_t> again;
  try {
    again = ic::serialize_onnx(w);
  } catch (const deepsz::Error&) {
    return 0;  // e.g. a model protobuf reads but cannot write (over 2 GiB)
  }
  const ic::WeightsFile w2 = ic::parse_onnx(again.data(), again.size());
  if (w2.tensors.size() != w.tensors.size()) deepsz::fuzz::die("the tensor list changed");
  for (size_t k = 0; k < w.tensors.size(); ++k)
    if (w.tensors[k].name != w2.tensors[k].name || w.tensors[k].bytes != w2.tensors[k].bytes ||
        w.tensors[k].shape != w2.tensors[k].shape)
      deepsz::fuzz::die("a tensor changed in the round trip");
  const ic::OnnxGraph g2 = ic::onnx_graph(w2);
  if (g2.nodes.size() != g.nodes.size() || g2.inputs.size() != g.inputs.size() ||
      g2.constants.size() != g.constants.size() || g2.opset != g.opset)
    deepsz::fuzz::die("the graph changed in the round trip");
  // With deepsz's properties: the others are kept, deepsz's replaced.
  const std::vector<std::pair<std::string, std::string>> props = {{"deepsz:masks", "a,b"}};
  const std::vector<uint8_t> with = ic::serialize_onnx(w, &props);
  const ic::OnnxGraph g3 = ic::onnx_graph(ic::parse_onnx(with.data(), with.size()));
  size_t ours = 0;
  for (const auto& [k, v] : g3.properties) ours += k.rfind("deepsz:", 0) == 0;
  if (ours != 1) deepsz::fuzz::die("deepsz's properties were not replaced");
  return 0;
}
