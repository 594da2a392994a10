#pragma once

// The pool's view of its metrics sink: one branch and no work at all when no
// sink is configured, and with a sink, the unlabeled metrics (every one a
// take or a return touches) bound once, so an update skips the sink's lookups.

#include <array>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pooler/metrics.hpp"
#include "pooler/pool_config.hpp"

namespace pooler {

/// Every metric a pool emits, in the order of `metric_names`.
enum class metric : uint8_t {
  // unlabeled: bound once per sink
  take,
  free,
  in_use,
  starting,
  stopping,
  queue,
  queue_max_reached,
  starting_member_timeout,
  start_failed,
  checkin,
  take_timeout,
  checkout_wait_seconds,
  lease_seconds,
  member_start_seconds,
  // labeled by reason: rare events, sent by name
  error_no_members,
  killed_free,
  killed_in_use,
};

inline constexpr size_t unlabeled_metrics
  = static_cast<size_t>(metric::error_no_members);

/// The names of `metric`, as `metrics()` declares them.
inline constexpr std::array<std::string_view, 17> metric_names = {
  "take",
  "free",
  "in_use",
  "starting",
  "stopping",
  "queue",
  "queue_max_reached",
  "starting_member_timeout",
  "start_failed",
  "checkin",
  "take_timeout",
  "checkout_wait_seconds",
  "lease_seconds",
  "member_start_seconds",
  "error_no_members",
  "killed_free",
  "killed_in_use",
};

static_assert(metric_names.size()
              == static_cast<size_t>(metric::killed_in_use) + 1);

class pool_metrics {
public:
  /// Picks the config's sink: `sink` if set, else the registered `metrics`,
  /// and binds the unlabeled metrics to it.
  void configure(const pool_config& cfg) {
    pool_ = cfg.name;
    series_ = {};
    sink_ = cfg.sink ? cfg.sink
                     : (cfg.metrics.empty() ? nullptr
                                            : find_metrics_sink(cfg.metrics));
    published_ = false; // a new sink gets every gauge
    if (!sink_)
      return;
    for (size_t i = 0; i < unlabeled_metrics; ++i) {
      // metric_names must match metrics(); sanitizer builds keep asserts.
      auto d = find_metric(metric_names[i]);
      assert(d != nullptr && d->labels.empty());
      if (d != nullptr)
        series_[i] = sink_->bind(d->type, d->name, pool_);
    }
  }

  explicit operator bool() const noexcept { return sink_ != nullptr; }

  /// Adds `n` to an unlabeled counter.
  void count(metric m, double n = 1) {
    if (sink_)
      record(m, n);
  }

  /// Adds 1 to a counter labeled by reason.
  void count(metric m, std::string_view reason) {
    if (sink_)
      sink_->counter(metric_names[index(m)], pool_, {{"reason", reason}}, 1);
  }

  /// The pool's count gauges (free, in_use, starting, stopping, queue), each
  /// sent only when it changed: a take or a return moves two of the five.
  void counts(const std::array<size_t, 5>& values) {
    if (!sink_)
      return;
    for (size_t i = 0; i < values.size(); ++i) {
      if (published_ && last_[i] == values[i])
        continue;
      last_[i] = values[i];
      record(static_cast<metric>(index(metric::free) + i),
             static_cast<double>(values[i]));
    }
    published_ = true;
  }

  /// Observes a duration, in seconds, in an unlabeled histogram.
  template <class Duration>
  void seconds(metric m, Duration d) {
    if (sink_)
      record(m, std::chrono::duration<double>(d).count());
  }

  /// Observes the time since `start`; reads the clock only with a sink.
  void since(metric m, std::chrono::steady_clock::time_point start) {
    if (sink_)
      seconds(m, std::chrono::steady_clock::now() - start);
  }

private:
  static constexpr size_t index(metric m) { return static_cast<size_t>(m); }

  void record(metric m, double value) {
    if (index(m) < unlabeled_metrics)
      if (auto& s = series_[index(m)])
        s->record(value);
  }

  std::string pool_;
  std::shared_ptr<metrics_sink> sink_;
  // Declared after the sink: a series must not outlive it.
  std::array<std::unique_ptr<metric_series>, unlabeled_metrics> series_;
  std::array<size_t, 5> last_{};
  bool published_ = false;
};

} // namespace pooler
