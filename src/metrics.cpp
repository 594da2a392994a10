// The metric descriptors (pooler's own metrics, then the telemetry this
// library adds) and the registry of named sinks.

#include "pooler/metrics.hpp"

#include <mutex>
#include <utility>

namespace pooler {

metrics_sink::~metrics_sink() = default;

metric_series::~metric_series() = default;

namespace {

// bind()'s default: every update goes through the sink's named calls.
class forwarding_series : public metric_series {
public:
  forwarding_series(metrics_sink& sink, metric_type type, std::string_view name,
                    std::string_view pool)
    : sink_(sink), type_(type), name_(name), pool_(pool) {}

  void record(double value) override {
    switch (type_) {
      case metric_type::counter: sink_.counter(name_, pool_, {}, value); break;
      case metric_type::gauge: sink_.gauge(name_, pool_, {}, value); break;
      case metric_type::histogram:
        sink_.histogram(name_, pool_, {}, value);
        break;
    }
  }

private:
  metrics_sink& sink_;
  metric_type type_;
  std::string name_;
  std::string pool_;
};

} // namespace

std::unique_ptr<metric_series>
metrics_sink::bind(metric_type type, std::string_view name,
                   std::string_view pool) {
  return std::make_unique<forwarding_series>(*this, type, name, pool);
}

std::string to_string(metric_type x) {
  switch (x) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "invalid metric_type";
}

const std::vector<metric_descriptor>& metrics() {
  using mt = metric_type;
  static const std::vector<metric_descriptor> all = {
    // pooler's own metrics, same names
    {"take", mt::counter, "Take requests, served or not (pooler's take_rate).", {}},
    {"free", mt::gauge, "Free members.", {}},
    {"in_use", mt::gauge, "Members held by consumers.", {}},
    {"starting", mt::gauge, "Members being started.", {}},
    {"stopping", mt::gauge, "Members being stopped.", {}},
    {"queue", mt::gauge, "Requestors waiting in take_member.", {}},
    {"error_no_members",
     mt::counter,
     "take_member calls answered no_members, by reason.",
     {{"reason", {"at_capacity", "all_in_use", "queue_full", "timeout"}}}},
    {"killed_free",
     mt::counter,
     "Free members that died or were stopped, by reason.",
     {{"reason",
       {"crashed", "max_age", "max_lifetime", "reconfigured", "failed"}}}},
    {"killed_in_use",
     mt::counter,
     "In-use members that died or were stopped, by reason.",
     {{"reason", {"crashed", "failed", "max_lifetime"}}}},
    {"queue_max_reached",
     mt::counter,
     "take_member calls refused because the queue was full.",
     {}},
    {"starting_member_timeout",
     mt::counter,
     "Member starts abandoned after member_start_timeout.",
     {}},
    {"start_failed",
     mt::counter,
     "Member starts that failed (spawn or initialize).",
     {}},
    // beyond pooler: the foundation library's telemetry
    {"checkin", mt::counter, "Members returned with return_member.", {}},
    {"take_timeout",
     mt::counter,
     "take_member calls that waited and timed out.",
     {}},
    {"checkout_wait_seconds",
     mt::histogram,
     "Time from a take request to the member in hand.",
     {}},
    {"lease_seconds",
     mt::histogram,
     "Time a member was held by a consumer.",
     {}},
    {"member_start_seconds",
     mt::histogram,
     "Time to start a member (spawn and initialize).",
     {}},
  };
  return all;
}

const metric_descriptor* find_metric(std::string_view name) {
  for (auto& d : metrics())
    if (d.name == name)
      return &d;
  return nullptr;
}

// -- named sinks --------------------------------------------------------------

namespace {

struct sink_registry {
  std::mutex mtx;
  std::map<std::string, std::shared_ptr<metrics_sink>> sinks;
};

sink_registry& registry() {
  static sink_registry instance;
  return instance;
}

} // namespace

void register_metrics_sink(const std::string& name,
                           std::shared_ptr<metrics_sink> sink) {
  auto& reg = registry();
  std::lock_guard<std::mutex> guard{reg.mtx};
  if (sink == nullptr)
    reg.sinks.erase(name);
  else
    reg.sinks[name] = std::move(sink);
}

std::shared_ptr<metrics_sink> find_metrics_sink(const std::string& name) {
  auto& reg = registry();
  std::lock_guard<std::mutex> guard{reg.mtx};
  auto i = reg.sinks.find(name);
  return i != reg.sinks.end() ? i->second : nullptr;
}

} // namespace pooler
