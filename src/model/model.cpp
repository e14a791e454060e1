// model.cpp: the architectures (layer lists and initialisation) and the
// Model core: parameters, masks, metadata, the forward pass. Files are in
// model_file.cpp, the Evaluator in evaluator.cpp.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "deepsz/model/native_stream.h"
#include "internal.h"
#include "onnx_program.h"

namespace deepsz::model {
namespace {

Layer linear(const std::string& name, int64_t in, int64_t out) {
  Layer l;
  l.kind = Layer::Kind::linear;
  l.name = name;
  l.in = in;
  l.out = out;
  return l;
}
Layer conv(const std::string& name, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
  Layer l;
  l.kind = Layer::Kind::conv;
  l.name = name;
  l.in = in;
  l.out = out;
  l.kernel = k;
  l.stride = stride;
  l.pad = pad;
  return l;
}
Layer simple(Layer::Kind kind, int64_t k = 0, int64_t stride = 1) {
  Layer l;
  l.kind = kind;
  l.kernel = k;
  l.stride = stride;
  return l;
}

}  // namespace

std::string shape_string(const InputShape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.rows) + "x" + std::to_string(s.cols);
}

InputShape parse_shape(const std::string& text) {
  InputShape s;
  if (std::sscanf(text.c_str(), "%ldx%ldx%ld", &s.channels, &s.rows, &s.cols) != 3 || s.channels <= 0 ||
      s.rows <= 0 || s.cols <= 0)
    throw Error(ErrorCode::corruption_detected, "bad input shape '" + text + "' in model metadata");
  return s;
}

torch::Tensor to_tensor(const std::vector<float>& values, const torch::Tensor& like, const std::string& name) {
  if (static_cast<int64_t>(values.size()) != like.numel())
    throw Error(ErrorCode::invalid_argument, "parameter " + name + " has " + std::to_string(like.numel()) +
                                                 " values, got " + std::to_string(values.size()));
  return torch::from_blob(const_cast<float*>(values.data()), like.sizes(), torch::kFloat32).clone();
}

std::vector<uint8_t> flag_bytes(const torch::Tensor& flags) {
  const torch::Tensor b = flags.to(torch::kUInt8).contiguous();
  return std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel());
}

std::vector<std::pair<std::string, std::vector<int64_t>>> native_param_shapes(const std::vector<Layer>& layers) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const Layer& l : layers) {
    if (l.kind != Layer::Kind::linear && l.kind != Layer::Kind::conv) continue;
    out.emplace_back(l.name + ".weight", l.kind == Layer::Kind::linear ? std::vector<int64_t>{l.out, l.in}
                                                                       : std::vector<int64_t>{l.out, l.in, l.kernel, l.kernel});
    out.emplace_back(l.name + ".bias", std::vector<int64_t>{l.out});
  }
  return out;
}

void init_native_params(Model::Impl& m) {
  torch::NoGradGuard guard;
  m.params.clear();
  const auto shapes = native_param_shapes(m.layers);  // weight, bias of each layer in turn
  for (size_t i = 0; i + 1 < shapes.size(); i += 2) {
    // PyTorch's default: kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    // for the weight and its bias.
    int64_t fan_in = 1;
    for (size_t k = 1; k < shapes[i].second.size(); ++k) fan_in *= shapes[i].second[k];
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    m.params.emplace_back(shapes[i].first, torch::empty(shapes[i].second).uniform_(-bound, bound));
    m.params.emplace_back(shapes[i + 1].first, torch::empty(shapes[i + 1].second).uniform_(-bound, bound));
  }
}

// What a new native model records.
static std::map<std::string, std::string> native_metadata(const std::string& arch, const InputShape& input, int64_t classes) {
  return {{meta::architecture, arch},
          {meta::input, shape_string(input)},
          {meta::classes, std::to_string(classes)},
          {meta::pre_mean, "0"},
          {meta::pre_std, "1"}};
}

void throw_from_torch(const c10::Error& e, const std::string& context) {
  std::string msg = e.what_without_backtrace();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  throw Error(ErrorCode::invalid_argument, context + ": " + msg);
}

std::vector<std::string> architectures() { return {"lenet300", "lenet5", "alexnet", "vgg16"}; }

