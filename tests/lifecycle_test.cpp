// Groups, max lifetime and runtime reconfigure.

#include <set>

#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;
using pooler::reconfigure_action;

namespace {

std::vector<std::string> names(const std::vector<reconfigure_action>& xs) {
  std::vector<std::string> result;
  for (auto& x : xs)
    result.push_back(to_string(x));
  return result;
}

} // namespace

// -- groups ---------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "group takes spread over every pool of the group") {
  REQUIRE(app.new_pool(grouped("g1", 2, 2, "g")));
  REQUIRE(app.new_pool(grouped("g2", 2, 2, "g")));
  REQUIRE(app.new_pool(pool("other", 1, 1)));
  CHECK(app.group_pools("g") == std::vector<std::string>{"g1", "g2"});
  std::vector<caf::actor> taken;
  for (int i = 0; i < 4; ++i) {
    auto m = app.take_group_member(self, "g");
    REQUIRE(m);
    taken.push_back(*m);
  }
  CHECK(usage("g1").in_use_count == 2);
  CHECK(usage("g2").in_use_count == 2);
  auto none = app.take_group_member(self, "g");
  CHECK(none.error() == errc::no_members);
  for (auto& m : taken)
    app.return_group_member("g", m);
  REQUIRE(free_becomes("g1", 2));
  REQUIRE(free_becomes("g2", 2));
}

TEST_CASE_FIXTURE(fixture, "a group take with a timeout is served by a return to any pool") {
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  REQUIRE(app.new_pool(grouped("g2", 1, 1, "g")));
  auto a = *app.take_group_member(self, "g");
  auto b = *app.take_group_member(self, "g");
  caf::expected<caf::actor> got{caf::sec::none};
  std::thread t{[&] {
    caf::scoped_actor other{sys};
    got = app.take_group_member(other, "g", 5s);
    if (got)
      app.return_group_member("g", *got);
  }};
  REQUIRE(eventually([&] {
    return usage("g1").queued_count + usage("g2").queued_count == 1;
  }));
  // Return the member of the pool the waiter queued in.
  auto waiting_pool = usage("g1").queued_count == 1 ? "g1" : "g2";
  auto of_waiting_pool = app.pool_stats(waiting_pool)->at(0).member;
  auto other_member = of_waiting_pool == a ? b : a;
  app.return_group_member("g", of_waiting_pool);
  t.join();
  REQUIRE(got);
  CHECK(*got == of_waiting_pool);
  app.return_group_member("g", other_member);
}

