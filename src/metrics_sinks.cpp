// The built-in metrics sinks that render: JSON lines and Prometheus text.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "pooler/metrics.hpp"

namespace pooler {

// -- json_lines_sink ----------------------------------------------------------

json_lines_sink::json_lines_sink(std::ostream& out) : out_(&out) {}

void json_lines_sink::counter(std::string_view name, std::string_view pool,
                              metric_labels labels, double delta) {
  write(metric_type::counter, name, pool, labels, delta);
}

void json_lines_sink::gauge(std::string_view name, std::string_view pool,
                            metric_labels labels, double value) {
  write(metric_type::gauge, name, pool, labels, value);
}

void json_lines_sink::histogram(std::string_view name, std::string_view pool,
                                metric_labels labels, double value) {
  write(metric_type::histogram, name, pool, labels, value);
}

void json_lines_sink::write(metric_type type, std::string_view name,
                            std::string_view pool, metric_labels labels,
                            double value) {
  nlohmann::json j;
  j["type"] = to_string(type);
  j["name"] = name;
  j["pool"] = pool;
  j["labels"] = nlohmann::json::object();
  for (auto& l : labels)
    j["labels"][std::string{l.name}] = l.value;
  // Counts print as 1, not 1.0; non-finite values become null (JSON has none).
  if (std::isfinite(value) && value == std::floor(value)
      && std::fabs(value) < 9.0e15)
    j["value"] = static_cast<int64_t>(value);
  else
    j["value"] = value;
  // A pool name is user data: replace invalid UTF-8 rather than throw.
  auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  std::lock_guard<std::mutex> guard{mtx_};
  out_->write(line.data(), static_cast<std::streamsize>(line.size()));
  out_->flush();
}

// -- prometheus_sink ----------------------------------------------------------

namespace {

// Where one metric's series live in a pool's value vector. A series is one
// combination of label values; a histogram series takes one slot per bucket
// (+Inf included), then the sum and the count.
struct metric_layout {
  const metric_descriptor* desc;
  size_t offset; // first slot
  size_t series; // number of label-value combinations
  size_t width;  // slots per series
  std::vector<const std::string*> label_names;               // map order
  std::vector<const std::vector<std::string>*> label_values; // same order
};

struct sink_layout {
  std::vector<metric_layout> metrics;
  std::unordered_map<std::string_view, size_t> by_name;
  size_t slots = 0;
};

size_t histogram_width() {
  return prometheus_sink::bucket_bounds().size() + 3; // +Inf, sum, count
}

const sink_layout& layout() {
  static const sink_layout instance = [] {
    sink_layout result;
    for (auto& d : metrics()) {
      metric_layout m{&d, result.slots, 1, 1, {}, {}};
      if (d.type == metric_type::histogram)
        m.width = histogram_width();
      for (auto& [label, values] : d.labels) {
        m.label_names.push_back(&label);
        m.label_values.push_back(&values);
        m.series *= values.size();
      }
      result.slots += m.series * m.width;
      result.by_name.emplace(d.name, result.metrics.size());
      result.metrics.push_back(std::move(m));
    }
    return result;
  }();
  return instance;
}

constexpr size_t no_series = std::numeric_limits<size_t>::max();

// The series index of `labels` (mixed radix over the declared labels), or
// no_series when a label is missing, undeclared or has an undeclared value.
size_t series_index(const metric_layout& m, metric_labels labels) {
  if (labels.size() != m.label_names.size())
    return no_series;
  size_t index = 0;
  for (size_t k = 0; k < m.label_names.size(); ++k) {
    auto l = std::find_if(labels.begin(), labels.end(), [&](auto& x) {
      return x.name == *m.label_names[k];
    });
    if (l == labels.end())
      return no_series;
    auto& values = *m.label_values[k];
    auto v = std::find(values.begin(), values.end(), l->value);
    if (v == values.end())
      return no_series;
    index = index * values.size() + static_cast<size_t>(v - values.begin());
  }
  return index;
}

std::string format_value(double x) {
  if (std::isnan(x))
    return "NaN";
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: 0.0005, not
  // 0.00050000000000000001.
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", x);
  if (std::strtod(buf, nullptr) != x)
    std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
}

// Label values: backslash, double quote and newline are escaped.
void append_escaped(std::string& out, std::string_view x, bool quotes) {
  for (char c : x) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
}

std::string family_name(const metric_descriptor& d) {
  auto name = "pooler_" + d.name;
  if (d.type == metric_type::counter)
    name += "_total";
  return name;
}

// `{pool="p1",reason="crashed"` without the closing brace, so that a
// histogram can add `le`.
std::string open_labels(std::string_view pool, const metric_layout& m,
                        size_t series) {
  std::string out = "{pool=\"";
  append_escaped(out, pool, true);
  out += '"';
  // Decode the mixed-radix index, last label first.
  std::vector<const std::string*> values(m.label_names.size());
  for (size_t k = m.label_names.size(); k-- > 0;) {
    auto& vs = *m.label_values[k];
    values[k] = &vs[series % vs.size()];
    series /= vs.size();
  }
  for (size_t k = 0; k < values.size(); ++k) {
    out += ',';
    out += *m.label_names[k];
    out += "=\"";
    append_escaped(out, *values[k], true);
    out += '"';
  }
  return out;
}

void render_series(std::string& out, const std::string& family,
                   const std::string& labels, const metric_layout& m,
                   const double* slots) {
  if (m.desc->type != metric_type::histogram) {
    out += family + labels + "} " + format_value(slots[0]) + '\n';
    return;
  }
  auto& bounds = prometheus_sink::bucket_bounds();
  double cumulative = 0;
  for (size_t b = 0; b <= bounds.size(); ++b) {
    cumulative += slots[b];
    auto le = b < bounds.size() ? format_value(bounds[b]) : std::string{"+Inf"};
    out += family + "_bucket" + labels + ",le=\"" + le + "\"} "
           + format_value(cumulative) + '\n';
  }
  out += family + "_sum" + labels + "} "
         + format_value(slots[bounds.size() + 1]) + '\n';
  out += family + "_count" + labels + "} "
         + format_value(slots[bounds.size() + 2]) + '\n';
}

} // namespace

const std::vector<double>& prometheus_sink::bucket_bounds() {
  // From 100 us (a local take) to 10 s (a slow member start), 1-2.5-5 steps.
  static const std::vector<double> bounds
    = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
       0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return bounds;
}

namespace {

void add(std::atomic<double>& slot, double delta) {
  auto old = slot.load(std::memory_order_relaxed);
  while (!slot.compare_exchange_weak(old, old + delta,
                                     std::memory_order_relaxed)) {
  }
}

// One update of one series: `slots` is its first slot.
void apply(metric_type type, std::atomic<double>* slots,
           std::atomic<bool>& touched, double value) {
  if (!touched.load(std::memory_order_relaxed))
    touched.store(true, std::memory_order_relaxed);
  switch (type) {
    case metric_type::counter: add(slots[0], value); break;
    case metric_type::gauge:
      slots[0].store(value, std::memory_order_relaxed);
      break;
    case metric_type::histogram: {
      auto& bounds = prometheus_sink::bucket_bounds();
      // The bucket is the first bound >= value; NaN goes to +Inf.
      auto b = std::isnan(value)
                 ? bounds.size()
                 : static_cast<size_t>(
                   std::lower_bound(bounds.begin(), bounds.end(), value)
                   - bounds.begin());
      add(slots[b], 1);
      add(slots[bounds.size() + 1], value);
      add(slots[bounds.size() + 2], 1);
      break;
    }
  }
}

// The first slot of a series, or no_series when the name, type or labels are
// not declared.
size_t first_slot(metric_type type, std::string_view name,
                  metric_labels labels) {
  auto& l = layout();
  auto m = l.by_name.find(name);
  if (m == l.by_name.end())
    return no_series;
  auto& ml = l.metrics[m->second];
  auto series = series_index(ml, labels);
  if (ml.desc->type != type || series == no_series)
    return no_series;
  return ml.offset + series * ml.width;
}

class prometheus_series : public metric_series {
public:
  prometheus_series(metric_type type, std::atomic<double>* slots,
                    std::atomic<bool>* touched)
    : type_(type), slots_(slots), touched_(touched) {}