const char* param_kind_name(ParamKind kind) noexcept {
  switch (kind) {
    case ParamKind::fc_weight: return "fc_weight";
    case ParamKind::conv_weight: return "conv_weight";
    case ParamKind::bias: return "bias";
    case ParamKind::other: return "other";
  }
  return "other";
}

std::vector<Layer> build_layers(const std::string& arch, const InputShape& in, int64_t classes) {
  using K = Layer::Kind;
  std::vector<Layer> L;
  if (classes <= 0) throw Error(ErrorCode::invalid_argument, "number of classes must be positive");
  if (arch == "lenet300") {
    L = {simple(K::flatten), linear("fc1", in.channels * in.rows * in.cols, 300), simple(K::relu),
         linear("fc2", 300, 100), simple(K::relu), linear("fc3", 100, classes)};
  } else if (arch == "lenet5") {
    // Caffe's LeNet: no nonlinearity after the convolutions.
    int64_t h = ((in.rows - 4) / 2 - 4) / 2, w = ((in.cols - 4) / 2 - 4) / 2;
    if (h <= 0 || w <= 0) throw Error(ErrorCode::invalid_argument, "lenet5 needs images of at least 16x16");
    L = {conv("conv1", in.channels, 20, 5), simple(K::maxpool, 2, 2), conv("conv2", 20, 50, 5),
         simple(K::maxpool, 2, 2), simple(K::flatten), linear("fc1", 50 * h * w, 500), simple(K::relu),
         linear("fc2", 500, classes)};
  } else if (arch == "alexnet") {
    // torchvision's single-tower AlexNet, with Caffe's layer names.
    L = {conv("conv1", in.channels, 64, 11, 4, 2), simple(K::relu), simple(K::maxpool, 3, 2),
         conv("conv2", 64, 192, 5, 1, 2), simple(K::relu), simple(K::maxpool, 3, 2),
         conv("conv3", 192, 384, 3, 1, 1), simple(K::relu), conv("conv4", 384, 256, 3, 1, 1), simple(K::relu),
         conv("conv5", 256, 256, 3, 1, 1), simple(K::relu), simple(K::maxpool, 3, 2),
         simple(K::adaptive_avgpool, 6), simple(K::flatten), simple(K::dropout), linear("fc6", 256 * 36, 4096),
         simple(K::relu), simple(K::dropout), linear("fc7", 4096, 4096), simple(K::relu),
         linear("fc8", 4096, classes)};
  } else if (arch == "vgg16") {
    const int64_t widths[5] = {64, 128, 256, 512, 512};
    const int convs[5] = {2, 2, 3, 3, 3};
    int64_t c = in.channels;
    for (int b = 0; b < 5; ++b) {
      for (int i = 0; i < convs[b]; ++i) {
        L.push_back(conv("conv" + std::to_string(b + 1) + "_" + std::to_string(i + 1), c, widths[b], 3, 1, 1));
        L.push_back(simple(K::relu));
        c = widths[b];
      }
      L.push_back(simple(K::maxpool, 2, 2));
    }
    for (const Layer& l :
         {simple(K::adaptive_avgpool, 7), simple(K::flatten), linear("fc6", 512 * 49, 4096), simple(K::relu),
          simple(K::dropout), linear("fc7", 4096, 4096), simple(K::relu), simple(K::dropout),
          linear("fc8", 4096, classes)})
      L.push_back(l);
  } else {
    throw Error(ErrorCode::invalid_argument,
                "unknown architecture '" + arch + "' (lenet300, lenet5, alexnet or vgg16)");
  }
  return L;
}

// ---- Model::Impl -----------------------------------------------------------

std::unique_ptr<Model::Impl> Model::Impl::clone(bool deep) const {
  auto c = std::make_unique<Impl>();
  c->kind = kind;
  c->meta = meta;
  c->layers = layers;
  c->training = training;
  c->onnx = onnx;
  // Tensors and Modules are handles: a shallow copy shares their storage.
  torch::NoGradGuard guard;
  for (const auto& [n, m] : masks) c->masks[n] = deep ? m.clone() : m;
  c->unloaded_masks = unloaded_masks;
  if (module) {
    // Without the guard, deepcopy clones parameters through autograd and they
    // stop being leaves (optimisers then refuse them).
    c->module = deep ? module->deepcopy() : *module;
    c->collect_module_params();
  } else {
    for (const auto& [n, t] : params) c->params.emplace_back(n, deep ? t.detach().clone() : t);
  }
  return c;
}

