#pragma once

// Runs this test program again as a child process playing a role: for tests
// where a whole process must die (a consumer node SIGKILLed, a program
// exiting with busy pools). A role is a function registered with
// TEST_CHILD_ROLE; `main` (test_main.cpp) runs it instead of the tests when
// the program is started as `<program> --child=<role> [argument]`. The child
// reports on its stdout; the parent reads it with a deadline.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

extern char** environ;

namespace test {

/// A role of a child process: gets the argument given after `--child=<role>`
/// ("" if none); returns the process's exit code. Roles must not use
/// doctest's assertions (no test runs in the child): use `child_check`.
using child_role = int (*)(const std::string& argument);

/// The roles this program can play, by name.
inline std::map<std::string, child_role>& child_roles() {
  static std::map<std::string, child_role> roles;
  return roles;
}

/// Registers a role at static initialisation (see TEST_CHILD_ROLE).
struct child_role_registration {
  child_role_registration(const char* name, child_role role) {
    child_roles().emplace(name, role);
  }
};

/// Defines the role `name` (a string) with body `int fn(const std::string&)`.
#define TEST_CHILD_ROLE_CAT2(a, b) a##b
#define TEST_CHILD_ROLE_CAT(a, b) TEST_CHILD_ROLE_CAT2(a, b)
#define TEST_CHILD_ROLE(name, fn)                                              \
  static const ::test::child_role_registration TEST_CHILD_ROLE_CAT(            \
    child_role_registration_, __LINE__){name, fn}

/// In a child: ends the process with exit code 2 and `what` on stderr if
/// `ok` is false.
inline void child_check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "child role failed: %s\n", what);
    std::_Exit(2);
  }
}

/// For `main`: runs the role named by a `--child=<role>` option and returns
/// its exit code, or nothing if there is no such option (run the tests).
inline std::optional<int> run_child_role(int argc, char** argv) {
  std::string_view option = "--child=";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, option.size()) != option)
      continue;
    std::string name{arg.substr(option.size())};
    auto role = child_roles().find(name);
    if (role == child_roles().end()) {
      std::fprintf(stderr, "unknown child role: %s\n", name.c_str());
      return 2;
    }
    return role->second(i + 1 < argc ? argv[i + 1] : "");
  }
  return std::nullopt;
}

class child_process {
public:
  /// Starts `/proc/self/exe --child=<role> <argument>` with `env`
  /// ("NAME=value") added to this process's environment.
  child_process(const std::string& role, const std::string& argument,
                std::vector<std::string> env) {
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
    std::string option = "--child=" + role;
    std::string arg = argument;
    char* argv[] = {exe.data(), option.data(), arg.data(), nullptr};
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
