// Model: architectures, model files (deepsz-native and TorchScript), Evaluator.
#include "deepsz/interrupt.h"
#include <torch/csrc/jit/serialization/import.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "internal.h"

namespace deepsz::model {
namespace {

constexpr const char* kNativeFormat = "deepsz-model";
constexpr int64_t kNativeVersion = 1;
constexpr const char* kExtraMetadata = "deepsz/metadata.json";
constexpr const char* kExtraMasks = "deepsz/masks.bin";
// Integrity of deepsz-native files: Model::save adds to the metadata dict one
// XXH64 per tensor ("xxh64:parameter:NAME", "xxh64:mask:NAME") and one of the
// other metadata entries ("xxh64:metadata"), 16 hex digits each; Model::load
// checks them and keeps them out of Model::metadata(). Files without them
// (written before) load unchecked. See docs/MODEL.md.
constexpr const char* kChecksumPrefix = "xxh64:";
constexpr const char* kChecksumMetadata = "xxh64:metadata";
std::string parameter_checksum_key(const std::string& name) { return "xxh64:parameter:" + name; }
std::string mask_checksum_key(const std::string& name) { return "xxh64:mask:" + name; }
bool is_checksum_key(const std::string& key) { return key.rfind(kChecksumPrefix, 0) == 0; }

void hash_u64(XXH64_state_t& s, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
  XXH64_update(&s, le, 8);
}
void hash_string(XXH64_state_t& s, const std::string& v) {
  hash_u64(s, v.size());
  XXH64_update(&s, v.data(), v.size());
}
std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// XXH64 of a tensor as pickled: name, dtype, shape, then its bytes in row-major order.
std::string tensor_checksum(const std::string& name, const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  XXH64_state_t s;
  XXH64_reset(&s, 0);
  hash_string(s, name);
  hash_string(s, c10::toString(c.scalar_type()));
  hash_u64(s, static_cast<uint64_t>(c.dim()));
  for (int64_t d : c.sizes()) hash_u64(s, static_cast<uint64_t>(d));
  const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * static_cast<uint64_t>(c.element_size());
  hash_u64(s, nbytes);
  if (nbytes > 0) XXH64_update(&s, c.data_ptr(), static_cast<size_t>(nbytes));
  return hex64(XXH64_digest(&s));
}

// XXH64 of the metadata entries other than the checksums, in key order.
std::string metadata_checksum(const std::map<std::string, std::string>& meta) {
  XXH64_state_t s;
  XXH64_reset(&s, 0);
  for (const auto& [k, v] : meta)
    if (!is_checksum_key(k)) {
      hash_string(s, k);
      hash_string(s, v);
    }
  return hex64(XXH64_digest(&s));
}

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

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io_error, "cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorCode::io_error, "cannot read " + path);
  return bytes;
}

std::string temp_path_for(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  static int counter = 0;
  return (dir / ("." + p.filename().string() + ".tmp" + std::to_string(getpid()) + "." + std::to_string(counter++)))
      .string();
}

void commit_temp(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::io_error, "cannot rename " + tmp + " to " + path);
  }
}

std::string masks_blob(const std::map<std::string, torch::Tensor>& masks) {
  // u32 count, then per mask: u32 name length, name, u64 elements, one byte per element.
  std::string out;
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  uint32_t count = static_cast<uint32_t>(masks.size());
  put(&count, 4);
  for (const auto& [name, m] : masks) {
    uint32_t len = static_cast<uint32_t>(name.size());
    put(&len, 4);
    put(name.data(), len);
    auto bytes = m.to(torch::kUInt8).contiguous();
    uint64_t n = static_cast<uint64_t>(bytes.numel());
    put(&n, 8);
    put(bytes.data_ptr<uint8_t>(), n);
  }
  return out;
}

std::map<std::string, std::vector<uint8_t>> parse_masks_blob(const std::string& blob, const std::string& path) {
  std::map<std::string, std::vector<uint8_t>> out;
  size_t pos = 0;
  auto get = [&](void* p, size_t n) {
    if (blob.size() - pos < n) throw Error(ErrorCode::truncated, path + ": mask record truncated");
    std::memcpy(p, blob.data() + pos, n);
    pos += n;
  };
  if (blob.empty()) return out;
  uint32_t count = 0;
  get(&count, 4);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    get(&len, 4);
    std::string name(len <= blob.size() ? len : 0, '\0');
    if (len > blob.size()) throw Error(ErrorCode::truncated, path + ": mask record truncated");
    get(name.data(), len);
    uint64_t n = 0;
    get(&n, 8);
    if (n > blob.size()) throw Error(ErrorCode::truncated, path + ": mask record truncated");
    std::vector<uint8_t> m(n);
    get(m.data(), n);
    out[name] = std::move(m);
  }
  return out;
}

