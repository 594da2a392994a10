// Example (docs/scale-out.md): pools published on one node, consumers on another.
//
//   two_nodes --role=pool --port=4242 [--host=0.0.0.0] [--seconds=600]
//   two_nodes --role=consumer --host=<pool node> --port=4242 [--consumers=100]
//             [--seconds=3]
//   two_nodes --role=demo [--consumers=100] [--seconds=1]
//
// The pool node runs pool "work" (10 echo members, group "g") and publishes
// it. The consumer node connects, runs `consumers` event-based consumers
// that take and return members for `seconds` and prints the pairs/s, then
// shows that a consumer crashing on the consumer node gets its member
// destroyed and replaced on the pool node. `demo` runs both: the pool node
// as a child process of this one, on 127.0.0.1 and a random port.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "pooler/pooler.hpp"
#include "pooler/remote.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

struct config : caf::actor_system_config {
  std::string role = "demo";
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t consumers = 100;
  size_t seconds = 0;

  config() {
    pooler::add_to(*this);
    load<caf::io::middleman>();
    opt_group{custom_options_, "global"}
      .add(role, "role", "pool, consumer or demo")
      .add(host, "host", "pool: address to listen on; consumer: pool node")
      .add(port, "port", "pool node's port (pool: 0 = random)")
      .add(consumers, "consumers", "consumer: concurrent consumers")
      .add(seconds, "seconds", "pool: lifetime; consumer: load duration");
  }
};

caf::behavior echo_member(caf::event_based_actor*, int64_t) {
  return {[](ping_atom) { return ping_atom::value; }};
}

// -- pool node ------------------------------------------------------------------------

int run_pool(caf::actor_system& sys, const config& cfg) {
  pooler::pool_config work;
  work.name = "work";
  work.group = "g";
  work.init_count = 10;
  work.max_count = 10;
  // Room for every consumer of the load run to wait (the default 50 would
  // answer queue_full to the rest at once).
  work.queue_max = 1000;
  work.start = pooler::member_factory::function(
    [](caf::actor_system& s) -> caf::expected<caf::actor> {
      return s.spawn(echo_member, int64_t{0});
    });
  auto app = pooler::app::start(sys, {work});
  if (!app) {
    std::cerr << sys.render(app.error()) << std::endl;
    return 1;
  }
  auto port = pooler::publish(*app, cfg.port, cfg.host);
  if (!port) {
    std::cerr << "publish: " << sys.render(port.error()) << std::endl;
    return 1;
  }
  // The demo (and scripts) read this line to find the port.
  std::cout << "PORT " << *port << std::endl;
  auto lifetime = std::chrono::seconds(cfg.seconds > 0 ? cfg.seconds : 600);
  auto end = steady::now() + lifetime;
  while (steady::now() < end) {
    std::this_thread::sleep_for(2s);
    if (auto u = app->pool_utilization("work"))
      std::cout << "pool node: work free=" << u->free_count
                << " in_use=" << u->in_use_count
                << " queued=" << u->queued_count << std::endl;
  }
  app->stop();
  return 0;
}

// -- consumer node ---------------------------------------------------------------------

struct consumer_state {
  uint64_t pairs = 0;
  uint64_t errors = 0;
};

// Takes and returns members of "work" until `end`, then reports its count.
void loop(caf::stateful_actor<consumer_state>* self, pooler::app app,
          steady::time_point end, caf::actor collector) {
  if (steady::now() >= end) {
    self->send(collector, done_atom::value, self->state.pairs,
               self->state.errors);
    self->quit();
    return;
  }
  app.take_member(
    self, "work", 1s,
    [=](caf::actor m) mutable {
      app.return_member(self, "work", m);
      ++self->state.pairs;
      loop(self, app, end, collector);
    },
    [=](caf::error) mutable {
      ++self->state.errors;
      loop(self, app, end, collector);
    });
}

caf::behavior consumer(caf::stateful_actor<consumer_state>* self,
                       pooler::app app, steady::time_point end,
                       caf::actor collector) {
  loop(self, std::move(app), end, std::move(collector));
  return {[](ping_atom) {}};
}

