#pragma once

// Private to the process implementation: the state that the `process` handle
// shares with its owner thread, and the steps of the owner thread's life,
// which live in process_spawn.cpp (fork and exec), process_io.cpp (stdin and
// stdout) and process.cpp (stopping and reaping). Not installed.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <sys/types.h>
#include <unistd.h>

#include "src/process.hpp"

namespace pooler::detail {

// Shared by the `process` handle and the owner thread; the mutex guards the
// flags, the pending output and the events.
class process_channel {
public:
  process_options opts;
  // Prepared before fork: between fork and exec the child may only call
  // async-signal-safe functions, so nothing may allocate there.
  std::string program;
  std::vector<std::string> env;

  int sock = -1;  ///< parent end of the socketpair, non-blocking
  int wake = -1;  ///< eventfd: wakes the owner thread
  int pidfd = -1; ///< -1 if the kernel has no pidfd_open
  pid_t pid = -1;

  std::mutex mtx;
  std::condition_variable cv;
  bool attached = false;
  bool stop_requested = false;
  bool write_closed = false; ///< the child closed its stdin, or it is gone
  std::string out;           ///< bytes the socket did not take yet
  process_events events;

  process_channel() = default;
  process_channel(const process_channel&) = delete;
  process_channel& operator=(const process_channel&) = delete;

  ~process_channel() {
    for (int fd : {sock, wake, pidfd})
      if (fd >= 0)
        ::close(fd);
  }

  void notify() {
    uint64_t one = 1;
    // Cannot block (EFD_NONBLOCK) and cannot overflow in practice.
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof(one));
  }
};

/// `what: strerror(err)`.
std::string errno_text(const std::string& what, int err);

/// waitpid that retries on EINTR.
pid_t wait_pid(pid_t pid, int& status);

// -- preparing and starting the child (process_spawn.cpp) ---------------------

/// The path of `opts.argv[0]`, looked up in PATH (execvp is not
/// async-signal-safe, so the search happens before fork). Empty with `error`
/// set if there is none.
std::string find_program(const process_options& opts, std::string& error);

/// The parent's environment with `opts.env` added or overriding.
std::vector<std::string> child_environment(const process_options& opts);

/// Forks and execs the child with the socketpair as its stdin and stdout.
/// True once exec succeeded; false with `error` set, the child reaped.
bool fork_child(process_channel& ch, std::string& error);

// -- stdin and stdout (process_io.cpp) -----------------------------------------

/// Why `io_loop` returned.
enum class end_cause { stopped, eof, exited };

/// Delivers stdout lines and flushes pending writes until a stop request,
/// EOF on stdout, or the child's exit.
end_cause io_loop(process_channel& ch, process_events& ev);

} // namespace pooler::detail
