// The pool's helpers (starters, stoppers, health checkers), driven through
// their protocol with the test thread playing the pool.

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/health_checker.hpp"
#include "actors/starter.hpp"
#include "actors/stopper.hpp"
#include "gate.hpp"
#include "pooler/errors.hpp"
#include "pooler/pooler.hpp"
#include "pooler/supervisor.hpp"
#include "test_support.hpp"

using namespace pooler;
using namespace std::chrono_literals;
using test::event_log;

namespace {

using init_atom = caf::atom_constant<caf::atom("init")>;
using bye_atom = caf::atom_constant<caf::atom("bye")>;

/// How a probe member answers the initialize request `init`.
enum class answer { ok, error, never };

struct probe_state {
  std::shared_ptr<event_log> log;
  std::vector<caf::response_promise> held;
  // Runs before the down messages go out: "gone" is logged before anyone
  // can learn that the member is down.
  ~probe_state() {
    log->add("gone");
  }
};

caf::behavior probe(caf::stateful_actor<probe_state>* self,
                    std::shared_ptr<event_log> log, answer a) {
  self->state.log = std::move(log);
  self->state.log->add("up");
  return {
    [self, a](init_atom) -> caf::result<void> {
      self->state.log->add("init");
      if (a == answer::error)
        return caf::make_error(caf::sec::runtime_error, "init refused");
      if (a == answer::never) {
        self->state.held.push_back(self->make_response_promise());
        return caf::result<void>{caf::delegated<void>{}};
      }
      return caf::unit;
    },
    [self](bye_atom) { self->state.log->add("asked"); },
  };
}

/// The members a member supervisor has started, for the test to watch.
struct spawned {
  std::mutex mtx;
  std::vector<caf::actor> members;
  caf::actor last() {
    std::lock_guard<std::mutex> guard{mtx};
    return members.empty() ? caf::actor{} : members.back();
  }
};

struct fixture : test::fixture {
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  std::shared_ptr<spawned> members = std::make_shared<spawned>();

  /// A simple_one_for_one member supervisor whose members answer `a`, or
  /// whose factory fails with `spawn_error` if that is set.
  caf::actor member_sup(answer a, caf::error spawn_error = {}) {
    child_spec spec;
    spec.id = "member";
    spec.restart = restart_type::temporary;
    spec.shutdown = shutdown_spec::kill();
    spec.start = [log = log, ms = members, a, spawn_error](
                   caf::actor_system& sys) -> caf::expected<caf::actor> {
      if (spawn_error)
        return spawn_error;
      auto m = sys.spawn(probe, log, a);
      std::lock_guard<std::mutex> guard{ms->mtx};
      ms->members.push_back(m);
      return m;
    };
    sup_flags flags;
    flags.strategy = strategy::simple_one_for_one;
    auto sup = start_supervisor(sys, flags, {spec});
    REQUIRE(sup);
    return track(*sup);
  }

  start_job job(caf::actor msup, member_hook init,
                caf::timespan timeout = 5s) {
    return {caf::actor_cast<caf::actor>(self), std::move(msup), std::move(init),
            timeout, 7, "p"};
  }

  /// The starter's report: the member, or the failure's cause. Records how
  /// many members were gone when it arrived.
  struct report {
    uint64_t id = 0;
    caf::actor member;
    caf::error cause;
    size_t gone_before = 0;
    bool arrived = false;
  };

