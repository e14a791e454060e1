// The decoder of a .dsz model: parameters, masks and metadata back into a
// deepsz-native model.
#include <cstdio>

#include <algorithm>

#include "deepsz/model/native_stream.h"
#include "pipeline_internal.h"

namespace deepsz::pipeline {

namespace {
model::InputShape parse_input(const std::string& s) {
  model::InputShape in;
  long long c = 0, h = 0, w = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%lldx%lldx%lld%c", &c, &h, &w, &tail) != 3 || c <= 0 || h <= 0 || w <= 0)
    throw Error(ErrorCode::corruption_detected, "model container: bad input shape '" + s + "'");
  in.channels = c;
  in.rows = h;
  in.cols = w;
  return in;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b < s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}
}  // namespace

namespace {
void restore_masks(const Container& c, model::Model& m);

// The checks that the container's tensors are the network's parameters:
// one tensor a parameter, each of the parameter's element count.
void check_tensor_count(const Container& c, const std::string& arch, size_t parameters) {
  if (parameters != c.tensors.size())
    throw Error(ErrorCode::corruption_detected, "model container: the " + arch + " model has " +
                                                    std::to_string(parameters) + " parameters, the container " +
                                                    std::to_string(c.tensors.size()) + " tensors");
}
const TensorEntry& tensor_of_parameter(const Container& c, const std::string& name, uint64_t numel) {
  const TensorEntry* e = c.find(name);
  if (!e || e->element_count() != numel)
    throw Error(ErrorCode::corruption_detected, "model container: no tensor matches parameter " + name);
  return *e;
}

// Every parameter of `m` from the container's tensor of its name, decoded in
// place; the container must hold exactly the model's parameters.
void fill_parameters(const Container& c, model::Model& m, unsigned threads) {
  const std::vector<model::ParamInfo> infos = m.parameters();
  check_tensor_count(c, m.architecture(), infos.size());
  for (const auto& p : infos) {
    const TensorEntry& e = tensor_of_parameter(c, p.name, uint64_t(p.numel));
    m.fill_parameter(p.name, [&](float* data, size_t count) { decode_tensor_into(e, data, count, threads); });
  }
}

// The architecture, input shape and class count a native container records.
struct NativeShape {
  std::string arch;
  model::InputShape input;
  long long classes = 0;
};
NativeShape native_shape(const Container& c) {
  NativeShape n;
  n.arch = c.meta(model::meta::architecture);
  if (n.arch.empty()) throw Error(ErrorCode::corruption_detected, "model container: no architecture");
  n.input = parse_input(c.meta(model::meta::input));
  try {
    n.classes = std::stoll(c.meta(model::meta::classes));
  } catch (...) {
    throw Error(ErrorCode::corruption_detected, "model container: bad class count");
  }
  return n;
}

model::Model decompress_native(const Container& c, unsigned threads) {
  const NativeShape n = native_shape(c);
  // Each tensor decodes straight into the model's parameter: one copy of the
  // network in memory, not two (docs/SCALE.md, "Memory").
  model::Model m = model::Model::create(n.arch, n.input, n.classes, 0);
  for (const auto& [k, v] : c.metadata)
    if (k.rfind("deepsz", 0) != 0) m.set_metadata(k, v);
  fill_parameters(c, m, threads);
  restore_masks(c, m);
  return m;
}
}  // namespace

model::FileKind decompressed_kind(const Container& c) {
  if (c.meta(kModelKindKey) != kModelKindValue)
    throw Error(ErrorCode::foreign_format,
                "not a deepsz model container (no '" + std::string(kModelKindKey) + "=" + kModelKindValue +
                    "' metadata; raw tensors can be extracted with `dsz decompress`)");
  const std::string ts = c.meta(detail::kTorchScriptKey), onnx = c.meta(detail::kOnnxKey);
  if (!ts.empty() && !onnx.empty())
    throw Error(ErrorCode::corruption_detected, "model container: both a TorchScript module and an ONNX graph");
  return !ts.empty() ? model::FileKind::torchscript : !onnx.empty() ? model::FileKind::onnx : model::FileKind::native;
}

model::Model decompress_model(const Container& c, unsigned threads) {
  if (decompressed_kind(c) == model::FileKind::native) return decompress_native(c, threads);
  const std::string ts = c.meta(detail::kTorchScriptKey), onnx = c.meta(detail::kOnnxKey);
  // A TorchScript module or an ONNX graph: its file (parameters zeroed),
  // then every parameter from its tensor.
  model::Model m = ts.empty() ? detail::model_from_shell(onnx, model::FileKind::onnx)
                              : detail::model_from_shell(ts, model::FileKind::torchscript);
  fill_parameters(c, m, threads);
  for (const auto& [k, v] : c.metadata)
    if (k.rfind("deepsz", 0) != 0) m.set_metadata(k, v);
  restore_masks(c, m);
  return m;
}

namespace {
void restore_masks(const Container& c, model::Model& m) {
  for (const std::string& name : split_commas(c.meta("deepsz.masks"))) {
    const TensorEntry* e = c.find(name);
    if (!e) throw Error(ErrorCode::corruption_detected, "model container: mask of unknown tensor " + name);
    std::vector<uint8_t> mask(static_cast<size_t>(e->element_count()), 0);
    if (e->sparse) {
      for (uint64_t pos : sparse_positions(*e)) mask[static_cast<size_t>(pos)] = 1;
    } else {
      const std::vector<float> v = m.parameter(name);
      for (size_t i = 0; i < v.size(); ++i) mask[i] = v[i] != 0.0f;
    }
    m.set_mask(name, mask);
  }
}
}  // namespace

model::Model decompress_model_file(const std::string& path, unsigned threads) {
  return decompress_model(read_container_file(path), threads);
}

namespace {
// A mask's bytes (one 0/1 byte an element), as restore_masks makes it: the
// sparse index's positions, or the decoded values that are not zero.
void produce_mask(const TensorEntry& e, unsigned threads, const model::ByteSink& sink) {
  if (!e.sparse) {
    std::vector<uint8_t> bytes;
    decode_tensor_pieces(e, threads, [&](const float* v, size_t n) {
      bytes.resize(n);
      for (size_t i = 0; i < n; ++i) bytes[i] = v[i] != 0.0f;
      sink(bytes.data(), n);
    });
    return;
  }
  const uint64_t n = e.element_count();
  const std::vector<uint64_t> positions = sparse_positions(e);  // increasing, each below n
  std::vector<uint8_t> window(size_t(std::min<uint64_t>(n, kTensorPieceValues)));
  size_t next = 0;
  for (uint64_t w0 = 0; w0 < n; w0 += window.size()) {
    const size_t m = size_t(std::min<uint64_t>(window.size(), n - w0));
    std::fill(window.begin(), window.begin() + std::ptrdiff_t(m), uint8_t(0));
    for (; next < positions.size() && positions[next] < w0 + m; ++next) window[size_t(positions[next] - w0)] = 1;
    sink(window.data(), m);
  }
}
}  // namespace

DecompressedFile decompress_model_to_file(const Container& c, const std::string& path, unsigned threads) {
  if (decompressed_kind(c) == model::FileKind::native) {
    const NativeShape n = native_shape(c);
    model::NativeLayout layout = model::native_layout(n.arch, n.input, n.classes);
    for (const auto& [k, v] : c.metadata)
      if (k.rfind("deepsz", 0) != 0) layout.metadata[k] = v;
    check_tensor_count(c, n.arch, layout.parameters.size());
    std::vector<model::StreamedTensor> params, masks;
    for (const auto& [name, shape] : layout.parameters) {
      uint64_t numel = 1;
      for (int64_t d : shape) numel *= uint64_t(d);
      const TensorEntry* e = &tensor_of_parameter(c, name, numel);
      params.push_back({name, shape, [e, threads](const model::ByteSink& sink) {
                          decode_tensor_pieces(*e, threads, [&](const float* v, size_t k) { sink(v, 4 * k); });
                        }});
    }
    for (const std::string& name : split_commas(c.meta("deepsz.masks"))) {
      const TensorEntry* e = c.find(name);
      auto p = std::find_if(params.begin(), params.end(), [&](const model::StreamedTensor& t) { return t.name == name; });
      if (!e || p == params.end())
        throw Error(ErrorCode::corruption_detected, "model container: mask of unknown tensor " + name);
      masks.push_back({name, p->shape, [e, threads](const model::ByteSink& sink) { produce_mask(*e, threads, sink); }});
    }
    if (model::native_tensor_bytes(params, masks) + (uint64_t(1) << 24) < model::kStreamedNativeLimit) {
      model::save_native_streamed(path, layout.metadata, params, masks);
      return {n.arch, params.size(), masks.size(), true};
    }
  }
  const model::Model m = decompress_model(c, threads);
  m.save(path);
  return {m.architecture(), m.parameters().size(), m.masked_parameters().size(), false};
}

}  // namespace deepsz::pipeline
