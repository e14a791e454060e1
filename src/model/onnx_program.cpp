// ONNX graphs run on libtorch: each node of the supported set becomes the
// ATen call of the same meaning, so an ONNX model is evaluated, retrained
// (autograd runs through the calls) and pruned like a TorchScript one
// (docs/FORMATS.md, "ONNX models through the pipeline").
#include "onnx_program.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "deepsz/error.h"
#ifdef DEEPSZ_HAVE_ONNX
#include "deepsz/onnx.h"
#endif

namespace deepsz::model {

const std::vector<std::string>& onnx_supported_ops() {
  static const std::vector<std::string> ops = {
      "Gemm", "MatMul", "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape",
      "BatchNormalization", "Add", "Softmax", "Dropout", "Identity", "Constant"};
  return ops;
}

#ifndef DEEPSZ_HAVE_ONNX

struct OnnxProgram {};

OnnxLoaded onnx_load(std::vector<char>&&, const std::string& path) {
  throw Error(ErrorCode::invalid_argument, path + ": this deepsz was built without libonnx-dev: it cannot read ONNX models");
}
torch::Tensor onnx_run(const OnnxProgram&, const torch::Tensor&, const std::vector<std::pair<std::string, torch::Tensor>>&) {
  throw Error(ErrorCode::invalid_argument, "this deepsz was built without libonnx-dev");
}
ParamKind onnx_param_kind(const OnnxProgram&, const std::string&) { return ParamKind::other; }
std::vector<uint8_t> onnx_save(const OnnxProgram&, const std::vector<std::pair<std::string, torch::Tensor>>&,
                               const std::map<std::string, std::string>&, const std::vector<std::string>&) {
  throw Error(ErrorCode::invalid_argument, "this deepsz was built without libonnx-dev");
}

#else

namespace ix = deepsz::interchange;

struct OnnxProgram {
  ix::WeightsFile file;  // the frame, and the float initializers' names, dtypes, shapes (no bytes)
  ix::OnnxGraph graph;
  std::map<std::string, torch::Tensor> constants;  // non-float initializers
  std::map<std::string, ParamKind> kinds;
  std::string input, result;        // the graph's input; the value returned as scores
  std::vector<int64_t> input_dims;  // as declared (-1 unknown)
  std::set<size_t> skipped;         // a Softmax that makes the output: its input is the scores
};

namespace {

constexpr const char* kMetaProperty = "deepsz:metadata";
constexpr const char* kMasksProperty = "deepsz:masks";

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::invalid_argument, what); }

torch::Tensor tensor_of(const ix::RawTensor& r, const std::string& what) {
  std::vector<int64_t> shape(r.shape.begin(), r.shape.end());
  auto from = [&](torch::ScalarType type, size_t esize) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (r.bytes.size() != size_t(n) * esize) fail(what + ": " + std::to_string(r.bytes.size()) + " bytes for its shape");
    torch::Tensor t = torch::empty(shape, type);
    if (n) std::memcpy(t.data_ptr(), r.bytes.data(), r.bytes.size());
    return t;
  };
  if (r.dtype == "FLOAT16" || r.dtype == "BFLOAT16") {
    const std::vector<float> v = ix::float_values(r);
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
  }
  if (r.dtype == "FLOAT") return from(torch::kFloat32, 4);
  if (r.dtype == "DOUBLE") return from(torch::kFloat64, 8);
  if (r.dtype == "INT64") return from(torch::kInt64, 8);
  if (r.dtype == "INT32") return from(torch::kInt32, 4);
  if (r.dtype == "UINT8") return from(torch::kUInt8, 1);
  if (r.dtype == "INT8") return from(torch::kInt8, 1);
  if (r.dtype == "BOOL") return from(torch::kBool, 1);
  fail(what + " is of type " + r.dtype + " (not supported)");
}

int64_t attr_i(const ix::OnnxNode& n, const char* name, int64_t fallback) {
  const ix::OnnxAttribute* a = n.attribute(name);
  return a && a->type == ix::OnnxAttribute::Type::i ? a->i : fallback;
}
double attr_f(const ix::OnnxNode& n, const char* name, double fallback) {
  const ix::OnnxAttribute* a = n.attribute(name);
  return a && a->type == ix::OnnxAttribute::Type::f ? a->f : fallback;
}
std::string attr_s(const ix::OnnxNode& n, const char* name, const std::string& fallback) {
  const ix::OnnxAttribute* a = n.attribute(name);
  return a && a->type == ix::OnnxAttribute::Type::s ? a->s : fallback;
}
std::vector<int64_t> attr_ints(const ix::OnnxNode& n, const char* name, std::vector<int64_t> fallback) {
  const ix::OnnxAttribute* a = n.attribute(name);
  return a && a->type == ix::OnnxAttribute::Type::ints ? a->ints : fallback;
}

