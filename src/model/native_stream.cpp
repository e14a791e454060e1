// native_stream.cpp: save_native_streamed, the deepsz-native file written as
// its tensors are produced. Torch-free: a pickler and a zip writer that
// reproduce what torch::pickle_save (PyTorch 1.13: torch::jit::Pickler,
// caffe2::serialize::PyTorchStreamWriter over miniz) writes for Model::save's
// dictionary, byte for byte (tests/model/native_stream_test.cpp).
#include "deepsz/model/native_stream.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "deepsz/container.h"
#include "native_format.h"

namespace deepsz::model {

namespace {

[[noreturn]] void fail(ErrorCode code, const std::string& what) { throw Error(code, what); }

// bytes <= 8.
void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ---- The pickle (protocol 2), with torch::jit::Pickler's memoisation ------
// Strings and globals are memoised by value, every persistent id (storage)
// and every typed-dictionary reduction gets a memo slot; BINGET/BINPUT take
// one byte below 256 slots, LONG_ four bytes beyond.
class Pickle {
 public:
  Pickle() {
    out_.push_back('\x80');
    out_.push_back(2);
  }
  void op(char c) { out_.push_back(c); }
  void str(const std::string& s) {
    auto it = strings_.find(s);
    if (it != strings_.end()) return get(it->second);
    op('X');
    put_le(out_, s.size(), 4);
    out_ += s;
    strings_[s] = put();
  }
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name + "\n";
    auto it = globals_.find(key);
    if (it != globals_.end()) return get(it->second);
    op('c');
    out_ += key;
    globals_[key] = put();
  }
  void integer(int64_t n) {
    if (n >= 0 && n <= 0xff) {
      op('K');
      put_le(out_, uint64_t(n), 1);
    } else if (n >= 0 && n <= 0xffff) {
      op('M');
      put_le(out_, uint64_t(n), 2);
    } else if (n >= INT32_MIN && n <= INT32_MAX) {
      op('J');
      put_le(out_, uint64_t(uint32_t(int32_t(n))), 4);
    } else {
      op('\x8a');
      op(8);
      put_le(out_, uint64_t(n), 8);
    }
  }
  // A new memo slot for the value on top of the stack.
  uint32_t put() {
    const uint32_t id = next_++;
    if (id < 256) {
      op('q');
      put_le(out_, id, 1);
    } else {
      op('r');
      put_le(out_, id, 4);
    }
    return id;
  }
  void get(uint32_t id) {
    if (id < 256) {
      op('h');
      put_le(out_, id, 1);
    } else {
      op('j');
      put_le(out_, id, 4);
    }
  }
  // A typed dictionary (c10::Dict): restore_type_tag(dict, type).
  template <class Items>
  void typed_dict(const std::string& type, Items items) {
    global("torch.jit._pickle", "restore_type_tag");
    op('}');
    op('(');
    items();
    op('u');
    str(type);
    op('\x86');
    op('R');
    put();
  }
  // A contiguous CPU tensor whose storage is record `key`.
  void tensor(const std::string& storage, const std::string& key, const std::vector<int64_t>& shape) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    str("storage");
    global("torch", storage);
    str(key);
    str("cpu");
    integer(numel);
    op('t');
    op('Q');
    put();
    integer(0);
    op('(');
    for (int64_t d : shape) integer(d);
    op('t');
    op('(');
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(1, shape[i]);
    for (int64_t s : strides) integer(s);
    op('t');
    op('\x89');  // requires_grad False
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
  std::string finish() {
    op('.');
    return std::move(out_);
  }

 private:
  std::string out_;
  std::unordered_map<std::string, uint32_t> strings_, globals_;
  uint32_t next_ = 0;
};

// ---- The zip archive, as PyTorchStreamWriter writes it --------------------
// Stored records whose data start on a 64-byte boundary (an extra field "FB"
// of 'Z' padding), flags 0x0808 (data descriptor, UTF-8), no time stamps;
// central directory, then zip64 end record and locator, then the end record.
class ZipWriter {
 public:
  explicit ZipWriter(AtomicFileWriter& out) : out_(out) {}

