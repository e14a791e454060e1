// NumPy .npy image and label arrays as an ImageSet (docs/MODEL.md, "Data").
//
// The format (numpy.lib.format): the magic "\x93NUMPY", a version byte pair,
// a little-endian header length (2 bytes in version 1, 4 in 2 and 3), then a
// Python dict literal {'descr': '<u1', 'fortran_order': False, 'shape': (N, 28, 28), }
// padded with spaces to a multiple of 64, then the raw elements. The header
// is parsed here by a small grammar of exactly those three keys, not by an
// evaluator: a file is untrusted input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "deepsz/error.h"
#include "deepsz/model/data.h"

namespace deepsz::model {
namespace {

struct NpyArray {
  char kind = 0;        // 'u', 'i', 'f', 'b'
  size_t itemsize = 0;  // bytes per element
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  std::vector<int64_t> fortran_strides;  // in elements, by axis: axis 0 varies fastest
  const uint8_t* data = nullptr;  // shape's product elements
  int64_t count = 0;
};

[[noreturn]] void fail(ErrorCode code, const std::string& name, const std::string& why) {
  throw Error(code, name + ": " + why);
}

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  void parse(NpyArray& a) {
    bool descr = false, order = false, shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr" && !descr) {
        parse_descr(quoted(), a);
        descr = true;
      } else if (key == "fortran_order" && !order) {
        a.fortran_order = boolean();
        order = true;
      } else if (key == "shape" && !shape) {
        a.shape = tuple();
        shape = true;
      } else {
        bad("unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != '}') bad("expected ',' or '}'");
    }
    ++i_;
    skip_space();
    if (i_ != s_.size()) bad("text after the header dict");
    if (!descr || !order || !shape) bad("the header lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& why) {
    fail(ErrorCode::corruption_detected, name_, "malformed .npy header (" + why + ")");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string v = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    for (const char* word : {"True", "False"}) {
      const size_t n = std::strlen(word);
      if (s_.compare(i_, n, word) == 0) {
        i_ += n;
        return word[0] == 'T';
      }
    }
    bad("fortran_order must be True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') bad("shape must be a tuple of non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("dimension too large");
        v = v * 10 + (s_[i_++] - '0');
      }
      dims.push_back(v);
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != ')') bad("expected ',' or ')' in shape");
    }
    ++i_;
    return dims;
  }
  void parse_descr(const std::string& d, NpyArray& a) {
    if (d.size() < 3) bad("dtype '" + d + "' not understood");
    const char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
      fail(ErrorCode::unsupported_version, name_, "dtype '" + d + "' is not a plain number type");
    a.big_endian = order == '>';
    a.kind = d[1];
    if (a.kind != 'u' && a.kind != 'i' && a.kind != 'f' && a.kind != 'b')
      fail(ErrorCode::unsupported_version, name_,
           "dtype '" + d + "': images and labels must be unsigned/signed integers, floats or booleans");
    size_t size = 0;
    for (size_t k = 2; k < d.size(); ++k) {
      if (d[k] < '0' || d[k] > '9') bad("dtype '" + d + "' not understood");
      size = size * 10 + static_cast<size_t>(d[k] - '0');
      if (size > 16) break;
    }
    const bool ok = (a.kind == 'f') ? (size == 4 || size == 8)
                                    : (size == 1 || size == 2 || size == 4 || size == 8);
    if (!ok) fail(ErrorCode::unsupported_version, name_, "dtype '" + d + "' is not supported");
    a.itemsize = size;
  }

  const std::string& s_;
  const std::string& name_;
  size_t i_ = 0;
};

