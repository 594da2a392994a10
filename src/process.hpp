#pragma once

// One OS child process whose stdin and stdout are one end of a socketpair,
// run by a thread of its own. Plain code: no CAF.
//
// The owner thread forks the child, reads its stdout line by line, flushes
// writes that did not fit into the socket at once, and at the end terminates
// and reaps the child. Forking on that thread matters: PR_SET_PDEATHSIG fires
// when the *thread* that forked the child ends, and this thread ends only
// after the child has been reaped (or with the whole program, which is
// exactly when the child must die too).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace pooler::detail {

struct process_options {
  std::vector<std::string> argv; ///< argv[0] is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env; ///< added/overridden
  std::string working_dir;       ///< "" = the parent's
  bool inherit_stderr = true;    ///< false: the child's stderr is /dev/null
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(5);
  size_t max_line_length = 16 * 1024 * 1024;
};

/// What the owner thread reports. Called on the owner thread, never while it
/// holds a lock, so they may do anything but block for long.
struct process_events {
  /// One line of stdout without its '\n' (and '\r'). `truncated`: the line
  /// was longer than `max_line_length`; `line` holds its first bytes.
  std::function<void(std::string line, bool truncated)> on_line;
  /// The child is gone and reaped, and it was not stopped by `stop`; `how`
  /// reads e.g. "exited with status 3" or "killed by signal 9 (SIGKILL)".
  std::function<void(std::string how)> on_exit;
};

class process_channel;

/// Handle of one running child. Destroying it (or `stop`) ends the child:
/// EOF on its stdin and SIGTERM to its process group, SIGKILL after
/// `shutdown_timeout`, then waitpid. Never blocks the caller for that.
class process {
public:
  /// Starts the child; returns once exec succeeded or failed. On failure
  /// returns null and sets `error` (e.g. "execve /x: No such file or
  /// directory"); a child that was forked has been reaped by then.
  static std::shared_ptr<process> start(process_options opts,
                                        std::string& error);

  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// Starts delivering events. Lines the child wrote before are kept.
  void attach(process_events events);

  /// Sends one line (a '\n' is appended). Never blocks: what the socket does
  /// not take now, the owner thread sends later. False with `error` set when
  /// the child closed its stdin or the process was stopped.
  bool write_line(const std::string& line, std::string& error);

  /// Ends the child as the destructor does; idempotent, never blocks.
  void stop();

  /// For `start` (public for make_shared only).
  process(std::shared_ptr<process_channel> ch, pid_t pid);

private:
  std::shared_ptr<process_channel> ch_;
  pid_t pid_;
};

/// Renders a waitpid status, e.g. "exited with status 3".
std::string describe_wait_status(int status);

} // namespace pooler::detail
