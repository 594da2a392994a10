// Observability and safe use, through the public API: the
// metrics a pool emits for each event, the Prometheus text it feeds, the
// histograms' durations; with_member and take_lease; pools from config files.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "pool_fixture.hpp"
#include "pooler/config_file.hpp"
#include "pooler/process_member.hpp"

using namespace test;
using pooler::errc;
using pooler::member_status;
using pooler::memory_sink;

namespace {

using labels_t = std::map<std::string, std::string>;

double count_of(const memory_sink& sink, const std::string& name,
                const std::string& pool, const std::string& reason = "") {
  if (reason.empty())
    return sink.counter_value(name, pool);
  return sink.counter_value(name, pool, {{"reason", reason}});
}

std::set<std::string> names_of(const memory_sink& sink) {
  auto xs = sink.names();
  return {xs.begin(), xs.end()};
}

/// Every event names a declared metric of the right type, and every label
/// (name and value) is declared.
void check_all_declared(const memory_sink& sink) {
  for (auto& e : sink.events()) {
    CAPTURE(e.name);
    auto d = pooler::find_metric(e.name);
    REQUIRE(d != nullptr);
    CHECK(d->type == e.type);
    for (auto& [label, value] : e.labels) {
      CAPTURE(label);
      CAPTURE(value);
      auto allowed = d->labels.find(label);
      REQUIRE(allowed != d->labels.end());
      CHECK(std::count(allowed->second.begin(), allowed->second.end(), value)
            == 1);
    }
    CHECK(e.labels.size() == d->labels.size());
  }
}

/// A pool whose metrics go to a fresh memory sink.
pooler::pool_config observed(std::string name, size_t init, size_t max,
                             const std::shared_ptr<memory_sink>& sink) {
  auto cfg = pool(std::move(name), init, max);
  cfg.sink = sink;
  return cfg;
}

/// A consumer actor that takes one member and then crashes holding it.
caf::actor crashing_consumer(caf::actor_system& sys, pooler::app a,
                             std::string pool) {
  return sys.spawn([a, pool](caf::event_based_actor* c) mutable {
    a.take_member(
      c, pool, caf::timespan{0},
      [c](caf::actor) {
        c->quit(caf::make_error(caf::sec::runtime_error, "consumer crash"));
      },
      [c](caf::error err) { c->quit(err); });
  });
}

} // namespace

// -- metrics of a scripted sequence ----------------------------------------------

