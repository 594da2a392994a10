// Example: a pool of Redis connections. Members are
// actors owning one hiredis connection each (redis_connection.hpp); the
// program SETs and GETs keys through the pool, from a blocking caller and
// from event-based consumers, then kills one connection with CLIENT KILL to
// show that the pool replaces a member that lost its connection.
//
//   redis_pool [--host=127.0.0.1] [--port=6379] [--connections=3]
//
// Exits 0 when every value read back is the value written.

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "pooler/pooler.hpp"
#include "redis_connection.hpp"

using namespace std::chrono_literals;
using redis_example::redis_cmd_atom;

namespace {

constexpr const char* pool_name = "redis";

struct example_config : caf::actor_system_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  size_t connections = 3;

  example_config() {
    pooler::add_to(*this);
    redis_example::add_to(*this);
    opt_group{custom_options_, "global"}
      .add(host, "host", "redis-server host (default 127.0.0.1)")
      .add(port, "port", "redis-server port (default 6379)")
      .add(connections, "connections", "connections in the pool (default 3)");
  }
};

using argv_t = std::vector<std::string>;

caf::expected<std::string> command(caf::scoped_actor& self,
                                   const caf::actor& conn, argv_t argv) {
  caf::expected<std::string> res{caf::sec::none};
  self->request(conn, 10s, redis_cmd_atom::value, std::move(argv))
    .receive([&](std::string& x) { res = std::move(x); },
             [&](caf::error& err) { res = std::move(err); });
  return res;
}

// One command on some connection of the pool, from a blocking caller.
caf::expected<std::string> pooled(pooler::app& app, caf::scoped_actor& self,
                                  argv_t argv) {
  return app.with_member(self, pool_name, 5s, [&](const caf::actor& conn) {
    return command(self, conn, std::move(argv));
  });
}

// An event-based consumer (the fast path): `rounds` times, takes a
// connection, INCRs the shared counter once and returns the connection (or
// returns it `fail` if the command failed).
caf::behavior incrementer(caf::event_based_actor* self, pooler::app app,
                          int rounds,
                          std::shared_ptr<std::atomic<int>> failures) {
  auto step = std::make_shared<std::function<void(int)>>();
  *step = [=](int left) mutable {
    if (left == 0) {
      self->quit();
      return;
    }
    app.take_member(
      self, pool_name, 5s,
      [=](caf::actor conn) mutable {
        self->request(conn, 5s, redis_cmd_atom::value,
                      argv_t{"INCR", "example:counter"})
          .then(
            [=](const std::string&) mutable {
              app.return_member(self, pool_name, conn);
              (*step)(left - 1);
            },
            [=](const caf::error&) mutable {
              ++*failures;
              app.return_member(self, pool_name, conn,
                                pooler::member_status::fail);
              (*step)(left - 1);
            });
      },
      [=](const caf::error&) mutable {
        ++*failures;
        (*step)(left - 1);
      });
  };
  (*step)(rounds);
  // The closure holds `step` itself: break the cycle when the actor ends.
  self->attach_functor([step] { *step = nullptr; });
  return {};
}

int run(caf::actor_system& sys, const example_config& cfg) {
  redis_example::redis_endpoint ep;
  ep.host = cfg.host;
  ep.port = cfg.port;
  pooler::pool_config pool;
  pool.name = pool_name;
  pool.init_count = cfg.connections;
  pool.max_count = cfg.connections;
  pool.start = redis_example::redis_connection_factory(ep);
  pool.initialize = redis_example::redis_ping_hook();
  pool.member_start_timeout = 5s;
  auto app = pooler::app::start(sys, {pool});
  if (!app) {
    std::fprintf(stderr, "redis_pool: %s\n", sys.render(app.error()).c_str());
    return 1;
  }
  int problems = 0;
  caf::scoped_actor self{sys};
  auto u = app->pool_utilization(pool_name);
  if (!u || u->free_count != cfg.connections) {
    std::fprintf(stderr, "redis_pool: cannot connect to %s:%u\n",
                 cfg.host.c_str(), static_cast<unsigned>(cfg.port));
    app->stop();
    return 1;
  }
  std::printf("pool \"%s\": %zu connections to %s:%u\n", pool_name,
              cfg.connections, cfg.host.c_str(),
              static_cast<unsigned>(cfg.port));
  // SET and GET from a blocking caller.
  for (int i = 0; i < 5; ++i) {
    auto key = "example:key:" + std::to_string(i);
    auto value = "value " + std::to_string(i);
    auto set = pooled(*app, self, {"SET", key, value});
    auto get = pooled(*app, self, {"GET", key});
    auto ok = set && get && *get == value;
    problems += ok ? 0 : 1;
    std::printf("SET %s -> %s, GET -> %s\n", key.c_str(),
                set ? set->c_str() : sys.render(set.error()).c_str(),
                get ? get->c_str() : sys.render(get.error()).c_str());
  }
  // Event-based consumers in parallel.
  pooled(*app, self, {"DEL", "example:counter"});
  auto failures = std::make_shared<std::atomic<int>>(0);
  constexpr int consumers = 4;
  constexpr int rounds = 25;
  for (int i = 0; i < consumers; ++i)
    self->monitor(sys.spawn(incrementer, *app, rounds, failures));
  for (int i = 0; i < consumers; ++i)
    self->receive([](caf::down_msg&) {}, caf::after(30s) >> [&] { ++problems; });
  auto total = pooled(*app, self, {"GET", "example:counter"});
  std::printf("%d consumers x %d INCR -> counter %s (%d failed)\n", consumers,
              rounds, total ? total->c_str() : "?", failures->load());
  if (!total || *total != std::to_string(consumers * rounds))
    ++problems;
  // A connection the server kills is noticed on its next command, fails it
  // and exits; the pool starts a new connection in its place.
  if (auto conn = app->take_member(self, pool_name, 5s)) {
    auto id = command(self, *conn, {"CLIENT", "ID"});
    auto killed = id ? pooled(*app, self, {"CLIENT", "KILL", "ID", *id})
                     : caf::expected<std::string>{id.error()};
    auto next = command(self, *conn, {"PING"});
    std::printf("CLIENT KILL ID %s -> %s; next command on it: %s\n",
                id ? id->c_str() : "?", killed ? killed->c_str() : "?",
                next ? next->c_str() : sys.render(next.error()).c_str());
    app->return_member(pool_name, *conn, pooler::member_status::fail);
    if (next)
      ++problems;
  }
  auto after = pooled(*app, self, {"GET", "example:key:0"});
  std::printf("after the replacement: GET example:key:0 -> %s\n",
              after ? after->c_str() : sys.render(after.error()).c_str());
  if (!after || *after != "value 0")
    ++problems;
  pooled(*app, self,
         {"DEL", "example:counter", "example:key:0", "example:key:1",
          "example:key:2", "example:key:3", "example:key:4"});
  app->stop();
  return problems;
}

} // namespace

int main(int argc, char** argv) {
  example_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "redis_pool: %s\n", cfg.render(err).c_str());
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.connections < 2) {
    // The CLIENT KILL step holds one connection and uses another.
    std::fprintf(stderr, "redis_pool: --connections must be at least 2\n");
    return 2;
  }
  int problems = 0;
  {
    caf::actor_system sys{cfg};
    problems = run(sys, cfg);
  }
  if (problems == 0)
    std::printf("ok\n");
  else
    std::printf("%d unexpected outcome(s)\n", problems);
  return problems == 0 ? 0 : 1;
}
