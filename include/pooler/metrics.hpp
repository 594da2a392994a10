#pragma once

// Metrics and telemetry: the sink interface, the built-in sinks and
// the descriptors of every metric a pool emits.

#include <atomic>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pooler {

/// One label of a metric, e.g. {"reason", "crashed"}.
struct metric_label {
  std::string_view name;
  std::string_view value;
};

using metric_labels = std::initializer_list<metric_label>;

enum class metric_type { counter, gauge, histogram };

std::string to_string(metric_type x);

/// One series without labels (one metric of one pool), resolved once by
/// `metrics_sink::bind` so that each update skips the name and pool lookup.
/// Thread-safe like its sink, which must outlive it.
class metric_series {
public:
  virtual ~metric_series();

  /// Adds `value` to a counter, sets a gauge or observes a histogram value,
  /// as the series' type says.
  virtual void record(double value) = 0;
};

/// Where a pool reports. Called from pool actors concurrently: an
/// implementation must be thread-safe. Pools call it only when one is set, so
/// "no sink" costs nothing on the hot path.
class metrics_sink {
public:
  virtual ~metrics_sink();

  /// Adds `delta` to a counter.
  virtual void counter(std::string_view name, std::string_view pool,
                       metric_labels labels, double delta)
    = 0;

  /// Sets a gauge.
  virtual void gauge(std::string_view name, std::string_view pool,
                     metric_labels labels, double value)
    = 0;

  /// Observes one value of a histogram (durations are in seconds).
  virtual void histogram(std::string_view name, std::string_view pool,
                         metric_labels labels, double value)
    = 0;

  /// The series of `name` in `pool`, without labels, for repeated updates
  /// (a pool binds its hot metrics once). The default forwards each update to
  /// counter(), gauge() or histogram(); a sink overrides it to skip lookups.
  /// Never returns null.
  virtual std::unique_ptr<metric_series>
  bind(metric_type type, std::string_view name, std::string_view pool);
};

/// Declares a metric: its labels and every value each label may take.
struct metric_descriptor {
  std::string name;
  metric_type type;
  std::string help;
  std::map<std::string, std::vector<std::string>> labels;
};

/// Every metric a pool may emit; nothing undeclared is ever emitted.
const std::vector<metric_descriptor>& metrics();

/// The descriptor of `name`, or nullptr.
const metric_descriptor* find_metric(std::string_view name);

// -- built-in sinks ------------------------------------------------------------

/// Aggregates in memory, for tests and pull-style export: counters summed,
/// gauges' last values, histograms' count and sum, for every call ever made;
/// besides, the last calls and the last observations of each histogram, in
/// bounded buffers, so that memory stays flat however long it runs.
class memory_sink : public metrics_sink {
public:
  /// One call received.
  struct event {
    metric_type type;
    std::string name;
    std::string pool;
    std::map<std::string, std::string> labels;
    double value;
  };

  /// Keeps the last `max_events` calls and the last `max_observations`
  /// values of each histogram of each pool.
  explicit memory_sink(size_t max_events = 4096,
                       size_t max_observations = 1024);

  void counter(std::string_view name, std::string_view pool,
               metric_labels labels, double delta) override;
  void gauge(std::string_view name, std::string_view pool,
             metric_labels labels, double value) override;
  void histogram(std::string_view name, std::string_view pool,
                 metric_labels labels, double value) override;

  /// Sum of a counter (0 if never emitted). Without labels: over all labels.
  double counter_value(std::string_view name, std::string_view pool,
                       metric_labels labels = {}) const;

  /// Last value of a gauge, or -1 if never set.
  double gauge_value(std::string_view name, std::string_view pool) const;

  /// The last observations of a histogram (at most `max_observations`),
  /// oldest first.
  std::vector<double> histogram_values(std::string_view name,
                                       std::string_view pool) const;

  /// Number of observations of a histogram, all of them.
  uint64_t histogram_count(std::string_view name, std::string_view pool) const;

  /// Sum of the observations of a histogram, all of them.
  double histogram_sum(std::string_view name, std::string_view pool) const;

  /// The last calls received (at most `max_events`), oldest first.
  std::vector<event> events() const;