std::string node_name(const ix::OnnxNode& n) {
  return n.op_type + (n.name.empty() ? "" : " '" + n.name + "'");
}

// Pads [begin..., end...] of a 2-D window op; symmetric ones become the op's
// own padding, others an explicit pad first (with `fill`).
struct Window {
  std::vector<int64_t> kernel, strides, pads, dilations;
};
Window window_of(const ix::OnnxNode& n, bool needs_kernel) {
  Window w;
  w.kernel = attr_ints(n, "kernel_shape", {});
  if (needs_kernel && w.kernel.size() != 2) fail(node_name(n) + ": only 2-D kernels are supported");
  w.strides = attr_ints(n, "strides", {1, 1});
  w.pads = attr_ints(n, "pads", {0, 0, 0, 0});
  w.dilations = attr_ints(n, "dilations", {1, 1});
  const std::string auto_pad = attr_s(n, "auto_pad", "NOTSET");
  if (auto_pad == "VALID") w.pads = {0, 0, 0, 0};
  else if (auto_pad != "NOTSET") fail(node_name(n) + ": auto_pad " + auto_pad + " is not supported (give pads)");
  if (w.strides.size() != 2 || w.pads.size() != 4 || w.dilations.size() != 2)
    fail(node_name(n) + ": only 2-D windows are supported");
  return w;
}
torch::Tensor pad_asymmetric(const torch::Tensor& x, Window& w, double fill) {
  if (w.pads[0] == w.pads[2] && w.pads[1] == w.pads[3]) return x;
  torch::Tensor y = torch::constant_pad_nd(x, {w.pads[1], w.pads[3], w.pads[0], w.pads[2]}, fill);
  w.pads = {0, 0, 0, 0};
  return y;
}

}  // namespace

