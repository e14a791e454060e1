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

constexpr const char* kPropertyPrefix = "deepsz:";

const char* dtype_name(int id) {
  switch (id) {
    case onnx::TensorProto_DataType_FLOAT: return "FLOAT";
    case onnx::TensorProto_DataType_UINT8: return "UINT8";
    case onnx::TensorProto_DataType_INT8: return "INT8";
    case onnx::TensorProto_DataType_UINT16: return "UINT16";
    case onnx::TensorProto_DataType_INT16: return "INT16";
    case onnx::TensorProto_DataType_INT32: return "INT32";
    case onnx::TensorProto_DataType_INT64: return "INT64";
    case onnx::TensorProto_DataType_STRING: return "STRING";
    case onnx::TensorProto_DataType_BOOL: return "BOOL";
    case onnx::TensorProto_DataType_FLOAT16: return "FLOAT16";
    case onnx::TensorProto_DataType_DOUBLE: return "DOUBLE";
    case onnx::TensorProto_DataType_UINT32: return "UINT32";
    case onnx::TensorProto_DataType_UINT64: return "UINT64";
    case onnx::TensorProto_DataType_BFLOAT16: return "BFLOAT16";
    default: return "UNDEFINED";
  }
}

// A constant tensor's values as little-endian bytes: float types as
// initializer_bytes, INT64 from raw_data or int64_data; other types only
// from raw_data.
RawTensor constant_tensor(const onnx::TensorProto& t) {
  check_plain(t);
  RawTensor r;
  r.name = t.name();
  r.dtype = dtype_name(t.data_type());
  for (int64_t d : t.dims()) r.shape.push_back(uint64_t(d));
  const uint64_t n = element_count(t);
  if (const FloatType* ft = float_type(t.data_type())) {
    r.storage = ft->storage;
    r.bytes = initializer_bytes(t, *ft);
  } else if (t.has_raw_data()) {
    r.bytes.assign(t.raw_data().begin(), t.raw_data().end());
  } else if (t.data_type() == onnx::TensorProto_DataType_INT64) {
    if (uint64_t(t.int64_data_size()) != n)
      fail(ErrorCode::corruption_detected, "tensor '" + t.name() + "': " + std::to_string(t.int64_data_size()) + " int64_data values");
    r.bytes.resize(n * 8);
    if (n) std::memcpy(r.bytes.data(), t.int64_data().data(), r.bytes.size());  // little-endian hosts only
  } else if (n) {
    fail(ErrorCode::invalid_argument, "tensor '" + t.name() + "' of type " + r.dtype + " holds its values other than as raw_data (not supported)");
  }
  return r;
}

OnnxValue value_of(const onnx::ValueInfoProto& v) {
  OnnxValue o;
  o.name = v.name();
  if (v.has_type() && v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    o.dtype = dtype_name(tt.elem_type());
    if (tt.has_shape())
      for (const auto& d : tt.shape().dim()) o.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  return o;
}

}  // namespace

const OnnxAttribute* OnnxNode::attribute(const std::string& n) const {
  for (const auto& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}

OnnxGraph onnx_graph(const WeightsFile& w) {
  if (w.format != "onnx") fail(ErrorCode::invalid_argument, "not an ONNX model: " + w.format);
  const onnx::ModelProto m = parse_model(w.frame.data(), w.frame.size());
  OnnxGraph g;
  for (const auto& op : m.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  const onnx::GraphProto& graph = m.graph();
  std::set<std::string> initializers;
  for (const auto& t : graph.initializer()) {
    initializers.insert(t.name());
    if (!float_type(t.data_type())) g.constants.push_back(constant_tensor(t));
  }
  for (const auto& v : graph.input())
    if (!initializers.count(v.name())) g.inputs.push_back(value_of(v));
  for (const auto& v : graph.output()) g.outputs.push_back(value_of(v));
  for (const auto& n : graph.node()) {
    OnnxNode o;
    o.op_type = n.op_type();
    o.domain = n.domain();
    o.name = n.name();
    o.inputs.assign(n.input().begin(), n.input().end());
    o.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) {
      OnnxAttribute x;
      x.name = a.name();
      switch (a.type()) {
        case onnx::AttributeProto_AttributeType_FLOAT: x.type = OnnxAttribute::Type::f; x.f = a.f(); break;
        case onnx::AttributeProto_AttributeType_INT: x.type = OnnxAttribute::Type::i; x.i = a.i(); break;
        case onnx::AttributeProto_AttributeType_STRING: x.type = OnnxAttribute::Type::s; x.s = a.s(); break;
        case onnx::AttributeProto_AttributeType_TENSOR: x.type = OnnxAttribute::Type::tensor; x.t = constant_tensor(a.t()); break;
        case onnx::AttributeProto_AttributeType_FLOATS:
          x.type = OnnxAttribute::Type::floats;
          x.floats.assign(a.floats().begin(), a.floats().end());
          break;
        case onnx::AttributeProto_AttributeType_INTS:
          x.type = OnnxAttribute::Type::ints;
          x.ints.assign(a.ints().begin(), a.ints().end());
          break;
        default: break;
      }
      o.attributes.push_back(std::move(x));
    }
    g.nodes.push_back(std::move(o));
  }
  for (const auto& p : m.metadata_props()) g.properties.emplace_back(p.key(), p.value());
  return g;
}

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

namespace {
std::vector<uint8_t> serialize(const WeightsFile& w, const std::vector<std::pair<std::string, std::string>>* properties,
                               WeightsFile* release) {
  if (w.format != "onnx") fail(ErrorCode::invalid_argument, "not an ONNX model: " + w.format);
  onnx::ModelProto m = parse_model(w.frame.data(), w.frame.size());
  if (properties) {
    auto* props = m.mutable_metadata_props();
    for (int i = props->size() - 1; i >= 0; --i)
      if (props->Get(i).key().rfind(kPropertyPrefix, 0) == 0) props->DeleteSubrange(i, 1);
    for (const auto& [k, v] : *properties) {
      if (k.rfind(kPropertyPrefix, 0) != 0) fail(ErrorCode::invalid_argument, "property '" + k + "' lacks the deepsz: prefix");
      onnx::StringStringEntryProto* e = props->Add();
      e->set_key(k);
      e->set_value(v);
    }
  }
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
    if (release) std::vector<uint8_t>().swap(release->tensors[next - 1].bytes);
  }
  if (next != w.tensors.size())
    fail(ErrorCode::corruption_detected, std::to_string(w.tensors.size() - next) + " tensors have no initializer");
  const size_t size = m.ByteSizeLong();
  if (size > size_t(INT_MAX)) fail(ErrorCode::too_large, "the model cannot be serialised (more than 2 GiB)");
  std::vector<uint8_t> out(size);
  if (!m.SerializeToArray(out.data(), int(size))) fail(ErrorCode::too_large, "the model cannot be serialised");
  return out;
}
}  // namespace

std::vector<uint8_t> serialize_onnx(const WeightsFile& w,
                                    const std::vector<std::pair<std::string, std::string>>* properties) {
  return serialize(w, properties, nullptr);
}

std::vector<uint8_t> serialize_onnx(WeightsFile&& w, const std::vector<std::pair<std::string, std::string>>* properties) {
  return serialize(w, properties, &w);
}

}  // namespace deepsz::interchange
