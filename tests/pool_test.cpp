// Pool semantics, one test case per rule, through the public API.

#include "pool_fixture.hpp"

#include <atomic>
#include <future>

using namespace test;
using pooler::errc;
using pooler::member_status;

namespace {

std::string reason_of(const caf::error& err) {
  return pooler::error_detail(err);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a new pool starts init_count members") {
  REQUIRE(app.new_pool(pool("p", 3, 5)));
  auto u = usage("p");
  CHECK(u.free_count == 3);
  CHECK(u.in_use_count == 0);
  CHECK(u.max_count == 5);
  CHECK(live_in("p") == 3);
}

TEST_CASE_FIXTURE(fixture, "new_pool rejects a duplicate name and bad configs") {
  REQUIRE(app.new_pool(pool("p", 1, 2)));
  auto dup = app.new_pool(pool("p", 1, 2));
  CHECK(dup.error() == errc::pool_exists);
  auto bad = app.new_pool(pool("q", 3, 2));
  CHECK(bad.error() == errc::invalid_config);
  CHECK(pooler::error_subject(bad.error()) == "q");
  CHECK(pooler::error_detail(bad.error()).find("max_count") != std::string::npos);
  auto cfg = pool("r", 1, 2);
  cfg.start = pooler::member_factory::actor_type("no_such_type");
  auto unknown = app.new_pool(cfg);
  CHECK(unknown.error() == errc::invalid_config);
  CHECK(pooler::error_detail(unknown.error()).find("start") != std::string::npos);
  CHECK(app.pool_names() == std::vector<std::string>{"p"});
}

TEST_CASE_FIXTURE(fixture, "an actor type registered by name starts members") {
  auto cfg = pool("typed", 2, 2);
  cfg.start = pooler::member_factory::actor_type("test_member",
                                                 caf::make_message(int64_t{7}));
  REQUIRE(app.new_pool(cfg));
  CHECK(usage("typed").free_count == 2);
}

TEST_CASE_FIXTURE(fixture, "take without waiting grows in batches up to max_count") {
  REQUIRE(app.new_pool(pool("p", 1, 3)));
  auto m1 = app.take_member(self, "p");
  REQUIRE(m1);
  // None free, room left: a batch starts and the take says all_in_use.
  auto none = app.take_member(self, "p");
  REQUIRE(!none);
  CHECK(none.error() == errc::no_members);
  CHECK(reason_of(none.error()) == "all_in_use");
  REQUIRE(free_becomes("p", 1));
  auto m2 = app.take_member(self, "p");
  REQUIRE(m2);
  CHECK(*m2 != *m1);
  REQUIRE(!app.take_member(self, "p"));
  REQUIRE(free_becomes("p", 1));
  auto m3 = app.take_member(self, "p");
  REQUIRE(m3);
  auto full = app.take_member(self, "p");
  CHECK(full.error() == errc::no_members);
  CHECK(reason_of(full.error()) == "at_capacity");
  CHECK(usage("p").in_use_count == 3);
  CHECK(live_in("p") == 3);
}

TEST_CASE_FIXTURE(fixture, "an unknown pool answers pool_not_found") {
  auto m = app.take_member(self, "nope");
  CHECK(m.error() == errc::pool_not_found);
  CHECK(app.pool_utilization("nope").error() == errc::pool_not_found);
}

TEST_CASE_FIXTURE(fixture, "lifo hands out the most recently returned member") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  auto a = *app.take_member(self, "p");
  auto b = *app.take_member(self, "p");
  app.return_member("p", a);
  app.return_member("p", b);
  REQUIRE(free_becomes("p", 3));
  CHECK(*app.take_member(self, "p") == b);
}

TEST_CASE_FIXTURE(fixture, "fifo hands out the least recently returned member") {
  auto cfg = pool("p", 3, 3);
  cfg.member_order = pooler::member_order::fifo;
  REQUIRE(app.new_pool(cfg));
  // Take all three, then return them in a known order.
  auto a = *app.take_member(self, "p");
  auto b = *app.take_member(self, "p");
  auto c = *app.take_member(self, "p");
  app.return_member("p", b);
  app.return_member("p", a);
  app.return_member("p", c);
  REQUIRE(free_becomes("p", 3));
  CHECK(*app.take_member(self, "p") == b);
  CHECK(*app.take_member(self, "p") == a);
}