  void begin(const std::string& name) {
    entry_ = {name, 0, 0, offset_};
    crc_ = crc32(0L, Z_NULL, 0);
    const uint64_t start = offset_ + 30 + name.size() + 4;
    const size_t pad = size_t((64 - start % 64) % 64);
    std::string h;
    put_le(h, 0x04034b50, 4);
    put_le(h, 0, 2);       // version needed
    put_le(h, 0x0808, 2);  // flags
    put_le(h, 0, 2);       // stored
    put_le(h, 0, 4);       // time, date
    put_le(h, 0, 4);       // crc and sizes: in the descriptor
    put_le(h, 0, 4);
    put_le(h, 0, 4);
    put_le(h, name.size(), 2);
    put_le(h, 4 + pad, 2);
    h += name;
    h += "FB";
    put_le(h, pad, 2);
    h.append(pad, 'Z');
    raw(h.data(), h.size());
  }
  void data(const void* p, size_t n) {
    const Bytef* b = static_cast<const Bytef*>(p);
    for (size_t done = 0; done < n;) {  // crc32's length is a uInt
      const size_t k = std::min<size_t>(n - done, size_t(1) << 30);
      crc_ = crc32(crc_, b + done, uInt(k));
      done += k;
    }
    entry_.size += n;
    raw(p, n);
  }
  void end() {
    entry_.crc = uint32_t(crc_);
    std::string d;
    put_le(d, 0x08074b50, 4);
    put_le(d, entry_.crc, 4);
    put_le(d, entry_.size, 4);
    put_le(d, entry_.size, 4);
    raw(d.data(), d.size());
    entries_.push_back(entry_);
  }
  void record(const std::string& name, const std::string& bytes) {
    begin(name);
    data(bytes.data(), bytes.size());
    end();
  }
  void finish() {
    const uint64_t cd_offset = offset_;
    std::string c;
    for (const Entry& e : entries_) {
      put_le(c, 0x02014b50, 4);
      put_le(c, 0, 2);  // made by
      put_le(c, 0, 2);  // needed
      put_le(c, 0x0808, 2);
      put_le(c, 0, 2);
      put_le(c, 0, 4);
      put_le(c, e.crc, 4);
      put_le(c, e.size, 4);
      put_le(c, e.size, 4);
      put_le(c, e.name.size(), 2);
      put_le(c, 0, 2);  // extra
      put_le(c, 0, 2);  // comment
      put_le(c, 0, 2);  // disk
      put_le(c, 0, 2);  // internal attributes
      put_le(c, 0, 4);  // external attributes
      put_le(c, e.offset, 4);
      c += e.name;
    }
    raw(c.data(), c.size());
    const uint64_t cd_size = c.size(), eocd64 = offset_;
    std::string t;
    put_le(t, 0x06064b50, 4);
    put_le(t, 44, 8);
    put_le(t, 0x031e, 2);
    put_le(t, 0x002d, 2);
    put_le(t, 0, 4);
    put_le(t, 0, 4);
    put_le(t, entries_.size(), 8);
    put_le(t, entries_.size(), 8);
    put_le(t, cd_size, 8);
    put_le(t, cd_offset, 8);
    put_le(t, 0x07064b50, 4);
    put_le(t, 0, 4);
    put_le(t, eocd64, 8);
    put_le(t, 1, 4);
    put_le(t, 0x06054b50, 4);
    put_le(t, 0, 2);
    put_le(t, 0, 2);
    put_le(t, entries_.size(), 2);
    put_le(t, entries_.size(), 2);
    put_le(t, cd_size, 4);
    put_le(t, cd_offset, 4);
    put_le(t, 0, 2);
    raw(t.data(), t.size());
  }
  uint64_t offset() const { return offset_; }

 private:
  struct Entry {
    std::string name;
    uint32_t crc;
    uint64_t size, offset;
  };
  void raw(const void* p, size_t n) {
    out_.write(p, n);
    offset_ += n;
    if (offset_ > kStreamedNativeLimit)
      fail(ErrorCode::too_large, "model file: beyond " + std::to_string(kStreamedNativeLimit) + " bytes");
  }
  AtomicFileWriter& out_;
  uint64_t offset_ = 0;
  uLong crc_ = 0;
  Entry entry_{};
  std::vector<Entry> entries_;
};

uint64_t element_count(const StreamedTensor& t) {
  uint64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0) fail(ErrorCode::invalid_argument, "tensor '" + t.name + "': negative dimension");
    n *= uint64_t(d);
  }
  return n;
}

}  // namespace