torch::Tensor to_tensor(const std::vector<float>& values, const torch::Tensor& like, const std::string& name) {
  if (static_cast<int64_t>(values.size()) != like.numel())
    throw Error(ErrorCode::invalid_argument, "parameter " + name + " has " + std::to_string(like.numel()) +
                                                 " values, got " + std::to_string(values.size()));
  return torch::from_blob(const_cast<float*>(values.data()), like.sizes(), torch::kFloat32).clone();
}

void init_native_params(Model::Impl& m) {
  torch::NoGradGuard guard;
  m.params.clear();
  for (const Layer& l : m.layers) {
    if (l.kind != Layer::Kind::linear && l.kind != Layer::Kind::conv) continue;
    // PyTorch's default: kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    int64_t fan_in = l.kind == Layer::Kind::linear ? l.in : l.in * l.kernel * l.kernel;
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    torch::Tensor w = l.kind == Layer::Kind::linear ? torch::empty({l.out, l.in})
                                                    : torch::empty({l.out, l.in, l.kernel, l.kernel});
    w.uniform_(-bound, bound);
    torch::Tensor b = torch::empty({l.out}).uniform_(-bound, bound);
    m.params.emplace_back(l.name + ".weight", w);
    m.params.emplace_back(l.name + ".bias", b);
  }
}

}  // namespace

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

double mean_of(const std::vector<uint8_t>& flags) {
  if (flags.empty()) return 0.0;
  int64_t s = 0;
  for (uint8_t f : flags) s += f != 0;
  return static_cast<double>(s) / static_cast<double>(flags.size());
}