TEST_CASE_FIXTURE(fixture, "a crashed member in use is replaced") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto m = *app.take_member(self, "p");
  self->send(m, crash_atom::value);
  wait_down(m);
  REQUIRE(free_becomes("p", 2));
  CHECK(usage("p").in_use_count == 0);
  auto stats = *app.pool_stats("p");
  for (auto& x : stats)
    CHECK(x.member != m);
}

TEST_CASE_FIXTURE(fixture, "a crashed free member is replaced") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto stats = *app.pool_stats("p");
  REQUIRE(stats.size() == 2);
  auto victim = stats[0].member;
  self->send(victim, crash_atom::value);
  wait_down(victim);
  REQUIRE(eventually([&] {
    auto now = *app.pool_stats("p");
    return now.size() == 2 && now[0].member != victim && now[1].member != victim
           && usage("p").free_count == 2;
  }));
}

TEST_CASE_FIXTURE(fixture, "a member returned fail is stopped and replaced") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = *app.take_member(self, "p");
  app.return_member("p", m, member_status::fail);
  wait_down(m);
  REQUIRE(free_becomes("p", 1));
  CHECK(*app.take_member(self, "p") != m);
}

TEST_CASE_FIXTURE(fixture, "a consumer that exits normally gives its members back") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  caf::actor held;
  {
    caf::scoped_actor consumer{sys};
    held = *app.take_member(consumer, "p");
    auto second = *app.take_member(consumer, "p");
    CHECK(usage("p").in_use_count == 2);
  } // the scoped actor exits normally here
  REQUIRE(free_becomes("p", 2));
  auto stats = *app.pool_stats("p");
  CHECK((stats[0].member == held || stats[1].member == held));
}

TEST_CASE_FIXTURE(fixture, "a consumer that crashes has its members replaced") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = app.pool_stats("p")->at(0).member;
  auto a = app;
  auto consumer = sys.spawn([a](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", caf::timespan{0},
      [c](caf::actor) {
        c->quit(caf::make_error(caf::sec::runtime_error, "consumer crash"));
      },
      [c](caf::error err) { c->quit(err); });
  });
  CHECK(wait_down(consumer) == caf::sec::runtime_error);
  wait_down(original);
  REQUIRE(free_becomes("p", 1));
  CHECK(app.pool_stats("p")->at(0).member != original);
}

TEST_CASE_FIXTURE(fixture, "unknown and double returns are harmless") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto m = *app.take_member(self, "p");
  auto stranger = sys.spawn(member, int64_t{0});
  app.return_member("p", stranger);
  app.return_member("p", caf::actor{});
  app.return_member("p", m);
  app.return_member("p", m);
  app.return_member("no_such_pool", m);
  REQUIRE(free_becomes("p", 2));
  auto u = usage("p");
  CHECK(u.in_use_count == 0);
  CHECK(live_in("p") == 2);
  self->send_exit(stranger, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(fixture, "rm_pool stops every member and the name is reusable") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  auto m = *app.take_member(self, "p");
  REQUIRE(app.rm_pool("p"));
  wait_down(m);
  CHECK(eventually([] { return live_members.load() == 0; }));
  CHECK(app.pool_utilization("p").error() == errc::pool_not_found);
  CHECK(app.rm_pool("p")); // unknown name: not an error
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  CHECK(usage("p").free_count == 1);
}

TEST_CASE_FIXTURE(fixture, "a member type that always fails gives a pool that answers no_members") {
  auto cfg = pool("p", 2, 3);
  cfg.start = pooler::member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> {
      return caf::make_error(caf::sec::runtime_error, "cannot connect");
    });
  REQUIRE(app.new_pool(cfg));
  auto u = usage("p");
  CHECK(u.free_count == 0);
  CHECK(u.starting_count == 0);
  // The failures show: counted, with the last cause, in utilization and in
  // the take's error.
  CHECK(u.start_failures >= 2);
  CHECK(u.last_start_failure.find("cannot connect") != std::string::npos);
  auto m = app.take_member(self, "p");
  CHECK(m.error() == errc::no_members);
  auto detail = pooler::error_detail(m.error());
  CHECK(detail.find("0 of 3 members running; last start failed: ")
        != std::string::npos);
  CHECK(detail.find("cannot connect") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "min_ready: a pool whose members cannot start fails new_pool with the cause and leaves nothing behind") {
  auto cfg = pool("p", 2, 3);
  cfg.min_ready = 1;
  cfg.start = pooler::member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> {
      return caf::make_error(caf::sec::runtime_error, "cannot connect");
    });
  auto res = app.new_pool(cfg);
  REQUIRE(!res);
  CHECK(res.error() == errc::start_failed);
  CHECK(pooler::error_subject(res.error()) == "p");
  auto detail = pooler::error_detail(res.error());
  CHECK(detail.find("min_ready is 1 but 0 of 2 members started") != std::string::npos);
  CHECK(detail.find("cannot connect") != std::string::npos);
  // The name is free again: the same pool with working members comes up.
  CHECK(app.take_member(self, "p").error() == errc::pool_not_found);
  auto ok = pool("p", 2, 3);
  ok.min_ready = 2;
  REQUIRE(app.new_pool(ok));
  CHECK(usage("p").free_count == 2);
}