uint64_t native_tensor_bytes(const std::vector<StreamedTensor>& parameters, const std::vector<StreamedTensor>& masks) {
  uint64_t n = 0;
  for (const auto& p : parameters) n += 4 * element_count(p);
  for (const auto& m : masks) n += element_count(m);
  return n;
}

void save_native_streamed(const std::string& path, const std::map<std::string, std::string>& metadata,
                          const std::vector<StreamedTensor>& parameters, const std::vector<StreamedTensor>& input_masks) {
  for (const auto& [k, v] : metadata)
    if (native::is_checksum_key(k)) fail(ErrorCode::invalid_argument, "metadata key '" + k + "' is reserved");
  std::vector<const StreamedTensor*> masks;
  for (const auto& m : input_masks) {
    auto p = std::find_if(parameters.begin(), parameters.end(), [&](const StreamedTensor& t) { return t.name == m.name; });
    if (p == parameters.end() || p->shape != m.shape)
      fail(ErrorCode::invalid_argument, "mask '" + m.name + "' matches no parameter");
    masks.push_back(&m);
  }
  std::sort(masks.begin(), masks.end(), [](const StreamedTensor* a, const StreamedTensor* b) { return a->name < b->name; });
  if (native_tensor_bytes(parameters, input_masks) + (uint64_t(1) << 20) > kStreamedNativeLimit)
    fail(ErrorCode::too_large, "model file of " + path + ": too large for the streamed writer");

  AtomicFileWriter file(path);
  ZipWriter zip(file);
  std::vector<std::string> sums;  // the checksum of every record, in order
  size_t index = 0;
  auto write_tensor = [&](const StreamedTensor& t, const char* dtype, uint64_t element_bytes) {
    const uint64_t expect = element_count(t) * element_bytes;
    native::Hash h = native::tensor_hash(t.name, dtype, t.shape, expect);
    zip.begin("archive/data/" + std::to_string(index++));
    const uint64_t before = zip.offset();
    t.produce([&](const void* p, size_t n) {
      if (zip.offset() - before + n > expect)
        fail(ErrorCode::invalid_argument, "tensor '" + t.name + "': more bytes than its shape holds");
      h.bytes(p, n);
      zip.data(p, n);
    });
    if (zip.offset() - before != expect)
      fail(ErrorCode::invalid_argument, "tensor '" + t.name + "': fewer bytes than its shape holds");
    zip.end();
    sums.push_back(h.hex());
  };
  for (const auto& p : parameters) write_tensor(p, "Float", 4);
  for (const auto* m : masks) write_tensor(*m, "Bool", 1);

  Pickle pk;
  pk.typed_dict("Dict[str, Any]", [&] {
    pk.str("format");
    pk.str(native::kFormat);
    pk.str("version");
    pk.integer(native::kVersion);
    pk.str("metadata");
    pk.typed_dict("Dict[str, str]", [&] {
      for (const auto& [k, v] : metadata) {
        pk.str(k);
        pk.str(v);
      }
      pk.str(native::kChecksumMetadata);
      pk.str(native::metadata_checksum(metadata));
      size_t i = 0;
      for (const auto& p : parameters) {
        pk.str(native::parameter_checksum_key(p.name));
        pk.str(sums[i++]);
      }
      for (const auto* m : masks) {
        pk.str(native::mask_checksum_key(m->name));
        pk.str(sums[i++]);
      }
    });
    size_t key = 0;
    pk.str("parameters");
    pk.typed_dict("Dict[str, Tensor]", [&] {
      for (const auto& p : parameters) {
        pk.str(p.name);
        pk.tensor("FloatStorage", std::to_string(key++), p.shape);
      }
    });
    pk.str("masks");
    pk.typed_dict("Dict[str, Tensor]", [&] {
      for (const auto* m : masks) {
        pk.str(m->name);
        pk.tensor("BoolStorage", std::to_string(key++), m->shape);
        // Model::save hands the pickler the model's own mask tensors, shared
        // (use count 2), and torch's Pickler memoises a shared IValue; the
        // parameters are fresh detached tensors and are not.
        pk.put();
      }
    });
  });
  zip.record("archive/data.pkl", pk.finish());
  zip.record("archive/version", "3\n");
  zip.finish();
  file.commit();
}

}  // namespace deepsz::model
