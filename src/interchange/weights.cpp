// Weights-only compression of a model file taken apart (interchange.h):
// every float tensor at one bound rule, everything else bit-exact, and the
// container's metadata that lets the decoder put the file together again
// (docs/FORMATS.md, "Inside the .dsz").
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "deepsz/interchange.h"

namespace deepsz::interchange {

namespace {

constexpr const char* kFormatKey = "interchange.format";
constexpr const char* kTensorsKey = "interchange.tensors";
constexpr const char* kFrameBytesKey = "interchange.frame_bytes";
constexpr const char* kBoundKey = "interchange.bound";

[[noreturn]] void fail(ErrorCode code, const std::string& what) { throw Error(code, what); }

// ---- bytes held as float32 words (lossless: the codec keeps the bits) ----
std::vector<float> pack_words(const std::vector<uint8_t>& bytes) {
  std::vector<float> words((bytes.size() + 3) / 4);
  for (size_t i = 0; i < words.size(); ++i) {
    uint32_t u = 0;
    for (size_t b = 0; b < 4 && 4 * i + b < bytes.size(); ++b) u |= uint32_t(bytes[4 * i + b]) << (8 * b);
    std::memcpy(&words[i], &u, 4);
  }
  return words;
}

std::vector<uint8_t> unpack_words(const std::vector<float>& words, uint64_t size, const std::string& name) {
  if ((size + 3) / 4 != words.size())
    fail(ErrorCode::corruption_detected, "tensor '" + name + "': " + std::to_string(words.size()) +
                                             " words for " + std::to_string(size) + " bytes");
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < words.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &words[i], 4);
    for (size_t b = 0; b < 4; ++b) {
      const uint8_t byte = uint8_t(u >> (8 * b));
      if (4 * i + b < size)
        out[4 * i + b] = byte;
      else if (byte != 0)
        fail(ErrorCode::corruption_detected, "tensor '" + name + "': padding bytes are not zero");
    }
  }
  return out;
}

// ---- values in their dtype -------------------------------------------------
uint16_t u16_at(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }


std::vector<uint8_t> narrow(const std::vector<float>& v, Storage s) {
  std::vector<uint8_t> out(v.size() * storage_element_bytes(s));
  for (size_t i = 0; i < v.size(); ++i) {
    if (s == Storage::f32) {
      uint32_t u;
      std::memcpy(&u, &v[i], 4);
      for (int b = 0; b < 4; ++b) out[4 * i + b] = uint8_t(u >> (8 * b));
    } else {
      const uint16_t h = s == Storage::f16 ? float_to_half(v[i]) : float_to_bfloat16(v[i]);
      out[2 * i] = uint8_t(h);
      out[2 * i + 1] = uint8_t(h >> 8);
    }
  }
  return out;
}

// Half the spacing of the 16-bit grid at magnitude m: no finite value of
// magnitude <= m is farther than this from its rounding.
double half_spacing(Storage s, double m) {
  const int mantissa = s == Storage::f16 ? 10 : 7;
  const int min_exp = s == Storage::f16 ? -14 : -126;
  int k = 0;
  std::frexp(m, &k);  // m = f * 2^k, f in [0.5, 1): binade 2^(k-1)
  const int binade = std::max(k - 1, min_exp);
  return std::ldexp(1.0, binade - mantissa - 1);
}

double tensor_bound(const BoundRule& rule, const std::vector<float>& v) {
  if (rule.kind == BoundRule::Kind::absolute) return rule.value;
  if (rule.kind == BoundRule::Kind::relative_range)
    return absolute_bound_from_relative(v.data(), v.size(), rule.value);
  double sum = 0;
  size_t finite = 0;
  for (float x : v)
    if (std::isfinite(x)) {
      sum += double(x) * double(x);
      ++finite;
    }
  return finite ? rule.value * std::sqrt(sum / double(finite)) : 0.0;
}

// Largest |decoded - original| over the values as written back in their
// dtype, or +inf when a value breaks the bound or a NaN/infinity is not
// reproduced bit for bit.
double checked_error(const RawTensor& t, const std::vector<uint8_t>& back, double bound) {
  const std::vector<float> a = float_values(t);
  RawTensor b = t;
  b.bytes = back;
  const std::vector<float> d = float_values(b);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) {
      if (std::memcmp(&t.bytes[2 * i], &back[2 * i], 2) != 0) return HUGE_VAL;
      continue;
    }
    const double e = std::isfinite(d[i]) ? std::fabs(double(d[i]) - double(a[i])) : HUGE_VAL;
    if (!(e <= bound)) return HUGE_VAL;
    worst = std::max(worst, e);
  }
  return worst;
}