TEST_CASE_FIXTURE(fixture, "a scripted sequence emits exactly pooler's metrics") {
  auto sink = std::make_shared<memory_sink>();
  auto cfg = observed("s", 2, 3, sink);
  cfg.queue_max = 1;
  cfg.cull_interval = caf::timespan{0};
  REQUIRE(app.new_pool(cfg));
  int takes = 0;
  int returns = 0;
  auto settled = [&] {
    return eventually([&] {
      auto u = usage("s");
      return u.free_count + u.in_use_count == 2 && u.starting_count == 0
             && u.stopping_count == 0;
    });
  };
  // take, return ok
  auto a = app.take_member(self, "s");
  ++takes;
  REQUIRE(a);
  app.return_member("s", *a);
  ++returns;
  // take, return fail: stopped and replaced
  auto b = app.take_member(self, "s");
  ++takes;
  REQUIRE(b);
  app.return_member("s", *b, member_status::fail);
  ++returns;
  wait_down(*b);
  REQUIRE(settled());
  // a member in use crashes
  auto c = app.take_member(self, "s");
  ++takes;
  REQUIRE(c);
  self->send(*c, crash_atom::value);
  wait_down(*c);
  REQUIRE(settled());
  // a free member crashes
  REQUIRE(eventually([&] { return usage("s").in_use_count == 0; }));
  auto free_one = app.pool_stats("s")->at(0).member;
  self->send(free_one, crash_atom::value);
  wait_down(free_one);
  REQUIRE(settled());
  // a consumer crashes holding a member
  auto consumer = crashing_consumer(sys, app, "s");
  ++takes;
  CHECK(wait_down(consumer) == caf::sec::runtime_error);
  REQUIRE(eventually([&] { return usage("s").free_count == 2; }));
  // exhaust the pool: all_in_use (grows one), then at_capacity
  auto x = app.take_member(self, "s");
  auto y = app.take_member(self, "s");
  auto grows = app.take_member(self, "s");
  takes += 3;
  REQUIRE(x);
  REQUIRE(y);
  CHECK(pooler::error_detail(grows.error()) == "all_in_use");
  REQUIRE(free_becomes("s", 1));
  auto z = app.take_member(self, "s");
  auto full = app.take_member(self, "s");
  takes += 2;
  REQUIRE(z);
  CHECK(pooler::error_detail(full.error()) == "at_capacity");
  // a queued take times out
  auto late = app.take_member(self, "s", 50ms);
  ++takes;
  CHECK(pooler::error_detail(late.error()) == "timeout");
  // the queue (queue_max 1) is full
  auto waiter = sys.spawn([a = app](caf::event_based_actor* w) mutable {
    a.take_member(
      w, "s", 5s,
      [a, w](caf::actor m) mutable {
        a.return_member("s", m);
        w->quit();
      },
      [w](caf::error err) { w->quit(err); });
  });
  ++takes;
  REQUIRE(eventually([&] { return usage("s").queued_count == 1; }));
  auto refused = app.take_member(self, "s", 1s);
  ++takes;
  CHECK(pooler::error_detail(refused.error()) == "queue_full");
  app.return_member("s", *x); // serves the waiter, which returns it
  ++returns;
  CHECK(!wait_down(waiter));
  ++returns;
  app.return_member("s", *y);
  app.return_member("s", *z);
  returns += 2;
  REQUIRE(free_becomes("s", 3));
  REQUIRE(eventually([&] { return count_of(*sink, "checkin", "s") == returns; }));

  CHECK(names_of(*sink)
        == std::set<std::string>{"take", "free", "in_use", "starting",
                                 "stopping", "queue", "checkout_wait_seconds",
                                 "checkin", "lease_seconds", "killed_in_use",
                                 "killed_free", "member_start_seconds",
                                 "error_no_members", "take_timeout",
                                 "queue_max_reached"});
  CHECK(count_of(*sink, "take", "s") == takes);
  CHECK(count_of(*sink, "killed_in_use", "s", "failed") == 2);
  CHECK(count_of(*sink, "killed_in_use", "s", "crashed") == 1);
  CHECK(count_of(*sink, "killed_in_use", "s") == 3);
  CHECK(count_of(*sink, "killed_free", "s", "crashed") == 1);
  CHECK(count_of(*sink, "killed_free", "s") == 1);
  for (auto reason : {"all_in_use", "at_capacity", "timeout", "queue_full"})
    CHECK(count_of(*sink, "error_no_members", "s", reason) == 1);
  CHECK(count_of(*sink, "take_timeout", "s") == 1);
  CHECK(count_of(*sink, "queue_max_reached", "s") == 1);
  // 2 initial members, 4 replacements (fail, 2 crashes, consumer), 1 growth
  CHECK(sink->histogram_values("member_start_seconds", "s").size() == 7);
  // one wait per member handed out: 4 direct takes, x, y, z and the waiter
  CHECK(sink->histogram_values("checkout_wait_seconds", "s").size() == 8);
  CHECK(sink->gauge_value("free", "s") == 3);
  CHECK(sink->gauge_value("in_use", "s") == 0);
  CHECK(sink->gauge_value("queue", "s") == 0);
  check_all_declared(*sink);
}

// -- the reason of each kind of kill ----------------------------------------------

TEST_CASE_FIXTURE(fixture, "culled members count as killed_free{max_age}") {
  auto sink = std::make_shared<memory_sink>();
  auto cfg = observed("p", 1, 3, sink);
  cfg.cull_interval = caf::timespan{0};
  cfg.max_age = caf::timespan{0};
  REQUIRE(app.new_pool(cfg));
  auto a = *app.take_member(self, "p");
  REQUIRE(!app.take_member(self, "p")); // grows by one
  REQUIRE(free_becomes("p", 1));
  auto b = *app.take_member(self, "p");
  app.return_member("p", a);
  app.return_member("p", b);
  REQUIRE(free_becomes("p", 2));
  REQUIRE(app.cull_pool("p"));
  REQUIRE(free_becomes("p", 1));
  CHECK(count_of(*sink, "killed_free", "p", "max_age") == 1);
  CHECK(count_of(*sink, "killed_free", "p") == 1);
  CHECK(count_of(*sink, "killed_in_use", "p") == 0);
  check_all_declared(*sink);
}

