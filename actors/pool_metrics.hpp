#pragma once

// The pool's view of its metrics sink: one branch and no work at all when no
// sink is configured, which keeps the take/return path free of metrics cost.

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pooler/metrics.hpp"
#include "pooler/pool_config.hpp"

namespace pooler {

class pool_metrics {
public:
  /// Picks the config's sink: `sink` if set, else the registered `metrics`.
  void configure(const pool_config& cfg) {
    pool_ = cfg.name;
    sink_ = cfg.sink ? cfg.sink
                     : (cfg.metrics.empty() ? nullptr
                                            : find_metrics_sink(cfg.metrics));
    published_ = false; // a new sink gets every gauge
  }

  explicit operator bool() const noexcept { return sink_ != nullptr; }

  void count(std::string_view name, double n = 1) {
    if (sink_)
      sink_->counter(name, pool_, {}, n);
  }

  void count(std::string_view name, std::string_view reason) {
    if (sink_)
      sink_->counter(name, pool_, {{"reason", reason}}, 1);
  }

  /// The pool's count gauges (free, in_use, starting, stopping, queue), each
  /// sent only when it changed: a take or a return moves two of the five,
  /// and sink calls were a fifth of the pool's time with metrics on.
  void counts(const std::array<size_t, 5>& values) {
    if (!sink_)
      return;
    static constexpr std::string_view names[]
      = {"free", "in_use", "starting", "stopping", "queue"};
    for (size_t i = 0; i < values.size(); ++i) {
      if (published_ && last_[i] == values[i])
        continue;
      last_[i] = values[i];
      sink_->gauge(names[i], pool_, {}, static_cast<double>(values[i]));
    }
    published_ = true;
  }

  template <class Duration>
  void seconds(std::string_view name, Duration d) {
    if (sink_)
      sink_->histogram(name, pool_, {},
                       std::chrono::duration<double>(d).count());
  }

  /// Observes the time since `start`; reads the clock only with a sink.
  void since(std::string_view name, std::chrono::steady_clock::time_point start) {
    if (sink_)
      seconds(name, std::chrono::steady_clock::now() - start);
  }

private:
  std::string pool_;
  std::shared_ptr<metrics_sink> sink_;
  std::array<size_t, 5> last_{};
  bool published_ = false;
};

} // namespace pooler