double Evaluation::top1_rate() const { return mean_of(top1); }
double Evaluation::top5_rate() const { return top5.empty() ? -1.0 : mean_of(top5); }
double Evaluation::mean_loss() const {
  double s = 0;
  for (float v : loss) s += v;
  return loss.empty() ? 0.0 : s / static_cast<double>(loss.size());
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

std::unique_ptr<Model::Impl> Model::Impl::clone() const {
  auto c = std::make_unique<Impl>();
  c->kind = kind;
  c->meta = meta;
  c->layers = layers;
  c->training = training;
  for (const auto& [n, m] : masks) c->masks[n] = m.clone();
  if (module) {
    // Without the guard, deepcopy clones parameters through autograd and they
    // stop being leaves (optimisers then refuse them).
    torch::NoGradGuard guard;
    c->module = module->deepcopy();
    c->collect_module_params();
  } else {
    torch::NoGradGuard guard;
    for (const auto& [n, t] : params) c->params.emplace_back(n, t.detach().clone());
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
  return run_layers(x, 0, layers.size());
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
      case Layer::Kind::linear: x = torch::linear(x, get(l.name + ".weight"), get(l.name + ".bias")); break;
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
  impl->meta[meta::architecture] = arch;
  impl->meta[meta::input] = shape_string(input);
  impl->meta[meta::classes] = std::to_string(classes);
  impl->meta[meta::pre_mean] = "0";
  impl->meta[meta::pre_std] = "1";
  return Model(std::move(impl));
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

Model Model::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(ErrorCode::io_error, "cannot open " + path);
  std::vector<char> bytes = read_bytes(path);
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K')
    throw Error(ErrorCode::foreign_format, path + ": not a deepsz or TorchScript model (not a zip archive)");
  auto impl = std::make_unique<Impl>();
  bool torchscript = false;
  {
    // TorchScript archives carry code/ and constants.pkl; torch.save-style ones only data.pkl.
    std::string head(bytes.begin(), bytes.end());
    torchscript = head.find("constants.pkl") != std::string::npos;
  }
  try {
    if (!torchscript) {
      torch::IValue v = torch::pickle_load(bytes);
      if (!v.isGenericDict()) throw Error(ErrorCode::foreign_format, path + ": not a deepsz model file");
      auto d = v.toGenericDict();
      if (!d.contains("format") || !d.at("format").isString() || d.at("format").toStringRef() != kNativeFormat)
        throw Error(ErrorCode::foreign_format, path + ": not a deepsz model file (no format tag)");
      int64_t version = d.contains("version") ? d.at("version").toInt() : 0;
      if (version != kNativeVersion)
        throw Error(ErrorCode::unsupported_version, path + ": model file version " + std::to_string(version) +
                                                        " (this deepsz reads version 1)");
      std::map<std::string, std::string> sums;  // the checksum entries; empty in files written before them
      for (const auto& e : d.at("metadata").toGenericDict()) {
        const std::string& key = e.key().toStringRef();
        (is_checksum_key(key) ? sums : impl->meta)[key] = e.value().toStringRef();
      }
      if (!sums.empty()) {
        // Checked before anything in the file is used.
        auto verify = [&](const std::string& key, const std::string& what, const std::string& actual) {
          auto it = sums.find(key);
          if (it == sums.end())
            throw Error(ErrorCode::checksum_wrong, path + " is corrupt: no checksum for " + what);
          if (it->second != actual)
            throw Error(ErrorCode::checksum_wrong, path + " is corrupt: checksum mismatch in " + what);
          sums.erase(it);
        };
        verify(kChecksumMetadata, "the metadata", metadata_checksum(impl->meta));
        for (const auto& e : d.at("parameters").toGenericDict()) {
          const std::string& name = e.key().toStringRef();
          verify(parameter_checksum_key(name), "tensor '" + name + "'", tensor_checksum(name, e.value().toTensor()));
        }
        if (d.contains("masks"))
          for (const auto& e : d.at("masks").toGenericDict()) {
            const std::string& name = e.key().toStringRef();
            verify(mask_checksum_key(name), "the mask of tensor '" + name + "'",
                   tensor_checksum(name, e.value().toTensor()));
          }
        if (!sums.empty())
          throw Error(ErrorCode::checksum_wrong,
                      path + " is corrupt: no tensor for checksum entry '" + sums.begin()->first + "'");
      }
      const std::string arch = impl->meta[meta::architecture];
      const int64_t classes = std::stoll(impl->meta.count(meta::classes) ? impl->meta[meta::classes] : "0");
      impl->layers = build_layers(arch, parse_shape(impl->meta[meta::input]), classes);
      std::map<std::string, torch::Tensor> stored;
      for (const auto& e : d.at("parameters").toGenericDict())
        stored[e.key().toStringRef()] = e.value().toTensor().to(torch::kFloat32).contiguous();
      torch::manual_seed(0);
      init_native_params(*impl);
      for (auto& [name, t] : impl->params) {
        auto it = stored.find(name);
        if (it == stored.end()) throw Error(ErrorCode::corruption_detected, path + ": parameter " + name + " missing");
        if (it->second.sizes() != t.sizes())
          throw Error(ErrorCode::corruption_detected, path + ": parameter " + name + " has the wrong shape");
        t = it->second;
      }
      if (d.contains("masks"))
        for (const auto& e : d.at("masks").toGenericDict()) {
          const std::string name = e.key().toStringRef();
          torch::Tensor m = e.value().toTensor().to(torch::kBool);
          if (!impl->has_param(name) || m.sizes() != impl->param(name).sizes())
            throw Error(ErrorCode::corruption_detected, path + ": mask " + name + " matches no parameter");
          impl->masks[name] = m;
        }
      impl->kind = FileKind::native;
    } else {
      torch::jit::ExtraFilesMap extra{{kExtraMetadata, ""}, {kExtraMasks, ""}};
      impl->module = torch::jit::load(path, torch::kCPU, extra);
      impl->kind = FileKind::torchscript;
      impl->collect_module_params();
      if (!extra[kExtraMetadata].empty()) {
        auto j = nlohmann::json::parse(extra[kExtraMetadata]);
        for (auto it = j.begin(); it != j.end(); ++it) impl->meta[it.key()] = it.value().get<std::string>();
      }
      impl->meta[meta::architecture] = "torchscript";
      for (auto& [name, m] : parse_masks_blob(extra[kExtraMasks], path)) {
        if (!impl->has_param(name) || static_cast<int64_t>(m.size()) != impl->param(name).numel())
          throw Error(ErrorCode::corruption_detected, path + ": mask " + name + " matches no parameter");
        impl->masks[name] = torch::from_blob(m.data(), impl->param(name).sizes(), torch::kUInt8).to(torch::kBool);
      }
    }
  } catch (const c10::Error& e) {
    throw_from_torch(e, path);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::corruption_detected, path + ": bad metadata (" + e.what() + ")");
  } catch (const std::invalid_argument&) {
    throw Error(ErrorCode::corruption_detected, path + ": bad metadata");
  }
  return Model(std::move(impl));
}

void Model::save(const std::string& path) const {
  {
    // The rename below would replace a device (/dev/null, /dev/full), a FIFO
    // or a directory's entry by a regular file, and as root it succeeds.
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
      throw Error(ErrorCode::io_error, "cannot write '" + path + "': not a regular file");
  }
  const std::string tmp = temp_path_for(path);
  // A SIGINT/SIGTERM while the temporary exists removes it (interrupt.h).
  TemporaryFileRegistration interrupt_guard(tmp);
  try {
    if (impl_->kind == FileKind::native) {
      c10::impl::GenericDict top(c10::StringType::get(), c10::AnyType::get());
      top.insert("format", std::string(kNativeFormat));
      top.insert("version", kNativeVersion);
      c10::Dict<std::string, std::string> md;
      for (const auto& [k, v] : impl_->meta)
        if (!is_checksum_key(k)) md.insert(k, v);
      md.insert(kChecksumMetadata, metadata_checksum(impl_->meta));
      c10::Dict<std::string, at::Tensor> ps;
      for (const auto& [n, t] : impl_->params) {
        torch::Tensor c = t.detach().contiguous();
        ps.insert(n, c);
        md.insert(parameter_checksum_key(n), tensor_checksum(n, c));
      }
      c10::Dict<std::string, at::Tensor> ms;
      for (const auto& [n, m] : impl_->masks) {
        ms.insert(n, m);
        md.insert(mask_checksum_key(n), tensor_checksum(n, m));
      }
      top.insert("metadata", md);
      top.insert("parameters", ps);
      top.insert("masks", ms);
      std::vector<char> bytes = torch::pickle_save(top);
      std::ofstream out(tmp, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.close();
      if (!out) throw Error(ErrorCode::io_error, "cannot write " + tmp);
    } else {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : impl_->meta)
        if (k != meta::architecture) j[k] = v;
      torch::jit::ExtraFilesMap extra{{kExtraMetadata, j.dump()}, {kExtraMasks, masks_blob(impl_->masks)}};
      impl_->module->save(tmp, extra);
    }
  } catch (const c10::Error& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw_from_torch(e, "cannot write " + path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  commit_temp(tmp, path);
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

void Model::set_parameter(const std::string& name, const std::vector<float>& values) {
  torch::Tensor& t = impl_->param(name);
  torch::Tensor v = to_tensor(values, t, name);
  torch::NoGradGuard guard;
  t.copy_(v);
}

int64_t Model::nonzeros(const std::string& name) const {
  return impl_->param(name).detach().ne(0).sum().item<int64_t>();
}

bool Model::has_mask(const std::string& name) const { return impl_->masks.count(name) > 0; }
std::vector<uint8_t> Model::mask(const std::string& name) const {
  auto it = impl_->masks.find(name);
  if (it == impl_->masks.end()) throw Error(ErrorCode::invalid_argument, "parameter " + name + " has no mask");
  torch::Tensor b = it->second.to(torch::kUInt8).contiguous();
  return std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel());
}
void Model::set_mask(const std::string& name, const std::vector<uint8_t>& mask) {
  torch::Tensor& t = impl_->param(name);
  if (static_cast<int64_t>(mask.size()) != t.numel())
    throw Error(ErrorCode::invalid_argument, "mask of " + name + " has the wrong size");
  torch::Tensor m =
      torch::from_blob(const_cast<uint8_t*>(mask.data()), t.sizes(), torch::kUInt8).ne(0);
  impl_->masks[name] = m;
  torch::NoGradGuard guard;
  t.mul_(m.to(t.dtype()));
}
void Model::clear_mask(const std::string& name) { impl_->masks.erase(name); }
std::vector<std::string> Model::masked_parameters() const {
  std::vector<std::string> out;
  for (const auto& p : impl_->params)
    if (impl_->masks.count(p.first)) out.push_back(p.first);
  return out;
}

std::map<std::string, std::string> Model::metadata() const { return impl_->meta; }
std::string Model::metadata(const std::string& key, const std::string& fallback) const {
  auto it = impl_->meta.find(key);
  return it == impl_->meta.end() ? fallback : it->second;
}
void Model::set_metadata(const std::string& key, const std::string& value) {
  if (is_checksum_key(key))
    throw Error(ErrorCode::invalid_argument, "metadata key '" + key + "': keys beginning with 'xxh64:' are reserved");
  impl_->meta[key] = value;
}

// ---- Evaluator -------------------------------------------------------------

struct Evaluator::Impl {
  Model model;
  const Dataset* data = nullptr;
  Preprocessing pre;
  std::map<Split, torch::Tensor> inputs, labels;
  struct Cache {
    size_t layer = 0;
    torch::Tensor act;
  };
  std::map<Split, Cache> cache;
  // 200 images: the largest temporaries (conv2 im2col of LeNet-5: 26 MB at
  // 200) stay under glibc's largest mmap threshold (32 MB), so they are reused instead of
  // mapped and page-faulted on every batch (1000: 3x slower, mostly in sys).
  int64_t batch = 200;

  const torch::Tensor& input(Split s) {
    auto it = inputs.find(s);
    if (it != inputs.end()) return it->second;
    const ImageSet& set = data->split(s);
    labels[s] = labels_tensor(set);
    return inputs[s] = images_tensor(set, pre);
  }
};

Evaluator::Evaluator(const Model& model, const Dataset& data) : impl_(std::make_unique<Impl>()) {
  impl_->model = model;
  impl_->data = &data;
  impl_->pre = model.preprocessing();
  impl_->model.impl().set_training(false);
}
Evaluator::~Evaluator() = default;
void Evaluator::clear_cache() { impl_->cache.clear(); }

std::vector<uint8_t> Evaluator::correct(Split split, const ParameterOverrides& overrides) {
  return evaluate(split, overrides).top1;
}

Evaluation Evaluator::evaluate(Split split, const ParameterOverrides& overrides) {
  auto t0 = std::chrono::steady_clock::now();
  Model::Impl& m = impl_->model.impl();
  Evaluation result;
  try {
    torch::InferenceMode guard;
    const torch::Tensor& x = impl_->input(split);
    const torch::Tensor& y = impl_->labels[split];
    std::map<std::string, torch::Tensor> ov;
    for (const auto& [name, values] : overrides) ov[name] = to_tensor(values, m.param(name), name);
    const int64_t n = x.size(0);
    std::vector<torch::Tensor> logits;

    if (m.kind == FileKind::native) {
      size_t first = m.layers.size();
      for (const auto& [name, t] : ov) {
        int li = m.layer_of(name);
        if (li < 0) throw Error(ErrorCode::invalid_argument, "parameter " + name + " belongs to no layer");
        first = std::min(first, static_cast<size_t>(li));
      }
      auto& cache = impl_->cache;
      auto it = cache.find(split);
      if (it == cache.end() || it->second.layer > first) {
        // Activations entering layer `first`, computed once with the base parameters.
        std::vector<torch::Tensor> acts;
        for (int64_t b = 0; b < n; b += impl_->batch)
          acts.push_back(m.run_layers(x.slice(0, b, std::min(n, b + impl_->batch)), 0, first));
        cache[split] = Impl::Cache{first, torch::cat(acts)};
        it = cache.find(split);
      }
      const Impl::Cache& c = it->second;
      for (int64_t b = 0; b < n; b += impl_->batch)
        logits.push_back(m.run_layers(c.act.slice(0, b, std::min(n, b + impl_->batch)), c.layer, m.layers.size(), &ov));
    } else {
      std::map<std::string, torch::Tensor> saved;
      for (auto& [name, t] : ov) {
        saved[name] = m.param(name).detach().clone();
        m.param(name).detach().copy_(t);
      }
      try {
        for (int64_t b = 0; b < n; b += impl_->batch)
          logits.push_back(m.forward(x.slice(0, b, std::min(n, b + impl_->batch))));
      } catch (...) {
        for (auto& [name, t] : saved) m.param(name).detach().copy_(t);
        throw;
      }
      for (auto& [name, t] : saved) m.param(name).detach().copy_(t);
    }
    torch::Tensor out = torch::cat(logits);
    if (out.dim() != 2 || out.size(0) != n)
      throw Error(ErrorCode::invalid_argument, "the model's output is not one row of scores per image");
    torch::Tensor top1 = out.argmax(1).eq(y).to(torch::kUInt8).contiguous();
    result.top1.assign(top1.data_ptr<uint8_t>(), top1.data_ptr<uint8_t>() + n);
    torch::Tensor nll = torch::nn::functional::cross_entropy(
                            out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                            .to(torch::kFloat32)
                            .contiguous();
    result.loss.assign(nll.data_ptr<float>(), nll.data_ptr<float>() + n);
    if (out.size(1) > 5) {
      torch::Tensor top5 = std::get<1>(out.topk(5, 1)).eq(y.unsqueeze(1)).any(1).to(torch::kUInt8).contiguous();
      result.top5.assign(top5.data_ptr<uint8_t>(), top5.data_ptr<uint8_t>() + n);
    }
  } catch (const c10::Error& e) {
    throw_from_torch(e, "evaluation failed");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace deepsz::model
