// The app handle's contract: empty handles, calls after stop or once a
// pool's subtree is gone, argument checks, groups, and the lifecycle calls.

#include "pool_fixture.hpp"
#include "src/app_state.hpp"

using namespace test;
using pooler::errc;

namespace {

/// Runs an event-based take by a fresh actor; returns its error, or none if
/// it got a member (which it returns at once).
caf::error event_take(caf::scoped_actor& self, pooler::app a,
                      const std::string& pool, caf::timespan timeout) {
  auto& sys = self->home_system();
  caf::actor me = self;
  sys.spawn([a, pool, timeout, me](caf::event_based_actor* c) mutable {
    a.take_member(
      c, pool, timeout,
      [a, c, pool, me](caf::actor m) mutable {
        a.return_member(pool, m);
        c->send(me, caf::error{});
        c->quit();
      },
      [c, me](caf::error err) {
        c->send(me, std::move(err));
        c->quit();
      });
  });
  caf::error result = caf::sec::request_timeout;
  self->receive([&](caf::error& err) { result = std::move(err); },
                caf::after(5s) >> [] { FAIL("no answer within 5 s"); });
  return result;
}

/// Same, for a group take.
caf::error event_take_group(caf::scoped_actor& self, pooler::app a,
                            const std::string& group) {
  auto& sys = self->home_system();
  caf::actor me = self;
  sys.spawn([a, group, me](caf::event_based_actor* c) mutable {
    a.take_group_member(
      c, group, caf::timespan{0},
      [a, c, group, me](caf::actor m) mutable {
        a.return_group_member(group, m);
        c->send(me, caf::error{});
        c->quit();
      },
      [c, me](caf::error err) {
        c->send(me, std::move(err));
        c->quit();
      });
  });
  caf::error result = caf::sec::request_timeout;
  self->receive([&](caf::error& err) { result = std::move(err); },
                caf::after(5s) >> [] { FAIL("no answer within 5 s"); });
  return result;
}

/// Every call that names a pool answers `code` naming it.
void every_call_answers(pooler::app& app, caf::scoped_actor& self,
                        const std::string& name, errc code) {
  auto check = [&](const caf::error& err) {
    CHECK(err == code);
    CHECK(err != caf::sec::request_receiver_down);
    CHECK(pooler::error_subject(err) == name);
  };
  check(app.take_member(self, name).error());
  check(app.take_member(self, name, 1s).error());
  check(app.take_group_member(self, name).error());
  check(app.take_lease(self, name, 0s).error());
  check(app.with_member(self, name, 0s, [](const caf::actor&) { return 1; })
          .error());
  check(app.execute_in_session<caf::actor_id>(self, name, "s", 0s,
                                              caf::make_message(ping_atom::value))
          .error());
  check(app.pool_utilization(name).error());
  check(app.pool_stats(name).error());
  check(app.call_free_members(name, [](const caf::actor&) {
              return caf::expected<caf::message>{caf::message{}};
            }).error());
  check(app.cull_pool(name).error());
  check(app.pool_config_of(name).error());
  check(app.pool_reconfigure(name, pool(name, 1, 1)).error());
  check(app.pool_actor(name).error());
  check(app.pool_supervisor(name).error());
  check(app.member_supervisor(name).error());
  check(event_take(self, app, name, 0s));
  // Returns are asynchronous sends: harmless, with nothing to answer.
  auto stranger = self->spawn(member, int64_t{0});
  app.return_member(name, stranger);
  app.return_group_member(name, stranger);
  self->send_exit(stranger, caf::exit_reason::kill);
}

} // namespace

// -- after stop -----------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "after stop every call answers app_stopped and no pool is listed") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto copy = app;
  app.stop();
  CHECK(!app.running());
  CHECK(!copy.running());
  CHECK(app.pool_names().empty());
  CHECK(app.group_pools("g").empty());
  every_call_answers(app, self, "p", errc::app_stopped);
  every_call_answers(copy, self, "p", errc::app_stopped);
  CHECK(app.new_pool(pool("q", 1, 1)).error() == errc::app_stopped);
  CHECK(app.rm_pool("p").error() == errc::app_stopped);
  CHECK(app.rm_group("g").error() == errc::app_stopped);
  app.stop(); // idempotent
}

TEST_CASE_FIXTURE(fixture, "a tree that ended by itself answers app_stopped") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto top = app.top_supervisor();
  self->send_exit(top, caf::exit_reason::kill);
  wait_down(top);
  REQUIRE(eventually([&] { return !app.running(); }));
  CHECK(app.pool_names().empty());
  every_call_answers(app, self, "p", errc::app_stopped);
}

