// Starting a child process: PATH lookup and environment on the parent side,
// then fork, and in the child only async-signal-safe calls up to execve.

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/process_channel.hpp"

extern char** environ;

namespace pooler::detail {

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

pid_t wait_pid(pid_t pid, int& status) {
  pid_t res;
  do {
    res = ::waitpid(pid, &status, 0);
  } while (res < 0 && errno == EINTR);
  return res;
}

namespace {

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

} // namespace

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

namespace {

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

} // namespace

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

} // namespace pooler::detail