TEST_CASE_FIXTURE(fixture, "min_ready above init_count is an invalid config naming the key") {
  auto cfg = pool("p", 1, 3);
  cfg.min_ready = 2;
  auto res = app.new_pool(cfg);
  REQUIRE(!res);
  CHECK(res.error() == errc::invalid_config);
  CHECK(pooler::error_detail(res.error()).find("min_ready") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "a reconfigured member_shutdown reaches the members when the pool is removed") {
  // Members that see a graceful exit (user_shutdown) say so; brutal_kill
  // cannot be trapped.
  auto graceful = std::make_shared<std::atomic<int>>(0);
  auto cfg = pool("p", 2, 2);
  cfg.start = pooler::member_factory::function(
    [graceful](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn([graceful](caf::event_based_actor* m) -> caf::behavior {
        m->set_exit_handler([m, graceful](caf::exit_msg& em) {
          if (em.reason == caf::exit_reason::user_shutdown)
            ++*graceful;
          m->quit(em.reason);
        });
        return {[](int64_t x) { return x; }};
      });
    });
  REQUIRE(app.new_pool(cfg)); // member_shutdown unset: brutal_kill
  cfg.member_shutdown = std::chrono::seconds(5);
  REQUIRE(app.pool_reconfigure("p", cfg));
  REQUIRE(app.rm_pool("p"));
  CHECK(graceful->load() == 2);
}

TEST_CASE_FIXTURE(fixture, "culling stops the oldest idle members down to init_count") {
  auto cfg = pool("p", 1, 4);
  cfg.cull_interval = 20ms;
  cfg.max_age = 50ms;
  REQUIRE(app.new_pool(cfg));
  std::vector<caf::actor> taken{*app.take_member(self, "p")};
  while (taken.size() < 4) {
    if (auto m = app.take_member(self, "p"))
      taken.push_back(*m);
    else
      REQUIRE(eventually([&] { return usage("p").free_count > 0; }));
  }
  for (auto& m : taken)
    app.return_member("p", m);
  // The most recently returned member survives the cull.
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.free_count == 1 && u.stopping_count == 0;
  }));
  CHECK(app.pool_stats("p")->at(0).member == taken.back());
  CHECK(live_in("p") == 1);
}

TEST_CASE_FIXTURE(fixture, "cull_pool culls at once and never culls members in use") {
  auto cfg = pool("p", 0, 2);
  cfg.cull_interval = std::chrono::hours(1);
  cfg.max_age = caf::timespan{0};
  REQUIRE(app.new_pool(cfg));
  REQUIRE(!app.take_member(self, "p"));
  REQUIRE(free_becomes("p", 1));
  auto held = *app.take_member(self, "p");
  REQUIRE(!app.take_member(self, "p"));
  REQUIRE(free_becomes("p", 1));
  REQUIRE(app.cull_pool("p"));
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.free_count == 0 && u.stopping_count == 0 && u.in_use_count == 1;
  }));
  CHECK(live_in("p") == 1);
  app.return_member("p", held);
}

TEST_CASE_FIXTURE(fixture, "a take with a timeout is served by a returned member") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = *app.take_member(self, "p");
  auto a = app;
  auto waiter = sys.spawn([a](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", 5s, [](caf::actor) {}, [c](caf::error err) { c->quit(err); });
    return caf::behavior{[](int) {}};
  });
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  app.return_member("p", m);
  REQUIRE(eventually([&] { return usage("p").in_use_count == 1; }));
  auto stats = *app.pool_stats("p");
  CHECK(stats.at(0).member == m);
  CHECK(stats.at(0).consumer == waiter.address());
  self->send_exit(waiter, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(fixture, "a take times out after its timeout with reason timeout") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = *app.take_member(self, "p");
  caf::scoped_actor other{sys};
  auto start = std::chrono::steady_clock::now();
  auto r = app.take_member(other, "p", 100ms);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(r.error() == errc::no_members);
  CHECK(reason_of(r.error()) == "timeout");
  CHECK(waited >= 100ms);
  CHECK(waited < 2s);
  CHECK(usage("p").queued_count == 0);
  app.return_member("p", m);
}