OnnxLoaded onnx_load(std::vector<char>&& bytes, const std::string& path) {
  auto p = std::make_shared<OnnxProgram>();
  try {
    p->file = ix::parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::vector<char>().swap(bytes);  // the file is parsed: its bytes are not needed again
    p->graph = ix::onnx_graph(p->file);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
  const ix::OnnxGraph& g = p->graph;
  const std::string weights_only = "; compress it weights-only with --bound B (docs/FORMATS.md)";
  const std::vector<std::string>& ops = onnx_supported_ops();
  for (const auto& n : g.nodes) {
    if (!n.domain.empty() && n.domain != "ai.onnx")
      fail(path + ": ONNX op '" + n.op_type + "' of domain '" + n.domain + "' is not supported" + weights_only);
    if (std::find(ops.begin(), ops.end(), n.op_type) == ops.end())
      fail(path + ": ONNX op '" + n.op_type + "'" + (n.name.empty() ? "" : " (node '" + n.name + "')") +
           " is not supported for assessment" + weights_only);
  }
  if (g.inputs.size() != 1)
    fail(path + ": the graph has " + std::to_string(g.inputs.size()) + " inputs, deepsz runs graphs of one (the images)" + weights_only);
  if (g.outputs.size() != 1)
    fail(path + ": the graph has " + std::to_string(g.outputs.size()) + " outputs, deepsz runs graphs of one (the scores)" + weights_only);
  p->input = g.inputs[0].name;
  p->input_dims = g.inputs[0].dims;
  if (p->input_dims.size() != 2 && p->input_dims.size() != 4)
    fail(path + ": the graph's input has rank " + std::to_string(p->input_dims.size()) + " (deepsz feeds N x C x H x W images, or N x features)");
  p->result = g.outputs[0].name;
  for (const auto& c : g.constants) p->constants[c.name] = tensor_of(c, path + ": initializer '" + c.name + "'");

  OnnxLoaded out;
  for (auto& t : p->file.tensors) {
    if (t.storage != ix::Storage::f32)
      fail(path + ": initializer '" + t.name + "' is " + t.dtype + ": the model path runs FLOAT" + weights_only);
    out.params.emplace_back(t.name, tensor_of(t, path + ": initializer '" + t.name + "'"));
    // The parameter holds the values now; the program keeps the name, dtype
    // and shape (onnx_save fills the bytes again).
    std::vector<uint8_t>().swap(t.bytes);
  }
  auto is_param = [&](const std::string& name) {
    for (const auto& q : out.params)
      if (q.first == name) return true;
    return false;
  };
  // The role of each parameter, from the first node that reads it.
  std::set<std::string> produced;  // values a Constant node makes
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ix::OnnxNode& n = g.nodes[i];
    auto role = [&](size_t k, ParamKind kind) {
      if (k < n.inputs.size() && is_param(n.inputs[k]) && !p->kinds.count(n.inputs[k])) p->kinds[n.inputs[k]] = kind;
    };
    if (n.op_type == "Gemm" || n.op_type == "MatMul") {
      role(1, ParamKind::fc_weight);
      role(2, ParamKind::bias);
    } else if (n.op_type == "Conv") {
      role(1, ParamKind::conv_weight);
      role(2, ParamKind::bias);
    }
    if (n.op_type == "Constant") produced.insert(n.outputs.begin(), n.outputs.end());
    if (n.op_type == "Reshape" && (n.inputs.size() < 2 || !(p->constants.count(n.inputs[1]) || produced.count(n.inputs[1]))))
      fail(path + ": " + node_name(n) + " takes its shape from the graph, deepsz needs a constant shape" + weights_only);
    if (n.op_type == "BatchNormalization" && attr_i(n, "training_mode", 0) != 0)
      fail(path + ": " + node_name(n) + " is in training mode (not supported)");
    if (n.op_type == "Softmax" && n.outputs.size() == 1 && n.outputs[0] == p->result && !n.inputs.empty()) {
      // The arg-max is the same and the cross-entropy wants the scores.
      p->skipped.insert(i);
      p->result = n.inputs[0];
    }
  }
  for (const auto& q : out.params)
    if (!p->kinds.count(q.first)) p->kinds[q.first] = q.second.dim() == 1 ? ParamKind::bias : ParamKind::other;

  std::string masks;
  for (const auto& [k, v] : g.properties) {
    if (k == kMetaProperty) {
      try {
        const nlohmann::json j = nlohmann::json::parse(v);
        for (auto it = j.begin(); it != j.end(); ++it) out.meta[it.key()] = it.value().get<std::string>();
      } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::corruption_detected, path + ": bad " + kMetaProperty + " (" + e.what() + ")");
      }
    } else if (k == kMasksProperty) {
      masks = v;
    }
  }
  for (size_t b = 0; b < masks.size();) {
    size_t e = masks.find(',', b);
    if (e == std::string::npos) e = masks.size();
    const std::string name = masks.substr(b, e - b);
    if (!name.empty()) {
      if (!is_param(name)) throw Error(ErrorCode::corruption_detected, path + ": mask of unknown initializer " + name);
      out.masked.push_back(name);
    }
    b = e + 1;
  }
  out.meta[meta::architecture] = "onnx";
  const auto& d = p->input_dims;
  if (d.size() == 4 && d[1] > 0 && d[2] > 0 && d[3] > 0)
    out.meta[meta::input] = std::to_string(d[1]) + "x" + std::to_string(d[2]) + "x" + std::to_string(d[3]);
  else
    out.meta.erase(meta::input);
  const auto& od = g.outputs[0].dims;
  if (od.size() == 2 && od[1] > 0) out.meta[meta::classes] = std::to_string(od[1]);
  out.program = std::move(p);
  return out;
}

ParamKind onnx_param_kind(const OnnxProgram& p, const std::string& name) {
  auto it = p.kinds.find(name);
  return it == p.kinds.end() ? ParamKind::other : it->second;
}