  void record(double value) override {
    if (slots_ != nullptr)
      apply(type_, slots_, *touched_, value);
  }

private:
  metric_type type_;
  std::atomic<double>* slots_; // null: an undeclared series, ignored
  std::atomic<bool>* touched_;
};

} // namespace

prometheus_sink::pool_values*
prometheus_sink::values_of(std::string_view pool) {
  auto i = pools_.find(pool);
  if (i == pools_.end()) {
    auto slots = layout().slots;
    pool_values pv{std::make_unique<std::atomic<double>[]>(slots),
                   std::make_unique<std::atomic<bool>[]>(slots)};
    for (size_t k = 0; k < slots; ++k) {
      pv.values[k].store(0, std::memory_order_relaxed);
      pv.touched[k].store(false, std::memory_order_relaxed);
    }
    i = pools_.emplace(std::string{pool}, std::move(pv)).first;
  }
  return &i->second;
}

void prometheus_sink::update(metric_type type, std::string_view name,
                             std::string_view pool, metric_labels labels,
                             double value) {
  auto first = first_slot(type, name, labels);
  if (first == no_series)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  auto pv = values_of(pool);
  apply(type, pv->values.get() + first, pv->touched[first], value);
}

std::unique_ptr<metric_series>
prometheus_sink::bind(metric_type type, std::string_view name,
                      std::string_view pool) {
  auto first = first_slot(type, name, {});
  if (first == no_series)
    return std::make_unique<prometheus_series>(type, nullptr, nullptr);
  std::lock_guard<std::mutex> guard{mtx_};
  auto pv = values_of(pool);
  return std::make_unique<prometheus_series>(type, pv->values.get() + first,
                                             &pv->touched[first]);
}

void prometheus_sink::counter(std::string_view name, std::string_view pool,
                              metric_labels labels, double delta) {
  update(metric_type::counter, name, pool, labels, delta);
}

void prometheus_sink::gauge(std::string_view name, std::string_view pool,
                            metric_labels labels, double value) {
  update(metric_type::gauge, name, pool, labels, value);
}

void prometheus_sink::histogram(std::string_view name, std::string_view pool,
                                metric_labels labels, double value) {
  update(metric_type::histogram, name, pool, labels, value);
}

std::string prometheus_sink::render() const {
  std::string out;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& m : layout().metrics) {
    auto family = family_name(*m.desc);
    bool header = false;
    for (auto& [pool, pv] : pools_) {
      for (size_t s = 0; s < m.series; ++s) {
        auto first = m.offset + s * m.width;
        if (!pv.touched[first].load(std::memory_order_relaxed))
          continue;
        if (!header) {
          out += "# HELP " + family + ' ';
          append_escaped(out, m.desc->help, false);
          out += "\n# TYPE " + family + ' ' + to_string(m.desc->type) + '\n';
          header = true;
        }
        // Bound series update without the lock: render a snapshot.
        std::vector<double> slots(m.width);
        for (size_t k = 0; k < m.width; ++k)
          slots[k] = pv.values[first + k].load(std::memory_order_relaxed);
        render_series(out, family, open_labels(pool, m, s), m, slots.data());
      }
    }
  }
  return out;
}

} // namespace pooler