TEST_CASE_FIXTURE(fixture, "unknown groups and garbage group returns are harmless") {
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  CHECK(app.take_group_member(self, "nope").error() == errc::no_members);
  auto stranger = sys.spawn(member, int64_t{0});
  app.return_group_member("g", stranger);
  app.return_group_member("nope", stranger);
  auto m = *app.take_group_member(self, "g");
  app.return_group_member("g", m);
  app.return_group_member("g", m); // twice
  REQUIRE(free_becomes("g1", 1));
  CHECK(usage("g1").in_use_count == 0);
  self->send_exit(stranger, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(fixture, "rm_group removes every pool of the group") {
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  REQUIRE(app.new_pool(grouped("g2", 1, 1, "g")));
  REQUIRE(app.new_pool(pool("keep", 1, 1)));
  REQUIRE(app.rm_group("g"));
  CHECK(app.pool_names() == std::vector<std::string>{"keep"});
  CHECK(app.rm_group("g")); // emptied: not an error, as pooler
}

TEST_CASE_FIXTURE(fixture, "event-based group takes") {
  REQUIRE(app.new_pool(grouped("g1", 1, 1, "g")));
  auto a = app;
  auto consumer = sys.spawn([a](caf::event_based_actor* c) mutable {
    a.take_group_member(
      c, "g", 1s,
      [a, c](caf::actor m) mutable {
        a.return_group_member("g", m);
        c->quit();
      },
      [c](caf::error err) { c->quit(err); });
  });
  CHECK(!wait_down(consumer));
  REQUIRE(free_becomes("g1", 1));
}

// -- max lifetime ------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "an expired free member is replaced without client activity") {
  auto cfg = pool("p", 2, 2);
  cfg.max_lifetime = 100ms;
  REQUIRE(app.new_pool(cfg));
  auto first = *app.pool_stats("p");
  for (auto& x : first)
    REQUIRE(x.expires_at);
  wait_down(first[0].member);
  wait_down(first[1].member);
  REQUIRE(free_becomes("p", 2));
}

TEST_CASE_FIXTURE(fixture, "an expired member in use is replaced when returned") {
  auto cfg = pool("p", 1, 1);
  cfg.max_lifetime = 100ms;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  std::this_thread::sleep_for(150ms); // outlive the lifetime while in use
  CHECK(usage("p").in_use_count == 1); // never stopped while in use
  app.return_member("p", m);
  wait_down(m);
  REQUIRE(eventually([&] { return usage("p").free_count == 1; }));
}

TEST_CASE_FIXTURE(fixture, "jitter spreads expiries") {
  auto cfg = pool("p", 8, 8);
  cfg.max_lifetime = 10s;
  cfg.max_lifetime_jitter = 5s;
  REQUIRE(app.new_pool(cfg));
  std::set<caf::timestamp> expiries;
  auto stats = *app.pool_stats("p");
  for (auto& x : stats)
    expiries.insert(*x.expires_at);
  CHECK(expiries.size() == 8);
}

TEST_CASE_FIXTURE(fixture, "the member a ttl timer aims at dying in use does not disturb the pool") {
  auto cfg = pool("p", 2, 2);
  cfg.max_lifetime = 300ms;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  self->send(m, crash_atom::value);
  wait_down(m);
  REQUIRE(eventually([&] { return usage("p").free_count == 2; }));
  CHECK(app.take_member(self, "p"));
}

// -- reconfigure -------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "reconfigure returns pooler's actions in order") {
  REQUIRE(app.new_pool(grouped("p", 1, 2, "g1")));
  auto cfg = *app.pool_config_of("p");
  cfg.init_count = 2;
  cfg.max_count = 3;
  cfg.group = "g2";
  cfg.cull_interval = 2min;
  auto actions = app.pool_reconfigure("p", cfg);
  REQUIRE(actions);
  // Parameter by parameter, each followed by its own actions; the old group
  // is left before the new one is joined; a longer cull interval does not
  // restart the cull timer (only a shorter one does).
  CHECK(names(*actions)
        == std::vector<std::string>{
          "set_parameter(group)", "leave_group(g1)", "join_group(g2)",
          "set_parameter(init_count)", "start_workers(1)",
          "set_parameter(max_count)", "set_parameter(cull_interval)"});
  REQUIRE(free_becomes("p", 2));
  CHECK(app.group_pools("g2") == std::vector<std::string>{"p"});
  CHECK(app.group_pools("g1").empty());
  CHECK(app.pool_config_of("p")->max_count == 3);
}

TEST_CASE_FIXTURE(fixture, "lowering max_count stops free members") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  auto cfg = *app.pool_config_of("p");
  cfg.init_count = 1;
  cfg.max_count = 1;
  auto actions = app.pool_reconfigure("p", cfg);
  REQUIRE(actions);
  CHECK(names(*actions)
        == std::vector<std::string>{"set_parameter(init_count)",
                                    "set_parameter(max_count)",
                                    "stop_free_workers(2)"});
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.free_count == 1 && u.stopping_count == 0;
  }));
}

TEST_CASE_FIXTURE(fixture, "reconfigure refuses what it cannot apply and applies nothing") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto m1 = *app.take_member(self, "p");
  auto m2 = *app.take_member(self, "p");
  auto cfg = *app.pool_config_of("p");
  cfg.init_count = 1;
  cfg.max_count = 1;
  CHECK(app.pool_reconfigure("p", cfg).error() == errc::not_enough_free_members);
  auto bad = *app.pool_config_of("p");
  bad.init_count = 5;
  CHECK(app.pool_reconfigure("p", bad).error() == errc::invalid_config);
  auto renamed = *app.pool_config_of("p");
  renamed.name = "q";
  CHECK(app.pool_reconfigure("p", renamed).error() == errc::unsupported_change);
  auto restarted = *app.pool_config_of("p");
  restarted.start = member_factory();
  CHECK(app.pool_reconfigure("p", restarted).error()
        == errc::unsupported_change);
  CHECK(app.pool_config_of("p")->max_count == 2);
  CHECK(usage("p").max_count == 2);
  CHECK(app.pool_reconfigure("nope", cfg).error() == errc::pool_not_found);
  app.return_member("p", m1);
  app.return_member("p", m2);
}

