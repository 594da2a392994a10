// Metrics: descriptors, the built-in sinks, the sink registry.

#include <doctest/doctest.h>

#include <map>
// GCC 12 with -fsanitize=address reports a false -Wmaybe-uninitialized
// inside libstdc++'s regex compiler; the warning is located in the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pooler/metrics.hpp"

using pooler::metric_type;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

// Runs `body(t)` on 4 threads at once, t = 0..3, and joins them.
template <class F>
void on_four_threads(F body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back(body, t);
  for (auto& t : threads)
    t.join();
}

// Feeds one of every declared metric and label value into `sink`.
void emit_everything(pooler::metrics_sink& sink, std::string_view pool) {
  for (auto& d : pooler::metrics()) {
    auto emit = [&](pooler::metric_labels labels) {
      switch (d.type) {
        case metric_type::counter: sink.counter(d.name, pool, labels, 1); break;
        case metric_type::gauge: sink.gauge(d.name, pool, labels, 3); break;
        case metric_type::histogram:
          sink.histogram(d.name, pool, labels, 0.003);
          break;
      }
    };
    if (d.labels.empty())
      emit({});
    for (auto& [label, values] : d.labels)
      for (auto& v : values)
        emit({{label, v}});
  }
}

} // namespace

// -- descriptors --------------------------------------------------------------

TEST_CASE("metrics() declares every metric a pool emits, with its type") {
  std::map<std::string, metric_type> want = {
    {"take", metric_type::counter},
    {"free", metric_type::gauge},
    {"in_use", metric_type::gauge},
    {"starting", metric_type::gauge},
    {"stopping", metric_type::gauge},
    {"queue", metric_type::gauge},
    {"error_no_members", metric_type::counter},
    {"killed_free", metric_type::counter},
    {"killed_in_use", metric_type::counter},
    {"queue_max_reached", metric_type::counter},
    {"starting_member_timeout", metric_type::counter},
    {"start_failed", metric_type::counter},
    {"checkin", metric_type::counter},
    {"take_timeout", metric_type::counter},
    {"checkout_wait_seconds", metric_type::histogram},
    {"lease_seconds", metric_type::histogram},
    {"member_start_seconds", metric_type::histogram},
  };
  std::map<std::string, metric_type> have;
  for (auto& d : pooler::metrics()) {
    CHECK_MESSAGE(have.emplace(d.name, d.type).second, "duplicate " << d.name);
    CHECK_MESSAGE(!d.help.empty(), d.name);
  }
  CHECK(have == want);
}

TEST_CASE("metric labels declare every reason value") {
  using labels = std::map<std::string, std::vector<std::string>>;
  auto labels_of = [](const char* name) {
    auto d = pooler::find_metric(name);
    REQUIRE(d != nullptr);
    return d->labels;
  };
  CHECK(labels_of("error_no_members")
        == labels{
          {"reason", {"at_capacity", "all_in_use", "queue_full", "timeout"}}});
  CHECK(labels_of("killed_free")
        == labels{
          {"reason",
           {"crashed", "max_age", "max_lifetime", "reconfigured", "failed"}}});
  CHECK(labels_of("killed_in_use")
        == labels{{"reason", {"crashed", "failed", "max_lifetime"}}});
  for (auto& d : pooler::metrics())
    if (d.name != "error_no_members" && d.name != "killed_free"
        && d.name != "killed_in_use")
      CHECK_MESSAGE(d.labels.empty(), d.name);
}

TEST_CASE("find_metric finds declared names only") {
  REQUIRE(pooler::find_metric("take") != nullptr);
  CHECK(pooler::find_metric("take")->type == metric_type::counter);
  CHECK(pooler::find_metric("nope") == nullptr);
  CHECK(pooler::find_metric("") == nullptr);
}

TEST_CASE("metric types render by name") {
  CHECK(pooler::to_string(metric_type::counter) == "counter");
  CHECK(pooler::to_string(metric_type::gauge) == "gauge");
  CHECK(pooler::to_string(metric_type::histogram) == "histogram");
}

// -- memory_sink --------------------------------------------------------------

