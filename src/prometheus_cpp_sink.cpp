// prometheus_cpp_sink: pooler's metrics as families of a prometheus-cpp
// registry.

#include "pooler/prometheus_cpp_sink.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace pooler {

namespace {

std::string family_name(const metric_descriptor& d) {
  auto name = "pooler_" + d.name;
  if (d.type == metric_type::counter)
    name += "_total";
  return name;
}

// The labels of one series, or nothing when `labels` are not exactly the
// declared ones with declared values (which bounds the number of series).
std::optional<prometheus::Labels> series_labels(const metric_descriptor& d,
                                                std::string_view pool,
                                                metric_labels labels) {
  if (labels.size() != d.labels.size())
    return std::nullopt;
  prometheus::Labels out{{"pool", std::string{pool}}};
  for (auto& l : labels) {
    auto allowed = d.labels.find(std::string{l.name});
    if (allowed == d.labels.end()
        || std::find(allowed->second.begin(), allowed->second.end(), l.value)
             == allowed->second.end())
      return std::nullopt;
    out.emplace(std::string{l.name}, std::string{l.value});
  }
  return out;
}

template <class Metric>
class cpp_series : public metric_series {
public:
  explicit cpp_series(Metric* metric) : metric_(metric) {}

  void record(double value) override {
    if constexpr (std::is_same_v<Metric, prometheus::Counter>)
      metric_->Increment(value);
    else if constexpr (std::is_same_v<Metric, prometheus::Gauge>)
      metric_->Set(value);
    else
      metric_->Observe(value);
  }

private:
  Metric* metric_;
};

// For an undeclared name or type: updates go nowhere.
class no_series : public metric_series {
public:
  void record(double) override {}
};

} // namespace

struct prometheus_cpp_sink::families {
  // The family of one descriptor; exactly one pointer is set, by its type.
  struct family {
    const metric_descriptor* desc;
    prometheus::Family<prometheus::Counter>* counters = nullptr;
    prometheus::Family<prometheus::Gauge>* gauges = nullptr;
    prometheus::Family<prometheus::Histogram>* histograms = nullptr;

    void record(const prometheus::Labels& labels, double value) const {
      if (counters != nullptr)
        counters->Add(labels).Increment(value);
      else if (gauges != nullptr)
        gauges->Add(labels).Set(value);
      else
        histograms->Add(labels, prometheus_sink::bucket_bounds()).Observe(value);
    }
  };

  std::vector<family> all;
  std::unordered_map<std::string_view, size_t> by_name;

  // The family of `name` if it has type `type`.
  const family* find(metric_type type, std::string_view name) const {
    auto i = by_name.find(name);
    if (i == by_name.end() || all[i->second].desc->type != type)
      return nullptr;
    return &all[i->second];
  }

  // Updates the series of `pool` and `labels` if all are declared.
  void update(metric_type type, std::string_view name, std::string_view pool,
              metric_labels labels, double value) const {
    if (auto f = find(type, name))
      if (auto ls = series_labels(*f->desc, pool, labels))
        f->record(*ls, value);
  }
};

prometheus_cpp_sink::prometheus_cpp_sink(
  std::shared_ptr<prometheus::Registry> registry)
  : registry_(std::move(registry)), families_(std::make_unique<families>()) {
  for (auto& d : metrics()) {
    families::family f{&d};
    auto name = family_name(d);
    switch (d.type) {
      case metric_type::counter:
        f.counters = &prometheus::BuildCounter().Name(name).Help(d.help).Register(
          *registry_);
        break;
      case metric_type::gauge:
        f.gauges = &prometheus::BuildGauge().Name(name).Help(d.help).Register(
          *registry_);
        break;
      case metric_type::histogram:
        f.histograms = &prometheus::BuildHistogram()
                          .Name(name)
                          .Help(d.help)
                          .Register(*registry_);
        break;
    }
    families_->by_name.emplace(d.name, families_->all.size());
    families_->all.push_back(f);
  }
}

prometheus_cpp_sink::~prometheus_cpp_sink() = default;

const std::shared_ptr<prometheus::Registry>&
prometheus_cpp_sink::registry() const {
  return registry_;
}

void prometheus_cpp_sink::counter(std::string_view name, std::string_view pool,
                                  metric_labels labels, double delta) {
  families_->update(metric_type::counter, name, pool, labels, delta);
}

void prometheus_cpp_sink::gauge(std::string_view name, std::string_view pool,
                                metric_labels labels, double value) {
  families_->update(metric_type::gauge, name, pool, labels, value);
}

void prometheus_cpp_sink::histogram(std::string_view name,
                                    std::string_view pool,
                                    metric_labels labels, double value) {
  families_->update(metric_type::histogram, name, pool, labels, value);
}

std::unique_ptr<metric_series>
prometheus_cpp_sink::bind(metric_type type, std::string_view name,
                          std::string_view pool) {
  auto f = families_->find(type, name);
  auto ls = f != nullptr ? series_labels(*f->desc, pool, {}) : std::nullopt;
  if (!ls)
    return std::make_unique<no_series>();
  if (f->counters != nullptr)
    return std::make_unique<cpp_series<prometheus::Counter>>(
      &f->counters->Add(*ls));
  if (f->gauges != nullptr)
    return std::make_unique<cpp_series<prometheus::Gauge>>(
      &f->gauges->Add(*ls));
  return std::make_unique<cpp_series<prometheus::Histogram>>(
    &f->histograms->Add(*ls, prometheus_sink::bucket_bounds()));
}

} // namespace pooler