NpyArray parse_npy(const uint8_t* p, size_t size, const std::string& name) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(p, kMagic, 6) != 0)
    fail(ErrorCode::foreign_format, name, "not a NumPy .npy file (no \\x93NUMPY magic)");
  const uint8_t major = p[6];
  if (major < 1 || major > 3)
    fail(ErrorCode::unsupported_version, name, ".npy format version " + std::to_string(major) + " is not supported");
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = size_t(p[8]) | size_t(p[9]) << 8;
    offset = 10;
  } else {
    if (size < 12) fail(ErrorCode::truncated, name, "truncated .npy header");
    header_len = size_t(p[8]) | size_t(p[9]) << 8 | size_t(p[10]) << 16 | size_t(p[11]) << 24;
    offset = 12;
  }
  if (header_len > size - offset) fail(ErrorCode::truncated, name, "truncated .npy header");
  const std::string text(reinterpret_cast<const char*>(p + offset), header_len);
  NpyArray a;
  HeaderParser(text, name).parse(a);
  a.count = 1;
  for (int64_t d : a.shape) {
    if (d != 0 && a.count > std::numeric_limits<int64_t>::max() / 8 / d)
      fail(ErrorCode::too_large, name, "shape too large");
    a.fortran_strides.push_back(a.count);
    a.count *= d;
  }
  const size_t body = size - offset - header_len;
  const size_t need = static_cast<size_t>(a.count) * a.itemsize;
  if (body < need)
    fail(ErrorCode::truncated, name, "truncated: the shape needs " + std::to_string(need) + " bytes of data, the file holds " +
                                         std::to_string(body));
  if (body > need) fail(ErrorCode::corruption_detected, name, std::to_string(body - need) + " bytes after the array's data");
  a.data = p + offset + header_len;
  return a;
}

// Element `k` (in the file's order) as a double: exact for every integer of
// up to 53 bits, which is all an image or a label may hold.
double element(const NpyArray& a, int64_t k) {
  uint8_t b[8];
  const uint8_t* src = a.data + static_cast<size_t>(k) * a.itemsize;
  for (size_t j = 0; j < a.itemsize; ++j) b[j] = a.big_endian ? src[a.itemsize - 1 - j] : src[j];
  uint64_t u = 0;
  for (size_t j = 0; j < a.itemsize; ++j) u |= uint64_t(b[j]) << (8 * j);
  switch (a.kind) {
    case 'b':
    case 'u': return static_cast<double>(u);
    case 'i': {
      const unsigned bits = static_cast<unsigned>(8 * a.itemsize);
      const int64_t v = bits == 64 ? static_cast<int64_t>(u)
                                   : static_cast<int64_t>(u << (64 - bits)) >> (64 - bits);
      return static_cast<double>(v);
    }
    default:
      if (a.itemsize == 4) {
        float f;
        const uint32_t w = static_cast<uint32_t>(u);
        std::memcpy(&f, &w, 4);
        return f;
      } else {
        double d;
        std::memcpy(&d, &u, 8);
        return d;
      }
  }
}

// Element `c` of the array in C order (row-major over `shape`), whatever
// the file's order: a Fortran-order file holds the transpose.
double at(const NpyArray& a, int64_t c) {
  if (!a.fortran_order || a.shape.size() < 2) return element(a, c);
  int64_t f = 0;
  for (size_t d = a.shape.size(); d-- > 0;) {
    f += (c % a.shape[d]) * a.fortran_strides[d];
    c /= a.shape[d];
  }
  return element(a, f);
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "(";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

// A pixel from an element: integers 0..255 as they are, floats in [0, 1]
// only when they are k / 255 (what ToTensor() made of 8-bit images), since
// deepsz keeps images as 8-bit pixels and will not round a user's data.
uint8_t pixel(const NpyArray& a, double v, int64_t k, const std::string& name) {
  if (a.kind == 'f') {
    const double scaled = v * 255.0;
    const double r = std::nearbyint(scaled);
    if (!(v >= 0.0 && v <= 1.0) || std::fabs(scaled - r) > 1e-3)
      fail(ErrorCode::invalid_argument, name,
           "element " + std::to_string(k) + " is " + number_text(v) +
               ": float images must hold k/255 in [0, 1] (deepsz keeps 8-bit pixels; save uint8 images, "
               "e.g. (x * 255).round().astype('uint8'))");
    return static_cast<uint8_t>(r);
  }
  if (!(v >= 0.0 && v <= 255.0))
    fail(ErrorCode::invalid_argument, name,
         "element " + std::to_string(k) + " is " + std::to_string(static_cast<int64_t>(v)) +
             ": integer images must hold pixels 0..255");
  return static_cast<uint8_t>(v);
}

}  // namespace