TEST_CASE_FIXTURE(fixture, "a pool actor that died under a call answers as a pool error") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  for (int i = 0; i < 5; ++i) {
    auto old = *app.pool_actor("p");
    self->send_exit(old, caf::exit_reason::kill);
    // No waiting: the calls race the restart.
    auto u = app.pool_utilization("p");
    if (!u)
      CHECK(u.error() == errc::pool_not_found);
    auto m = app.take_member(self, "p");
    if (m)
      app.return_member("p", *m);
    else
      CHECK(m.error() != caf::sec::request_receiver_down);
    wait_down(old);
    REQUIRE(eventually([&] {
      auto now = app.pool_actor("p");
      return now && *now != old && app.pool_utilization("p");
    }));
  }
}

// -- an empty handle ---------------------------------------------------------------

TEST_CASE("an empty app answers app_stopped and can be assigned later") {
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  pooler::app app;
  CHECK(!app.running());
  CHECK(app.pool_names().empty());
  CHECK(!app.top_supervisor());
  CHECK_THROWS_AS(app.system(), std::logic_error);
  every_call_answers(app, self, "p", errc::app_stopped);
  CHECK(app.new_pool(pool("p", 1, 1)).error() == errc::app_stopped);
  app.stop(); // harmless
  app = *pooler::app::start(sys, {pool("p", 1, 1)});
  CHECK(app.running());
  CHECK(app.pool_names() == std::vector<std::string>{"p"});
  auto m = app.take_member(self, "p");
  REQUIRE(m);
  app.return_member("p", *m);
  pooler::app moved = std::move(app);
  CHECK(moved.running());
  moved.stop();
  CHECK(eventually([] { return live_members.load() == 0; }));
}

// -- arguments --------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a negative take timeout is invalid_argument naming the pool") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto check = [](const caf::error& err) {
    CHECK(err == errc::invalid_argument);
    CHECK(pooler::error_subject(err) == "p");
    CHECK(pooler::error_detail(err).find("negative") != std::string::npos);
  };
  check(app.take_member(self, "p", -1ms).error());
  check(app.take_lease(self, "p", -1ms).error());
  check(app.with_member(self, "p", -1ms, [](const caf::actor&) {}).error());
  check(app.call_free_members(
               "p",
               [](const caf::actor&) {
                 return caf::expected<caf::message>{caf::message{}};
               },
               -1ms)
          .error());
  check(event_take(self, app, "p", -1ms));
  CHECK(usage("p").free_count == 1);
}

// -- groups ------------------------------------------------------------------------

