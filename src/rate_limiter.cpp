#include "src/rate_limiter.hpp"

#include <algorithm>
#include <utility>

namespace pooler {

rate_limiter::rate_limiter(std::chrono::nanoseconds interval,
                           clock_function now, size_t max_keys)
  : interval_(interval),
    now_(std::move(now)),
    max_keys_(max_keys),
    next_expiry_(time_point::max()) {}

void rate_limiter::expire(time_point now, std::vector<line>& out) {
  // Called on every line: the scan runs only once some interval has ended.
  if (now < next_expiry_)
    return;
  next_expiry_ = time_point::max();
  for (auto i = keys_.begin(); i != keys_.end();) {
    auto& k = i->second;
    auto end = k.since + interval_;
    if (now < end) {
      next_expiry_ = std::min(next_expiry_, end);
      ++i;
      continue;
    }
    if (k.suppressed > 0)
      out.push_back({k.level, std::move(k.last), k.suppressed});
    i = keys_.erase(i);
  }
}

std::vector<rate_limiter::line>
rate_limiter::admit(log_level level, std::string_view key,
                    std::string_view text) {
  if (interval_.count() <= 0) {
    auto out = flush(); // what was pending when the limit was turned off
    out.push_back({level, std::string{text}, 0});
    return out;
  }
  std::vector<line> out;
  auto now = now_();
  expire(now, out);
  // One allocation for the lookup; lines are rare next to pool operations.
  std::string k{key};
  auto i = keys_.find(k);
  if (i != keys_.end()) {
    i->second.level = level;
    i->second.last.assign(text);
    ++i->second.suppressed;
    return out;
  }
  if (keys_.size() < max_keys_) {
    keys_.emplace(std::move(k), key_state{now, level, {}, 0});
    next_expiry_ = std::min(next_expiry_, now + interval_);
  }
  out.push_back({level, std::string{text}, 0});
  return out;
}

std::vector<rate_limiter::line> rate_limiter::flush() {
  std::vector<line> out;
  for (auto& [key, k] : keys_)
    if (k.suppressed > 0)
      out.push_back({k.level, std::move(k.last), k.suppressed});
  keys_.clear();
  next_expiry_ = time_point::max();
  return out;
}

void rate_limiter::set_interval(std::chrono::nanoseconds interval) {
  interval_ = interval;
  // Intervals already running end by the new length at the next line.
  next_expiry_ = keys_.empty() ? time_point::max() : time_point::min();
}

size_t rate_limiter::keys() const {
  return keys_.size();
}

} // namespace pooler
