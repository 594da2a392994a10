// The prometheus-cpp sink: pooler's series in a prometheus-cpp registry, and
// served on /metrics by prometheus-cpp's Exposer, scraped over loopback.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "pool_fixture.hpp"
#include "pooler/prometheus_cpp_sink.hpp"

using namespace test;
using pooler::metric_type;

namespace {

std::string serialized(prometheus::Registry& registry) {
  return prometheus::TextSerializer{}.Serialize(registry.Collect());
}

/// The samples of an exposition text: `name{labels}` -> value, labels as
/// printed.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::optional<double> sample(const std::map<std::string, double>& xs,
                             const std::string& key) {
  auto i = xs.find(key);
  if (i == xs.end())
    return std::nullopt;
  return i->second;
}

/// GET `path` from 127.0.0.1:`port` over a plain socket (HTTP/1.0: the
/// server closes when done); the body, or nothing on any failure or after
/// 5 s.
std::optional<std::string> http_get(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return std::nullopt;
  std::string text;
  bool done = false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
      && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
           == static_cast<ssize_t>(request.size())) {
    auto deadline = clock::now() + 5s;
    while (clock::now() < deadline) {
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 100) < 0)
        break;
      char chunk[4096];
      auto n = ::recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n == 0) {
        done = true;
        break;
      }
      if (n > 0)
        text.append(chunk, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  auto body = text.find("\r\n\r\n");
  if (!done || text.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos)
    return std::nullopt;
  return text.substr(body + 4);
}

} // namespace

// -- the sink and a registry ----------------------------------------------------------

TEST_CASE("the sink adds pooler's series to a registry, named as the text sink "
          "names them") {
  auto registry = std::make_shared<prometheus::Registry>();
  pooler::prometheus_cpp_sink sink{registry};
  CHECK(sink.registry() == registry);
  // Families are registered, series appear on their first update.
  CHECK(samples(serialized(*registry)).empty());
  sink.counter("take", "p1", {}, 1);
  sink.counter("take", "p1", {}, 2);
  sink.counter("killed_free", "p1", {{"reason", "crashed"}}, 1);
  sink.gauge("free", "p1", {}, 4);
  sink.gauge("free", "p1", {}, 2);
  sink.histogram("lease_seconds", "p2", {}, 0.003);
  sink.histogram("lease_seconds", "p2", {}, 7);
  auto text = serialized(*registry);
  auto xs = samples(text);
  CAPTURE(text);
  CHECK(sample(xs, "pooler_take_total{pool=\"p1\"}") == 3);
  CHECK(sample(xs, "pooler_killed_free_total{pool=\"p1\",reason=\"crashed\"}")
        == 1);
  CHECK(sample(xs, "pooler_free{pool=\"p1\"}") == 2);
  CHECK(sample(xs, "pooler_lease_seconds_count{pool=\"p2\"}") == 2);
  CHECK(sample(xs, "pooler_lease_seconds_sum{pool=\"p2\"}") == 7.003);
  CHECK(sample(xs, "pooler_lease_seconds_bucket{pool=\"p2\",le=\"0.005\"}")
        == 1);
  CHECK(sample(xs, "pooler_lease_seconds_bucket{pool=\"p2\",le=\"10\"}") == 2);
  CHECK(sample(xs, "pooler_lease_seconds_bucket{pool=\"p2\",le=\"+Inf\"}")
        == 2);
  CHECK(text.find("# HELP pooler_take_total Take requests") != std::string::npos);
  CHECK(text.find("# TYPE pooler_free gauge") != std::string::npos);
}

TEST_CASE("the sink ignores what metrics() does not declare") {
  auto registry = std::make_shared<prometheus::Registry>();
  pooler::prometheus_cpp_sink sink{registry};
  sink.counter("no_such_metric", "p1", {}, 1);
  sink.gauge("take", "p1", {}, 1); // a counter
  sink.counter("killed_free", "p1", {{"reason", "boredom"}}, 1);
  sink.counter("killed_free", "p1", {}, 1);             // label missing
  sink.counter("take", "p1", {{"reason", "crashed"}}, 1); // label extra
  sink.bind(metric_type::counter, "no_such_metric", "p1")->record(1);
  sink.bind(metric_type::gauge, "take", "p1")->record(1);
  sink.bind(metric_type::counter, "killed_free", "p1")->record(1);
  CHECK(samples(serialized(*registry)).empty());
}