  /// The distinct names emitted so far, in the order of their first call.
  std::vector<std::string> names() const;

  /// Forgets every value and call.
  void clear();

private:
  // The values of one metric in one pool; counters and gauges by labels.
  struct values {
    metric_type type;
    std::vector<std::pair<std::map<std::string, std::string>, double>> series;
    uint64_t count = 0; // histogram
    double sum = 0;     // histogram
    std::deque<double> recent; // histogram
  };

  void record(metric_type type, std::string_view name, std::string_view pool,
              metric_labels labels, double value);
  void aggregate(values& vs, metric_labels labels,
                 const std::map<std::string, std::string>& label_map,
                 double value);
  const values* find(std::string_view name, std::string_view pool) const;

  size_t max_events_;
  size_t max_observations_;
  mutable std::mutex mtx_;
  std::deque<event> events_;
  std::vector<std::string> names_;
  // name -> pool -> values
  std::map<std::string, std::map<std::string, values, std::less<>>,
           std::less<>>
    values_;
};

/// Writes one JSON object per call to a stream, e.g.
/// {"type":"counter","name":"take","pool":"p1","labels":{},"value":1}
class json_lines_sink : public metrics_sink {
public:
  /// The stream must outlive the sink.
  explicit json_lines_sink(std::ostream& out);

  void counter(std::string_view name, std::string_view pool,
               metric_labels labels, double delta) override;
  void gauge(std::string_view name, std::string_view pool,
             metric_labels labels, double value) override;
  void histogram(std::string_view name, std::string_view pool,
                 metric_labels labels, double value) override;

private:
  void write(metric_type type, std::string_view name, std::string_view pool,
             metric_labels labels, double value);

  std::mutex mtx_;
  std::ostream* out_;
};

/// Aggregates and renders the Prometheus text exposition format on demand.
/// Names are prefixed `pooler_`, counters also suffixed `_total` (the
/// Prometheus convention: `take` is `pooler_take_total`); every series has a
/// `pool` label, then the metric's own labels. Histograms have fixed buckets
/// (`bucket_bounds()`, seconds) plus +Inf, `_sum` and `_count`. Calls with a
/// name or label value that `metrics()` does not declare are ignored.
class prometheus_sink : public metrics_sink {
public:
  void counter(std::string_view name, std::string_view pool,
               metric_labels labels, double delta) override;
  void gauge(std::string_view name, std::string_view pool,
             metric_labels labels, double value) override;
  void histogram(std::string_view name, std::string_view pool,
                 metric_labels labels, double value) override;

  /// Resolves the series once: an update is then one atomic operation, with
  /// no lookup and no lock. An undeclared name or type gives a series that
  /// ignores its updates.
  std::unique_ptr<metric_series>
  bind(metric_type type, std::string_view name, std::string_view pool) override;

  /// The current values, with # HELP and # TYPE lines from `metrics()`.
  std::string render() const;

  /// Upper bounds (seconds) of the histogram buckets, +Inf not included.
  static const std::vector<double>& bucket_bounds();

private:
  // Every series of one pool, in a fixed layout computed once from
  // `metrics()`: no strings are built on the hot path. Slots are atomic, and
  // never move once allocated, so that bound series update them without the
  // lock, which only guards `pools_`.
  struct pool_values {
    std::unique_ptr<std::atomic<double>[]> values;
    std::unique_ptr<std::atomic<bool>[]> touched; // per slot: emitted once
  };

  pool_values* values_of(std::string_view pool);
  void update(metric_type type, std::string_view name, std::string_view pool,
              metric_labels labels, double value);

  mutable std::mutex mtx_;
  std::map<std::string, pool_values, std::less<>> pools_;
};

// -- named sinks (the `metrics` key of a pool config) ------------------------------

/// Makes `sink` available to pool configs as `metrics = name`. Replaces an
/// earlier sink of the same name; a null `sink` removes the name. Thread-safe.
void register_metrics_sink(const std::string& name,
                           std::shared_ptr<metrics_sink> sink);

/// The sink registered as `name`, or nullptr.
std::shared_ptr<metrics_sink> find_metrics_sink(const std::string& name);

} // namespace pooler
