#pragma once

// Runs this test program again as a child process, limited to one test case,
// with extra environment variables: for tests where a whole process must
// die (a consumer node SIGKILLed, a program exiting with busy pools). The
// child reports on its stdout; the parent reads it with a deadline.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

extern char** environ;

namespace test {

class child_process {
public:
  /// Starts `/proc/self/exe --test-case=<test_case>` with `env` ("NAME=value")
  /// added to this process's environment.
  child_process(const std::string& test_case, std::vector<std::string> env) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    for (char** e = environ; *e != nullptr; ++e)
      env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& s : env)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::string filter = "--test-case=" + test_case;
    char* argv[] = {exe.data(), filter.data(), nullptr};
    auto rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv,
                          envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0)
      ::close(out_);
  }

  pid_t pid() const {
    return pid_;
  }

  /// Reads the child's stdout until it holds the line `line` (returns all
  /// text read so far) or `limit` passes (nothing).
  std::optional<std::string> read_until(const std::string& line,
                                        std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (text_.find(line + "\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
        return std::nullopt;
      char chunk[256];
      auto n = ::read(out_, chunk, sizeof(chunk));
      if (n <= 0)
        return std::nullopt;
      text_.append(chunk, static_cast<size_t>(n));
    }
    return text_;
  }

  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  /// Waits up to `limit` for the child to exit; its exit status (as from
  /// waitpid) or nothing if it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      ::usleep(2000);
    }
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
};

} // namespace test
