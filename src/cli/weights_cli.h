// weights_cli.h: the weights-only path of both tools for safetensors and
// ONNX files (docs/FORMATS.md): read, compress at one bound rule, write back,
// describe. Torch-free; ONNX only where the build found libonnx-dev.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "deepsz/container.h"
#include "deepsz/interchange.h"

namespace deepsz::cli_common {

// "safetensors" or "onnx" by the file's extension (any case), else "".
std::string weights_format_of_path(const std::string& path);

// The file taken apart; errors name the file. An ONNX file in a build
// without ONNX is refused with one line saying so.
interchange::WeightsFile read_weights_file(const std::string& path);
// Through a temporary file and a rename. `path`'s extension, when it is one
// of the two, must be the container's format.
void write_weights_file(const interchange::WeightsFile& w, const std::string& path);

// `in` (a model file) to `out` (.dsz), one summary line on stdout unless quiet.
void compress_weights_file(const std::string& in, const std::string& out, const interchange::BoundRule& bound,
                           unsigned threads, const std::string& creator, bool quiet);
// A weights container back to its model file.
void decompress_weights_file(const Container& c, const std::string& in, const std::string& out, unsigned threads,
                             uint64_t max_output_bytes, bool quiet);

// The layers of a model file (describe_weights_file) or of a weights
// container (describe_weights_container) as a table, or the JSON.
void print_weights_description(const std::string& path, const nlohmann::json& j, bool json);
// Describes a .safetensors/.onnx file, or a .dsz of weights; false for
// anything else (the caller's own description then).
bool describe_weights_path(const std::string& path, bool json);

}  // namespace deepsz::cli_common
