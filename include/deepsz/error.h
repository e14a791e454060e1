// deepsz/error.h: the one error type of the library.
//
// Every failure that a caller can act on is thrown as deepsz::Error with a
// stable code (as zstd names its errors) and a one-line message meant for a
// user: the command-line tools print what() and exit nonzero.
#pragma once

#include <stdexcept>
#include <string>

namespace deepsz {

enum class ErrorCode {
  invalid_argument,     // a parameter out of its documented range
  io_error,             // open/read/write/rename failed
  truncated,            // the input ends before a field it declares
  corruption_detected,  // a field holds a value no encoder writes
  checksum_wrong,       // XXH64 of a section does not match
  unsupported_version,  // a future or unknown format version / codec id
  foreign_format,       // bad magic: not a file of the expected kind
  too_large,            // a declared size beyond what the input can hold
  interrupted,          // SIGINT/SIGTERM during long work
  not_certified,        // no candidate model passed the certification of the accuracy budget
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace deepsz