  report wait_report() {
    report r;
    self->receive(
      [&](accept_atom, uint64_t id, caf::actor& m) {
        r = {id, std::move(m), caf::error{}, log->count("gone"), true};
      },
      [&](accept_atom, uint64_t id, caf::error& err) {
        r = {id, caf::actor{}, std::move(err), log->count("gone"), true};
      },
      caf::after(10s) >> [] {});
    return r;
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "starter: a started member is reported") {
  sys.spawn(starter, job(member_sup(answer::ok),
                         member_hook::message(caf::make_message(
                           init_atom::value))));
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.id == 7);
  CHECK(r.member == members->last());
  CHECK(!r.cause);
  anon_send_exit(r.member, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(fixture, "starter: an initialize function's error is the "
                           "reported cause, sent after the member is gone") {
  auto refuse = member_hook::function(
    [](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      return caf::make_error(caf::sec::runtime_error, "init refused");
    });
  sys.spawn(starter, job(member_sup(answer::ok), refuse));
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.cause == caf::sec::runtime_error);
  CHECK(sys.render(r.cause).find("init refused") != std::string::npos);
  CHECK(r.gone_before == 1);
}

TEST_CASE_FIXTURE(fixture, "starter: an initialize reply's error is the "
                           "reported cause, sent after the member is gone") {
  sys.spawn(starter, job(member_sup(answer::error),
                         member_hook::message(caf::make_message(
                           init_atom::value))));
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.cause == caf::sec::runtime_error);
  CHECK(r.gone_before == 1);
}

TEST_CASE_FIXTURE(fixture, "starter: a factory's error is the reported "
                           "cause") {
  auto err = caf::make_error(caf::sec::cannot_spawn_actor_from_arguments);
  sys.spawn(starter, job(member_sup(answer::ok, err), member_hook{}));
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.cause == caf::sec::cannot_spawn_actor_from_arguments);
  CHECK(log->count("up") == 0);
}

TEST_CASE_FIXTURE(fixture, "starter: a start past member_start_timeout is "
                           "reported as such, after the member is gone") {
  sys.spawn(starter, job(member_sup(answer::never),
                         member_hook::message(caf::make_message(
                           init_atom::value)),
                         50ms));
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.cause == errc::start_failed);
  CHECK(error_detail(r.cause).find("member_start_timeout")
        != std::string::npos);
  CHECK(error_subject(r.cause) == "p"); // names the pool
  CHECK(r.gone_before == 1);
}