std::vector<uint64_t> record_shape(const RawTensor& t) {
  if (t.shape.size() <= kMaxTensorRank) return t.shape;
  return {t.element_count()};
}

TensorEntry encode_values(const RawTensor& t, const std::vector<float>& v, double coded, unsigned threads) {
  TensorEncodeOptions o;
  o.threads = threads;
  o.codec = coded > 0 ? ValueCodec::dsz : ValueCodec::lossless;
  o.abs_error_bound = coded;
  const std::vector<uint64_t> shape = record_shape(t);
  TensorEntry best = encode_tensor(t.name, shape, v.data(), o);
  // Pruned tensors: an index of the nonzeros is usually smaller; keep
  // whichever is. Lossless keeps -0.0, which the sparse form would not.
  const size_t zeros = size_t(std::count(v.begin(), v.end(), 0.0f));
  if (coded > 0 && !v.empty() && zeros * 2 >= v.size()) {
    o.sparse = true;
    TensorEntry sparse = encode_tensor(t.name, shape, v.data(), o);
    if (sparse.index_stream.size() + sparse.value_stream.size() <
        best.index_stream.size() + best.value_stream.size())
      best = std::move(sparse);
  }
  return best;
}

void check_name(const std::string& name, std::set<std::string>& seen) {
  if (name.empty() || name.size() > kMaxTensorNameBytes || !is_valid_utf8(name))
    fail(ErrorCode::invalid_argument, "tensor name '" + name + "' cannot be stored in a .dsz (1.." +
                                          std::to_string(kMaxTensorNameBytes) + " bytes of UTF-8, no NUL)");
  if (name == kFrameTensorName)
    fail(ErrorCode::invalid_argument, std::string("a tensor is named '") + kFrameTensorName +
                                          "', the name deepsz keeps for the rest of the file");
  if (!seen.insert(name).second) fail(ErrorCode::invalid_argument, "two tensors are named '" + name + "'");
}

}  // namespace

std::vector<float> float_values(const RawTensor& t) {
  const size_t n = t.bytes.size() / storage_element_bytes(t.storage);
  std::vector<float> v(n);
  const uint8_t* p = t.bytes.data();
  for (size_t i = 0; i < n; ++i) {
    if (t.storage == Storage::f32) {
      const uint32_t u = uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 | uint32_t(p[4 * i + 2]) << 16 |
                         uint32_t(p[4 * i + 3]) << 24;
      std::memcpy(&v[i], &u, 4);
    } else {
      const uint16_t h = u16_at(p + 2 * i);
      v[i] = t.storage == Storage::f16 ? half_to_float(h) : bfloat16_to_float(h);
    }
  }
  return v;
}

const char* storage_name(Storage s) noexcept {
  switch (s) {
    case Storage::f32: return "f32";
    case Storage::f16: return "f16";
    case Storage::bf16: return "bf16";
    case Storage::bytes: return "bytes";
  }
  return "?";
}

size_t storage_element_bytes(Storage s) noexcept { return s == Storage::f32 ? 4 : s == Storage::bytes ? 0 : 2; }

uint64_t RawTensor::element_count() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

std::string BoundRule::text() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %.17g",
                kind == Kind::absolute ? "abs" : kind == Kind::relative_range ? "rel-range" : "rel-rms", value);
  return buf;
}

