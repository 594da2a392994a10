// pooler's metrics on /metrics, served by prometheus-cpp's Exposer: the way a
// C++ service that already uses prometheus-cpp exposes its pools.
//
//   metrics_endpoint [--port=9464] [--seconds=30]
//   curl http://127.0.0.1:9464/metrics
//
// A pool of echo members under a steady load of take/return pairs, some of
// which fail, so that counters, gauges and histograms all move. The port
// defaults to 0: the system picks a free one, printed at start.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "pooler/pooler.hpp"
#include "pooler/prometheus_cpp_sink.hpp"

namespace {

using namespace std::chrono_literals;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

struct config : caf::actor_system_config {
  uint16_t port = 0;
  size_t seconds = 30;

  config() {
    pooler::add_to(*this);
    opt_group{custom_options_, "global"}
      .add(port, "port", "port on 127.0.0.1 for /metrics (0: any free one)")
      .add(seconds, "seconds", "how long to serve");
  }
};

caf::behavior echo_member(caf::event_based_actor*) {
  return {[](ping_atom) { return ping_atom::value; }};
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "metrics_endpoint: %s\n", cfg.render(err).c_str());
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  // The service's own registry and exposer; pooler adds its families.
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Exposer exposer{"127.0.0.1:" + std::to_string(cfg.port)};
  exposer.RegisterCollectable(registry);
  auto sink = std::make_shared<pooler::prometheus_cpp_sink>(registry);
  caf::actor_system sys{cfg};
  pooler::pool_config workers;
  workers.name = "workers";
  workers.init_count = 2;
  workers.max_count = 4;
  workers.sink = sink;
  workers.start = pooler::member_factory::function(
    [](caf::actor_system& s) -> caf::expected<caf::actor> {
      return s.spawn(echo_member);
    });
  auto app = pooler::app::start(sys, {workers});
  if (!app) {
    std::fprintf(stderr, "metrics_endpoint: %s\n",
                 sys.render(app.error()).c_str());
    return 2;
  }
  std::printf("serving pooler's metrics on http://127.0.0.1:%d/metrics for "
              "%zu s\n",
              exposer.GetListeningPorts().at(0), cfg.seconds);
  std::fflush(stdout);
  caf::scoped_actor self{sys};
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.seconds);
  for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
    auto m = app->take_member(self, "workers", 100ms);
    if (!m)
      continue;
    // Every tenth use fails: the member is replaced.
    auto status = i % 10 == 9 ? pooler::member_status::fail
                              : pooler::member_status::ok;
    app->return_member("workers", *m, status);
    std::this_thread::sleep_for(10ms);
  }
  app->stop();
  return 0;
}