TEST_CASE_FIXTURE(fixture, "starter: a member supervisor killed during the "
                           "start ends it at once, with the cause") {
  auto factory_gate = std::make_shared<test::gate>();
  test::gate_guard guard{factory_gate};
  child_spec spec;
  spec.id = "member";
  spec.restart = restart_type::temporary;
  spec.start = [factory_gate](caf::actor_system&) -> caf::expected<caf::actor> {
    factory_gate->pass(); // blocked until the test ends
    return caf::actor{};
  };
  sup_flags flags;
  flags.strategy = strategy::simple_one_for_one;
  auto sup = start_supervisor(sys, flags, {spec});
  REQUIRE(sup);
  sys.spawn(starter, job(*sup, member_hook{}, 60s));
  REQUIRE(test::eventually([&] { return factory_gate->entered() == 1; }));
  anon_send_exit(*sup, caf::exit_reason::kill);
  auto r = wait_report(); // within 10 s, long before the 60 s timeout
  REQUIRE(r.arrived);
  CHECK(r.cause == errc::start_failed);
  CHECK(error_detail(r.cause).find("shutting down") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "starter: a killed starter kills its member and "
                           "still reports") {
  auto st = sys.spawn(starter, job(member_sup(answer::never),
                                   member_hook::message(caf::make_message(
                                     init_atom::value))));
  // The starter asks for initialize only once it holds the member: killed
  // earlier, it could not know the member (its supervisor keeps it).
  REQUIRE(test::eventually([&] { return log->count("init") == 1; }));
  auto m = members->last();
  watch(m);
  anon_send_exit(st, caf::exit_reason::kill);
  auto r = wait_report();
  REQUIRE(r.arrived);
  CHECK(r.cause == errc::start_failed);
  CHECK(error_subject(r.cause) == "p");
  CHECK(wait_down(m).has_value());
}

TEST_CASE_FIXTURE(fixture, "stopper: a stopper that ends before its member "
                           "takes the member down") {
  auto m = sys.spawn(probe, log, answer::ok);
  watch(m);
  auto st = sys.spawn(stopper,
                      stop_job{m, caf::actor{},
                               member_hook::message(
                                 caf::make_message(bye_atom::value)),
                               60s});
  // The member ignores its stop message; only the stopper's exit ends it.
  REQUIRE(test::eventually([&] { return log->count("asked") == 1; }));
  anon_send_exit(st, caf::exit_reason::kill);
  CHECK(wait_down(m).has_value());
}

// -- user code runs off CAF's shared workers -----------------------------------

namespace {

struct pooler_config : caf::actor_system_config {
  explicit pooler_config(int threads) {
    pooler::add_to(*this);
    set("scheduler.max-threads", threads);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

caf::behavior plain_member(caf::event_based_actor*, int64_t) {
  return {
    [](caf::ping_atom) {},
  };
}

pool_config pool_of(std::string name, size_t init, size_t max) {
  pool_config cfg;
  cfg.name = std::move(name);
  cfg.init_count = init;
  cfg.max_count = max;
  cfg.start = member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(plain_member, int64_t{0});
    });
  return cfg;
}

} // namespace

TEST_CASE("user code: a blocking initialize does not stall another pool, "
          "even with one scheduler thread") {
  auto init_gate = std::make_shared<test::gate>();
  pooler_config cfg{1};
  caf::actor_system sys{cfg};
  test::gate_guard guard{init_gate};
  auto app = app::start(sys, {});
  REQUIRE(app);
  auto slow = pool_of("slow", 0, 1);
  slow.initialize = member_hook::function(
    [init_gate](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      init_gate->pass();
      return {};
    });
  REQUIRE(app->new_pool(pool_of("quick", 1, 1)));
  REQUIRE(app->new_pool(slow));
  caf::scoped_actor self{sys};
  // An empty pool starts a member on a take; its initialize then blocks.
  CHECK(!app->take_member(self, "slow"));
  REQUIRE(test::eventually([&] { return init_gate->entered() == 1; }));
  auto taken = std::async(std::launch::async, [&] {
    caf::scoped_actor consumer{sys};
    return app->take_member(consumer, "quick");
  });
  auto in_time = taken.wait_for(5s) == std::future_status::ready;
  init_gate->open();
  CHECK(in_time);
  CHECK(taken.get());
  // Once the gate opens, the slow start completes too.
  CHECK(test::eventually([&] {
    auto u = app->pool_utilization("slow");
    return u && u->free_count == 1;
  }));
  app->stop();
}

TEST_CASE_FIXTURE(fixture, "user code: a health check function that hangs "
                           "is reported as timed out") {
  auto hang = std::make_shared<test::gate>();
  test::gate_guard guard{hang};
  auto m = sys.spawn(probe, log, answer::ok);
  auto check = member_hook::function(
    [hang](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      hang->pass();
      return {};
    });
  sys.spawn(health_checker,
            health_job{caf::actor_cast<caf::actor>(self), m, check, 50ms});
  caf::error result;
  bool arrived = false;
  self->receive(
    [&](health_result_atom, const caf::actor& who, caf::error& err) {
      arrived = who == m;
      result = std::move(err);
    },
    caf::after(10s) >> [] {});
  CHECK(arrived);
  CHECK(result == caf::sec::request_timeout);
  anon_send_exit(m, caf::exit_reason::kill);
}

TEST_CASE("user code: a slow factory does not hold up the other starts of "
          "its pool") {
  auto factory_gate = std::make_shared<test::gate>();
  // Two threads: a factory stuck on the shared workers would leave one free,
  // so that this test fails rather than hangs where starts serialise.
  pooler_config cfg{2};
  caf::actor_system sys{cfg};
  test::gate_guard guard{factory_gate};
  auto app = app::start(sys, {});
  REQUIRE(app);
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto p = pool_of("p", 0, 2);
  p.start = member_factory::function(
    [factory_gate, calls](caf::actor_system& s) -> caf::expected<caf::actor> {
      if (++*calls == 1)
        factory_gate->pass(); // only the first member is slow to make
      return s.spawn(plain_member, int64_t{0});
    });
  REQUIRE(app->new_pool(p));
  caf::scoped_actor self{sys};
  CHECK(!app->take_member(self, "p")); // starts the slow member
  REQUIRE(test::eventually([&] { return factory_gate->entered() == 1; }));
  CHECK(!app->take_member(self, "p")); // starts a second one
  // The second member arrives while the first factory is still blocked.
  CHECK(test::eventually([&] {
    auto u = app->pool_utilization("p");
    return u && u->free_count == 1;
  }));
  factory_gate->open();
  CHECK(test::eventually([&] {
    auto u = app->pool_utilization("p");
    return u && u->free_count == 2;
  }));
  app->stop();
}
