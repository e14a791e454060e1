// deepsz/onnx.h: ONNX models taken apart for the weights-only path
// (deepsz/interchange.h). Built only where libonnx-dev was found at
// configure time (DEEPSZ_HAVE_ONNX); links the onnx_proto library.
//
// The frame is the ModelProto with the data of every float initializer (FLOAT,
// FLOAT16, BFLOAT16 of the main graph) removed; the rest of the model (nodes,
// attributes, other initializers, metadata, unknown fields) is kept as parsed.
#pragma once

#include "deepsz/interchange.h"

namespace deepsz::interchange {

// Refuses a file protobuf cannot parse or that has no graph or ir_version,
// initializers with external data or segments, a data size other than the
// shape's, and two float initializers of one name.
WeightsFile parse_onnx(const uint8_t* data, size_t size);
// The model with each float initializer's data back, as raw_data. Refuses
// tensors that do not match the frame's initializers.
std::vector<uint8_t> serialize_onnx(const WeightsFile& w);

}  // namespace deepsz::interchange
