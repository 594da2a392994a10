// memory_sink: aggregates plus bounded buffers of the last calls.

#include <algorithm>
#include <string>

#include "pooler/metrics.hpp"

namespace pooler {

namespace {

bool labels_match(const std::map<std::string, std::string>& have,
                  metric_labels want) {
  for (auto& l : want) {
    auto i = have.find(std::string{l.name});
    if (i == have.end() || i->second != l.value)
      return false;
  }
  return true;
}

bool same_labels(const std::map<std::string, std::string>& have,
                 metric_labels want) {
  return have.size() == want.size() && labels_match(have, want);
}

} // namespace

memory_sink::memory_sink(size_t max_events, size_t max_observations)
  : max_events_(max_events), max_observations_(max_observations) {}

void memory_sink::aggregate(values& vs, metric_labels labels,
                            const std::map<std::string, std::string>& label_map,
                            double value) {
  if (vs.type == metric_type::histogram) {
    ++vs.count;
    vs.sum += value;
    vs.recent.push_back(value);
    if (vs.recent.size() > max_observations_)
      vs.recent.pop_front();
    return;
  }
  auto s = std::find_if(vs.series.begin(), vs.series.end(),
                        [&](auto& x) { return same_labels(x.first, labels); });
  if (s == vs.series.end()) {
    vs.series.emplace_back(label_map, 0);
    s = vs.series.end() - 1;
  }
  if (vs.type == metric_type::counter) {
    s->second += value;
  } else {
    s->second = value;
    // The last gauge set comes last, whatever its labels.
    std::rotate(s, s + 1, vs.series.end());
  }
}

void memory_sink::record(metric_type type, std::string_view name,
                         std::string_view pool, metric_labels labels,
                         double value) {
  std::map<std::string, std::string> label_map;
  for (auto& l : labels)
    label_map.emplace(std::string{l.name}, std::string{l.value});
  std::lock_guard<std::mutex> guard{mtx_};
  auto by_pool = values_.find(name);
  if (by_pool == values_.end()) {
    names_.emplace_back(name);
    by_pool = values_.emplace(std::string{name}, decltype(by_pool->second){})
                .first;
  }
  auto v = by_pool->second.find(pool);
  if (v == by_pool->second.end())
    v = by_pool->second.emplace(std::string{pool}, values{type, {}, 0, 0, {}})
          .first;
  // A name keeps the type of its first call; calls of another type are
  // only events.
  if (v->second.type == type)
    aggregate(v->second, labels, label_map, value);
  if (max_events_ == 0)
    return;
  events_.push_back({type, std::string{name}, std::string{pool},
                     std::move(label_map), value});
  if (events_.size() > max_events_)
    events_.pop_front();
}

void memory_sink::counter(std::string_view name, std::string_view pool,
                          metric_labels labels, double delta) {
  record(metric_type::counter, name, pool, labels, delta);
}

void memory_sink::gauge(std::string_view name, std::string_view pool,
                        metric_labels labels, double value) {
  record(metric_type::gauge, name, pool, labels, value);
}

void memory_sink::histogram(std::string_view name, std::string_view pool,
                            metric_labels labels, double value) {
  record(metric_type::histogram, name, pool, labels, value);
}

const memory_sink::values* memory_sink::find(std::string_view name,
                                             std::string_view pool) const {
  auto by_pool = values_.find(name);
  if (by_pool == values_.end())
    return nullptr;
  auto v = by_pool->second.find(pool);
  return v != by_pool->second.end() ? &v->second : nullptr;
}

double memory_sink::counter_value(std::string_view name, std::string_view pool,
                                  metric_labels labels) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = find(name, pool);
  if (v == nullptr || v->type != metric_type::counter)
    return 0;
  double sum = 0;
  for (auto& [have, value] : v->series)
    if (labels_match(have, labels))
      sum += value;
  return sum;
}

double memory_sink::gauge_value(std::string_view name,
                                std::string_view pool) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = find(name, pool);
  if (v == nullptr || v->type != metric_type::gauge || v->series.empty())
    return -1;
  return v->series.back().second;
}

std::vector<double> memory_sink::histogram_values(std::string_view name,
                                                  std::string_view pool) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = find(name, pool);
  if (v == nullptr || v->type != metric_type::histogram)
    return {};
  return {v->recent.begin(), v->recent.end()};
}

uint64_t memory_sink::histogram_count(std::string_view name,
                                      std::string_view pool) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = find(name, pool);
  return v != nullptr && v->type == metric_type::histogram ? v->count : 0;
}

double memory_sink::histogram_sum(std::string_view name,
                                  std::string_view pool) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = find(name, pool);
  return v != nullptr && v->type == metric_type::histogram ? v->sum : 0;
}

std::vector<memory_sink::event> memory_sink::events() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {events_.begin(), events_.end()};
}

std::vector<std::string> memory_sink::names() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return names_;
}

void memory_sink::clear() {
  std::lock_guard<std::mutex> guard{mtx_};
  events_.clear();
  names_.clear();
  values_.clear();
}

} // namespace pooler