Container compress_weights(const WeightsFile& w, const WeightsOptions& o, WeightsReport* report) {
  if (!std::isfinite(o.bound.value) || o.bound.value < 0)
    fail(ErrorCode::invalid_argument, "the bound must be a finite number >= 0");
  Container c;
  c.set_meta("creator", o.creator);
  c.set_meta(kFormatKey, w.format);
  c.set_meta(kBoundKey, o.bound.text());
  c.set_meta(kFrameBytesKey, std::to_string(w.frame.size()));
  WeightsReport r;
  r.frame_bytes = w.frame.size();
  nlohmann::json list = nlohmann::json::array();
  std::set<std::string> seen;
  for (const RawTensor& t : w.tensors) {
    check_name(t.name, seen);
    if (t.element_count() > kMaxTensorElements)
      fail(ErrorCode::too_large, "tensor '" + t.name + "' has more than 2^48 elements");
    TensorSummary s;
    s.name = t.name;
    s.dtype = t.dtype;
    s.storage = t.storage;
    s.shape = t.shape;
    s.original_bytes = t.bytes.size();
    TensorEntry e;
    if (t.storage == Storage::bytes) {
      const std::vector<float> words = pack_words(t.bytes);
      TensorEncodeOptions lossless;
      lossless.codec = ValueCodec::lossless;
      e = encode_tensor(t.name, {uint64_t(words.size())}, words.data(), lossless);
    } else {
      if (t.bytes.size() != t.element_count() * storage_element_bytes(t.storage))
        fail(ErrorCode::invalid_argument, "tensor '" + t.name + "': byte count does not match its shape");
      const std::vector<float> v = float_values(t);
      s.bound = tensor_bound(o.bound, v);
      s.coded_bound = s.bound;
      if (t.storage != Storage::f32 && s.bound > 0) {
        // Rounding to the 16-bit grid adds at most half its spacing near the
        // value, and never more than the coding error itself (the original
        // is on the grid): the sum stays within the bound.
        double peak = 0;
        for (float x : v)
          if (std::isfinite(x)) peak = std::max(peak, double(std::fabs(x)));
        s.coded_bound = std::max(s.bound - half_spacing(t.storage, peak + s.bound), s.bound / 2);
      }
      e = encode_values(t, v, s.coded_bound, o.threads);
      if (t.storage != Storage::f32 && s.coded_bound > 0) {
        s.max_abs_error = checked_error(t, narrow(decode_tensor(e, o.threads, 0), t.storage), s.bound);
        if (std::isinf(s.max_abs_error)) {  // e.g. a value that rounds to infinity: keep the tensor exact
          s.coded_bound = 0;
          s.max_abs_error = 0;
          e = encode_values(t, v, 0, o.threads);
        }
      }
    }
    s.codec = value_codec_name(e.value_codec);
    s.sparse = e.sparse;
    s.stored_bytes = e.index_stream.size() + e.value_stream.size();
    r.original_bytes += s.original_bytes;
    list.push_back({t.name, t.dtype, storage_name(t.storage), t.shape, t.bytes.size(), s.bound});
    c.tensors.push_back(std::move(e));
    r.tensors.push_back(std::move(s));
  }
  const std::vector<float> frame = pack_words(w.frame);
  TensorEncodeOptions lossless;
  lossless.codec = ValueCodec::lossless;
  c.tensors.push_back(encode_tensor(kFrameTensorName, {uint64_t(frame.size())}, frame.data(), lossless));
  const std::string text = list.dump();
  if (text.size() > kMaxMetadataValueBytes)
    fail(ErrorCode::too_large, "the list of tensors takes more than 16 MiB of .dsz metadata");
  c.set_meta(kTensorsKey, text);
  if (report) *report = std::move(r);
  return c;
}

std::string weights_container_format(const Container& c) {
  const std::string f = c.meta(kFormatKey);
  return f == "safetensors" || f == "onnx" ? f : "";
}

bool is_weights_container(const Container& c) { return !weights_container_format(c).empty(); }