TEST_CASE_FIXTURE(fixture, "shrinking queue_max answers the oldest waiters") {
  auto cfg = pool("p", 1, 1);
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  caf::error first_error;
  std::thread t{[&] {
    caf::scoped_actor other{sys};
    auto r = app.take_member(other, "p", 10s);
    if (!r)
      first_error = r.error();
  }};
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  auto next = *app.pool_config_of("p");
  next.queue_max = 0;
  auto actions = app.pool_reconfigure("p", next);
  REQUIRE(actions);
  CHECK(names(*actions)
        == std::vector<std::string>{"set_parameter(queue_max)",
                                    "shrink_queue(1)"});
  t.join();
  CHECK(first_error == errc::no_members);
  app.return_member("p", m);
}

TEST_CASE_FIXTURE(fixture, "adding and removing max_lifetime by reconfigure") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = app.pool_stats("p")->at(0).member;
  auto cfg = *app.pool_config_of("p");
  cfg.max_lifetime = 50ms;
  auto actions = app.pool_reconfigure("p", cfg);
  REQUIRE(actions);
  CHECK(names(*actions)
        == std::vector<std::string>{"set_parameter(max_lifetime)",
                                    "update_ttl(50ms)"});
  wait_down(original);
  cfg.max_lifetime.reset();
  REQUIRE(app.pool_reconfigure("p", cfg));
  REQUIRE(free_becomes("p", 1));
  auto survivor = app.pool_stats("p")->at(0);
  CHECK(!survivor.expires_at);
}

TEST_CASE_FIXTURE(fixture, "reconfigured values survive a restart of the pool actor") {
  REQUIRE(app.new_pool(pool("p", 1, 2)));
  auto cfg = *app.pool_config_of("p");
  cfg.init_count = 2;
  cfg.max_count = 4;
  REQUIRE(app.pool_reconfigure("p", cfg));
  auto old_pool = *app.pool_actor("p");
  self->send_exit(old_pool, caf::exit_reason::kill);
  wait_down(old_pool);
  REQUIRE(eventually([&] {
    auto p = app.pool_actor("p");
    if (!p || *p == old_pool)
      return false;
    auto u = app.pool_utilization("p");
    return u && u->max_count == 4 && u->free_count == 2;
  }));
}

TEST_CASE_FIXTURE(fixture, "lowering max_age culls at once") {
  auto cfg = pool("p", 0, 2);
  cfg.cull_interval = std::chrono::hours(1);
  REQUIRE(app.new_pool(cfg));
  REQUIRE(!app.take_member(self, "p"));
  REQUIRE(free_becomes("p", 1));
  auto next = *app.pool_config_of("p");
  next.max_age = caf::timespan{0};
  auto actions = app.pool_reconfigure("p", next);
  REQUIRE(actions);
  CHECK(names(*actions)
        == std::vector<std::string>{"set_parameter(max_age)", "cull()"});
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.free_count == 0 && u.stopping_count == 0;
  }));
}

TEST_CASE_FIXTURE(fixture, "joining and leaving a group by reconfigure") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto next = *app.pool_config_of("p");
  next.group = "g";
  auto joined = app.pool_reconfigure("p", next);
  REQUIRE(joined);
  CHECK(names(*joined)
        == std::vector<std::string>{"set_parameter(group)", "join_group(g)"});
  CHECK(app.group_pools("g") == std::vector<std::string>{"p"});
  CHECK(app.take_group_member(self, "g"));
  next.group.clear();
  auto left = app.pool_reconfigure("p", next);
  REQUIRE(left);
  CHECK(names(*left)
        == std::vector<std::string>{"set_parameter(group)", "leave_group(g)"});
  CHECK(app.group_pools("g").empty());
}

TEST_CASE_FIXTURE(fixture, "shortening max_lifetime replaces members that outlived it") {
  auto cfg = pool("p", 1, 1);
  cfg.max_lifetime = std::chrono::hours(1);
  REQUIRE(app.new_pool(cfg));
  auto original = app.pool_stats("p")->at(0).member;
  auto next = *app.pool_config_of("p");
  next.max_lifetime = 50ms;
  auto actions = app.pool_reconfigure("p", next);
  REQUIRE(actions);
  CHECK(names(*actions)
        == std::vector<std::string>{"set_parameter(max_lifetime)",
                                    "update_ttl(50ms)"});
  wait_down(original);
  REQUIRE(eventually([&] {
    auto stats = *app.pool_stats("p");
    return stats.size() == 1 && stats[0].member != original
           && stats[0].expires_at;
  }));
}
