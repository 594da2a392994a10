#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pooler/log.hpp"

namespace pooler {

/// Decides which log lines to pass on: at most one per key per interval, then
/// one summary of the lines suppressed in that interval. The clock is a
/// parameter so that tests step time instead of sleeping. Not thread-safe:
/// the logger calls it under its lock.
class rate_limiter {
public:
  using time_point = std::chrono::steady_clock::time_point;
  using clock_function = std::function<time_point()>;

  /// A line to pass on. `suppressed` > 0 makes it a summary: the last line
  /// of its key, standing for `suppressed` lines that were not passed on.
  struct line {
    log_level level;
    std::string text;
    size_t suppressed;
  };

  /// At most `max_keys` keys are tracked at once; lines of further keys
  /// pass unlimited until some interval ends.
  explicit rate_limiter(std::chrono::nanoseconds interval,
                        clock_function now = std::chrono::steady_clock::now,
                        size_t max_keys = 1024);

  /// The lines to pass on now that `text` was logged under `key`: the
  /// summaries of keys whose interval has ended, then `text` unless its key
  /// already passed a line in the current interval.
  std::vector<line> admit(log_level level, std::string_view key,
                          std::string_view text);

  /// The summaries still pending, whatever the time; forgets every key.
  std::vector<line> flush();

  /// Applies from the next line on; zero passes every line.
  void set_interval(std::chrono::nanoseconds interval);

  /// Keys tracked now (bounded by max_keys).
  size_t keys() const;

private:
  struct key_state {
    time_point since; // when the key's interval began
    log_level level;
    std::string last; // the last suppressed text
    size_t suppressed = 0;
  };

  void expire(time_point now, std::vector<line>& out);

  std::chrono::nanoseconds interval_;
  clock_function now_;
  size_t max_keys_;
  std::unordered_map<std::string, key_state> keys_;
  time_point next_expiry_; // no key's interval ends before this
};

} // namespace pooler
