#include "deepsz/error.h"

namespace deepsz {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::io_error: return "io_error";
    case ErrorCode::truncated: return "truncated";
    case ErrorCode::corruption_detected: return "corruption_detected";
    case ErrorCode::checksum_wrong: return "checksum_wrong";
    case ErrorCode::unsupported_version: return "unsupported_version";
    case ErrorCode::foreign_format: return "foreign_format";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::interrupted: return "interrupted";
    case ErrorCode::not_certified: return "not_certified";
  }
  return "unknown_error";
}

}  // namespace deepsz