TEST_CASE_FIXTURE(fixture, "expired members count as killed_*{max_lifetime}") {
  auto sink = std::make_shared<memory_sink>();
  auto cfg = observed("p", 2, 2, sink);
  cfg.max_lifetime = 100ms;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  // The free one expires while free; `m` expires in use and is stopped
  // only when it comes back.
  REQUIRE(eventually(
    [&] { return count_of(*sink, "killed_free", "p", "max_lifetime") >= 1; }));
  CHECK(usage("p").in_use_count == 1);
  std::this_thread::sleep_for(120ms); // let `m` outlive its lifetime in use
  app.return_member("p", m);
  wait_down(m);
  CHECK(count_of(*sink, "killed_in_use", "p", "max_lifetime") == 1);
  CHECK(count_of(*sink, "killed_in_use", "p") == 1);
  // Free members keep expiring meanwhile; every kill carries max_lifetime.
  for (auto& e : sink->events())
    if (e.name == "killed_free" || e.name == "killed_in_use")
      CHECK(e.labels == labels_t{{"reason", "max_lifetime"}});
  check_all_declared(*sink);
}

TEST_CASE_FIXTURE(fixture, "members stopped by reconfigure count as killed_free{reconfigured}") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("p", 3, 3, sink)));
  auto next = *app.pool_config_of("p");
  next.init_count = 1;
  next.max_count = 1;
  REQUIRE(app.pool_reconfigure("p", next));
  REQUIRE(free_becomes("p", 1));
  CHECK(count_of(*sink, "killed_free", "p", "reconfigured") == 2);
  CHECK(count_of(*sink, "killed_free", "p") == 2);
  check_all_declared(*sink);
}

TEST_CASE_FIXTURE(fixture, "a crashed consumer's members count as killed_in_use{failed}") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("p", 1, 1, sink)));
  auto original = app.pool_stats("p")->at(0).member;
  auto consumer = crashing_consumer(sys, app, "p");
  wait_down(consumer);
  wait_down(original);
  REQUIRE(free_becomes("p", 1));
  CHECK(count_of(*sink, "killed_in_use", "p", "failed") == 1);
  CHECK(count_of(*sink, "killed_in_use", "p") == 1);
  CHECK(count_of(*sink, "checkin", "p") == 0); // not a return
  // The lease ended with the consumer.
  CHECK(sink->histogram_values("lease_seconds", "p").size() == 1);
}

TEST_CASE_FIXTURE(fixture, "a consumer exiting normally ends its lease without a kill") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("p", 1, 1, sink)));
  auto original = app.pool_stats("p")->at(0).member;
  auto consumer = sys.spawn([a = app](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", caf::timespan{0}, [c](caf::actor) { c->quit(); },
      [c](caf::error err) { c->quit(err); });
  });
  CHECK(!wait_down(consumer));
  REQUIRE(eventually([&] {
    return sink->histogram_values("lease_seconds", "p").size() == 1;
  }));
  CHECK(usage("p").free_count == 1);
  CHECK(app.pool_stats("p")->at(0).member == original);
  CHECK(count_of(*sink, "killed_in_use", "p") == 0);
  check_all_declared(*sink);
}

// -- Prometheus text from a live pool ------------------------------------------------