TEST_CASE("memory_sink records events in order") {
  pooler::memory_sink sink;
  sink.counter("take", "p1", {}, 1);
  sink.gauge("free", "p1", {}, 4);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  sink.histogram("lease_seconds", "p2", {}, 0.5);
  auto evs = sink.events();
  REQUIRE(evs.size() == 4);
  CHECK(evs[0].type == metric_type::counter);
  CHECK(evs[0].name == "take");
  CHECK(evs[0].pool == "p1");
  CHECK(evs[0].value == 1);
  CHECK(evs[2].labels
        == std::map<std::string, std::string>{{"reason", "crashed"}});
  CHECK(evs[3].type == metric_type::histogram);
  CHECK(evs[3].pool == "p2");
  CHECK(sink.names()
        == std::vector<std::string>{"take", "free", "killed_free",
                                    "lease_seconds"});
}

TEST_CASE("memory_sink sums counters, with or without labels") {
  pooler::memory_sink sink;
  sink.counter("take", "p1", {}, 1);
  sink.counter("take", "p1", {}, 2);
  sink.counter("take", "p2", {}, 5);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  sink.counter("killed_free", "p1", {{"reason", "max_age"}}, 2);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  CHECK(sink.counter_value("take", "p1") == 3);
  CHECK(sink.counter_value("take", "p2") == 5);
  CHECK(sink.counter_value("take", "p3") == 0);
  CHECK(sink.counter_value("killed_free", "p1") == 4);
  CHECK(sink.counter_value("killed_free", "p1", {{"reason", "crashed"}}) == 2);
  CHECK(sink.counter_value("killed_free", "p1", {{"reason", "failed"}}) == 0);
}

TEST_CASE("memory_sink keeps the last gauge value, -1 if never set") {
  pooler::memory_sink sink;
  CHECK(sink.gauge_value("free", "p1") == -1);
  sink.gauge("free", "p1", {}, 4);
  sink.gauge("free", "p1", {}, 2);
  sink.gauge("free", "p2", {}, 9);
  CHECK(sink.gauge_value("free", "p1") == 2);
  CHECK(sink.gauge_value("free", "p2") == 9);
}

TEST_CASE("memory_sink keeps histogram observations, and clears") {
  pooler::memory_sink sink;
  sink.histogram("lease_seconds", "p1", {}, 0.25);
  sink.histogram("lease_seconds", "p1", {}, 1.5);
  sink.histogram("lease_seconds", "p2", {}, 9);
  CHECK(sink.histogram_values("lease_seconds", "p1")
        == std::vector<double>{0.25, 1.5});
  sink.clear();
  CHECK(sink.events().empty());
  CHECK(sink.histogram_values("lease_seconds", "p1").empty());
}

TEST_CASE("memory_sink is thread-safe") {
  pooler::memory_sink sink{1000};
  on_four_threads([&](int) {
    for (int i = 0; i < 5000; ++i)
      sink.counter("take", "p1", {}, 1);
  });
  CHECK(sink.counter_value("take", "p1") == 20000);
  CHECK(sink.events().size() == 1000);
}

TEST_CASE("memory_sink keeps the last events only, and aggregates all") {
  pooler::memory_sink sink{3, 2};
  for (int i = 1; i <= 10; ++i) {
    sink.counter("take", "p1", {}, 1);
    sink.histogram("lease_seconds", "p1", {}, i);
  }
  sink.gauge("free", "p1", {}, 7);
  auto evs = sink.events();
  REQUIRE(evs.size() == 3);
  CHECK(evs[0].name == "take");
  CHECK(evs[1].name == "lease_seconds");
  CHECK(evs[1].value == 10);
  CHECK(evs[2].name == "free");
  CHECK(sink.counter_value("take", "p1") == 10);
  CHECK(sink.gauge_value("free", "p1") == 7);
  CHECK(sink.histogram_values("lease_seconds", "p1")
        == std::vector<double>{9, 10});
  CHECK(sink.histogram_count("lease_seconds", "p1") == 10);
  CHECK(sink.histogram_sum("lease_seconds", "p1") == 55);
  CHECK(sink.histogram_count("lease_seconds", "p2") == 0);
  CHECK(sink.names()
        == std::vector<std::string>{"take", "lease_seconds", "free"});
}

