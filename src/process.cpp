// The life of one child process: the owner thread that starts it, runs its
// I/O and finally terminates and reaps it, and the `process` handle that
// other threads use to write to it and to stop it.

#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <system_error>
#include <thread>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "src/process_channel.hpp"

namespace pooler::detail {

namespace {

// -- ending the child (owner thread) -------------------------------------------

// False when the child was reaped behind our back (a program that sets
// SIGCHLD to SIG_IGN): its pid may then belong to someone else already.
bool still_ours(const process_channel& ch) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  return ::waitid(P_PID, static_cast<id_t>(ch.pid), &info,
                  WEXITED | WNOHANG | WNOWAIT)
           == 0
         || errno != ECHILD;
}

// The whole process group, so that helpers the child started end too.
void signal_child(const process_channel& ch, int sig) {
  if (!still_ours(ch))
    return;
  if (::kill(-ch.pid, sig) != 0)
    ::kill(ch.pid, sig);
}

// Waits until the child has exited, without reaping it, for at most
// `timeout`. True when it has exited.
bool await_exit(const process_channel& ch, std::chrono::nanoseconds timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  for (;;) {
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    auto res = ::waitid(P_PID, static_cast<id_t>(ch.pid), &info,
                        WEXITED | WNOHANG | WNOWAIT);
    if ((res == 0 && info.si_pid == ch.pid) || (res < 0 && errno == ECHILD))
      return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock::now());
    if (left.count() <= 0)
      return false;
    if (ch.pidfd >= 0) {
      pollfd p{ch.pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    } else {
      std::this_thread::sleep_for(
        std::min(left, std::chrono::milliseconds(5)));
    }
  }
}

// SIGTERM, SIGKILL after the shutdown timeout, then waitpid. Remaining
// members of the child's process group are killed before the reap (while
// the group id cannot be reused), so nothing is left behind.
std::string terminate_and_reap(process_channel& ch, end_cause cause) {
  // EOF on stdin first: a well-behaved worker exits on it by itself.
  ::shutdown(ch.sock, SHUT_WR);
  if (cause != end_cause::exited) {
    signal_child(ch, SIGTERM);
    if (!await_exit(ch, ch.opts.shutdown_timeout))
      signal_child(ch, SIGKILL);
  }
  await_exit(ch, std::chrono::hours(24 * 365));
  if (still_ours(ch))
    ::kill(-ch.pid, SIGKILL);
  int status = 0;
  if (wait_pid(ch.pid, status) < 0)
    return "exited (status unknown: SIGCHLD is ignored by the program)";
  return describe_wait_status(status);
}

void owner_thread(std::shared_ptr<process_channel> ch,
                  std::promise<std::string> started) {
  std::string error;
  if (!fork_child(*ch, error)) {
    started.set_value(std::move(error));
    return;
  }
  started.set_value({});
  process_events ev;
  {
    std::unique_lock<std::mutex> guard{ch->mtx};
    ch->cv.wait(guard, [&] { return ch->attached || ch->stop_requested; });
    ev = std::move(ch->events);
  }
  auto cause = io_loop(*ch, ev);
  {
    std::lock_guard<std::mutex> guard{ch->mtx};
    ch->write_closed = true;
    ch->out.clear();
  }
  auto how = terminate_and_reap(*ch, cause);
  if (cause != end_cause::stopped && ev.on_exit)
    ev.on_exit(std::move(how));
}

} // namespace

// -- process -------------------------------------------------------------------

std::shared_ptr<process> process::start(process_options opts,
                                        std::string& error) {
  if (opts.argv.empty() || opts.argv.front().empty()) {
    error = "argv is empty";
    return nullptr;
  }
  if (opts.max_line_length == 0)
    opts.max_line_length = 1;
  auto ch = std::make_shared<process_channel>();
  ch->program = find_program(opts, error);
  if (ch->program.empty())
    return nullptr;
  ch->env = child_environment(opts);
  ch->opts = std::move(opts);
  ch->wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ch->wake < 0) {
    error = errno_text("eventfd", errno);
    return nullptr;
  }
  std::promise<std::string> started;
  auto result = started.get_future();
  try {
    std::thread{owner_thread, ch, std::move(started)}.detach();
  } catch (const std::system_error& e) {
    error = std::string{"cannot start the owner thread: "} + e.what();
    return nullptr;
  }
  error = result.get();
  if (!error.empty())
    return nullptr;
  auto pid = ch->pid;
  return std::make_shared<process>(std::move(ch), pid);
}

process::process(std::shared_ptr<process_channel> ch, pid_t pid)
  : ch_(std::move(ch)), pid_(pid) {
  // nop
}

process::~process() {
  stop();
}

void process::attach(process_events events) {
  {
    std::lock_guard<std::mutex> guard{ch_->mtx};
    ch_->events = std::move(events);
    ch_->attached = true;
  }
  ch_->cv.notify_all();
}

bool process::write_line(const std::string& line, std::string& error) {
  std::lock_guard<std::mutex> guard{ch_->mtx};
  if (ch_->stop_requested || ch_->write_closed) {
    error = "the process is gone or closed its stdin";
    return false;
  }
  size_t sent = 0;
  if (ch_->out.empty()) {
    char nl = '\n';
    iovec iov[2] = {{const_cast<char*>(line.data()), line.size()}, {&nl, 1}};
    msghdr msg;
    std::memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    // MSG_NOSIGNAL: a dead reader gives EPIPE instead of a SIGPIPE that
    // would kill the whole program; no process-wide signal state is touched.
    auto n = ::sendmsg(ch_->sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      ch_->write_closed = true;
      error = errno_text("writing to the process", errno);
      return false;
    }
    sent = n > 0 ? static_cast<size_t>(n) : 0;
  }
  if (sent > line.size())
    return true;
  ch_->out.append(line, sent, std::string::npos);
  ch_->out += '\n';
  ch_->notify();
  return true;
}

void process::stop() {
  {
    std::lock_guard<std::mutex> guard{ch_->mtx};
    if (ch_->stop_requested)
      return;
    ch_->stop_requested = true;
  }
  ch_->cv.notify_all();
  ch_->notify();
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!WIFSIGNALED(status))
    return "ended with wait status " + std::to_string(status);
  auto sig = WTERMSIG(status);
  std::string result = "killed by signal " + std::to_string(sig);
  if (auto abbrev = ::sigabbrev_np(sig))
    result += std::string{" (SIG"} + abbrev + ")";
  return result;
}

} // namespace pooler::detail