TEST_CASE("bound series of the sink update their registry series") {
  auto registry = std::make_shared<prometheus::Registry>();
  pooler::prometheus_cpp_sink sink{registry};
  auto take = sink.bind(metric_type::counter, "take", "p1");
  auto free = sink.bind(metric_type::gauge, "free", "p1");
  auto lease = sink.bind(metric_type::histogram, "lease_seconds", "p1");
  for (int i = 0; i < 5; ++i)
    take->record(1);
  free->record(3);
  lease->record(0.5);
  sink.counter("take", "p1", {}, 1); // by name: the same series
  auto xs = samples(serialized(*registry));
  CHECK(sample(xs, "pooler_take_total{pool=\"p1\"}") == 6);
  CHECK(sample(xs, "pooler_free{pool=\"p1\"}") == 3);
  CHECK(sample(xs, "pooler_lease_seconds_count{pool=\"p1\"}") == 1);
}

TEST_CASE("two sinks on one registry share its families") {
  auto registry = std::make_shared<prometheus::Registry>();
  pooler::prometheus_cpp_sink a{registry};
  pooler::prometheus_cpp_sink b{registry};
  a.counter("take", "p1", {}, 1);
  b.counter("take", "p1", {}, 1);
  b.counter("take", "p2", {}, 1);
  auto xs = samples(serialized(*registry));
  CHECK(sample(xs, "pooler_take_total{pool=\"p1\"}") == 2);
  CHECK(sample(xs, "pooler_take_total{pool=\"p2\"}") == 1);
}

TEST_CASE("a registry holding one of pooler's names with another type is "
          "refused") {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("pooler_take_total").Register(*registry);
  CHECK_THROWS_AS(pooler::prometheus_cpp_sink{registry}, std::invalid_argument);
}

// -- served by prometheus-cpp's Exposer ------------------------------------------

TEST_CASE_FIXTURE(fixture, "a pool's metrics are served on /metrics by "
                           "prometheus-cpp's Exposer") {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Exposer exposer{"127.0.0.1:0"};
  exposer.RegisterCollectable(registry);
  auto ports = exposer.GetListeningPorts();
  REQUIRE(ports.size() == 1);
  auto port = static_cast<uint16_t>(ports[0]);
  auto cfg = pool("served", 2, 3);
  cfg.sink = std::make_shared<pooler::prometheus_cpp_sink>(registry);
  REQUIRE(app.new_pool(cfg));
  for (int i = 0; i < 3; ++i)
    app.return_member("served", *app.take_member(self, "served"));
  auto held = app.take_member(self, "served");
  REQUIRE(held);
  std::map<std::string, double> xs;
  // Gauges are published as the pool handles the returns: scrape until the
  // pool has settled.
  auto scraped = eventually([&] {
    auto body = http_get(port, "/metrics");
    if (!body)
      return false;
    xs = samples(*body);
    return sample(xs, "pooler_checkin_total{pool=\"served\"}") == 3
           && sample(xs, "pooler_in_use{pool=\"served\"}") == 1;
  });
  CAPTURE(xs.size());
  REQUIRE(scraped);
  CHECK(sample(xs, "pooler_take_total{pool=\"served\"}") == 4);
  CHECK(sample(xs, "pooler_free{pool=\"served\"}") == 1);
  CHECK(sample(xs, "pooler_member_start_seconds_count{pool=\"served\"}") == 2);
  CHECK(sample(xs, "pooler_checkout_wait_seconds_count{pool=\"served\"}") == 4);
  CHECK(sample(xs, "pooler_lease_seconds_count{pool=\"served\"}") == 3);
  CHECK(!http_get(port, "/nothing-here"));
  app.return_member("served", *held);
}