namespace {

struct sample {
  std::string name;
  labels_t labels;
  double value = 0;
};

// Parses one `name{l="v",...} value` line; false if it is malformed.
bool parse_sample(const std::string& line, sample& out) {
  size_t i = 0;
  auto name_char = [](char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'
           || (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  while (i < line.size() && name_char(line[i], i == 0))
    ++i;
  if (i == 0)
    return false;
  out.name = line.substr(0, i);
  out.labels.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      auto start = i;
      while (i < line.size() && name_char(line[i], i == start))
        ++i;
      if (i == start || i + 1 >= line.size() || line[i] != '='
          || line[i + 1] != '"')
        return false;
      auto label = line.substr(start, i - start);
      i += 2;
      std::string value;
      for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\') {
          if (++i >= line.size())
            return false;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
      }
      if (i >= line.size())
        return false;
      ++i; // closing quote
      if (!out.labels.emplace(label, value).second)
        return false;
      if (i < line.size() && line[i] == ',')
        ++i;
    }
    if (i >= line.size())
      return false;
    ++i; // closing brace
  }
  if (i >= line.size() || line[i] != ' ')
    return false;
  auto text = line.substr(i + 1);
  if (text == "+Inf" || text == "-Inf" || text == "NaN") {
    out.value = text == "NaN" ? NAN : (text[0] == '+' ? INFINITY : -INFINITY);
    return true;
  }
  char* end = nullptr;
  out.value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// The family a Prometheus series belongs to, given its declared type.
std::string prometheus_family(const pooler::metric_descriptor& d) {
  return "pooler_" + d.name
         + (d.type == pooler::metric_type::counter ? "_total" : "");
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a prometheus_sink fed by a pool renders parseable text") {
  auto sink = std::make_shared<pooler::prometheus_sink>();
  auto cfg = pool("pp", 2, 2);
  cfg.sink = sink;
  REQUIRE(app.new_pool(cfg));
  for (int i = 0; i < 5; ++i) {
    auto m = app.take_member(self, "pp");
    REQUIRE(m);
    app.return_member("pp", *m);
    REQUIRE(free_becomes("pp", 2));
  }
  auto a = *app.take_member(self, "pp");
  auto b = *app.take_member(self, "pp");
  CHECK(pooler::error_detail(app.take_member(self, "pp").error())
        == "at_capacity");
  app.return_member("pp", a, member_status::fail);
  app.return_member("pp", b);
  REQUIRE(free_becomes("pp", 2));
  std::map<std::string, const pooler::metric_descriptor*> families;
  for (auto& d : pooler::metrics())
    families[prometheus_family(d)] = &d;
  std::string text;
  // Returns are asynchronous: wait until the last checkin is rendered.
  REQUIRE(eventually([&] {
    text = sink->render();
    return text.find("pooler_checkin_total{pool=\"pp\"} 7\n")
           != std::string::npos;
  }));
  std::istringstream in{text};
  std::string family;
  std::set<std::string> typed;
  std::map<std::string, double> values; // series with labels -> value
  double last_bucket = 0;
  for (std::string line; std::getline(in, line);) {
    CAPTURE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      REQUIRE(families.count(family) == 1);
      CHECK(line.size() > 8 + family.size()); // has a help text
      last_bucket = 0;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      auto d = families.at(family);
      CHECK(line == "# TYPE " + family + " " + pooler::to_string(d->type));
      typed.insert(family);
    } else {
      sample s;
      REQUIRE(parse_sample(line, s));
      REQUIRE(typed.count(family) == 1);
      auto d = families.at(family);
      CHECK(s.labels.at("pool") == "pp");
      if (d->type == pooler::metric_type::histogram) {
        CHECK((s.name == family + "_bucket" || s.name == family + "_sum"
               || s.name == family + "_count"));
        if (s.name == family + "_bucket") {
          CHECK(s.value >= last_bucket); // cumulative
          last_bucket = s.value;
          values[s.name + "{le=" + s.labels.at("le") + "}"] = s.value;
        } else {
          values[s.name] = s.value;
        }
      } else {
        CHECK(s.name == family);
        for (auto& [label, value] : s.labels) {
          if (label == "pool")
            continue;
          auto allowed = d->labels.at(label);
          CHECK(std::count(allowed.begin(), allowed.end(), value) == 1);
        }
        auto key = s.name;
        if (auto r = s.labels.find("reason"); r != s.labels.end())
          key += "{reason=" + r->second + "}";
        values[key] = s.value;
      }
    }
  }
  CHECK(values["pooler_take_total"] == 8);
  CHECK(values["pooler_checkin_total"] == 7);
  CHECK(values["pooler_error_no_members_total{reason=at_capacity}"] == 1);
  CHECK(values["pooler_killed_in_use_total{reason=failed}"] == 1);
  CHECK(values["pooler_free"] == 2);
  CHECK(values["pooler_lease_seconds_count"] == 7);
  CHECK(values["pooler_lease_seconds_bucket{le=+Inf}"] == 7);
  CHECK(values["pooler_checkout_wait_seconds_count"] == 7);
  CHECK(values["pooler_member_start_seconds_count"] == 3);
}

// -- histograms observe real durations -------------------------------------------

