#include "src/process.hpp"

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <future>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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

namespace {

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

// -- preparing the child (parent side, may allocate) ------------------------

std::string env_value(const process_options& opts, const std::string& name) {
  for (auto& [key, value] : opts.env)
    if (key == name)
      return value;
  auto parent = ::getenv(name.c_str());
  return parent ? parent : "";
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)
         && ::access(path.c_str(), X_OK) == 0;
}

// execvp is not async-signal-safe, so PATH is searched before fork.
std::string find_program(const process_options& opts, std::string& error) {
  const auto& name = opts.argv.front();
  if (name.find('/') != std::string::npos)
    return name;
  auto path = env_value(opts, "PATH");
  if (path.empty())
    path = "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  for (;;) {
    auto end = path.find(':', pos);
    auto dir = path.substr(pos, end - pos);
    auto candidate = (dir.empty() ? std::string{"."} : dir) + "/" + name;
    if (is_executable_file(candidate))
      return candidate;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  error = name + ": not found in PATH";
  return {};
}

// The parent's environment with `opts.env` added or overriding.
std::vector<std::string> child_environment(const process_options& opts) {
  std::vector<std::string> result;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry{*e};
    auto name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (auto& kv : opts.env)
      overridden = overridden || kv.first == name;
    if (!overridden)
      result.emplace_back(entry);
  }
  for (auto& [key, value] : opts.env)
    result.push_back(key + "=" + value);
  return result;
}

std::vector<char*> c_strings(std::vector<std::string>& xs) {
  std::vector<char*> result;
  for (auto& x : xs)
    result.push_back(x.data());
  result.push_back(nullptr);
  return result;
}

// -- the child, between fork and exec (async-signal-safe calls only) --------

enum class exec_stage : int { fds, chdir, exec };

struct exec_failure {
  exec_stage stage;
  int err;
};

struct child_setup {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* working_dir; ///< null = keep
  pid_t parent;
  int sock;   ///< becomes stdin and stdout
  int err;    ///< reports an exec_failure; closed by a successful exec
  int stderr_fd; ///< -1 = inherit
  int max_fd; ///< for closing fds when close_range is missing
};

[[noreturn]] void fail_child(int err_fd, exec_stage stage) {
  exec_failure f{stage, errno};
  [[maybe_unused]] auto n = ::write(err_fd, &f, sizeof(f));
  ::_exit(127);
}

// Dispositions set to SIG_IGN and the signal mask survive exec; the child
// gets a clean slate (e.g. SIGPIPE and SIGTERM at their defaults).
void reset_signals() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Only 0, 1, 2 and the failure pipe (3) may reach the program: the parent
// may hold sockets and files opened without O_CLOEXEC by other code.
void close_fds_from(int first, int max_fd) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0)
    return;
#endif
  for (int fd = first; fd < max_fd; ++fd)
    ::close(fd);
}

[[noreturn]] void exec_child(const child_setup& s) {
  reset_signals();
  // Own process group: a terminal's Ctrl-C reaches the parent only (which
  // then stops its members in order), and signals reach grandchildren too.
  ::setpgid(0, 0);
  // The child dies with the thread that forked it (see process.hpp); the
  // check closes the race with a parent that died before prctl.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != s.parent)
    ::_exit(127);
  // Move everything above 3 first, so that the dup2 calls below cannot
  // clobber an fd that is still needed.
  int err = ::fcntl(s.err, F_DUPFD_CLOEXEC, 10);
  if (err < 0)
    ::_exit(127);
  int sock = ::fcntl(s.sock, F_DUPFD_CLOEXEC, 10);
  int errfd = s.stderr_fd >= 0 ? ::fcntl(s.stderr_fd, F_DUPFD_CLOEXEC, 10)
                               : 2;
  if (sock < 0 || errfd < 0 || ::dup2(sock, 0) < 0 || ::dup2(sock, 1) < 0
      || (errfd != 2 && ::dup2(errfd, 2) < 0)
      || ::dup3(err, 3, O_CLOEXEC) < 0)
    fail_child(err, exec_stage::fds);
  close_fds_from(4, s.max_fd);
  if (s.working_dir != nullptr && ::chdir(s.working_dir) != 0)
    fail_child(3, exec_stage::chdir);
  ::execve(s.program, s.argv, s.envp);
  fail_child(3, exec_stage::exec);
}

// -- starting (owner thread) ---------------------------------------------------

std::string describe_failure(const process_channel& ch, exec_failure f) {
  switch (f.stage) {
    case exec_stage::fds:
      return errno_text("setting up stdin/stdout", f.err);
    case exec_stage::chdir:
      return errno_text("chdir " + ch.opts.working_dir, f.err);
    case exec_stage::exec:
      break;
  }
  return errno_text("execve " + ch.program, f.err);
}

pid_t wait_pid(pid_t pid, int& status) {
  pid_t res;
  do {
    res = ::waitpid(pid, &status, 0);
  } while (res < 0 && errno == EINTR);
  return res;
}

// Reads the failure pipe until exec closes it (success) or the child writes
// an exec_failure. True on success.
bool await_exec(process_channel& ch, int err_read, std::string& error) {
  exec_failure f{};
  ssize_t n;
  do {
    n = ::read(err_read, &f, sizeof(f));
  } while (n < 0 && errno == EINTR);
  if (n == 0)
    return true;
  int status = 0;
  wait_pid(ch.pid, status);
  error = n == static_cast<ssize_t>(sizeof(f))
            ? describe_failure(ch, f)
            : "the child " + describe_wait_status(status) + " before exec";
  return false;
}

