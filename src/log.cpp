// The process-wide log: level filter, rate limiter and log function.

#include "src/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "src/rate_limiter.hpp"

namespace pooler {

namespace {

void write_stderr(log_level level, std::string_view what) {
  std::string line = "pooler: ";
  if (level != log_level::warning) {
    line += to_string(level);
    line += ": ";
  }
  line.append(what);
  line += '\n';
  // One fwrite per line, so that lines of concurrent pools do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string with_count(const rate_limiter::line& l) {
  if (l.suppressed == 0)
    return l.text;
  return l.text + " (" + std::to_string(l.suppressed) + " more suppressed)";
}

struct logger {
  std::mutex mtx;
  std::shared_ptr<const log_function> fn; // null: stderr
  rate_limiter limiter{std::chrono::seconds{1}};

  void pass(std::shared_ptr<const log_function> f,
            const std::vector<rate_limiter::line>& lines) {
    // Outside the lock: the function may block, or log itself.
    for (auto& l : lines) {
      if (f != nullptr)
        (*f)(l.level, with_count(l));
      else
        write_stderr(l.level, with_count(l));
    }
  }
};

// At exit, the counts still pending go to stderr. A user's function may use
// objects already destroyed by then, so it gets none.
struct exit_flush {
  logger* lg;

  ~exit_flush() {
    std::lock_guard<std::mutex> guard{lg->mtx};
    if (lg->fn == nullptr)
      for (auto& l : lg->limiter.flush())
        write_stderr(l.level, with_count(l));
  }
};

logger& the_logger() {
  // Never destroyed: actor threads may still log while statics are torn down.
  static logger* instance = new logger;
  static exit_flush at_exit{instance};
  return *instance;
}

std::atomic<log_level>& threshold() {
  static std::atomic<log_level> instance{std::getenv("POOLER_QUIET") != nullptr
                                           ? log_level::off
                                           : log_level::warning};
  return instance;
}

} // namespace

std::string to_string(log_level x) {
  switch (x) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
    case log_level::off: return "off";
  }
  return "invalid log_level";
}

void set_log_function(log_function fn) {
  auto f = fn ? std::make_shared<const log_function>(std::move(fn)) : nullptr;
  auto& lg = the_logger();
  std::lock_guard<std::mutex> guard{lg.mtx};
  lg.fn = std::move(f);
}

void set_log_level(log_level level) {
  threshold().store(level, std::memory_order_relaxed);
}

log_level get_log_level() {
  return threshold().load(std::memory_order_relaxed);
}

void set_log_rate_limit(std::chrono::milliseconds interval) {
  auto& lg = the_logger();
  std::lock_guard<std::mutex> guard{lg.mtx};
  lg.limiter.set_interval(interval);
}

void flush_log() {
  auto& lg = the_logger();
  std::unique_lock<std::mutex> guard{lg.mtx};
  auto lines = lg.limiter.flush();
  auto f = lg.fn;
  guard.unlock();
  lg.pass(std::move(f), lines);
}

void log_line(log_level level, std::string_view key, std::string_view what) {
  if (level == log_level::off || level < get_log_level())
    return;
  auto& lg = the_logger();
  std::unique_lock<std::mutex> guard{lg.mtx};
  auto lines = lg.limiter.admit(level, key, what);
  auto f = lg.fn;
  guard.unlock();
  lg.pass(std::move(f), lines);
}

void warn(std::string_view what) {
  log_line(log_level::warning, what, what);
}

} // namespace pooler