torch::Tensor onnx_run(const OnnxProgram& p, const torch::Tensor& images,
                       const std::vector<std::pair<std::string, torch::Tensor>>& params) {
  std::map<std::string, torch::Tensor> v = p.constants;
  for (const auto& [name, t] : params) v[name] = t;
  const int64_t batch = images.size(0);
  torch::Tensor x = images;
  if (p.input_dims.size() == 2) {
    x = images.reshape({batch, -1});
    if (p.input_dims[1] > 0 && x.size(1) != p.input_dims[1])
      fail("the ONNX model takes " + std::to_string(p.input_dims[1]) + " features, the images have " + std::to_string(x.size(1)));
  } else {
    for (int k = 1; k < 4; ++k)
      if (p.input_dims[k] > 0 && x.size(k) != p.input_dims[k])
        fail("the ONNX model takes " + std::to_string(p.input_dims[1]) + "x" + std::to_string(p.input_dims[2]) + "x" +
             std::to_string(p.input_dims[3]) + " images, these are " + std::to_string(x.size(1)) + "x" +
             std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)));
  }
  v[p.input] = x;
  const int64_t opset = p.graph.opset;
  for (size_t i = 0; i < p.graph.nodes.size(); ++i) {
    if (p.skipped.count(i)) continue;
    const ix::OnnxNode& n = p.graph.nodes[i];
    auto has = [&](size_t k) { return k < n.inputs.size() && !n.inputs[k].empty(); };
    auto in = [&](size_t k) -> const torch::Tensor& {
      if (!has(k)) fail(node_name(n) + ": input " + std::to_string(k) + " is missing");
      auto it = v.find(n.inputs[k]);
      if (it == v.end()) fail(node_name(n) + ": value '" + n.inputs[k] + "' is not computed before it");
      return it->second;
    };
    const std::string& op = n.op_type;
    torch::Tensor y;
    if (op == "Gemm") {
      torch::Tensor a = in(0), b = in(1);
      if (attr_i(n, "transA", 0)) a = a.t();
      if (attr_i(n, "transB", 0)) b = b.t();
      const double alpha = attr_f(n, "alpha", 1.0), beta = attr_f(n, "beta", 1.0);
      if (has(2) && alpha == 1.0 && beta == 1.0) {
        y = torch::addmm(in(2), a, b);
      } else {
        y = torch::mm(a, b);
        if (alpha != 1.0) y = y * alpha;
        if (has(2)) y = y + (beta == 1.0 ? in(2) : in(2) * beta);
      }
    } else if (op == "MatMul") {
      y = torch::matmul(in(0), in(1));
    } else if (op == "Conv") {
      const torch::Tensor& w = in(1);
      if (w.dim() != 4) fail(node_name(n) + ": only 2-D convolutions are supported");
      Window win = window_of(n, false);
      torch::Tensor xi = pad_asymmetric(in(0), win, 0.0);
      y = torch::conv2d(xi, w, has(2) ? in(2) : torch::Tensor(), win.strides, {win.pads[0], win.pads[1]}, win.dilations,
                        attr_i(n, "group", 1));
    } else if (op == "Relu") {
      y = torch::relu(in(0));
    } else if (op == "MaxPool") {
      if (n.outputs.size() > 1 && !n.outputs[1].empty()) fail(node_name(n) + ": the Indices output is not supported");
      Window win = window_of(n, true);
      torch::Tensor xi = pad_asymmetric(in(0), win, -std::numeric_limits<double>::infinity());
      y = torch::max_pool2d(xi, win.kernel, win.strides, {win.pads[0], win.pads[1]}, win.dilations,
                            attr_i(n, "ceil_mode", 0) != 0);
    } else if (op == "AveragePool") {
      Window win = window_of(n, true);
      if (win.pads[0] != win.pads[2] || win.pads[1] != win.pads[3])
        fail(node_name(n) + ": asymmetric pads are not supported");
      y = torch::avg_pool2d(in(0), win.kernel, win.strides, {win.pads[0], win.pads[1]}, attr_i(n, "ceil_mode", 0) != 0,
                            attr_i(n, "count_include_pad", 0) != 0);
    } else if (op == "GlobalAveragePool") {
      const torch::Tensor& a = in(0);
      std::vector<int64_t> dims;
      for (int64_t k = 2; k < a.dim(); ++k) dims.push_back(k);
      y = a.mean(dims, /*keepdim=*/true);
    } else if (op == "Flatten") {
      const torch::Tensor& a = in(0);
      int64_t axis = attr_i(n, "axis", 1);
      if (axis < 0) axis += a.dim();
      if (axis < 0 || axis > a.dim()) fail(node_name(n) + ": axis out of range");
      int64_t outer = 1;
      for (int64_t k = 0; k < axis; ++k) outer *= a.size(k);
      y = a.reshape({outer, outer ? a.numel() / outer : 0});
    } else if (op == "Reshape") {
      const torch::Tensor& a = in(0);
      torch::Tensor s = in(1).to(torch::kInt64).contiguous();
      std::vector<int64_t> shape(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
      const bool allowzero = attr_i(n, "allowzero", 0) != 0;
      for (size_t k = 0; k < shape.size(); ++k)
        if (shape[k] == 0 && !allowzero) {
          if (int64_t(k) >= a.dim()) fail(node_name(n) + ": a 0 in the shape past the input's rank");
          shape[k] = a.size(int64_t(k));
        }
      // A shape written for the declared batch (an export at batch 1) keeps
      // the batch deepsz evaluates with.
      if (!shape.empty() && p.input_dims[0] > 0 && shape[0] == p.input_dims[0] && a.dim() > 0 && a.size(0) == batch &&
          batch != shape[0])
        shape[0] = batch;
      y = a.reshape(shape);
    } else if (op == "BatchNormalization") {
      y = torch::batch_norm(in(0), in(1), in(2), in(3), in(4), false, 0.0, attr_f(n, "epsilon", 1e-5), false);
    } else if (op == "Add") {
      y = in(0) + in(1);
    } else if (op == "Softmax") {
      const torch::Tensor& a = in(0);
      int64_t axis = attr_i(n, "axis", opset >= 13 ? -1 : 1);
      if (axis < 0) axis += a.dim();
      if (opset >= 13) {
        y = torch::softmax(a, axis);
      } else {
        int64_t outer = 1;
        for (int64_t k = 0; k < axis; ++k) outer *= a.size(k);
        y = torch::softmax(a.reshape({outer, -1}), 1).reshape(a.sizes());
      }
    } else if (op == "Dropout" || op == "Identity") {
      y = in(0);
      if (op == "Dropout" && n.outputs.size() > 1 && !n.outputs[1].empty())
        v[n.outputs[1]] = torch::ones_like(y, torch::kBool);
    } else if (op == "Constant") {
      const ix::OnnxAttribute* a = n.attribute("value");
      if (a && a->type == ix::OnnxAttribute::Type::tensor) {
        y = tensor_of(a->t, node_name(n));
      } else if ((a = n.attribute("value_float"))) {
        y = torch::tensor(static_cast<float>(a->f));
      } else if ((a = n.attribute("value_floats"))) {
        std::vector<float> f(a->floats.begin(), a->floats.end());
        y = torch::tensor(f);
      } else if ((a = n.attribute("value_int"))) {
        y = torch::tensor(a->i, torch::kInt64);
      } else if ((a = n.attribute("value_ints"))) {
        y = torch::tensor(a->ints, torch::kInt64);
      } else {
        fail(node_name(n) + ": no value attribute deepsz reads");
      }
    } else {
      fail("ONNX op '" + op + "' is not supported");
    }
    if (n.outputs.empty()) fail(node_name(n) + " has no output");
    v[n.outputs[0]] = y;
  }
  auto it = v.find(p.result);
  if (it == v.end()) fail("the graph's output '" + p.result + "' is never computed");
  return it->second;
}

