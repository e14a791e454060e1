// SIGINT/SIGTERM while writing: the temporary file is removed, nothing is
// left at the destination, the process exits with 128 + signal
// (deepsz/interrupt.h). Each case runs in a forked child.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "container_internal.h"
#include "deepsz/container.h"
#include "deepsz/interrupt.h"

namespace {

namespace fs = std::filesystem;

class InterruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("deepsz-interrupt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `body` in a child; returns its wait status.
  template <class F>
  int in_child(F body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      body();
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  }

  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    return out;
  }

  fs::path dir_;
};

int g_signal = SIGINT;
void raise_after_first_piece(size_t) { ::raise(g_signal); }

TEST_F(InterruptTest, given_signal_during_write_when_handled_expect_no_temporary_and_no_output) {
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string out = (dir_ / "out.dsz").string();
    const int status = in_child([&] {
      deepsz::install_interrupt_handlers("test");
      g_signal = sig;
      deepsz::format::g_write_chunk_hook_for_testing = raise_after_first_piece;
      std::vector<uint8_t> bytes(size_t(12) << 20, 0x5a);  // several pieces
      deepsz::write_file_atomically(out, bytes.data(), bytes.size());
    });
    ASSERT_TRUE(WIFEXITED(status)) << "child not exited normally, signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    EXPECT_TRUE(entries().empty()) << "left behind: " << entries().at(0);
  }
}

TEST_F(InterruptTest, given_signal_during_write_expect_previous_file_intact) {
  const std::string out = (dir_ / "out.dsz").string();
  { std::ofstream(out) << "old"; }
  const int status = in_child([&] {
    deepsz::install_interrupt_handlers("test");
    g_signal = SIGINT;
    deepsz::format::g_write_chunk_hook_for_testing = raise_after_first_piece;
    std::vector<uint8_t> bytes(size_t(12) << 20, 0x5a);
    deepsz::write_file_atomically(out, bytes.data(), bytes.size());
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  ASSERT_EQ(entries().size(), 1u);
  std::ifstream in(out);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "old");
}

TEST_F(InterruptTest, given_signal_after_write_expect_complete_file_kept) {
  const std::string out = (dir_ / "out.dsz").string();
  const int status = in_child([&] {
    deepsz::install_interrupt_handlers("test");
    const std::vector<uint8_t> bytes(1000, 7);
    deepsz::write_file_atomically(out, bytes.data(), bytes.size());
    ::raise(SIGINT);  // the registration was released: the output stays
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  ASSERT_EQ(entries().size(), 1u);
  EXPECT_EQ(fs::file_size(out), 1000u);
}

TEST_F(InterruptTest, given_registered_path_when_signalled_expect_removed) {
  const std::string path = (dir_ / "partial.tmp").string();
  const int status = in_child([&] {
    deepsz::install_interrupt_handlers("test");
    deepsz::TemporaryFileRegistration r(path);
    { std::ofstream(path) << "partial"; }
    ::raise(SIGTERM);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 143);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(InterruptTest, given_output_is_a_device_expect_refused_and_device_untouched) {
  // As root the rename would replace /dev/null by a regular file.
  try {
    const uint8_t byte = 1;
    deepsz::write_file_atomically("/dev/null", &byte, 1);
    FAIL() << "writing over /dev/null was accepted";
  } catch (const deepsz::Error& e) {
    EXPECT_EQ(e.code(), deepsz::ErrorCode::io_error);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

}  // namespace
