// model_file.cpp: Model::load and Model::save: deepsz-native files (layers
// in metadata, per-tensor checksums, the masks blob) and TorchScript
// archives; a file is written to a temporary beside it and renamed, never
// left partial. docs/MODEL.md describes the file.
#include "deepsz/interrupt.h"
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/unpickler.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include "internal.h"
#include "native_format.h"
#include "onnx_program.h"

namespace deepsz::model {
namespace {

using native::kChecksumMetadata;
using native::mask_checksum_key;
using native::metadata_checksum;
using native::parameter_checksum_key;
constexpr const char* kNativeFormat = native::kFormat;
constexpr int64_t kNativeVersion = native::kVersion;
constexpr const char* kExtraMetadata = "deepsz/metadata.json";
constexpr const char* kExtraMasks = "deepsz/masks.bin";

// native::tensor_hash of a tensor's contiguous bytes.
std::string tensor_checksum(const std::string& name, const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * static_cast<uint64_t>(c.element_size());
  native::Hash h = native::tensor_hash(name, c10::toString(c.scalar_type()), c.sizes().vec(), nbytes);
  h.bytes(c.data_ptr(), static_cast<size_t>(nbytes));
  return h.hex();
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

// torch::pickle_save(value) written to `path` as it is produced: the same
// bytes (the archive's records are named "archive/..." as pickle_save names
// them), without holding the whole file in memory beside the tensors.
void write_pickle_archive(const c10::IValue& value, const std::string& path) {
  std::vector<char> pickled;
  torch::jit::Pickler pickler([&](const char* b, size_t n) { pickled.insert(pickled.end(), b, b + n); });
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(ErrorCode::io_error, "cannot write " + path);
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* b, size_t n) -> size_t {
      out.write(static_cast<const char*>(b), static_cast<std::streamsize>(n));
      return out ? n : 0;
    });
    torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  }  // the writer's destructor writes the central directory
  out.close();
  if (!out) throw Error(ErrorCode::io_error, "cannot write " + path);
}

bool has_onnx_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".onnx";
}

}  // namespace

namespace {

// The storages of a native file, unpickled without their bytes: each
// tensor's storage is a null pointer whose context names its record, and
// fill() reads the record into it when (and if) the tensor is wanted. So a
// tensor that is not kept (a mask under MaskLoading::names_only) is read one
// at a time for its checksum and never held beside the others.
struct LazyArchive {
  caffe2::serialize::PyTorchStreamReader& reader;

  torch::IValue unpickle() {
    auto [pickle, size] = reader.getRecord("data.pkl");
    size_t at = 0;
    const char* bytes = static_cast<const char*>(pickle.get());
    auto read = [&](char* buffer, size_t len) -> size_t {
      len = std::min(len, size - at);
      std::memcpy(buffer, bytes + at, len);
      at += len;
      return len;
    };
    auto record = [](const std::string& key) {
      return at::DataPtr(nullptr, new std::string(key), [](void* k) { delete static_cast<std::string*>(k); },
                         at::Device(at::kCPU));
    };
    torch::jit::Unpickler unpickler(read, nullptr, nullptr, record, c10::nullopt);
    return unpickler.parse_ivalue();
  }

  // The tensor with its record's bytes (nothing to do when its storage,
  // shared with another tensor, was filled already).
  torch::Tensor fill(const torch::Tensor& t, const std::string& path) {
    c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
    if (s->data() != nullptr || s->nbytes() == 0) return t;
    const auto* key = static_cast<const std::string*>(s->data_ptr().get_context());
    if (!key) throw Error(ErrorCode::corruption_detected, path + ": a tensor without a record");
    auto [bytes, size] = reader.getRecord("data/" + *key);
    if (size < s->nbytes())
      throw Error(ErrorCode::corruption_detected, path + ": record data/" + *key + " is shorter than its tensor");
    s->set_data_ptr_noswap(std::move(bytes));
    return t;
  }
};

}  // namespace