namespace {

struct ListedTensor {
  std::string name, dtype;
  Storage storage = Storage::bytes;
  std::vector<uint64_t> shape;
  uint64_t bytes = 0;
  double bound = 0;
};

// The metadata of a weights container, checked against its records.
std::vector<ListedTensor> listed_tensors(const Container& c) {
  std::vector<ListedTensor> out;
  try {
    const nlohmann::json list = nlohmann::json::parse(c.meta(kTensorsKey));
    for (const auto& j : list) {
      ListedTensor t;
      t.name = j.at(0).get<std::string>();
      t.dtype = j.at(1).get<std::string>();
      const std::string s = j.at(2).get<std::string>();
      bool known = false;
      for (Storage k : {Storage::f32, Storage::f16, Storage::bf16, Storage::bytes})
        if (s == storage_name(k)) t.storage = k, known = true;
      if (!known) fail(ErrorCode::corruption_detected, "unknown storage '" + s + "'");
      t.shape = j.at(3).get<std::vector<uint64_t>>();
      t.bytes = j.at(4).get<uint64_t>();
      t.bound = j.at(5).get<double>();
      out.push_back(std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::corruption_detected, std::string("metadata ") + kTensorsKey + " is malformed: " + e.what());
  }
  if (out.size() + 1 != c.tensors.size())
    fail(ErrorCode::corruption_detected, "metadata lists " + std::to_string(out.size()) + " tensors, the file holds " +
                                             std::to_string(c.tensors.size() - (c.tensors.empty() ? 0 : 1)));
  for (size_t i = 0; i < out.size(); ++i) {
    const ListedTensor& t = out[i];
    const TensorEntry& e = c.tensors[i];
    uint64_t n = 1;
    for (uint64_t d : t.shape) {
      if (d && n > kMaxTensorElements / d) fail(ErrorCode::corruption_detected, "tensor '" + t.name + "': shape too large");
      n *= d;
    }
    const uint64_t expect = t.storage == Storage::bytes ? (t.bytes + 3) / 4 : n;
    const bool bytes_ok = t.storage == Storage::bytes || t.bytes == n * storage_element_bytes(t.storage);
    if (e.name != t.name || e.element_count() != expect || !bytes_ok ||
        (t.storage == Storage::bytes && e.value_codec != ValueCodec::lossless))
      fail(ErrorCode::corruption_detected, "tensor '" + e.name + "' does not match the metadata's '" + t.name + "'");
  }
  const TensorEntry& f = c.tensors.back();
  if (f.name != kFrameTensorName || f.value_codec != ValueCodec::lossless)
    fail(ErrorCode::corruption_detected, std::string("the last tensor is not a lossless '") + kFrameTensorName + "'");
  return out;
}

uint64_t frame_bytes(const Container& c) {
  const std::string s = c.meta(kFrameBytesKey);
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
    fail(ErrorCode::corruption_detected, std::string("metadata ") + kFrameBytesKey + " is not a byte count");
  return std::stoull(s);
}

}  // namespace

WeightsFile decompress_weights(const Container& c, unsigned threads, uint64_t max_output_bytes) {
  WeightsFile w;
  w.format = weights_container_format(c);
  if (w.format.empty()) fail(ErrorCode::invalid_argument, "not a container of safetensors or ONNX weights");
  const std::vector<ListedTensor> list = listed_tensors(c);
  for (size_t i = 0; i < list.size(); ++i) {
    const ListedTensor& l = list[i];
    RawTensor t;
    t.name = l.name;
    t.dtype = l.dtype;
    t.storage = l.storage;
    t.shape = l.shape;
    const std::vector<float> v = decode_tensor(c.tensors[i], threads, max_output_bytes);
    t.bytes = l.storage == Storage::bytes ? unpack_words(v, l.bytes, l.name) : narrow(v, l.storage);
    w.tensors.push_back(std::move(t));
  }
  w.frame = unpack_words(decode_tensor(c.tensors.back(), threads, max_output_bytes), frame_bytes(c), kFrameTensorName);
  return w;
}

nlohmann::json describe_weights_container(const Container& c, uint64_t file_bytes) {
  const std::vector<ListedTensor> list = listed_tensors(c);
  nlohmann::json j;
  j["format"] = weights_container_format(c);
  j["bound"] = c.meta(kBoundKey);
  j["file_bytes"] = file_bytes;
  j["tensors"] = nlohmann::json::array();
  uint64_t before = 0, after = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const TensorEntry& e = c.tensors[i];
    const uint64_t stored = e.index_stream.size() + e.value_stream.size();
    before += list[i].bytes;
    after += stored;
    j["tensors"].push_back({{"name", list[i].name},
                            {"dtype", list[i].dtype},
                            {"shape", list[i].shape},
                            {"bytes_before", list[i].bytes},
                            {"bytes_after", stored},
                            {"bound", list[i].bound},
                            {"coded_bound", e.error_bound},
                            {"codec", value_codec_name(e.value_codec)},
                            {"sparse", e.sparse}});
  }
  const TensorEntry& f = c.tensors.back();
  j["tensor_bytes_before"] = before;
  j["tensor_bytes_after"] = after;
  j["frame_bytes_before"] = frame_bytes(c);
  j["frame_bytes_after"] = f.value_stream.size();
  j["ratio"] = file_bytes ? double(before + frame_bytes(c)) / double(file_bytes) : 0.0;
  return j;
}

nlohmann::json describe_weights_file(const WeightsFile& w, uint64_t file_bytes) {
  nlohmann::json j;
  j["format"] = w.format;
  j["file_bytes"] = file_bytes;
  j["frame_bytes"] = w.frame.size();
  j["tensors"] = nlohmann::json::array();
  uint64_t total = 0;
  for (const RawTensor& t : w.tensors) {
    total += t.bytes.size();
    j["tensors"].push_back({{"name", t.name},
                            {"dtype", t.dtype},
                            {"shape", t.shape},
                            {"bytes", t.bytes.size()},
                            {"coded", t.storage == Storage::bytes ? "lossless" : "within the bound"}});
  }
  j["tensor_bytes"] = total;
  return j;
}

}  // namespace deepsz::interchange