ImageSet parse_npy_pair(const uint8_t* images, size_t images_size, const uint8_t* labels, size_t labels_size,
                        const std::string& images_name, const std::string& labels_name) {
  const NpyArray x = parse_npy(images, images_size, images_name);
  const NpyArray y = parse_npy(labels, labels_size, labels_name);
  if (x.shape.size() < 3 || x.shape.size() > 4)
    fail(ErrorCode::invalid_argument, images_name,
         "images of shape " + shape_text(x.shape) + ": expected (N, H, W), (N, C, H, W) or (N, H, W, C)");
  if (!(y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1)) || y.kind == 'f')
    fail(ErrorCode::invalid_argument, labels_name,
         "labels of shape " + shape_text(y.shape) + " and kind '" + std::string(1, y.kind) +
             "': expected integer class indices of shape (N,)");
  if (x.shape[0] != y.shape[0])
    fail(ErrorCode::corruption_detected, images_name,
         std::to_string(x.shape[0]) + " images but " + labels_name + " holds " + std::to_string(y.shape[0]) + " labels");

  ImageSet set;
  const int64_t n = x.shape[0];
  // Channels last (N, H, W, C) when the last axis looks like colour planes
  // and the second does not: the layout of most NumPy image collections.
  const bool channels_last = x.shape.size() == 4 && x.shape[3] <= 4 && x.shape[1] > 4;
  if (x.shape.size() == 3) {
    set.channels = 1, set.rows = x.shape[1], set.cols = x.shape[2];
  } else if (channels_last) {
    set.channels = x.shape[3], set.rows = x.shape[1], set.cols = x.shape[2];
  } else {
    set.channels = x.shape[1], set.rows = x.shape[2], set.cols = x.shape[3];
  }
  if (set.channels < 1 || set.rows < 1 || set.cols < 1)
    fail(ErrorCode::invalid_argument, images_name, "images of shape " + shape_text(x.shape) + " hold no pixels");

  const int64_t per = set.image_elements();
  set.pixels.resize(static_cast<size_t>(n * per));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < set.channels; ++c) {
      for (int64_t r = 0; r < set.rows; ++r) {
        for (int64_t q = 0; q < set.cols; ++q) {
          const int64_t src = channels_last ? ((i * set.rows + r) * set.cols + q) * set.channels + c
                                            : ((i * set.channels + c) * set.rows + r) * set.cols + q;
          set.pixels[size_t(((i * set.channels + c) * set.rows + r) * set.cols + q)] =
              pixel(x, at(x, src), src, images_name);
        }
      }
    }
  }
  set.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double v = at(y, i);
    if (!(v >= 0.0 && v <= 255.0))
      fail(ErrorCode::invalid_argument, labels_name,
           "label " + std::to_string(i) + " is " + std::to_string(static_cast<int64_t>(v)) +
               ": class indices must be 0..255");
    set.labels[size_t(i)] = static_cast<uint8_t>(v);
  }
  return set;
}

ImageSet read_npy_pair(const std::string& images_path, const std::string& labels_path) {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::io_error, "cannot open " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error(ErrorCode::io_error, "cannot read " + path);
    return bytes;
  };
  const std::vector<uint8_t> x = slurp(images_path), y = slurp(labels_path);
  return parse_npy_pair(x.data(), x.size(), y.data(), y.size(), images_path, labels_path);
}

}  // namespace deepsz::model