Model Model::load(const std::string& path, MaskLoading mask_loading) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(ErrorCode::io_error, "cannot open " + path);
  if (has_onnx_extension(path)) {
    OnnxLoaded o = onnx_load(read_bytes(path), path);
    auto impl = std::make_unique<Impl>();
    impl->kind = FileKind::onnx;
    impl->onnx = std::move(o.program);
    impl->params = std::move(o.params);
    impl->meta = std::move(o.meta);
    // A pruned weight is exactly zero; the mask is where the values are not.
    for (const std::string& name : o.masked) impl->masks[name] = impl->param(name).ne(0);
    return Model(std::move(impl));
  }
  {
    char magic[2] = {0, 0};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::io_error, "cannot open " + path);
    in.read(magic, 2);
    if (magic[0] != 'P' || magic[1] != 'K')
      throw Error(ErrorCode::foreign_format, path + ": not a deepsz or TorchScript model (not a zip archive)");
  }
  auto impl = std::make_unique<Impl>();
  try {
    // The archive is read record by record from the file (no copy of the
    // whole file in memory beside the tensors). TorchScript archives carry
    // code/ and constants.pkl; torch.save-style ones only data.pkl.
    std::optional<caffe2::serialize::PyTorchStreamReader> reader(std::in_place, path);
    const bool torchscript = reader->hasRecord("constants.pkl");
    if (!torchscript) {
      // torch::pickle_load's reading, from the file, a record when it is
      // wanted (LazyArchive).
      LazyArchive archive{*reader};
      torch::IValue v = archive.unpickle();
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
      // Checked before anything in the file is used (when it has checksums).
      auto verify = [&](const std::string& key, const std::string& what, const std::string& actual) {
        auto it = sums.find(key);
        if (it == sums.end()) throw Error(ErrorCode::checksum_wrong, path + " is corrupt: no checksum for " + what);
        if (it->second != actual) throw Error(ErrorCode::checksum_wrong, path + " is corrupt: checksum mismatch in " + what);
        sums.erase(it);
      };
      const bool checked = !sums.empty();
      if (checked) verify(kChecksumMetadata, "the metadata", metadata_checksum(impl->meta));
      const std::string arch = impl->meta[meta::architecture];
      const int64_t classes = std::stoll(impl->meta.count(meta::classes) ? impl->meta[meta::classes] : "0");
      impl->layers = build_layers(arch, parse_shape(impl->meta[meta::input]), classes);
      const auto shapes = native_param_shapes(impl->layers);
      auto shape_of = [&](const std::string& name) -> const std::vector<int64_t>* {
        for (const auto& [n, shape] : shapes)
          if (n == name) return &shape;
        return nullptr;
      };
      // Masks first, one at a time: one not kept is freed before the next
      // is read, and before the parameters are.
      if (d.contains("masks"))
        for (const auto& e : d.at("masks").toGenericDict()) {
          const std::string name = e.key().toStringRef();
          const std::vector<int64_t>* shape = shape_of(name);
          if (!shape || e.value().toTensor().sizes() != c10::IntArrayRef(*shape))
            throw Error(ErrorCode::corruption_detected, path + ": mask " + name + " matches no parameter");
          torch::Tensor m = archive.fill(e.value().toTensor(), path);
          if (checked) verify(mask_checksum_key(name), "the mask of tensor '" + name + "'", tensor_checksum(name, m));
          if (mask_loading == MaskLoading::names_only)
            impl->unloaded_masks.insert(name);
          else
            impl->masks[name] = m.to(torch::kBool);
          e.setValue(torch::IValue());  // the dict's handle gone too: a mask not kept is freed here
        }
      std::map<std::string, torch::Tensor> stored;
      for (const auto& e : d.at("parameters").toGenericDict()) {
        const std::string& name = e.key().toStringRef();
        torch::Tensor t = archive.fill(e.value().toTensor(), path);
        if (checked) verify(parameter_checksum_key(name), "tensor '" + name + "'", tensor_checksum(name, t));
        stored[name] = t.to(torch::kFloat32).contiguous();
      }
      if (checked && !sums.empty())
        throw Error(ErrorCode::checksum_wrong,
                    path + " is corrupt: no tensor for checksum entry '" + sums.begin()->first + "'");
      reader.reset();
      // The stored tensors become the parameters (no initialised copy first).
      for (const auto& [name, shape] : shapes) {
        auto it = stored.find(name);
        if (it == stored.end()) throw Error(ErrorCode::corruption_detected, path + ": parameter " + name + " missing");
        if (it->second.sizes() != c10::IntArrayRef(shape))
          throw Error(ErrorCode::corruption_detected, path + ": parameter " + name + " has the wrong shape");
        impl->params.emplace_back(name, it->second);
      }
      impl->kind = FileKind::native;
    } else {
      reader.reset();
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
  if (!impl_->unloaded_masks.empty())
    throw Error(ErrorCode::invalid_argument, "cannot save a model whose masks were not loaded (mask of " +
                                                 *impl_->unloaded_masks.begin() + ")");
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
      write_pickle_archive(top, tmp);
    } else if (impl_->kind == FileKind::onnx) {
      std::vector<std::string> masked;
      for (const auto& [n, m] : impl_->masks) masked.push_back(n);
      const std::vector<uint8_t> bytes = onnx_save(*impl_->onnx, impl_->params, impl_->meta, masked);
      std::ofstream out(tmp, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
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

}  // namespace deepsz::model
