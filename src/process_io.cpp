// The owner thread's I/O with a running child: stdout cut into lines, writes
// that did not fit into the socket flushed later, stop requests noticed.

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>

#include "src/process_channel.hpp"

namespace pooler::detail {

namespace {

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

} // namespace

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

} // namespace pooler::detail