TEST_CASE_FIXTURE(fixture, "histograms observe plausible durations") {
  auto sink = std::make_shared<memory_sink>();
  auto cfg = observed("h", 1, 1, sink);
  // A start that takes at least 30 ms.
  cfg.initialize = pooler::member_hook::function(
    [](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      std::this_thread::sleep_for(30ms);
      return {};
    });
  REQUIRE(app.new_pool(cfg));
  // The pool may answer new_pool a moment before it records the start.
  REQUIRE(eventually([&] {
    return sink->histogram_values("member_start_seconds", "h").size() == 1;
  }));
  auto starts = sink->histogram_values("member_start_seconds", "h");
  CHECK(starts[0] >= 0.03);
  CHECK(starts[0] < 5);
  // A lease held >= 50 ms records >= 0.05 s.
  auto t0 = std::chrono::steady_clock::now();
  auto m = *app.take_member(self, "h");
  std::this_thread::sleep_for(50ms);
  // Meanwhile another consumer waits for it: its wait is >= 50 ms too.
  auto waiter = sys.spawn([a = app](caf::event_based_actor* w) mutable {
    a.take_member(
      w, "h", 5s,
      [a, w](caf::actor x) mutable {
        a.return_member("h", x);
        w->quit();
      },
      [w](caf::error err) { w->quit(err); });
  });
  REQUIRE(eventually([&] { return usage("h").queued_count == 1; }));
  std::this_thread::sleep_for(50ms);
  app.return_member("h", m);
  CHECK(!wait_down(waiter));
  auto held = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                            - t0)
                .count();
  REQUIRE(eventually(
    [&] { return sink->histogram_values("lease_seconds", "h").size() == 2; }));
  auto leases = sink->histogram_values("lease_seconds", "h");
  CHECK(leases[0] >= 0.1);
  CHECK(leases[0] <= held);
  CHECK(leases[1] >= 0);
  auto waits = sink->histogram_values("checkout_wait_seconds", "h");
  REQUIRE(waits.size() == 2);
  CHECK(waits[0] == 0); // a free member: no wait
  CHECK(waits[1] >= 0.05);
  CHECK(waits[1] < held);
  check_all_declared(*sink);
}

TEST_CASE_FIXTURE(fixture, "a pool reports to a sink registered by name") {
  auto sink = std::make_shared<memory_sink>();
  pooler::register_metrics_sink("obs_named", sink);
  auto cfg = pool("n", 1, 1);
  cfg.metrics = "obs_named";
  REQUIRE(app.new_pool(cfg));
  app.return_member("n", *app.take_member(self, "n"));
  REQUIRE(eventually([&] { return count_of(*sink, "checkin", "n") == 1; }));
  CHECK(count_of(*sink, "take", "n") == 1);
  CHECK(sink->gauge_value("free", "n") == 1);
  // An unknown sink name is a config error naming the key.
  auto bad = pool("n2", 1, 1);
  bad.metrics = "obs_no_such_sink";
  auto err = app.new_pool(bad);
  CHECK(err.error() == errc::invalid_config);
  CHECK(pooler::error_detail(err.error()).find("metrics") != std::string::npos);
  pooler::register_metrics_sink("obs_named", nullptr);
}

// -- with_member ----------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "with_member returns the member ok after fn returns") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("w", 1, 1, sink)));
  caf::actor seen;
  auto r = app.with_member(self, "w", 1s, [&](const caf::actor& m) {
    seen = m;
    CHECK(usage("w").in_use_count == 1);
    return 42;
  });
  static_assert(std::is_same_v<decltype(r), caf::expected<int>>);
  REQUIRE(r);
  CHECK(*r == 42);
  REQUIRE(free_becomes("w", 1));
  // The same member, still alive, serves the next call.
  auto again = app.with_member(self, "w", 1s,
                               [&](const caf::actor& m) { return m == seen; });
  REQUIRE(again);
  CHECK(*again);
  // A void fn gives expected<void>.
  auto v = app.with_member(self, "w", 1s, [](const caf::actor&) {});
  static_assert(std::is_same_v<decltype(v), caf::expected<void>>);
  CHECK(v);
  REQUIRE(eventually([&] { return count_of(*sink, "checkin", "w") == 3; }));
  CHECK(count_of(*sink, "killed_in_use", "w") == 0);
}