TEST_CASE_FIXTURE(fixture, "a full queue answers queue_full at once") {
  auto cfg = pool("p", 1, 1);
  cfg.queue_max = 1;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  auto a = app;
  auto waiter = sys.spawn([a](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", 10s, [](caf::actor) {}, [](caf::error) {});
    return caf::behavior{[](int) {}};
  });
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  caf::scoped_actor other{sys};
  auto r = app.take_member(other, "p", 10s);
  CHECK(r.error() == errc::no_members);
  CHECK(reason_of(r.error()) == "queue_full");
  self->send_exit(waiter, caf::exit_reason::kill);
  // A dead requestor leaves the queue and is never handed a member.
  REQUIRE(eventually([&] { return usage("p").queued_count == 0; }));
  app.return_member("p", m);
  REQUIRE(free_becomes("p", 1));
}

TEST_CASE_FIXTURE(fixture, "an infinite wait is served when a member comes back") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = *app.take_member(self, "p");
  caf::actor got;
  std::thread t{[&] {
    caf::scoped_actor other{sys};
    got = *app.take_member(other, "p", pooler::infinite_wait);
    app.return_member("p", got);
  }};
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  app.return_member("p", m);
  t.join();
  CHECK(got == m);
}

TEST_CASE_FIXTURE(fixture, "auto_grow starts members when free falls to the threshold") {
  auto cfg = pool("p", 2, 4);
  cfg.auto_grow_threshold = 1;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  // free fell to 1 <= threshold: a batch of init_count starts (up to max).
  REQUIRE(eventually([&] { return usage("p").free_count == 3; }));
  app.return_member("p", m);
}

TEST_CASE_FIXTURE(fixture, "without auto_grow a take with free members never grows") {
  REQUIRE(app.new_pool(pool("p", 2, 4)));
  auto m = *app.take_member(self, "p");
  auto u = usage("p");
  CHECK(u.free_count == 1);
  CHECK(u.starting_count == 0);
  app.return_member("p", m);
}

TEST_CASE_FIXTURE(fixture, "a failing initialize hook fails the start") {
  auto cfg = pool("p", 2, 2);
  cfg.initialize = pooler::member_hook::message(caf::make_message(hang_atom::value));
  REQUIRE(app.new_pool(cfg));
  auto u = usage("p");
  CHECK(u.free_count == 0);
  CHECK(live_in("p") == 0);
}

TEST_CASE_FIXTURE(fixture, "a succeeding initialize hook admits the member") {
  auto cfg = pool("p", 2, 2);
  cfg.initialize = pooler::member_hook::message(caf::make_message(ping_atom::value));
  REQUIRE(app.new_pool(cfg));
  CHECK(usage("p").free_count == 2);
}

TEST_CASE_FIXTURE(fixture, "a callable initialize hook sees each member") {
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto cfg = pool("p", 3, 3);
  cfg.initialize = pooler::member_hook::function(
    [seen](caf::actor_system&, const caf::actor& m) -> caf::expected<void> {
      if (!m)
        return caf::sec::invalid_argument;
      ++*seen;
      return caf::unit;
    });
  REQUIRE(app.new_pool(cfg));
  CHECK(*seen == 3);
  CHECK(usage("p").free_count == 3);
}

TEST_CASE_FIXTURE(fixture, "the stop hook stops members and a stubborn one is killed") {
  auto cfg = pool("p", 1, 1);
  cfg.start = pooler::member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(stubborn_member, int64_t{0});
    });
  cfg.stop = pooler::member_hook::message(caf::make_message(stop_atom::value));
  cfg.member_shutdown = 100ms;
  REQUIRE(app.new_pool(cfg));
  auto m = *app.take_member(self, "p");
  auto start = std::chrono::steady_clock::now();
  app.return_member("p", m, member_status::fail);
  // The stopping member still counts against max_count: no replacement yet.
  REQUIRE(eventually([&] { return usage("p").stopping_count == 1; }));
  CHECK(usage("p").starting_count + usage("p").free_count == 0);
  CHECK(wait_down(m) == caf::exit_reason::kill);
  CHECK(std::chrono::steady_clock::now() - start >= 100ms);
  REQUIRE(free_becomes("p", 1));
}