void Model::Impl::collect_module_params() {
  params.clear();
  for (const auto& p : module->named_parameters(true)) params.emplace_back(p.name, p.value);
}

bool Model::Impl::has_param(const std::string& name) const {
  for (const auto& p : params)
    if (p.first == name) return true;
  return false;
}

torch::Tensor& Model::Impl::param(const std::string& name) {
  for (auto& p : params)
    if (p.first == name) return p.second;
  throw Error(ErrorCode::invalid_argument, "no parameter named '" + name + "'");
}
const torch::Tensor& Model::Impl::param(const std::string& name) const {
  return const_cast<Impl*>(this)->param(name);
}

int Model::Impl::layer_of(const std::string& pname) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (!layers[i].name.empty() && (pname == layers[i].name + ".weight" || pname == layers[i].name + ".bias"))
      return static_cast<int>(i);
  return -1;
}

ParamKind Model::Impl::kind_of(const std::string& name) const {
  const torch::Tensor& t = param(name);
  auto ends_with = [&](const char* s) {
    size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  if (kind == FileKind::onnx) return onnx_param_kind(*onnx, name);
  if (ends_with("bias") && t.dim() == 1) return ParamKind::bias;
  if (kind == FileKind::native) {
    int li = layer_of(name);
    if (li >= 0) return layers[li].kind == Layer::Kind::conv ? ParamKind::conv_weight : ParamKind::fc_weight;
    return ParamKind::other;
  }
  if (ends_with("weight") && t.dim() == 2) return ParamKind::fc_weight;
  if (ends_with("weight") && t.dim() == 4) return ParamKind::conv_weight;
  return ParamKind::other;
}

void Model::Impl::set_training(bool on) {
  training = on;
  if (module) module->train(on);
}

torch::Tensor Model::Impl::forward(const torch::Tensor& x) {
  if (module) {
    auto out = module->forward({x});
    if (!out.isTensor()) throw Error(ErrorCode::invalid_argument, "the TorchScript module's forward() must return one tensor");
    return out.toTensor();
  }
  if (onnx) return onnx_run(*onnx, x, params);
  return run_layers(x, 0, layers.size());
}

int64_t linear_block_rows(int64_t out_features, int64_t in_features) {
  if (out_features * in_features <= kLinearBlockValues) return out_features;
  return std::min(out_features, std::max<int64_t>(1, kLinearBlockValues / std::max<int64_t>(1, in_features)));
}

torch::Tensor linear_by_rows(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  // Training keeps the one product: autograd would give every block's slice
  // a zero gradient of the whole weight (SliceBackward), 100 x 411 MB for
  // VGG-16's fc6. Evaluation (no grad) is where the blocks must match.
  if (w.dim() != 2 || (at::GradMode::is_enabled() && w.requires_grad())) return torch::linear(x, w, b);
  const int64_t out = w.size(0), rows = linear_block_rows(out, w.size(1));
  if (rows >= out) return torch::linear(x, w, b);
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < out; r += rows) {
    const int64_t e = std::min(out, r + rows);
    parts.push_back(torch::linear(x, w.slice(0, r, e), b.defined() ? b.slice(0, r, e) : b));
  }
  return torch::cat(parts, 1);
}

torch::Tensor Model::Impl::run_layers(torch::Tensor x, size_t first, size_t last,
                                      const std::map<std::string, torch::Tensor>* overrides) {
  auto get = [&](const std::string& n) -> const torch::Tensor& {
    if (overrides) {
      auto it = overrides->find(n);
      if (it != overrides->end()) return it->second;
    }
    return param(n);
  };
  for (size_t i = first; i < last; ++i) {
    const Layer& l = layers[i];
    switch (l.kind) {
      case Layer::Kind::linear: x = linear_by_rows(x, get(l.name + ".weight"), get(l.name + ".bias")); break;
      case Layer::Kind::conv:
        x = torch::conv2d(x, get(l.name + ".weight"), get(l.name + ".bias"), l.stride, l.pad);
        break;
      case Layer::Kind::relu: x = torch::relu(x); break;
      case Layer::Kind::maxpool: x = torch::max_pool2d(x, l.kernel, l.stride); break;
      case Layer::Kind::flatten: x = x.flatten(1); break;
      case Layer::Kind::dropout: x = torch::dropout(x, 0.5, training); break;
      case Layer::Kind::adaptive_avgpool: x = torch::adaptive_avg_pool2d(x, {l.kernel, l.kernel}); break;
    }
  }
  return x;
}

