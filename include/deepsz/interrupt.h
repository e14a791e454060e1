// deepsz/interrupt.h: SIGINT/SIGTERM leave no partial output behind.
//
// Outputs are written to a temporary file that is renamed into place. A
// writer registers the temporary path for the time it exists; the handler
// that install_interrupt_handlers() sets removes every registered path,
// prints "<program>: interrupted" on stderr and exits with 128 + the signal
// number (130 for SIGINT, 143 for SIGTERM). Everything the handler does is
// async-signal-safe: the paths live in a fixed table of static buffers.
//
// A signal that arrives after the rename leaves the complete new file: the
// output is then the old file or the new one, never a partial one.
#pragma once

#include <cstddef>
#include <string>

namespace deepsz {

// Idempotent. A signal that was ignored when the program started (nohup,
// background jobs of some shells) stays ignored.
void install_interrupt_handlers(const char* program_name);

// Registers `path` for removal by the signal handler for the lifetime of the
// object. At most kMaxTemporaryFiles paths at once (of up to 4095 bytes);
// beyond that the registration is silently a no-op (the writer still removes
// its temporary on ordinary failures).
class TemporaryFileRegistration {
 public:
  static constexpr size_t kMaxTemporaryFiles = 64;
  explicit TemporaryFileRegistration(const std::string& path);
  ~TemporaryFileRegistration();
  TemporaryFileRegistration(const TemporaryFileRegistration&) = delete;
  TemporaryFileRegistration& operator=(const TemporaryFileRegistration&) = delete;
  // Stops watching the path (after it was renamed or removed).
  void release() noexcept;

 private:
  int slot_ = -1;
};

}  // namespace deepsz