TEST_CASE("memory_sink's memory stays flat under a stream of calls") {
  // The defect: every call appended an event forever (1.7 MB/s in a soak).
  pooler::memory_sink sink{100, 10};
  auto burst = [&] {
    for (int i = 0; i < 1000; ++i) {
      sink.counter("take", "p1", {}, 1);
      sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
      sink.gauge("free", "p1", {}, i);
      sink.histogram("lease_seconds", "p1", {}, 0.001);
    }
  };
  burst();
  auto events = sink.events().size();
  auto observations = sink.histogram_values("lease_seconds", "p1").size();
  burst();
  CHECK(sink.events().size() == events);
  CHECK(events == 100);
  CHECK(sink.histogram_values("lease_seconds", "p1").size() == observations);
  CHECK(observations == 10);
  CHECK(sink.counter_value("killed_free", "p1", {{"reason", "crashed"}})
        == 2000);
  CHECK(sink.histogram_count("lease_seconds", "p1") == 2000);
}

TEST_CASE("memory_sink: the last gauge set wins, whatever its labels") {
  pooler::memory_sink sink;
  sink.gauge("free", "p1", {{"a", "x"}}, 1);
  sink.gauge("free", "p1", {{"a", "y"}}, 2);
  sink.gauge("free", "p1", {{"a", "x"}}, 3);
  CHECK(sink.gauge_value("free", "p1") == 3);
}

// -- json_lines_sink ----------------------------------------------------------

TEST_CASE("json_lines_sink writes one JSON object per line") {
  std::ostringstream out;
  pooler::json_lines_sink sink{out};
  sink.counter("take", "p1", {}, 1);
  sink.counter("killed_free", "p1", {{"reason", "max_age"}}, 1);
  sink.gauge("free", "p2", {}, 4);
  sink.histogram("lease_seconds", "p1", {}, 0.25);
  auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 4);
  CHECK(
    lines[0]
    == R"({"labels":{},"name":"take","pool":"p1","type":"counter","value":1})");
  auto j = nlohmann::json::parse(lines[1]);
  CHECK(j["labels"]["reason"] == "max_age");
  CHECK(nlohmann::json::parse(lines[2])["type"] == "gauge");
  auto h = nlohmann::json::parse(lines[3]);
  CHECK(h["type"] == "histogram");
  CHECK(h["value"] == 0.25);
}

TEST_CASE("json_lines_sink survives hostile pool names") {
  std::ostringstream out;
  pooler::json_lines_sink sink{out};
  CHECK_NOTHROW(sink.counter("take", "bad\xff\"utf8\n", {}, 1));
  auto lines = lines_of(out.str());
  REQUIRE(lines.size() == 1);
  CHECK_NOTHROW(nlohmann::json::parse(lines[0]));
}

// -- prometheus_sink ----------------------------------------------------------

TEST_CASE("prometheus_sink sums counters and keeps the last gauge") {
  pooler::prometheus_sink sink;
  sink.counter("take", "p1", {}, 1);
  sink.counter("take", "p1", {}, 2);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  sink.gauge("free", "p1", {}, 7);
  sink.gauge("free", "p1", {}, 4);
  sink.gauge("free", "p2", {}, 1.5);
  auto text = sink.render();
  CHECK(contains(text, "# HELP pooler_take_total Take requests, served or "
                       "not (pooler's take_rate).\n"
                       "# TYPE pooler_take_total counter\n"
                       "pooler_take_total{pool=\"p1\"} 3\n"));
  CHECK(contains(text, "pooler_killed_free_total{pool=\"p1\","
                       "reason=\"crashed\"} 2\n"));
  CHECK(!contains(text, "reason=\"max_age\""));
  CHECK(contains(text, "# TYPE pooler_free gauge\n"
                       "pooler_free{pool=\"p1\"} 4\n"
                       "pooler_free{pool=\"p2\"} 1.5\n"));
  CHECK(!contains(text, "pooler_in_use"));
}