TEST_CASE_FIXTURE(fixture, "with_member returns fail when fn throws, and the member is replaced") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("w", 1, 1, sink)));
  caf::actor seen;
  auto r = app.with_member(self, "w", 1s, [&](const caf::actor& m) -> int {
    seen = m;
    throw std::runtime_error("disk on fire");
  });
  REQUIRE(!r);
  CHECK(r.error() == pooler::errc::function_threw);
  CHECK(pooler::error_subject(r.error()) == "w");
  CHECK(pooler::error_detail(r.error()) == "disk on fire");
  wait_down(seen);
  REQUIRE(free_becomes("w", 1));
  CHECK(app.pool_stats("w")->at(0).member != seen);
  CHECK(count_of(*sink, "killed_in_use", "w", "failed") == 1);
}

TEST_CASE_FIXTURE(fixture, "with_member flattens a fn returning expected") {
  REQUIRE(app.new_pool(pool("w", 1, 1)));
  auto ok = app.with_member(self, "w", 1s, [](const caf::actor&) {
    return caf::expected<std::string>{std::string{"fine"}};
  });
  static_assert(std::is_same_v<decltype(ok), caf::expected<std::string>>);
  REQUIRE(ok);
  CHECK(*ok == "fine");
  auto m = app.pool_stats("w")->at(0).member;
  auto err = app.with_member(self, "w", 1s, [](const caf::actor&) {
    return caf::expected<int>{caf::make_error(caf::sec::invalid_argument)};
  });
  static_assert(std::is_same_v<decltype(err), caf::expected<int>>);
  CHECK(err.error() == caf::sec::invalid_argument);
  // An error *value* is not a broken member: it went back ok.
  REQUIRE(free_becomes("w", 1));
  CHECK(app.pool_stats("w")->at(0).member == m);
}

TEST_CASE_FIXTURE(fixture, "with_member never leaks when the pool is exhausted") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("w", 1, 1, sink)));
  auto held = app.take_lease(self, "w", 1s);
  REQUIRE(held);
  bool called = false;
  auto now = app.with_member(self, "w", caf::timespan{0},
                             [&](const caf::actor&) { called = true; });
  CHECK(now.error() == errc::no_members);
  CHECK(pooler::error_detail(now.error()) == "at_capacity");
  auto waited = app.with_member(self, "w", 50ms,
                                [&](const caf::actor&) { called = true; });
  CHECK(waited.error() == errc::no_members);
  CHECK(pooler::error_detail(waited.error()) == "timeout");
  CHECK(!called);
  auto u = usage("w");
  CHECK(u.in_use_count == 1); // only the lease
  CHECK(u.queued_count == 0);
  held->release();
  REQUIRE(free_becomes("w", 1));
  CHECK(usage("w").in_use_count == 0);
  CHECK(live_in("w") == 1);
  CHECK(count_of(*sink, "take_timeout", "w") == 1);
}

// -- take_lease --------------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a lease is returned on scope exit") {
  REQUIRE(app.new_pool(pool("l", 1, 1)));
  caf::actor m;
  {
    auto l = app.take_lease(self, "l", 1s);
    REQUIRE(l);
    m = l->member();
    CHECK(usage("l").in_use_count == 1);
  }
  REQUIRE(free_becomes("l", 1));
  CHECK(app.pool_stats("l")->at(0).member == m);
}

TEST_CASE_FIXTURE(fixture, "a lease is returned ok while an exception unwinds") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("l", 1, 1, sink)));
  caf::actor m;
  try {
    auto l = app.take_lease(self, "l", 1s);
    REQUIRE(l);
    m = l->member();
    throw std::runtime_error("unwinding");
  } catch (const std::runtime_error&) {
    // expected
  }
  REQUIRE(free_becomes("l", 1));
  CHECK(app.pool_stats("l")->at(0).member == m);
  CHECK(count_of(*sink, "killed_in_use", "l") == 0);
}

TEST_CASE_FIXTURE(fixture, "a failed lease has its member replaced") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("l", 1, 1, sink)));
  caf::actor m;
  {
    auto l = app.take_lease(self, "l", 1s);
    REQUIRE(l);
    m = l->member();
    l->fail();
  }
  wait_down(m);
  REQUIRE(free_becomes("l", 1));
  CHECK(app.pool_stats("l")->at(0).member != m);
  CHECK(count_of(*sink, "killed_in_use", "l", "failed") == 1);
}

