// Internal entry points of the container code, for the fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "deepsz/container.h"

namespace deepsz::format {

// parse_container with the XXH64 checks optional (false: fuzzing only). When
// `checksum_fields` is given, it receives the file offset of each stored
// tensor checksum (u64), in directory order: with the header's two checksums
// (bytes 24..39) these are the only bytes that serialize_container of the
// result may change in a file parsed without its checksums.
Container parse_container_impl(const uint8_t* data, size_t size, bool verify_checksums,
                               std::vector<size_t>* checksum_fields = nullptr);

// The bytes that follow serialize_container_head's, in order: each
// tensor's index stream, then its value stream (views into `c`).
std::vector<std::pair<const uint8_t*, size_t>> container_stream_parts(const Container& c);

// Tests only: called by write_file_atomically after each piece written to the
// temporary file, with the bytes written so far (null: nothing is called).
extern void (*g_write_chunk_hook_for_testing)(size_t bytes_written);

}  // namespace deepsz::format