void load(caf::actor_system& sys, pooler::app& app, size_t n,
          std::chrono::seconds duration) {
  caf::scoped_actor self{sys};
  auto t0 = steady::now();
  for (size_t i = 0; i < n; ++i)
    sys.spawn(consumer, app, t0 + duration, caf::actor{self});
  uint64_t pairs = 0;
  uint64_t errors = 0;
  for (size_t i = 0; i < n; ++i)
    self->receive([&](done_atom, uint64_t p, uint64_t e) {
      pairs += p;
      errors += e;
    });
  auto secs = std::chrono::duration<double>(steady::now() - t0).count();
  std::printf("consumer node: %zu consumers, %llu take+return pairs in %.2f s "
              "= %.0f pairs/s (%llu errors)\n",
              n, static_cast<unsigned long long>(pairs), secs, pairs / secs,
              static_cast<unsigned long long>(errors));
}

int run_consumer(caf::actor_system& sys, const config& cfg) {
  auto app = pooler::connect(sys, cfg.host, cfg.port);
  if (!app) {
    std::cerr << "connect: " << sys.render(app.error()) << std::endl;
    return 1;
  }
  std::cout << "consumer node: connected to " << cfg.host << ':' << cfg.port
            << ", pools:";
  for (auto& name : app->pool_names())
    std::cout << ' ' << name;
  std::cout << std::endl;
  load(sys, *app, cfg.consumers, std::chrono::seconds(cfg.seconds > 0 ? cfg.seconds : 3));
  // A consumer that crashes while holding a member: the pool node destroys
  // that member and starts a replacement, across nodes as within one.
  caf::scoped_actor self{sys};
  auto crasher = sys.spawn([app = *app, tester = caf::actor{self}](
                             caf::event_based_actor* c) mutable {
    app.take_member(
      c, "work", 1s,
      [=](caf::actor m) {
        c->send(tester, m);
        c->quit(caf::make_error(caf::sec::runtime_error, "crash on purpose"));
      },
      [=](caf::error err) { c->quit(err); });
  });
  caf::actor victim;
  self->receive([&](caf::actor& m) { victim = m; },
                caf::after(5s) >> [] { std::cerr << "no member\n"; });
  if (!victim)
    return 1;
  self->monitor(victim);
  bool replaced = false;
  self->receive([&](caf::down_msg&) { replaced = true; },
                caf::after(5s) >> [] {});
  auto deadline = steady::now() + 5s;
  for (;;) {
    auto u = app->pool_utilization("work");
    if (u && u->free_count == u->max_count) {
      std::cout << "consumer node: crashed consumer's member "
                << (replaced ? "destroyed" : "NOT destroyed")
                << "; pool back to " << u->free_count << " free members"
                << std::endl;
      break;
    }
    if (steady::now() > deadline) {
      std::cerr << "pool did not recover" << std::endl;
      return 1;
    }
    std::this_thread::sleep_for(10ms);
  }
  app->stop();
  return replaced ? 0 : 1;
}

// -- both, for the test ------------------------------------------------------------------

int run_demo(caf::actor_system& sys, const config& cfg) {
  int fds[2];
  if (::pipe(fds) != 0)
    return 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string exe = "/proc/self/exe";
  std::string role = "--role=pool";
  std::string port = "--port=0";
  std::string secs = "--seconds=60";
  char* argv[] = {exe.data(), role.data(), port.data(), secs.data(), nullptr};
  pid_t pid = -1;
  auto rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0)
    return 1;
  // The child's first line is "PORT <n>"; the rest of its output is copied.
  FILE* child_out = ::fdopen(fds[0], "r");
  unsigned port_nr = 0;
  if (std::fscanf(child_out, "PORT %u\n", &port_nr) != 1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return 1;
  }
  std::cout << "demo: pool node (pid " << pid << ") on 127.0.0.1:" << port_nr
            << std::endl;
  config ccfg;
  ccfg.host = "127.0.0.1";
  ccfg.port = static_cast<uint16_t>(port_nr);
  ccfg.consumers = cfg.consumers;
  ccfg.seconds = cfg.seconds > 0 ? cfg.seconds : 1;
  auto result = run_consumer(sys, ccfg);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ::fclose(child_out);
  return result;
}

} // namespace

int caf_main(caf::actor_system& sys, const config& cfg) {
  if (cfg.role == "pool")
    return run_pool(sys, cfg);
  if (cfg.role == "consumer")
    return run_consumer(sys, cfg);
  if (cfg.role == "demo")
    return run_demo(sys, cfg);
  std::cerr << "unknown --role=" << cfg.role << " (pool, consumer or demo)\n";
  return 2;
}

CAF_MAIN()