TEST_CASE_FIXTURE(fixture, "leases move: exactly one return per member") {
  auto sink = std::make_shared<memory_sink>();
  REQUIRE(app.new_pool(observed("l", 2, 2, sink)));
  auto a = app.take_lease(self, "l", 1s);
  auto b = app.take_lease(self, "l", 1s);
  REQUIRE(a);
  REQUIRE(b);
  auto ma = a->member();
  {
    pooler::lease moved{std::move(*a)};
    CHECK(moved.member() == ma);
    a = caf::error{}; // destroys the moved-from lease: no return
    CHECK(usage("l").in_use_count == 2);
    // Move assignment returns the member the target held.
    moved = std::move(*b);
    REQUIRE(eventually([&] { return usage("l").free_count == 1; }));
    CHECK(usage("l").in_use_count == 1);
  }
  REQUIRE(free_becomes("l", 2));
  REQUIRE(eventually([&] { return count_of(*sink, "checkin", "l") == 2; }));
  CHECK(count_of(*sink, "killed_in_use", "l") == 0);
}

// -- configuration files ---------------------------------------------------------------

namespace {

/// A config like an application's: pooler added, a member type by name.
struct file_config : caf::actor_system_config {
  file_config() {
    pooler::add_to(*this);
    add_actor_type("obs_member", member);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A temporary file, removed at the end of the scope.
struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& text) {
    path = std::filesystem::temp_directory_path()
           / ("pooler-obs-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter()++) + ".conf");
    std::ofstream{path} << text;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

/// Parses `path` as caf-application.conf with an empty command line.
caf::error parse(caf::actor_system_config& cfg, const std::string& path) {
  char prog[] = "test_observability";
  char* argv[] = {prog, nullptr};
  return cfg.parse(1, argv, path.c_str());
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace

TEST_CASE("app::start starts the pools of caf-application.conf") {
  temp_file file{R"(; two pools
[pooler]
pools=[{name="alpha", init-count=2, max-count=4, start="obs_member", args=[1],
        group="g"},
       {name="beta", init-count=1, max-count=2, start="obs_member", args=[2],
        cull-interval=500ms, max-age=1s}]
)"};
  file_config cfg;
  REQUIRE(!parse(cfg, file.path.string()));
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys);
  REQUIRE(app);
  CHECK(app->pool_names() == std::vector<std::string>{"alpha", "beta"});
  CHECK(app->pool_utilization("alpha")->free_count == 2);
  CHECK(app->pool_utilization("beta")->free_count == 1);
  CHECK(app->group_pools("g") == std::vector<std::string>{"alpha"});
  CHECK(app->pool_config_of("beta")->cull_interval == 500ms);
  app->stop();
  CHECK(eventually([] { return live_members.load() == 0; }));
}

TEST_CASE("app::start fails on an invalid element, naming index, pool and key") {
  temp_file file{R"([pooler]
pools=[{name="good", init-count=1, max-count=2, start="obs_member", args=[1]},
       {name="bad", init-count="x", max-count=2, start="obs_member"}]
)"};
  file_config cfg;
  REQUIRE(!parse(cfg, file.path.string()));
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys);
  REQUIRE(!app);
  CHECK(app.error() == errc::invalid_config);
  CHECK(pooler::error_subject(app.error()) == "bad");
  auto detail = pooler::error_detail(app.error());
  CAPTURE(detail);
  CHECK(detail.find("pools[1]") != std::string::npos);
  CHECK(detail.find("init-count") != std::string::npos);
  CHECK(eventually([] { return live_members.load() == 0; }));
}

TEST_CASE("app::start rejects an unknown member type naming the pool") {
  temp_file file{R"([pooler]
pools=[{name="odd", init-count=1, max-count=2, start="no_such_type"}]
)"};
  file_config cfg;
  REQUIRE(!parse(cfg, file.path.string()));
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys);
  REQUIRE(!app);
  CHECK(app.error() == errc::invalid_config);
  CHECK(pooler::error_subject(app.error()) == "odd");
  CHECK(pooler::error_detail(app.error()).find("pools[0]") != std::string::npos);
  CHECK(pooler::error_detail(app.error()).find("start") != std::string::npos);
}

TEST_CASE("pools from JSON start with app::start(sys, pools)") {
  auto pools = pooler::pools_from_json(std::string_view{R"({"pools": [
    {"name": "j1", "init-count": 1, "max-count": 3, "start": "obs_member",
     "args": [5], "max-age": "2s"},
    {"name": "j2", "init_count": 2, "max_count": 2, "start": "obs_member",
     "args": [6], "member_order": "fifo"}]})"});
  REQUIRE(pools);
  REQUIRE(pools->size() == 2);
  file_config cfg;
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys, *pools);
  REQUIRE(app);
  CHECK(app->pool_names() == std::vector<std::string>{"j1", "j2"});
  CHECK(app->pool_utilization("j2")->free_count == 2);
  CHECK(app->pool_config_of("j2")->member_order == pooler::member_order::fifo);
  caf::scoped_actor self{sys};
  auto m = app->take_member(self, "j1");
  REQUIRE(m);
  app->return_member("j1", *m);
  app->stop();
  CHECK(eventually([] { return live_members.load() == 0; }));
}

