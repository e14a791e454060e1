// Internal entry points of the container code, for the fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepsz/container.h"

namespace deepsz::format {

// parse_container with the three XXH64 checks optional (false: fuzzing only).
Container parse_container_impl(const uint8_t* data, size_t size, bool verify_checksums);

// Tests only: called by write_file_atomically after each piece written to the
// temporary file, with the bytes written so far (null: nothing is called).
extern void (*g_write_chunk_hook_for_testing)(size_t bytes_written);

}  // namespace deepsz::format
