// Scale-out (docs/scale-out.md): pools published on one node, taken and returned from
// another through CAF's middleman, over 127.0.0.1 only. Two actor systems in
// this process play the nodes; one test runs the consumer node as a second
// process (this binary, re-run with --child=remote-consumer) and kills it.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <caf/io/all.hpp>

#include "pooler/remote.hpp"
#include "child_process.hpp"
#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;

namespace {

struct net_config : test::config {
  net_config() {
    load<caf::io::middleman>();
  }
};

/// One node: an actor system with the middleman and a pooler app.
struct node {
  net_config cfg;
  caf::actor_system sys{cfg};
  pooler::app app = *pooler::app::start(sys, {});
  caf::scoped_actor self{sys};
  down_waiter downs{self};

  ~node() {
    app.stop();
  }

  pooler::utilization usage(const std::string& name) {
    auto u = app.pool_utilization(name);
    REQUIRE(u);
    CHECK(u->within_capacity());
    return *u;
  }

  /// The exit reason of `x` (only its own down message counts); fails the
  /// test if `x` lives on after 5 s.
  caf::error wait_down(const caf::actor& x) {
    auto reason = downs.wait_down(x, 5s);
    REQUIRE_MESSAGE(reason, "no down message within 5 s");
    return *reason;
  }
};

/// Node a publishes its pools; node b holds `remote`, a connected handle.
struct two_nodes {
  node a;
  node b;
  uint16_t port = 0;
  std::optional<pooler::app> remote;

  /// Starts pool `name` on node a, publishes a and connects b to it.
  void start(pooler::pool_config cfg) {
    REQUIRE(a.app.new_pool(std::move(cfg)));
    connect();
  }

  void connect() {
    auto p = pooler::publish(a.app, 0);
    REQUIRE(p);
    port = *p;
    auto r = pooler::connect(b.sys, "127.0.0.1", port);
    REQUIRE(r);
    remote = std::move(*r);
  }

  ~two_nodes() {
    if (remote)
      remote->stop();
    b.app.stop();
    a.app.stop();
    CHECK(eventually([] { return live_members.load() == 0; }));
  }
};

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t unused_port(caf::actor_system& sys) {
  auto& mm = sys.middleman();
  auto p = mm.open(0, "127.0.0.1", true);
  REQUIRE(p);
  REQUIRE(mm.close(*p));
  return *p;
}

/// An event-based consumer on `sys` that takes one member of `pool` through
/// `handle`, tells `tester`, and then ends normally or with an error.
caf::actor spawn_consumer(caf::actor_system& sys, pooler::app handle,
                          std::string pool, caf::actor tester, bool crash) {
  return sys.spawn([=](caf::event_based_actor* self) mutable {
    handle.take_member(
      self, pool, 1s,
      [=](caf::actor m) {
        self->send(tester, m);
        if (crash)
          self->quit(caf::make_error(caf::sec::runtime_error, "crash"));
        else
          self->quit();
      },
      [=](caf::error err) {
        self->send(tester, err);
        self->quit();
      });
  });
}

caf::actor receive_member(caf::scoped_actor& self) {
  caf::actor result;
  self->receive([&](caf::actor& m) { result = std::move(m); },
                [&](caf::error& err) {
                  FAIL("take failed: " << self->system().render(err));
                },
                caf::after(5s) >> [] { FAIL("no member within 5 s"); });
  return result;
}

// -- the consumer node as a process of its own -------------------------------------

/// This test program, run as the consumer node: connects to `port`, takes two
/// members of "p", prints HOLDING and holds them until it is killed.
child_process consumer_process(uint16_t port) {
  return child_process{"remote-consumer", std::to_string(port),
                       {"POOLER_QUIET=1"}};
}

/// The role of consumer_process; the argument is the port.
int remote_consumer(const std::string& port) {
  net_config cfg;
  caf::actor_system sys{cfg};
  auto remote = pooler::connect(sys, "127.0.0.1",
                                static_cast<uint16_t>(std::atoi(port.c_str())));
  child_check(static_cast<bool>(remote), "connect");
  caf::scoped_actor self{sys};
  auto first = remote->take_member(self, "p", 1s);
  child_check(static_cast<bool>(first), "first take");
  auto second = remote->take_member(self, "p", 1s);
  child_check(static_cast<bool>(second), "second take");
  std::cout << "HOLDING" << std::endl;
  // Held until the parent kills this process (bounded, in case it cannot).
  std::this_thread::sleep_for(60s);
  std::_Exit(1);
}

TEST_CHILD_ROLE("remote-consumer", remote_consumer);

} // namespace

// -- take and return -----------------------------------------------------------------