std::vector<uint8_t> onnx_save(const OnnxProgram& p, const std::vector<std::pair<std::string, torch::Tensor>>& params,
                               const std::map<std::string, std::string>& meta, const std::vector<std::string>& masked) {
  ix::WeightsFile w = p.file;
  if (w.tensors.size() != params.size()) fail("the ONNX model's parameters do not match its initializers");
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].first != w.tensors[i].name) fail("parameter " + params[i].first + " matches no initializer");
    torch::Tensor c = params[i].second.detach().to(torch::kFloat32).contiguous();
    const auto* b = reinterpret_cast<const uint8_t*>(c.data_ptr<float>());
    w.tensors[i].bytes.assign(b, b + c.numel() * 4);
  }
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : meta)
    if (k != meta::architecture && k != meta::input && k != meta::classes) j[k] = v;
  std::vector<std::pair<std::string, std::string>> props;
  if (!j.empty()) props.emplace_back(kMetaProperty, j.dump());
  std::string names;
  for (const auto& n : masked) names += (names.empty() ? "" : ",") + n;
  if (!names.empty()) props.emplace_back(kMasksProperty, names);
  return ix::serialize_onnx(std::move(w), &props);
}

#endif  // DEEPSZ_HAVE_ONNX

}  // namespace deepsz::model