// -- the demo's config file (config/caf-application.conf) ------------------------------

namespace {

using work_atom = caf::atom_constant<caf::atom("work")>;

/// Stands in for the demo's member type: same name and argument types.
caf::behavior demo_worker(caf::stateful_actor<member_state>*, int64_t) {
  return {
    [](caf::ping_atom) { return caf::ok_atom::value; },
    [](work_atom, int64_t x) { return x; },
  };
}

/// The demo's registrations: an actor type and a process-member type whose
/// `args` extend argv (python3 <script> in the source directory).
struct demo_config : caf::actor_system_config {
  demo_config() {
    pooler::add_to(*this);
    add_actor_type("demo_worker", demo_worker);
    pooler::process_spec py;
    py.argv = {"python3"};
    py.working_dir = POOLER_SOURCE_DIR;
    pooler::add_process_member_type(*this, "python_worker", py);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

} // namespace

TEST_CASE("the demo's caf-application.conf parses and its pools start") {
  auto path = std::string{POOLER_SOURCE_DIR} + "/config/caf-application.conf";
  auto pools = pooler::pools_from_ini(read_file(path));
  REQUIRE(pools);
  REQUIRE(pools->size() >= 2);
  // The demo registers the sink its pools name (`metrics="demo"`).
  auto sink = std::make_shared<memory_sink>();
  pooler::register_metrics_sink("demo", sink);
  demo_config cfg;
  REQUIRE(!parse(cfg, path));
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys);
  if (!app)
    FAIL(sys.render(app.error()));
  CHECK(app->pool_names().size() == pools->size());
  for (auto& p : *pools) {
    CAPTURE(p.name);
    auto u = app->pool_utilization(p.name);
    REQUIRE(u);
    CHECK(u->free_count == p.init_count);
  }
  // A process member from the config answers a call.
  caf::scoped_actor self{sys};
  auto answer = app->with_member(
    self, "python", 5s, [&](const caf::actor& m) -> caf::expected<std::string> {
      caf::expected<std::string> res{caf::sec::none};
      self->request(m, 5s, pooler::process_call_atom::value,
                    std::string{"add"}, std::string{"[1, 2]"})
        .receive([&](std::string& x) { res = std::move(x); },
                 [&](caf::error& e) { res = std::move(e); });
      return res;
    });
  REQUIRE(answer);
  CHECK(*answer == "3");
  CHECK(count_of(*sink, "take", "python") == 1);
  app->stop();
  pooler::register_metrics_sink("demo", nullptr);
  CHECK(eventually([] { return live_members.load() == 0; }));
}

TEST_CASE("a process-member type by name: args extend argv, bad args fail the spawn") {
  demo_config cfg;
  caf::actor_system sys{cfg};
  auto m = sys.spawn<caf::actor>(
    "python_worker", caf::make_message(std::string{"examples/python_worker.py"}));
  REQUIRE(m);
  caf::scoped_actor self{sys};
  self->request(*m, 5s, pooler::process_call_atom::value, std::string{"echo"},
                std::string{"\"hi\""})
    .receive([](std::string& x) { CHECK(x == "\"hi\""); },
             [&](caf::error& e) { FAIL(sys.render(e)); });
  self->send_exit(*m, caf::exit_reason::kill);
  ::setenv("POOLER_QUIET", "1", 0);
  auto bad = sys.spawn<caf::actor>("python_worker", caf::make_message(1.5));
  CHECK(bad.error() == caf::sec::cannot_spawn_actor_from_arguments);
}