TEST_CASE_FIXTURE(fixture, "a start that does not report in time is abandoned") {
  auto cfg = pool("p", 1, 1);
  cfg.member_start_timeout = 100ms;
  cfg.initialize = pooler::member_hook::function(
    [](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      std::this_thread::sleep_for(300ms); // a slow initialize, on a starter
      return caf::unit;
    });
  REQUIRE(app.new_pool(cfg));
  // Abandoned at 100 ms; the member that appears later is stopped.
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.starting_count == 0 && u.stopping_count == 0 && u.free_count == 0;
  }));
  CHECK(live_in("p") == 0);
}

TEST_CASE_FIXTURE(fixture, "a killed pool actor comes back with init_count members") {
  REQUIRE(app.new_pool(pool("p", 2, 3)));
  auto old_pool = *app.pool_actor("p");
  auto m = *app.take_member(self, "p");
  self->send_exit(old_pool, caf::exit_reason::kill);
  wait_down(old_pool);
  wait_down(m); // all_for_one: the members went with it
  REQUIRE(eventually([&] {
    auto p = app.pool_actor("p");
    return p && *p != old_pool && app.pool_utilization("p")
           && app.pool_utilization("p")->free_count == 2;
  }));
  CHECK(live_in("p") == 2);
  app.return_member("p", m); // a member of the old pool: harmless
  CHECK(app.take_member(self, "p"));
}

TEST_CASE_FIXTURE(fixture, "event-based consumers take and return") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto a = app;
  auto consumer = sys.spawn([a](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", 1s,
      [a, c](caf::actor m) mutable {
        c->request(m, 1s, ping_atom::value)
          .then([a, m, c](caf::actor_id) mutable {
            a.return_member("p", m);
            c->quit();
          });
      },
      [c](caf::error err) { c->quit(err); });
  });
  CHECK(!wait_down(consumer));
  REQUIRE(free_becomes("p", 2));
}

TEST_CASE_FIXTURE(fixture, "pool_stats reports each member with its consumer") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto m = *app.take_member(self, "p");
  auto stats = *app.pool_stats("p");
  REQUIRE(stats.size() == 2);
  int in_use = 0;
  for (auto& x : stats) {
    if (x.member == m) {
      ++in_use;
      CHECK(x.status == pooler::member_state::in_use);
      CHECK(x.consumer == self->address());
      CHECK(x.checkouts == 1);
    } else {
      CHECK(x.status == pooler::member_state::free);
    }
  }
  CHECK(in_use == 1);
}

TEST_CASE_FIXTURE(fixture, "call_free_members runs on each free member without blocking the pool") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  auto held = *app.take_member(self, "p");
  std::vector<size_t> in_use_seen;
  auto results = app.call_free_members("p", [&](const caf::actor& m) {
    // The pool answers while its free members are out.
    in_use_seen.push_back(usage("p").in_use_count);
    return caf::expected<caf::message>{caf::make_message(m.id())};
  });
  REQUIRE(results);
  CHECK(results->size() == 2);
  // Both were checked out at once; each went back after its call.
  CHECK(in_use_seen == std::vector<size_t>{3, 2});
  REQUIRE(free_becomes("p", 2));
  app.return_member("p", held);
}

TEST_CASE_FIXTURE(fixture, "app::stop leaves no member alive") {
  REQUIRE(app.new_pool(pool("a", 3, 3)));
  REQUIRE(app.new_pool(pool("b", 2, 2)));
  auto m = *app.take_member(self, "a");
  CHECK(live_members.load() == 5);
  app.stop();
  wait_down(m);
  CHECK(eventually([] { return live_members.load() == 0; }));
}