TEST_CASE("prometheus_sink aggregates histograms into cumulative buckets") {
  pooler::prometheus_sink sink;
  sink.histogram("lease_seconds", "p1", {}, 0.00005);
  sink.histogram("lease_seconds", "p1", {}, 0.001);
  sink.histogram("lease_seconds", "p1", {}, 0.3);
  sink.histogram("lease_seconds", "p1", {}, 60);
  auto text = sink.render();
  CHECK(contains(text, "# TYPE pooler_lease_seconds histogram\n"));
  auto bucket = [](const char* le, int n) {
    return "pooler_lease_seconds_bucket{pool=\"p1\",le=\"" + std::string{le}
           + "\"} " + std::to_string(n) + "\n";
  };
  CHECK(contains(text, bucket("0.0001", 1)));
  CHECK(contains(text, bucket("0.0005", 1)));
  CHECK(contains(text, bucket("0.001", 2)));
  CHECK(contains(text, bucket("0.25", 2)));
  CHECK(contains(text, bucket("0.5", 3)));
  CHECK(contains(text, bucket("10", 3)));
  CHECK(contains(text, bucket("+Inf", 4)));
  auto sum_at = text.find("pooler_lease_seconds_sum{pool=\"p1\"} ");
  REQUIRE(sum_at != std::string::npos);
  CHECK(std::stod(text.substr(sum_at + 36)) == doctest::Approx(60.30105));
  CHECK(contains(text, "pooler_lease_seconds_count{pool=\"p1\"} 4\n"));
  auto& bounds = pooler::prometheus_sink::bucket_bounds();
  CHECK(bounds.front() == 0.0001);
  CHECK(bounds.back() == 10);
}

TEST_CASE("prometheus render follows the text exposition format") {
  pooler::prometheus_sink sink;
  emit_everything(sink, "p1");
  emit_everything(sink, "odd \"pool\"\\name\n");
  auto text = sink.render();
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const std::string name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const std::string label
    = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\"\\\\n])*\"";
  const std::string number
    = "(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|Inf)|NaN)";
  std::regex help{"# HELP (" + name + ") [^\\n]*"};
  std::regex type{"# TYPE (" + name + ") (counter|gauge|histogram)"};
  std::regex sample{"(" + name + ")\\{" + label + "(?:," + label + ")*\\} "
                    + number};
  std::set<std::string> typed;
  std::set<std::string> families;
  std::string current;
  for (auto& line : lines_of(text)) {
    CAPTURE(line);
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      current = m[1];
      CHECK(families.insert(current).second); // one HELP per family
    } else if (std::regex_match(line, m, type)) {
      CHECK(m[1] == current);
      typed.insert(current);
    } else {
      REQUIRE(std::regex_match(line, m, sample));
      // Samples belong to the family announced last (histograms add
      // _bucket, _sum and _count).
      std::string series = m[1];
      CHECK(typed.count(current) == 1);
      CHECK((series == current || series == current + "_bucket"
             || series == current + "_sum" || series == current + "_count"));
      CHECK(series.rfind("pooler_", 0) == 0);
    }
  }
  // Every declared metric was emitted, so every one is rendered.
  CHECK(families.size() == pooler::metrics().size());
  CHECK(families.count("pooler_take_total") == 1);
  CHECK(families.count("pooler_lease_seconds") == 1);
}

