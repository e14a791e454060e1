// ONNX models on Debian's onnx_proto: float initializers out (for the codec)
// and back in. Everything else is the parsed ModelProto, serialised again.
#include <climits>
#include <cstring>
#include <set>

#include <onnx/onnx_pb.h>

#include "deepsz/onnx.h"

namespace deepsz::interchange {

namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& what) { throw Error(code, "onnx: " + what); }

struct FloatType {
  int id;
  const char* name;
  Storage storage;
};
constexpr FloatType kFloatTypes[] = {
    {onnx::TensorProto_DataType_FLOAT, "FLOAT", Storage::f32},
    {onnx::TensorProto_DataType_FLOAT16, "FLOAT16", Storage::f16},
    {onnx::TensorProto_DataType_BFLOAT16, "BFLOAT16", Storage::bf16},
};

const FloatType* float_type(int id) {
  for (const auto& t : kFloatTypes)
    if (t.id == id) return &t;
  return nullptr;
}

onnx::ModelProto parse_model(const uint8_t* data, size_t size) {
  if (size > size_t(INT_MAX)) fail(ErrorCode::too_large, "a model of more than 2 GiB cannot be parsed by protobuf");
  onnx::ModelProto m;
  if (!m.ParseFromArray(data, int(size))) fail(ErrorCode::corruption_detected, "not an ONNX model (protobuf cannot parse it)");
  if (!m.has_graph() || m.ir_version() <= 0)
    fail(ErrorCode::foreign_format, "not an ONNX model (no graph or no ir_version)");
  return m;
}

uint64_t element_count(const onnx::TensorProto& t) {
  uint64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) fail(ErrorCode::corruption_detected, "initializer '" + t.name() + "' has a negative dimension");
    if (d && n > (uint64_t(1) << 48) / uint64_t(d))
      fail(ErrorCode::too_large, "initializer '" + t.name() + "' has more than 2^48 elements");
    n *= uint64_t(d);
  }
  return n;
}

void check_plain(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || t.external_data_size() > 0)
    fail(ErrorCode::invalid_argument, "initializer '" + t.name() + "' keeps its data in an external file (not supported)");
  if (t.has_segment()) fail(ErrorCode::invalid_argument, "initializer '" + t.name() + "' is a segment (not supported)");
}

// The bytes of a float initializer, little-endian, from whichever field holds them.
std::vector<uint8_t> initializer_bytes(const onnx::TensorProto& t, const FloatType& ft) {
  const uint64_t n = element_count(t);
  const size_t esize = storage_element_bytes(ft.storage);
  const std::string what = "initializer '" + t.name() + "' (" + ft.name + ", " + std::to_string(n) + " elements)";
  const bool typed = ft.storage == Storage::f32 ? t.float_data_size() > 0 : t.int32_data_size() > 0;
  if (t.has_raw_data() && typed) fail(ErrorCode::corruption_detected, what + " has both raw_data and typed data");
  std::vector<uint8_t> out;
  if (t.has_raw_data()) {
    if (t.raw_data().size() != n * esize)
      fail(ErrorCode::corruption_detected, what + ": raw_data of " + std::to_string(t.raw_data().size()) + " bytes");
    out.assign(t.raw_data().begin(), t.raw_data().end());
  } else if (ft.storage == Storage::f32) {
    if (uint64_t(t.float_data_size()) != n)
      fail(ErrorCode::corruption_detected, what + ": " + std::to_string(t.float_data_size()) + " float_data values");
    out.resize(n * 4);
    if (n) std::memcpy(out.data(), t.float_data().data(), out.size());  // little-endian hosts only
  } else {
    if (uint64_t(t.int32_data_size()) != n)
      fail(ErrorCode::corruption_detected, what + ": " + std::to_string(t.int32_data_size()) + " int32_data values");
    out.resize(n * 2);
    for (uint64_t i = 0; i < n; ++i) {
      const int32_t v = t.int32_data(int(i));
      if (v < 0 || v > 0xffff) fail(ErrorCode::corruption_detected, what + ": int32_data value out of 16 bits");
      out[2 * i] = uint8_t(v);
      out[2 * i + 1] = uint8_t(v >> 8);
    }
  }
  return out;
}

}  // namespace

WeightsFile parse_onnx(const uint8_t* data, size_t size) {
  onnx::ModelProto m = parse_model(data, size);
  WeightsFile w;
  w.format = "onnx";
  std::set<std::string> names;
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer()) {
    const FloatType* ft = float_type(t.data_type());
    if (!ft) continue;  // stays in the frame, bit-exact
    check_plain(t);
    if (!names.insert(t.name()).second) fail(ErrorCode::corruption_detected, "two initializers are named '" + t.name() + "'");
    RawTensor r;
    r.name = t.name();
    r.dtype = ft->name;
    r.storage = ft->storage;
    r.bytes = initializer_bytes(t, *ft);
    for (int64_t d : t.dims()) r.shape.push_back(uint64_t(d));
    t.clear_raw_data();
    t.clear_float_data();
    t.clear_int32_data();
    w.tensors.push_back(std::move(r));
  }
  const std::string frame = m.SerializeAsString();
  w.frame.assign(frame.begin(), frame.end());
  return w;
}

std::vector<uint8_t> serialize_onnx(const WeightsFile& w) {
  if (w.format != "onnx") fail(ErrorCode::invalid_argument, "not an ONNX model: " + w.format);
  onnx::ModelProto m = parse_model(w.frame.data(), w.frame.size());
  size_t next = 0;
  for (onnx::TensorProto& t : *m.mutable_graph()->mutable_initializer()) {
    const FloatType* ft = float_type(t.data_type());
    if (!ft) continue;
    check_plain(t);
    if (next == w.tensors.size()) fail(ErrorCode::corruption_detected, "initializer '" + t.name() + "' has no data");
    const RawTensor& r = w.tensors[next++];
    std::vector<uint64_t> shape;
    for (int64_t d : t.dims()) shape.push_back(uint64_t(d));
    if (r.name != t.name() || r.dtype != ft->name || r.shape != shape ||
        r.bytes.size() != element_count(t) * storage_element_bytes(ft->storage))
      fail(ErrorCode::corruption_detected, "tensor '" + r.name + "' does not match initializer '" + t.name() + "'");
    if (t.has_raw_data() || t.float_data_size() || t.int32_data_size())
      fail(ErrorCode::corruption_detected, "initializer '" + t.name() + "' already has data");
    t.set_raw_data(r.bytes.data(), r.bytes.size());
  }
  if (next != w.tensors.size())
    fail(ErrorCode::corruption_detected, std::to_string(w.tensors.size() - next) + " tensors have no initializer");
  std::string out;
  if (!m.SerializeToString(&out)) fail(ErrorCode::too_large, "the model cannot be serialised (more than 2 GiB?)");
  return std::vector<uint8_t>(out.begin(), out.end());
}

}  // namespace deepsz::interchange