TEST_CASE_FIXTURE(fixture, "a member failing its health check is replaced") {
  auto sick = std::make_shared<std::atomic<caf::actor_id>>(0);
  auto checks = std::make_shared<std::atomic<int>>(0);
  auto cfg = pool("p", 2, 2);
  cfg.health_check_interval = 20ms;
  cfg.health_check = pooler::member_hook::function(
    [sick, checks](caf::actor_system&, const caf::actor& m)
      -> caf::expected<void> {
      ++*checks;
      if (m.id() == *sick)
        return caf::make_error(caf::sec::runtime_error, "sick");
      return caf::unit;
    });
  REQUIRE(app.new_pool(cfg));
  auto victim = app.pool_stats("p")->at(0).member;
  *sick = victim.id();
  wait_down(victim);
  REQUIRE(eventually([&] {
    auto stats = *app.pool_stats("p");
    return usage("p").free_count == 2 && stats[0].member != victim
           && stats[1].member != victim;
  }));
  CHECK(*checks >= 2);
}

TEST_CASE_FIXTURE(fixture, "a member out for a health check counts as checking, not in use") {
  // Holds the check until the test has looked; released on every path, so
  // that the app can stop.
  struct gate {
    std::promise<void> p;
    bool open = false;
    void release() {
      if (!std::exchange(open, true))
        p.set_value();
    }
    ~gate() { release(); }
  } release;
  auto released = release.p.get_future().share();
  auto cfg = pool("p", 1, 1);
  cfg.health_check_interval = 20ms;
  cfg.health_check = pooler::member_hook::function(
    [released](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      released.wait();
      return caf::unit;
    });
  REQUIRE(app.new_pool(cfg));
  REQUIRE(eventually([&] { return usage("p").checking_count == 1; }));
  auto u = usage("p");
  CHECK(u.in_use_count == 0);
  CHECK(u.free_count == 0);
  auto stats = *app.pool_stats("p");
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].status == pooler::member_state::checking);
  release.release();
  CHECK(free_becomes("p", 1));
}

TEST_CASE_FIXTURE(fixture, "a health-checked member is never handed out during its check") {
  auto cfg = pool("p", 1, 1);
  cfg.health_check_interval = 10ms;
  cfg.health_check = pooler::member_hook::message(caf::make_message(ping_atom::value));
  REQUIRE(app.new_pool(cfg));
  // Takes race with checks; every success is exclusive and every failure
  // is an honest no_members.
  for (int i = 0; i < 200; ++i) {
    auto m = app.take_member(self, "p", 1s);
    REQUIRE(m);
    CHECK(usage("p").in_use_count == 1);
    app.return_member("p", *m);
  }
}

TEST_CASE_FIXTURE(fixture, "affinity returns the member bound to a session while it is free") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  auto s1 = *app.take_member(self, "p", 0s, std::string{"s1"});
  auto other = *app.take_member(self, "p");
  app.return_member("p", other);
  app.return_member("p", s1);
  REQUIRE(free_becomes("p", 3));
  // lifo would give s1 anyway; return `other` last so that it would win.
  auto x = *app.take_member(self, "p");
  app.return_member("p", x);
  app.return_member("p", other);
  REQUIRE(free_becomes("p", 3));
  CHECK(*app.take_member(self, "p", 0s, std::string{"s1"}) == s1);
  auto stats = *app.pool_stats("p");
  for (auto& info : stats)
    if (info.member == s1) {
      CHECK(info.session == "s1");
      CHECK(info.sessions_served == 1);
    }
}

TEST_CASE_FIXTURE(fixture, "execute_in_session routes a request and counts it") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto first = app.execute_in_session<caf::actor_id>(
    self, "p", "alice", 1s, caf::make_message(ping_atom::value));
  REQUIRE(first);
  auto again = app.execute_in_session<caf::actor_id>(
    self, "p", "alice", 1s, caf::make_message(ping_atom::value));
  REQUIRE(again);
  CHECK(*again == *first); // the same member served the session twice
  REQUIRE(free_becomes("p", 2));
  auto stats = *app.pool_stats("p");
  for (auto& info : stats)
    if (info.member.id() == *first) {
      CHECK(info.requests_handled == 2);
      CHECK(info.checkouts == 2);
    }
}

TEST_CASE_FIXTURE(fixture, "a take queued at a pool actor that is killed is answered") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = *app.take_member(self, "p");
  auto old_pool = *app.pool_actor("p");
  caf::expected<caf::actor> r{caf::sec::none};
  auto start = std::chrono::steady_clock::now();
  std::thread t{[&] {
    caf::scoped_actor other{sys};
    r = app.take_member(other, "p", pooler::infinite_wait);
  }};
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  self->send_exit(old_pool, caf::exit_reason::kill);
  t.join(); // an infinite wait must not hang on a dead pool
  CHECK(r.error() == errc::pool_not_found);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  wait_down(m);
}
