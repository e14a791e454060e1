// Internal entry points of the container code, for the fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepsz/container.h"

namespace deepsz::format {

// parse_container with the three XXH64 checks optional (false: fuzzing only).
Container parse_container_impl(const uint8_t* data, size_t size, bool verify_checksums);

}  // namespace deepsz::format
