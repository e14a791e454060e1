// Signal-safe registry of temporary files (deepsz/interrupt.h).
#include "deepsz/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace deepsz {

namespace {

constexpr size_t kPathBytes = 4096;
enum SlotState : int { kFree = 0, kFilling = 1, kArmed = 2 };

struct Slot {
  std::atomic<int> state{kFree};
  char path[kPathBytes];
};

Slot g_slots[TemporaryFileRegistration::kMaxTemporaryFiles];
char g_program[64] = "deepsz";
std::atomic<bool> g_handling{false};
std::atomic<bool> g_installed{false};

void write_all(const char* s, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}

extern "C" void on_interrupt(int sig) {
  // A second signal (or the same one on another thread) while the first is
  // being handled: the first one exits.
  if (g_handling.exchange(true)) {
    for (;;) ::pause();
  }
  for (Slot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == kArmed) ::unlink(s.path);
  write_all(g_program, std::strlen(g_program));
  write_all(": interrupted\n", 14);
  ::_exit(128 + sig);
}

}  // namespace

void install_interrupt_handlers(const char* program_name) {
  if (program_name) {
    std::strncpy(g_program, program_name, sizeof g_program - 1);
    g_program[sizeof g_program - 1] = '\0';
  }
  if (g_installed.exchange(true)) return;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigfillset(&sa.sa_mask);  // no other handled signal in the middle of this one
    ::sigaction(sig, &sa, nullptr);
  }
}

TemporaryFileRegistration::TemporaryFileRegistration(const std::string& path) {
  if (path.size() >= kPathBytes) return;
  for (size_t i = 0; i < kMaxTemporaryFiles; ++i) {
    int expected = kFree;
    if (g_slots[i].state.compare_exchange_strong(expected, kFilling, std::memory_order_acq_rel)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(kArmed, std::memory_order_release);
      slot_ = int(i);
      return;
    }
  }
}

TemporaryFileRegistration::~TemporaryFileRegistration() { release(); }

void TemporaryFileRegistration::release() noexcept {
  if (slot_ < 0) return;
  g_slots[slot_].state.store(kFree, std::memory_order_release);
  slot_ = -1;
}

}  // namespace deepsz