torch::Tensor images_tensor(const ImageSet& set, const Preprocessing& pre, int64_t first, int64_t count) {
  if (count < 0) count = set.size() - first;
  auto t = torch::empty({count, set.channels, set.rows, set.cols}, torch::kFloat32);
  const int64_t n = set.image_elements();
  const float scale = static_cast<float>(1.0 / (255.0 * pre.std));
  const float shift = static_cast<float>(pre.mean / pre.std);
  const uint8_t* src = set.pixels.data() + first * n;
  float* dst = t.data_ptr<float>();
  for (int64_t i = 0; i < count * n; ++i) dst[i] = static_cast<float>(src[i]) * scale - shift;
  return t;
}

torch::Tensor labels_tensor(const ImageSet& set) {
  auto t = torch::empty({set.size()}, torch::kInt64);
  int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < set.size(); ++i) p[i] = set.labels[static_cast<size_t>(i)];
  return t;
}

// ---- Model -----------------------------------------------------------------

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
Model::Model(const Model& other) : impl_(other.impl_->clone()) {}
Model Model::alias() const { return Model(impl_->clone(/*deep=*/false)); }

Model& Model::operator=(const Model& other) {
  if (this != &other) impl_ = other.impl_->clone();
  return *this;
}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::create(const std::string& arch, const InputShape& input, int64_t classes, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->kind = FileKind::native;
  impl->layers = build_layers(arch, input, classes);
  torch::manual_seed(seed);
  init_native_params(*impl);
  impl->meta = native_metadata(arch, input, classes);
  return Model(std::move(impl));
}

NativeLayout native_layout(const std::string& arch, const InputShape& input, int64_t classes) {
  return {native_metadata(arch, input, classes), native_param_shapes(build_layers(arch, input, classes))};
}

Model Model::from_parameters(const std::string& arch, const InputShape& input, int64_t classes,
                             const std::vector<std::pair<std::string, std::vector<float>>>& params,
                             const std::map<std::string, std::string>& metadata) {
  Model m = create(arch, input, classes, 0);
  for (const auto& [k, v] : metadata) m.impl_->meta[k] = v;
  m.impl_->meta[meta::architecture] = arch;
  m.impl_->meta[meta::input] = shape_string(input);
  m.impl_->meta[meta::classes] = std::to_string(classes);
  std::map<std::string, bool> seen;
  for (const auto& [name, values] : params) {
    m.set_parameter(name, values);
    seen[name] = true;
  }
  for (const auto& p : m.impl_->params)
    if (!seen.count(p.first)) throw Error(ErrorCode::invalid_argument, "parameter " + p.first + " of " + arch + " not given");
  return m;
}

FileKind Model::file_kind() const { return impl_->kind; }
bool Model::is_sequential() const { return impl_->kind == FileKind::native; }
std::string Model::architecture() const { return metadata(meta::architecture, "torchscript"); }
InputShape Model::input_shape() const {
  auto it = impl_->meta.find(meta::input);
  return it == impl_->meta.end() ? InputShape{} : parse_shape(it->second);
}
int64_t Model::num_classes() const {
  auto it = impl_->meta.find(meta::classes);
  return it == impl_->meta.end() ? 0 : std::stoll(it->second);
}
Preprocessing Model::preprocessing() const {
  Preprocessing p;
  p.mean = std::stod(metadata(meta::pre_mean, "0"));
  p.std = std::stod(metadata(meta::pre_std, "1"));
  return p;
}
void Model::set_preprocessing(const Preprocessing& pre) {
  if (!(pre.std > 0)) throw Error(ErrorCode::invalid_argument, "--std must be positive");
  std::ostringstream m, s;
  m.precision(17);
  s.precision(17);
  m << pre.mean;
  s << pre.std;
  impl_->meta[meta::pre_mean] = m.str();
  impl_->meta[meta::pre_std] = s.str();
}