int max_fd() {
  auto n = ::sysconf(_SC_OPEN_MAX);
  return n > 0 && n < 65536 ? static_cast<int>(n) : 65536;
}

bool fork_child(process_channel& ch, std::string& error) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    error = errno_text("socketpair", errno);
    return false;
  }
  ch.sock = sv[0];
  int ep[2];
  if (::pipe2(ep, O_CLOEXEC) != 0) {
    error = errno_text("pipe2", errno);
    ::close(sv[1]);
    return false;
  }
  int null_fd = -1;
  if (!ch.opts.inherit_stderr)
    null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto argv = c_strings(ch.opts.argv);
  auto envp = c_strings(ch.env);
  child_setup setup{ch.program.c_str(),
                    argv.data(),
                    envp.data(),
                    ch.opts.working_dir.empty() ? nullptr
                                                : ch.opts.working_dir.c_str(),
                    ::getpid(),
                    sv[1],
                    ep[1],
                    null_fd,
                    max_fd()};
  ch.pid = ::fork();
  if (ch.pid == 0)
    exec_child(setup);
  auto fork_errno = errno;
  for (int fd : {sv[1], ep[1], null_fd})
    if (fd >= 0)
      ::close(fd);
  bool ok = ch.pid > 0;
  if (!ok)
    error = errno_text("fork", fork_errno);
  else
    ok = await_exec(ch, ep[0], error);
  ::close(ep[0]);
  if (!ok)
    return false;
  ::fcntl(ch.sock, F_SETFL, ::fcntl(ch.sock, F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
  ch.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ch.pid, 0));
#endif
  return true;
}

// -- reading stdout (owner thread) ---------------------------------------------

// Cuts the byte stream into lines of at most max_len bytes.
class line_splitter {
public:
  explicit line_splitter(size_t max_len) : max_len_(max_len) {}

  template <class OnLine>
  void feed(const char* data, size_t n, OnLine& on_line) {
    while (n > 0) {
      auto nl = static_cast<const char*>(std::memchr(data, '\n', n));
      size_t len = nl ? static_cast<size_t>(nl - data) : n;
      append(data, len);
      if (nl == nullptr)
        return;
      emit(on_line);
      data += len + 1;
      n -= len + 1;
    }
  }

  /// At EOF: a last line without '\n' is still a line.
  template <class OnLine>
  void finish(OnLine& on_line) {
    if (!line_.empty() || truncated_)
      emit(on_line);
  }

private:
  void append(const char* data, size_t len) {
    if (truncated_)
      return;
    if (line_.size() + len > max_len_) {
      line_.append(data, max_len_ - line_.size());
      truncated_ = true;
      return;
    }
    line_.append(data, len);
  }

  template <class OnLine>
  void emit(OnLine& on_line) {
    if (!truncated_ && !line_.empty() && line_.back() == '\r')
      line_.pop_back();
    if (on_line)
      on_line(std::move(line_), truncated_);
    line_.clear();
    truncated_ = false;
  }

  size_t max_len_;
  std::string line_;
  bool truncated_ = false;
};

enum class end_cause { stopped, eof, exited };

// One recv per call, so that a chatty child cannot starve stop requests.
// False at EOF or on a socket error.
bool read_some(process_channel& ch, line_splitter& lines, process_events& ev,
               std::vector<char>& buf) {
  auto n = ::recv(ch.sock, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n > 0) {
    lines.feed(buf.data(), static_cast<size_t>(n), ev.on_line);
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

void flush_output(process_channel& ch) {
  std::lock_guard<std::mutex> guard{ch.mtx};
  if (ch.out.empty())
    return;
  auto n = ::send(ch.sock, ch.out.data(), ch.out.size(),
                  MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) {
    ch.out.erase(0, static_cast<size_t>(n));
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
             && errno != EINTR) {
    ch.out.clear();
    ch.write_closed = true;
  }
}

// True when a stop was requested; drains the eventfd.
bool check_stop(process_channel& ch) {
  uint64_t count;
  [[maybe_unused]] auto n = ::read(ch.wake, &count, sizeof(count));
  std::lock_guard<std::mutex> guard{ch.mtx};
  return ch.stop_requested;
}

end_cause io_loop(process_channel& ch, process_events& ev) {
  line_splitter lines{ch.opts.max_line_length};
  std::vector<char> buf(64 * 1024);
  for (;;) {
    bool want_out;
    {
      std::lock_guard<std::mutex> guard{ch.mtx};
      want_out = !ch.out.empty();
    }
    pollfd fds[3] = {
      {ch.sock, static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0},
      {ch.wake, POLLIN, 0},
      {ch.pidfd, POLLIN, 0}};
    if (::poll(fds, ch.pidfd >= 0 ? 3 : 2, -1) < 0)
      continue; // EINTR
    if (fds[1].revents != 0 && check_stop(ch))
      return end_cause::stopped;
    if (fds[0].revents & POLLOUT)
      flush_output(ch);
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        && !read_some(ch, lines, ev, buf)) {
      lines.finish(ev.on_line);
      return end_cause::eof;
    }
    if (ch.pidfd >= 0 && fds[2].revents != 0) {
      // Dead: what it wrote before dying is still in the socket.
      while (read_some(ch, lines, ev, buf) && ::poll(fds, 1, 0) > 0
             && (fds[0].revents & (POLLIN | POLLHUP)))
        ;
      lines.finish(ev.on_line);
      return end_cause::exited;
    }
  }
}

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
