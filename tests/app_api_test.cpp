// The app handle's contract: empty handles, calls after stop or once a
// pool's subtree is gone, argument checks, groups, and the lifecycle calls.

#include "pool_fixture.hpp"

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
