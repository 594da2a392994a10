#pragma once

// The pool's view of its metrics sink: one branch and no work at all when no
// sink is configured, which keeps the take/return path free of metrics cost.

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

  void gauge(std::string_view name, double value) {
    if (sink_)
      sink_->gauge(name, pool_, {}, value);
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
};

} // namespace pooler