namespace {

size_t group_table_size(pooler::app& app) {
  return app.state()->group_members.size();
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a take on an unknown or emptied group answers no_members") {
  auto check = [](const caf::error& err, const char* group) {
    CHECK(err == errc::no_members);
    CHECK(pooler::error_subject(err) == group);
  };
  check(app.take_group_member(self, "nope").error(), "nope");
  check(app.take_group_member(self, "nope", 100ms).error(), "nope");
  check(event_take_group(self, app, "nope"), "nope");
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  REQUIRE(app.take_group_member(self, "g"));
  REQUIRE(app.rm_pool("g1"));
  check(app.take_group_member(self, "g").error(), "g");
  check(event_take_group(self, app, "g"), "g");
}

TEST_CASE_FIXTURE(fixture, "rm_group of an unknown or emptied group is ok") {
  CHECK(app.rm_group("nope"));
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  REQUIRE(app.rm_group("g"));
  CHECK(app.pool_names().empty());
  CHECK(app.rm_group("g"));
}

TEST_CASE_FIXTURE(fixture, "return_group_member honours its group") {
  REQUIRE(app.new_pool(grouped("a", 1, 1, "ga")));
  REQUIRE(app.new_pool(grouped("b", 1, 1, "gb")));
  auto m = app.take_group_member(self, "ga");
  REQUIRE(m);
  // Another group did not hand it out: ignored, as a return to a wrong pool.
  app.return_group_member("gb", *m);
  CHECK(usage("a").in_use_count == 1);
  CHECK(group_table_size(app) == 1);
  app.return_group_member("ga", *m);
  REQUIRE(free_becomes("a", 1));
  CHECK(group_table_size(app) == 0);
}

TEST_CASE_FIXTURE(fixture, "the group table forgets members returned by any path") {
  REQUIRE(app.new_pool(grouped("a", 2, 2, "g")));
  auto m = *app.take_group_member(self, "g");
  CHECK(group_table_size(app) == 1);
  app.return_member("a", m);
  CHECK(group_table_size(app) == 0);
  m = *app.take_group_member(self, "g");
  {
    pooler::lease l{app, "a", m};
  }
  CHECK(group_table_size(app) == 0);
  REQUIRE(app.take_group_member(self, "g"));
  CHECK(group_table_size(app) == 1);
  REQUIRE(app.rm_pool("a"));
  CHECK(group_table_size(app) == 0);
}

TEST_CASE_FIXTURE(fixture, "the group table stays bounded when members die in use") {
  REQUIRE(app.new_pool(grouped("a", 1, 1, "g")));
  constexpr size_t rounds = 2 * pooler::detail::group_table::min_sweep_size + 50;
  for (size_t i = 0; i < rounds; ++i) {
    auto m = app.take_group_member(self, "g", 5s);
    REQUIRE(m);
    self->send(*m, crash_atom::value);
    wait_down(*m);
    CHECK(group_table_size(app) <= pooler::detail::group_table::min_sweep_size);
  }
}

// -- pool lifecycle ----------------------------------------------------------------

namespace {

/// A member that never answers `hang`: a start with it as initialize hook
/// stays pending until member_start_timeout.
caf::behavior silent_member(caf::stateful_actor<member_state>* self, int64_t) {
  return {
    [self](hang_atom) { return self->make_response_promise(); },
  };
}

/// A member whose shutdown takes `delay` after its supervisor asks.
caf::behavior slow_stopping_member(caf::stateful_actor<member_state>* self,
                                   caf::timespan delay) {
  self->set_exit_handler([self, delay](caf::exit_msg&) {
    self->delayed_send(self, delay, stop_atom::value);
  });
  return {
    [self](stop_atom) { self->quit(); },
  };
}

bool has_child(caf::scoped_actor& self, const caf::actor& sup,
               const std::string& id) {
  auto children = pooler::which_children(self, sup);
  REQUIRE(children);
  for (auto& c : *children)
    if (c.id == id)
      return true;
  return false;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "new_pool that fails during its start leaves nothing behind") {
  auto cfg = pool("p", 1, 1);
  cfg.start = pooler::member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(silent_member, int64_t{0});
    });
  cfg.initialize = pooler::member_hook::message(
    caf::make_message(hang_atom::value));
  cfg.member_start_timeout = 1min;
  caf::expected<void> started;
  std::atomic<bool> done{false};
  std::thread t{[&] {
    started = app.new_pool(cfg);
    done = true;
  }};
  // Kill the pool actor while its start is pending; new_pool may ask a
  // restarted one for readiness, so kill until new_pool answers (its starts
  // never finish by themselves within the test).
  caf::actor victim;
  for (int kills = 0; kills < 4 && !done; ++kills) {
    REQUIRE(eventually([&] {
      auto p = app.pool_actor("p");
      if (!p || *p == victim)
        return done.load();
      victim = *p;
      return true;
    }));
    if (done)
      break;
    self->send_exit(victim, caf::exit_reason::kill);
    wait_down(victim);
    eventually([&] { return done.load(); }, 200ms);
  }
  t.join();
  REQUIRE(!started);
  CHECK(started.error() == errc::start_failed);
  CHECK(pooler::error_subject(started.error()) == "p");
  CHECK(app.pool_names().empty());
  CHECK(!has_child(self, app.top_supervisor(), "p_pool_sup"));
  CHECK(eventually([] { return live_members.load() == 0; }));
  // The name is free again.
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  CHECK(usage("p").free_count == 1);
}

TEST_CASE_FIXTURE(fixture, "rm_pool waits as long as the members' shutdown takes") {
  // Longer than any fixed wait of the supervision helpers (10 s).
  constexpr auto shutdown_takes = 10500ms;
  auto cfg = pool("slow", 2, 2);
  cfg.start = pooler::member_factory::function(
    [shutdown_takes](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(slow_stopping_member, caf::timespan{shutdown_takes});
    });
  cfg.member_shutdown = 30s;
  REQUIRE(app.new_pool(cfg));
  REQUIRE(free_becomes("slow", 2));
  auto t0 = clock::now();
  auto removed = app.rm_pool("slow");
  CHECK(removed);
  CHECK(ms_since(t0) >= 10000);
  CHECK(live_members.load() == 0);
  CHECK(app.pool_names().empty());
  CHECK(!has_child(self, app.top_supervisor(), "slow_pool_sup"));
  REQUIRE(app.new_pool(pool("slow", 1, 1)));
}

// -- the registry: records, application-supervised pools, remote entries ---------------

