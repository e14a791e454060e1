// _deepsz: the codec and the .dsz container for Python (pybind11). The
// package python/deepsz/ builds the user-facing API on these; NumPy is not
// needed here (the buffer protocol is), so the module loads without it.
//
// Work on arrays runs with the GIL released. Inputs are read in place from
// the caller's buffer and decoding writes straight into the caller's buffer.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "deepsz/codec.h"
#include "deepsz/container.h"

namespace py = pybind11;

namespace deepsz::python {

namespace {

ValueCodec parse_codec(const std::string& name) {
  if (name == "dsz") return ValueCodec::dsz;
  if (name == "zfp") return ValueCodec::zfp;
  if (name == "lossless") return ValueCodec::lossless;
  throw Error(ErrorCode::invalid_argument, "codec must be 'dsz', 'zfp' or 'lossless', not '" + name + "'");
}

Predictor parse_predictor(const std::string& name) {
  if (name == "auto") return Predictor::automatic;
  if (name == "none") return Predictor::none;
  if (name == "lorenzo") return Predictor::lorenzo;
  throw Error(ErrorCode::invalid_argument, "predictor must be 'auto', 'none' or 'lorenzo', not '" + name + "'");
}

// A read-only view of a C-contiguous float32 buffer. The Python side makes
// the array contiguous and native-endian first; this is the last check.
py::buffer_info float_view(const py::buffer& b, bool writable) {
  py::buffer_info info = b.request(writable);
  if (info.itemsize != 4 || (info.format != "f" && info.format != "<f" && info.format != "=f"))
    throw py::type_error("expected a float32 buffer, got format '" + info.format + "'");
  py::ssize_t stride = 4;
  for (py::ssize_t d = info.ndim; d-- > 0;) {
    if (info.shape[size_t(d)] > 1 && info.strides[size_t(d)] != stride)
      throw py::value_error("the buffer is not C-contiguous");
    stride *= info.shape[size_t(d)];
  }
  return info;
}

std::vector<uint64_t> buffer_shape(const py::buffer_info& info) {
  std::vector<uint64_t> shape;
  for (py::ssize_t d : info.shape) shape.push_back(uint64_t(d));
  return shape;
}

struct EncodeArgs {
  double abs_error = 0.0;
  std::string codec = "dsz";
  std::string predictor = "auto";
  bool sparse = false;
  unsigned threads = 1;
};

TensorEncodeOptions encode_options(const EncodeArgs& a) {
  TensorEncodeOptions o;
  o.codec = parse_codec(a.codec);
  o.predictor = parse_predictor(a.predictor);
  o.abs_error_bound = o.codec == ValueCodec::lossless ? 0.0 : a.abs_error;
  o.sparse = a.sparse;
  o.threads = a.threads == 0 ? 1 : a.threads;
  if (o.codec == ValueCodec::zfp && !(a.abs_error > 0.0))
    throw Error(ErrorCode::invalid_argument, "codec 'zfp' needs a bound > 0");
  return o;
}

TensorEntry encode_buffer(const std::string& name, const py::buffer& data, const EncodeArgs& a) {
  const py::buffer_info info = float_view(data, false);
  const TensorEncodeOptions o = encode_options(a);
  const std::vector<uint64_t> shape = buffer_shape(info);
  py::gil_scoped_release release;
  return encode_tensor(name, shape, static_cast<const float*>(info.ptr), o);
}

py::bytes to_bytes(const std::vector<uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

using Metadata = std::vector<std::pair<std::string, std::string>>;

Container make_container(std::vector<TensorEntry> entries, const Metadata& metadata) {
  Container c;
  for (const auto& [k, v] : metadata) c.set_meta(k, v);
  c.tensors = std::move(entries);
  return c;
}

Container parse_buffer(const py::buffer& blob) {
  const py::buffer_info info = blob.request();
  if (info.itemsize != 1 || info.ndim != 1 || info.strides[0] != 1)
    throw py::type_error("expected bytes or a contiguous 1-D byte buffer");
  const size_t size = size_t(info.size);
  py::gil_scoped_release release;
  return parse_container(static_cast<const uint8_t*>(info.ptr), size);
}

void decode_into(const TensorEntry& e, const py::buffer& out, unsigned threads) {
  const py::buffer_info info = float_view(out, true);
  if (info.readonly) throw py::value_error("the output buffer is read-only");
  if (uint64_t(info.size) != e.element_count())
    throw py::value_error("the output buffer has " + std::to_string(info.size) + " elements, tensor '" + e.name +
                          "' " + std::to_string(e.element_count()));
  py::gil_scoped_release release;
  decode_tensor_into(e, static_cast<float*>(info.ptr), size_t(info.size), threads == 0 ? 1 : threads);
}

void bind_codec(py::module_& m) {
  py::class_<TensorEntry>(m, "TensorEntry", "One coded tensor of a .dsz container.")
      .def_readonly("name", &TensorEntry::name)
      .def_readonly("shape", &TensorEntry::shape)
      .def_readonly("error_bound", &TensorEntry::error_bound)
      .def_readonly("sparse", &TensorEntry::sparse)
      .def_property_readonly("codec", [](const TensorEntry& e) { return std::string(value_codec_name(e.value_codec)); })
      .def_property_readonly("elements", &TensorEntry::element_count)
      .def_property_readonly("index_bytes", [](const TensorEntry& e) { return e.index_stream.size(); })
      .def_property_readonly("value_bytes", [](const TensorEntry& e) { return e.value_stream.size(); })
      .def_property_readonly("nbytes", [](const TensorEntry& e) { return e.index_stream.size() + e.value_stream.size(); })
      .def("__repr__", [](const TensorEntry& e) {
        return "<TensorEntry '" + e.name + "' " + std::to_string(e.element_count()) + " values, " +
               value_codec_name(e.value_codec) + ", " + std::to_string(e.index_stream.size() + e.value_stream.size()) +
               " bytes>";
      });

  m.def(
      "encode_entry",
      [](const std::string& name, const py::buffer& data, double abs_error, const std::string& codec,
         const std::string& predictor, bool sparse, unsigned threads) {
        return encode_buffer(name, data, EncodeArgs{abs_error, codec, predictor, sparse, threads});
      },
      py::arg("name"), py::arg("data"), py::arg("abs_error"), py::arg("codec") = "dsz",
      py::arg("predictor") = "auto", py::arg("sparse") = false, py::arg("threads") = 1,
      "Encodes a C-contiguous float32 buffer (its shape kept) as one tensor entry.");

  m.def(
      "encode_blob",
      [](const std::string& name, const py::buffer& data, double abs_error, const std::string& codec,
         const std::string& predictor, bool sparse, unsigned threads, const Metadata& metadata) {
        TensorEntry e = encode_buffer(name, data, EncodeArgs{abs_error, codec, predictor, sparse, threads});
        std::vector<uint8_t> bytes;
        {
          py::gil_scoped_release release;
          std::vector<TensorEntry> one;
          one.push_back(std::move(e));
          bytes = serialize_container(make_container(std::move(one), metadata));
        }
        return to_bytes(bytes);
      },
      py::arg("name"), py::arg("data"), py::arg("abs_error"), py::arg("codec") = "dsz",
      py::arg("predictor") = "auto", py::arg("sparse") = false, py::arg("threads") = 1,
      py::arg("metadata") = Metadata{}, "Encodes a buffer into the bytes of a one-tensor .dsz container.");

  m.def(
      "serialize",
      [](const std::vector<TensorEntry>& entries, const Metadata& metadata) {
        std::vector<uint8_t> bytes;
        {
          py::gil_scoped_release release;
          bytes = serialize_container(make_container(entries, metadata));
        }
        return to_bytes(bytes);
      },
      py::arg("entries"), py::arg("metadata") = Metadata{});

  m.def(
      "write_file",
      [](const std::string& path, const std::vector<TensorEntry>& entries, const Metadata& metadata) {
        py::gil_scoped_release release;
        write_container_file(make_container(entries, metadata), path);
      },
      py::arg("path"), py::arg("entries"), py::arg("metadata") = Metadata{},
      "Writes a .dsz file through a temporary file and a rename (never a partial file).");

  m.def(
      "parse",
      [](const py::buffer& blob) {
        Container c = parse_buffer(blob);
        return py::make_tuple(c.metadata, std::move(c.tensors));
      },
      py::arg("blob"), "(metadata, entries) of the bytes of a .dsz container; every checksum checked.");

  m.def(
      "read_file",
      [](const std::string& path) {
        Container c;
        {
          py::gil_scoped_release release;
          c = read_container_file(path);
        }
        return py::make_tuple(c.metadata, std::move(c.tensors));
      },
      py::arg("path"));

  m.def("decode_into", &decode_into, py::arg("entry"), py::arg("out"), py::arg("threads") = 1,
        "Decodes an entry into a writable C-contiguous float32 buffer of its element count.");

  m.attr("MAX_TENSOR_RANK") = kMaxTensorRank;
  m.attr("DEFAULT_MAX_DECODED_BYTES") = kDefaultMaxDecodedBytes;
}

}  // namespace

}  // namespace deepsz::python

PYBIND11_MODULE(_deepsz, m) {
  m.doc() = "deepsz native module: error-bounded float codec, .dsz container, certification statistics";
  static py::exception<deepsz::Error> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const deepsz::Error& e) {
      py::object instance = py::reinterpret_borrow<py::object>(error.ptr())(e.what());
      instance.attr("code") = deepsz::error_code_name(e.code());
      PyErr_SetObject(error.ptr(), instance.ptr());
    }
  });
  deepsz::python::bind_codec(m);
  deepsz::python::bind_optimize(m);
}