std::vector<ParamInfo> Model::parameters() const {
  std::vector<ParamInfo> out;
  for (const auto& p : impl_->params) out.push_back(parameter_info(p.first));
  return out;
}

ParamInfo Model::parameter_info(const std::string& name) const {
  const torch::Tensor& t = impl_->param(name);
  ParamInfo info;
  info.name = name;
  info.shape = t.sizes().vec();
  info.kind = impl_->kind_of(name);
  info.numel = t.numel();
  return info;
}

std::vector<float> Model::parameter(const std::string& name) const {
  torch::Tensor t = impl_->param(name).detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

const float* Model::parameter_data(const std::string& name, size_t& count) const {
  const torch::Tensor& t = impl_->param(name);
  count = static_cast<size_t>(t.numel());
  if (t.scalar_type() != torch::kFloat32 || !t.is_contiguous() || !t.device().is_cpu()) return nullptr;
  return t.data_ptr<float>();
}

void Model::set_parameter(const std::string& name, const std::vector<float>& values) {
  torch::Tensor& t = impl_->param(name);
  torch::Tensor v = to_tensor(values, t, name);
  torch::NoGradGuard guard;
  t.copy_(v);
}

void Model::fill_parameter(const std::string& name, const std::function<void(float*, size_t)>& fill) {
  torch::Tensor& t = impl_->param(name);
  torch::NoGradGuard guard;
  if (t.scalar_type() == torch::kFloat32 && t.is_contiguous()) {
    fill(t.data_ptr<float>(), static_cast<size_t>(t.numel()));
    return;
  }
  torch::Tensor c = torch::empty(t.sizes(), torch::kFloat32);
  fill(c.data_ptr<float>(), static_cast<size_t>(c.numel()));
  t.copy_(c);
}

int64_t Model::nonzeros(const std::string& name) const {
  return impl_->param(name).detach().ne(0).sum().item<int64_t>();
}

bool Model::has_mask(const std::string& name) const {
  return impl_->masks.count(name) > 0 || impl_->unloaded_masks.count(name) > 0;
}
std::vector<uint8_t> Model::mask(const std::string& name) const {
  if (impl_->unloaded_masks.count(name))
    throw Error(ErrorCode::invalid_argument, "the mask of " + name + " was not loaded (MaskLoading::names_only)");
  auto it = impl_->masks.find(name);
  if (it == impl_->masks.end()) throw Error(ErrorCode::invalid_argument, "parameter " + name + " has no mask");
  return flag_bytes(it->second);
}
void Model::set_mask(const std::string& name, const std::vector<uint8_t>& mask) {
  torch::Tensor& t = impl_->param(name);
  if (static_cast<int64_t>(mask.size()) != t.numel())
    throw Error(ErrorCode::invalid_argument, "mask of " + name + " has the wrong size");
  torch::Tensor m =
      torch::from_blob(const_cast<uint8_t*>(mask.data()), t.sizes(), torch::kUInt8).ne(0);
  impl_->masks[name] = m;
  impl_->unloaded_masks.erase(name);
  torch::NoGradGuard guard;
  t.mul_(m);  // the bool mask promoted element by element: no float copy of it (151 MB for AlexNet fc6)
}
void Model::clear_mask(const std::string& name) {
  impl_->masks.erase(name);
  impl_->unloaded_masks.erase(name);
}
std::vector<std::string> Model::masked_parameters() const {
  std::vector<std::string> out;
  for (const auto& p : impl_->params)
    if (has_mask(p.first)) out.push_back(p.first);
  return out;
}

std::map<std::string, std::string> Model::metadata() const { return impl_->meta; }
std::string Model::metadata(const std::string& key, const std::string& fallback) const {
  auto it = impl_->meta.find(key);
  return it == impl_->meta.end() ? fallback : it->second;
}
void Model::clear_metadata() {
  for (auto it = impl_->meta.begin(); it != impl_->meta.end();)
    it = it->first == meta::architecture || it->first == meta::input || it->first == meta::classes
             ? std::next(it)
             : impl_->meta.erase(it);
}
void Model::set_metadata(const std::string& key, const std::string& value) {
  if (is_checksum_key(key))
    throw Error(ErrorCode::invalid_argument, "metadata key '" + key + "': keys beginning with 'xxh64:' are reserved");
  impl_->meta[key] = value;
}

}  // namespace deepsz::model