TEST_CASE_FIXTURE(two_nodes, "a connected node takes and returns members of a published pool") {
  start(pool("p", 2, 2));
  auto m = remote->take_member(b.self, "p", 1s);
  REQUIRE(m);
  CHECK(m->node() == a.sys.node());
  CHECK(a.usage("p").in_use_count == 1);
  auto u = remote->pool_utilization("p");
  REQUIRE(u);
  CHECK(u->in_use_count == 1);
  CHECK(u->free_count == 1);
  // The member works through its remote handle.
  caf::actor_id id = 0;
  b.self->request(*m, 5s, ping_atom::value)
    .receive([&](caf::actor_id x) { id = x; },
             [&](caf::error& err) { FAIL(b.sys.render(err)); });
  CHECK(id == m->id());
  remote->return_member("p", *m);
  CHECK(eventually([&] { return a.usage("p").free_count == 2; }));
  auto stats = remote->pool_stats("p");
  REQUIRE(stats);
  CHECK(stats->size() == 2);
}

TEST_CASE_FIXTURE(two_nodes, "an event-based consumer on another node takes and returns") {
  start(pool("p", 1, 1));
  auto consumer = b.sys.spawn([r = *remote, tester = caf::actor{b.self}](
                                caf::event_based_actor* self) mutable {
    r.take_member(
      self, "p", 1s,
      [=](caf::actor m) mutable {
        r.return_member("p", m);
        self->send(tester, m);
      },
      [=](caf::error err) { self->send(tester, err); });
  });
  auto m = receive_member(b.self);
  CHECK(m.node() == a.sys.node());
  CHECK(eventually([&] { return a.usage("p").free_count == 1; }));
  caf::anon_send_exit(consumer, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(two_nodes, "a remote take waits in the queue and times out like a local one") {
  start(pool("p", 1, 1));
  auto m = remote->take_member(b.self, "p", 1s);
  REQUIRE(m);
  auto none = remote->take_member(b.self, "p", 50ms);
  REQUIRE(!none);
  CHECK(none.error() == errc::no_members);
  CHECK(pooler::error_detail(none.error()) == "timeout");
  remote->return_member("p", *m);
}

// -- consumers across the node boundary ---------------------------------------------

TEST_CASE_FIXTURE(two_nodes, "a remote consumer that exits normally gives its members back") {
  start(pool("p", 1, 1));
  spawn_consumer(b.sys, *remote, "p", b.self, false);
  auto m = receive_member(b.self);
  CHECK(eventually([&] { return a.usage("p").free_count == 1; }));
  // The same member, not a replacement.
  auto again = remote->take_member(b.self, "p", 1s);
  REQUIRE(again);
  CHECK(*again == m);
  remote->return_member("p", *again);
}

TEST_CASE_FIXTURE(two_nodes, "a remote consumer that crashes has its members replaced") {
  start(pool("p", 1, 1));
  spawn_consumer(b.sys, *remote, "p", b.self, true);
  auto m = receive_member(b.self);
  CHECK(b.wait_down(m) != caf::exit_reason::normal);
  CHECK(eventually([&] { return a.usage("p").free_count == 1; }));
  auto fresh = remote->take_member(b.self, "p", 1s);
  REQUIRE(fresh);
  CHECK(*fresh != m);
  remote->return_member("p", *fresh);
}

TEST_CASE_FIXTURE(two_nodes, "a killed consumer process loses its members within the heartbeat bound") {
  start(pool("p", 2, 2));
  auto child = consumer_process(port);
  REQUIRE(child.read_until("HOLDING", 10s));
  CHECK(a.usage("p").in_use_count == 2);
  auto t0 = std::chrono::steady_clock::now();
  child.signal(SIGKILL);
  REQUIRE(eventually([&] { return a.usage("p").free_count == 2; }, 3s));
  MESSAGE("members reclaimed " << ms_since(t0) << " ms after SIGKILL");
}

TEST_CASE_FIXTURE(two_nodes, "a frozen consumer process is detected by heartbeats") {
  // SIGSTOP keeps the TCP connection open but silent: only the heartbeat
  // (middleman.connection-timeout 2 s, interval 500 ms) can notice it.
  start(pool("p", 2, 2));
  auto child = consumer_process(port);
  REQUIRE(child.read_until("HOLDING", 10s));
  auto t0 = std::chrono::steady_clock::now();
  child.signal(SIGSTOP);
  REQUIRE(eventually([&] { return a.usage("p").free_count == 2; }, 5s));
  auto ms = ms_since(t0);
  MESSAGE("members reclaimed " << ms << " ms after SIGSTOP");
  CHECK(ms >= 1000); // not by a closed socket
}

// -- pool actors that restart, peers that go ----------------------------------------

TEST_CASE_FIXTURE(two_nodes, "a restarted remote pool actor is found again") {
  start(pool("p", 1, 1));
  auto old = remote->pool_actor("p");
  REQUIRE(old);
  caf::anon_send_exit(*a.app.pool_actor("p"), caf::exit_reason::kill);
  REQUIRE(eventually([&] {
    auto now = remote->pool_actor("p");
    return now && *now != *old;
  }));
  CHECK(*remote->pool_actor("p") == *a.app.pool_actor("p"));
  CHECK(eventually([&] { return a.usage("p").free_count == 1; }));
  auto m = remote->take_member(b.self, "p", 1s);
  REQUIRE(m);
  remote->return_member("p", *m);
}

TEST_CASE_FIXTURE(two_nodes, "pools created and removed on the peer appear and disappear") {
  start(pool("p", 1, 1));
  CHECK(remote->pool_names() == std::vector<std::string>{"p"});
  REQUIRE(a.app.new_pool(pool("q", 1, 1)));
  CHECK(eventually([&] { return remote->pool_names().size() == 2; }, 3s));
  REQUIRE(a.app.rm_pool("q"));
  CHECK(eventually([&] { return remote->pool_names().size() == 1; }, 3s));
}

TEST_CASE_FIXTURE(two_nodes, "a peer that stops leaves pool_not_found behind") {
  start(pool("p", 1, 1));
  a.app.stop();
  CHECK(eventually([&] { return remote->pool_names().empty(); }));
  auto m = remote->take_member(b.self, "p", 100ms);
  CHECK(m.error() == errc::pool_not_found);
}

// -- groups spanning nodes (beyond pooler) ---------------------------------------------

TEST_CASE_FIXTURE(two_nodes, "a group spanning two nodes serves takes from both") {
  auto pa = pool("pa", 2, 2);
  pa.group = "g";
  auto pb = pool("pb", 2, 2);
  pb.group = "g";
  REQUIRE(b.app.new_pool(pb));
  start(pa);
  REQUIRE(pooler::join_remote(b.app, *remote));
  auto joined = "pa@127.0.0.1:" + std::to_string(port);
  CHECK(b.app.group_pools("g") == std::vector<std::string>{joined, "pb"});
  std::vector<caf::actor> taken;
  size_t on_a = 0;
  for (int i = 0; i < 4; ++i) {
    auto m = b.app.take_group_member(b.self, "g");
    REQUIRE(m);
    on_a += m->node() == a.sys.node() ? 1 : 0;
    taken.push_back(*m);
  }
  CHECK(on_a == 2);
  CHECK(b.app.take_group_member(b.self, "g").error() == errc::no_members);
  CHECK(a.usage("pa").in_use_count == 2);
  for (auto& m : taken)
    b.app.return_group_member("g", m);
  CHECK(eventually([&] { return a.usage("pa").free_count == 2; }));
  CHECK(eventually([&] { return b.usage("pb").free_count == 2; }));
  // With a timeout, a group take waits for a member of either node.
  auto event_based = b.sys.spawn([h = b.app, tester = caf::actor{b.self}](
                                   caf::event_based_actor* self) mutable {
    h.take_group_member(
      self, "g", 1s, [=](caf::actor m) { self->send(tester, m); },
      [=](caf::error err) { self->send(tester, err); });
  });
  auto m = receive_member(b.self);
  b.app.return_group_member("g", m);
  caf::anon_send_exit(event_based, caf::exit_reason::user_shutdown);
}

// -- errors ------------------------------------------------------------------------------

TEST_CASE_FIXTURE(two_nodes, "connecting to a port with nothing listening fails clearly") {
  auto r = pooler::connect(b.sys, "127.0.0.1", unused_port(b.sys));
  REQUIRE(!r);
  CHECK(r.error() == caf::sec::cannot_connect_to_node);
}

TEST_CASE("publish and connect need the middleman") {
  test::config cfg;
  caf::actor_system sys{cfg};
  auto app = *pooler::app::start(sys, {});
  CHECK(pooler::publish(app, 0).error() == caf::sec::feature_disabled);
  CHECK(pooler::connect(sys, "127.0.0.1", 1).error()
        == caf::sec::feature_disabled);
  app.stop();
}

TEST_CASE_FIXTURE(two_nodes, "config operations on a remote pool answer not_local") {
  start(pool("p", 1, 1));
  CHECK(remote->pool_config_of("p").error() == errc::not_local);
  CHECK(remote->pool_reconfigure("p", pool("p", 1, 2)).error()
        == errc::not_local);
  CHECK(remote->new_pool(pool("x", 1, 1)).error() == errc::not_local);
  CHECK(remote->rm_pool("p").error() == errc::not_local);
  CHECK(pooler::publish(*remote, 0).error() == errc::not_local);
  auto err = remote->pool_config_of("p").error();
  CHECK(pooler::error_detail(err).find("cannot cross nodes")
        != std::string::npos);
  // The pool itself is untouched.
  CHECK(a.usage("p").max_count == 1);
}