namespace {

caf::actor start_own_supervisor(caf::actor_system& sys,
                                std::vector<pooler::child_spec> specs) {
  pooler::sup_flags flags;
  flags.strategy = pooler::strategy::one_for_one;
  auto sup = pooler::start_supervisor(sys, flags, std::move(specs));
  REQUIRE(sup);
  return *sup;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a pool_child_spec pool leaves the registry when its supervisor terminates or deletes it") {
  auto sup = start_own_supervisor(sys, {pooler::pool_child_spec(app, pool("c", 1, 1))});
  CHECK(app.pool_names() == std::vector<std::string>{"c"});
  auto m = app.take_member(self, "c", 2s); // its members may still be starting
  REQUIRE(m);
  app.return_member("c", *m);
  CHECK(app.rm_pool("c").error() == errc::not_found); // its supervisor's job
  REQUIRE(pooler::terminate_child(self, sup, "c_pool_sup"));
  CHECK(app.pool_names().empty());
  CHECK(app.take_member(self, "c").error() == errc::pool_not_found);
  REQUIRE(pooler::restart_child(self, sup, "c_pool_sup"));
  CHECK(app.pool_names() == std::vector<std::string>{"c"});
  REQUIRE(free_becomes("c", 1));
  REQUIRE(pooler::terminate_child(self, sup, "c_pool_sup"));
  REQUIRE(pooler::delete_child(self, sup, "c_pool_sup"));
  CHECK(app.pool_names().empty());
  REQUIRE(app.new_pool(pool("c", 1, 1)));
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  wait_down(sup);
}

TEST_CASE_FIXTURE(fixture, "a pool_child_spec pool leaves the registry when its supervisor ends") {
  auto sup = start_own_supervisor(sys, {pooler::pool_child_spec(app, pool("c", 1, 1))});
  CHECK(app.pool_names() == std::vector<std::string>{"c"});
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  wait_down(sup);
  CHECK(eventually([&] { return app.pool_names().empty(); }));
  CHECK(app.pool_utilization("c").error() == errc::pool_not_found);
}

TEST_CASE_FIXTURE(fixture, "a duplicate pool name is pool_exists and leaves the first pool alone") {
  REQUIRE(app.new_pool(pool("d", 1, 2)));
  CHECK(app.new_pool(pool("d", 1, 1)).error() == errc::pool_exists);
  pooler::sup_flags flags;
  auto dup = pooler::start_supervisor(sys, flags,
                                      {pooler::pool_child_spec(app, pool("d", 1, 5))});
  REQUIRE(!dup);
  CHECK(dup.error() == errc::pool_exists);
  auto first = start_own_supervisor(sys, {pooler::pool_child_spec(app, pool("e", 1, 2))});
  auto second = pooler::start_supervisor(
    sys, flags, {pooler::pool_child_spec(app, pool("e", 1, 7))});
  REQUIRE(!second);
  CHECK(second.error() == errc::pool_exists);
  CHECK(app.pool_config_of("d")->max_count == 2);
  CHECK(usage("e").max_count == 2);
  auto m = app.take_member(self, "e", 2s);
  REQUIRE(m);
  app.return_member("e", *m);
  self->send_exit(first, caf::exit_reason::user_shutdown);
  wait_down(first);
}

TEST_CASE_FIXTURE(fixture, "a pool_child_spec pool keeps its reconfigured values across a restart of its subtree") {
  auto sup = start_own_supervisor(sys, {pooler::pool_child_spec(app, pool("c", 1, 2))});
  auto cfg = *app.pool_config_of("c");
  cfg.max_count = 4;
  REQUIRE(app.pool_reconfigure("c", cfg));
  auto subtree = *app.pool_supervisor("c");
  self->send_exit(subtree, caf::exit_reason::kill);
  wait_down(subtree);
  REQUIRE(eventually([&] {
    auto now = app.pool_supervisor("c");
    return now && *now != subtree && app.pool_utilization("c");
  }));
  CHECK(app.pool_config_of("c")->max_count == 4);
  CHECK(usage("c").max_count == 4);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  wait_down(sup);
}

TEST_CASE_FIXTURE(fixture, "remote pools have registry entries of their own") {
  pooler::registry reg;
  auto local = reg.reserve(pool("l", 1, 1));
  REQUIRE(local);
  auto stranger = sys.spawn(member, int64_t{0});
  CHECK(reg.set_remote("r", "g", stranger));
  CHECK(!reg.set_remote("l", "g", stranger)); // never shadows a local pool
  CHECK(!reg.config("r"));                     // no made-up config
  CHECK(!reg.record("r"));
  CHECK(reg.pool("r") == stranger);
  CHECK(reg.group_pools("g") == std::vector<std::string>{"r"});
  CHECK(!reg.claim(std::make_shared<pooler::pool_record>(pool("r", 1, 1))));
  CHECK(reg.remote_or_free("r"));
  CHECK(!reg.remote_or_free("l"));
  reg.erase_remote("l"); // a local pool stays
  CHECK(reg.record("l") == local);
  reg.erase_remote("r");
  CHECK(reg.names() == std::vector<std::string>{"l"});
  self->send_exit(stranger, caf::exit_reason::kill);
}