TEST_CASE("prometheus_sink escapes label values") {
  pooler::prometheus_sink sink;
  sink.counter("take", "a\"b\\c\nd", {}, 1);
  CHECK(
    contains(sink.render(), "pooler_take_total{pool=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST_CASE("prometheus_sink ignores undeclared names, labels and types") {
  pooler::prometheus_sink sink;
  sink.counter("no_such_metric", "p1", {}, 1);
  sink.counter("killed_free", "p1", {{"reason", "no_such_reason"}}, 1);
  sink.counter("killed_free", "p1", {{"cause", "crashed"}}, 1);
  sink.counter("killed_free", "p1", {}, 1);
  sink.counter("take", "p1", {{"reason", "crashed"}}, 1);
  sink.gauge("take", "p1", {}, 1);
  CHECK(sink.render().empty());
}

TEST_CASE("prometheus_sink is thread-safe, by name and through bound series") {
  pooler::prometheus_sink sink;
  on_four_threads([&](int t) {
    auto pool = "p" + std::to_string(t % 2);
    auto take = sink.bind(metric_type::counter, "take", pool);
    auto lease = sink.bind(metric_type::histogram, "lease_seconds", pool);
    for (int i = 0; i < 5000; ++i) {
      // Named calls and bound series update the same slots at once.
      sink.counter("take", pool, {}, 1);
      take->record(1);
      sink.histogram("lease_seconds", pool, {}, 0.5);
      lease->record(0.5); // 0.5 is exact in binary, and so is the sum
      if (i % 1000 == 0)
        sink.render();
    }
  });
  auto text = sink.render();
  CHECK(contains(text, "pooler_take_total{pool=\"p0\"} 20000\n"));
  CHECK(contains(text, "pooler_take_total{pool=\"p1\"} 20000\n"));
  CHECK(contains(text, "pooler_lease_seconds_count{pool=\"p1\"} 20000\n"));
  CHECK(contains(text, "pooler_lease_seconds_sum{pool=\"p1\"} 10000\n"));
}

// -- bound series -------------------------------------------------------------

TEST_CASE("a bound prometheus series adds, sets and observes like the calls") {
  pooler::prometheus_sink sink;
  auto take = sink.bind(metric_type::counter, "take", "p1");
  auto free = sink.bind(metric_type::gauge, "free", "p1");
  auto lease = sink.bind(metric_type::histogram, "lease_seconds", "p1");
  // Binding alone emits nothing.
  CHECK(sink.render().empty());
  take->record(1);
  sink.counter("take", "p1", {}, 2); // the named call adds to the same series
  free->record(7);
  free->record(4);
  lease->record(0.001);
  lease->record(60);
  auto text = sink.render();
  CHECK(contains(text, "pooler_take_total{pool=\"p1\"} 3\n"));
  CHECK(contains(text, "pooler_free{pool=\"p1\"} 4\n"));
  CHECK(contains(text, "pooler_lease_seconds_bucket{pool=\"p1\",le=\"0.001\"} 1\n"));
  CHECK(contains(text, "pooler_lease_seconds_bucket{pool=\"p1\",le=\"+Inf\"} 2\n"));
  CHECK(contains(text, "pooler_lease_seconds_count{pool=\"p1\"} 2\n"));
  CHECK(!contains(text, "p2"));
}

TEST_CASE("a bound prometheus series of an undeclared metric is ignored") {
  pooler::prometheus_sink sink;
  sink.bind(metric_type::counter, "no_such_metric", "p1")->record(1);
  sink.bind(metric_type::gauge, "take", "p1")->record(1);      // wrong type
  sink.bind(metric_type::counter, "killed_free", "p1")->record(1); // labeled
  CHECK(sink.render().empty());
}

TEST_CASE("a sink without its own bind forwards bound updates by name") {
  pooler::memory_sink sink;
  sink.bind(metric_type::counter, "take", "p1")->record(2);
  sink.bind(metric_type::gauge, "free", "p1")->record(5);
  sink.bind(metric_type::histogram, "lease_seconds", "p2")->record(0.5);
  auto evs = sink.events();
  REQUIRE(evs.size() == 3);
  CHECK(evs[0].type == metric_type::counter);
  CHECK(evs[0].name == "take");
  CHECK(evs[0].pool == "p1");
  CHECK(evs[0].value == 2);
  CHECK(evs[0].labels.empty());
  CHECK(evs[1].type == metric_type::gauge);
  CHECK(sink.gauge_value("free", "p1") == 5);
  CHECK(sink.histogram_values("lease_seconds", "p2")
        == std::vector<double>{0.5});
}

// -- named sinks --------------------------------------------------------------

TEST_CASE("named sinks can be registered, found, replaced and removed") {
  CHECK(pooler::find_metrics_sink("test-sink") == nullptr);
  auto a = std::make_shared<pooler::memory_sink>();
  auto b = std::make_shared<pooler::prometheus_sink>();
  pooler::register_metrics_sink("test-sink", a);
  CHECK(pooler::find_metrics_sink("test-sink") == a);
  pooler::register_metrics_sink("test-sink", b);
  CHECK(pooler::find_metrics_sink("test-sink") == b);
  pooler::register_metrics_sink("test-sink", nullptr);
  CHECK(pooler::find_metrics_sink("test-sink") == nullptr);
}
