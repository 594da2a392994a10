#pragma once

// A metrics sink feeding prometheus-cpp, for services that already serve
// /metrics with prometheus-cpp's Exposer. Built only when CMake finds
// prometheus-cpp (Debian: prometheus-cpp-dev); link `pooler::prometheus_cpp`.

#include <memory>
#include <string_view>

#include "pooler/metrics.hpp"

namespace prometheus {
class Registry;
} // namespace prometheus

namespace pooler {

/// Registers every metric of `metrics()` as a family of `registry`, named
/// like `prometheus_sink` names them (`pooler_take_total`, `pooler_free`,
/// ...), with a `pool` label and the metric's own labels; histograms have
/// `prometheus_sink::bucket_bounds()`. A series appears when bound (at 0: a
/// pool binds its unlabeled metrics when it starts) or on its first update.
/// Calls with a name, type or label value that `metrics()` does not declare
/// are ignored. Thread-safe. Pooler's families must stay in the registry
/// while the sink or any series bound from it is in use.
class prometheus_cpp_sink : public metrics_sink {
public:
  /// Throws std::invalid_argument, as prometheus-cpp does, when `registry`
  /// already holds a family of one of pooler's names with another type.
  /// Families of pooler's names and types already there are shared.
  explicit prometheus_cpp_sink(std::shared_ptr<prometheus::Registry> registry);

  ~prometheus_cpp_sink() override;

  void counter(std::string_view name, std::string_view pool,
               metric_labels labels, double delta) override;
  void gauge(std::string_view name, std::string_view pool,
             metric_labels labels, double value) override;
  void histogram(std::string_view name, std::string_view pool,
                 metric_labels labels, double value) override;

  /// Resolves the series once: an update is then one call on a
  /// prometheus-cpp metric (an atomic operation for counters and gauges),
  /// with no lookup. An undeclared name or type gives a series that ignores
  /// its updates.
  std::unique_ptr<metric_series>
  bind(metric_type type, std::string_view name, std::string_view pool) override;

  /// The registry given at construction.
  const std::shared_ptr<prometheus::Registry>& registry() const;

private:
  struct families;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<families> families_;
};

} // namespace pooler
