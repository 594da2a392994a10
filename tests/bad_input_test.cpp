// Bad input: unknown messages to pooler's actors, garbage returns
// and every invalid config through the app. Nothing of it may
// change a pool or stop an actor.

#include <set>
#include <sstream>
#include <tuple>

#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;

namespace {

using garbage_atom = caf::atom_constant<caf::atom("garbage")>;
// pooler's own protocol atoms, with arguments of the wrong types or values
// (the spellings are part of the wire format, see actors/protocol.hpp).
using pl_take_atom = caf::atom_constant<caf::atom("pl_take")>;
using pl_return_atom = caf::atom_constant<caf::atom("pl_return")>;
using pl_cull_atom = caf::atom_constant<caf::atom("pl_cull")>;
using pl_tstart_atom = caf::atom_constant<caf::atom("pl_tstart")>;
using pl_tqueue_atom = caf::atom_constant<caf::atom("pl_tqueue")>;
using pl_tttl_atom = caf::atom_constant<caf::atom("pl_tttl")>;
using pl_tgrow_atom = caf::atom_constant<caf::atom("pl_tgrow")>;

/// A pool's observable state: its counts and each member with its status.
using snapshot = std::tuple<size_t, size_t, size_t, size_t, size_t,
                            std::set<std::pair<caf::actor_id, int>>>;

/// The reply to a request: an error, or none for any non-error reply.
caf::error ask(caf::scoped_actor& self, const caf::actor& dest,
               caf::message msg) {
  caf::error result = caf::sec::request_timeout;
  self->request(dest, 5s, std::move(msg))
    .receive([&](caf::message&) { result = caf::error{}; },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::actor child_named(caf::scoped_actor& self, const caf::actor& sup,
                       const std::string& id) {
  auto children = pooler::which_children(self, sup);
  REQUIRE(children);
  for (auto& c : *children)
    if (c.id == id)
      return c.child;
  FAIL("no child " << id);
  return {};
}

struct bad_input_fixture : fixture {
  snapshot snap(const std::string& name) {
    auto u = usage(name);
    std::set<std::pair<caf::actor_id, int>> members;
    auto stats = app.pool_stats(name);
    REQUIRE(stats);
    for (auto& x : *stats)
      members.emplace(x.member ? x.member.id() : 0, static_cast<int>(x.status));
    return {u.free_count,     u.in_use_count, u.starting_count,
            u.stopping_count, u.queued_count, members};
  }

  /// The pool still hands out and takes back members.
  void still_works(const std::string& name) {
    auto m = app.take_member(self, name, 1s);
    REQUIRE(m);
    bool answered = false;
    self->request(*m, 1s, ping_atom::value)
      .receive([&](caf::actor_id) { answered = true; }, [](caf::error&) {});
    CHECK(answered);
    app.return_member(name, *m);
  }
};

} // namespace

// -- unknown messages ----------------------------------------------------------------

TEST_CASE_FIXTURE(bad_input_fixture, "a pool actor answers unknown requests with an error and keeps working") {
  REQUIRE(app.new_pool(pool("p", 2, 3)));
  auto pool_actor = *app.pool_actor("p");
  auto before = snap("p");
  CHECK(ask(self, pool_actor, caf::make_message(garbage_atom::value, 42))
        == caf::sec::unexpected_message);
  CHECK(ask(self, pool_actor, caf::make_message(std::string{"take"}))
        == caf::sec::unexpected_message);
  // The take request with arguments of the wrong types is no take.
  CHECK(ask(self, pool_actor, caf::make_message(pl_take_atom::value, "x"))
        == caf::sec::unexpected_message);
  CHECK(ask(self, pool_actor, caf::make_message(pl_return_atom::value, 1, 2))
        == caf::sec::unexpected_message);
  // Asynchronous garbage is dropped without a reply.
  caf::anon_send(pool_actor, garbage_atom::value);
  caf::anon_send(pool_actor, 1, 2.0, std::string{"three"});
  caf::anon_send(pool_actor, caf::message{});
  // Stale timer ticks (unknown generations and start ids) are ignored.
  caf::anon_send(pool_actor, pl_tstart_atom::value, uint64_t{987654});
  caf::anon_send(pool_actor, pl_tqueue_atom::value, uint64_t{987654});
  caf::anon_send(pool_actor, pl_tttl_atom::value, uint64_t{987654});
  caf::anon_send(pool_actor, pl_tgrow_atom::value, uint64_t{987654});
  caf::anon_send(pool_actor, pl_cull_atom::value, uint64_t{987654});
  CHECK(snap("p") == before);
  CHECK(*app.pool_actor("p") == pool_actor); // it never restarted
  still_works("p");
}

TEST_CASE_FIXTURE(bad_input_fixture, "supervisors answer unknown requests with an error and keep working") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto top = app.top_supervisor();
  auto pool_sup = *app.pool_supervisor("p");
  auto member_sup = *app.member_supervisor("p");
  for (auto& sup : {top, pool_sup, member_sup}) {
    CAPTURE(sup.id());
    auto counts = pooler::count_children(self, sup);
    REQUIRE(counts);
    CHECK(ask(self, sup, caf::make_message(garbage_atom::value))
          == caf::sec::unexpected_message);
    CHECK(ask(self, sup, caf::make_message(3.14, std::string{"pi"}))
          == caf::sec::unexpected_message);
    caf::anon_send(sup, garbage_atom::value, 1);
    auto again = pooler::count_children(self, sup);
    REQUIRE(again);
    CHECK(again->active == counts->active);
    CHECK(again->specs == counts->specs);
  }
  // Operations a supervisor of that strategy refuses are errors, not crashes.
  CHECK(pooler::terminate_child(self, member_sup, "member").error()
        == errc::simple_one_for_one);
  CHECK(pooler::delete_child(self, top, "no_such_child").error()
        == errc::not_found);
  CHECK(pooler::restart_child(self, pool_sup, "no_such_child").error()
        == errc::not_found);
  CHECK(*app.pool_supervisor("p") == pool_sup);
  CHECK(live_in("p") == 2);
  still_works("p");
}

TEST_CASE_FIXTURE(bad_input_fixture, "the starter supervisor rejects unknown jobs and keeps starting members") {
  REQUIRE(app.new_pool(pool("p", 1, 4)));
  auto starter_sup = child_named(self, app.top_supervisor(), "starter_sup");
  REQUIRE(starter_sup);
  CHECK(ask(self, starter_sup, caf::make_message(garbage_atom::value))
        == caf::sec::unexpected_message);
  // A start_child whose arguments are no starter or stopper job.
  auto bad_job = pooler::start_child(self, starter_sup,
                                     caf::make_message(42, std::string{"x"}));
  REQUIRE(!bad_job);
  CHECK(bad_job.error() == caf::sec::invalid_argument);
  auto none = pooler::start_child(self, starter_sup, caf::message{});
  REQUIRE(!none);
  CHECK(none.error() == caf::sec::invalid_argument);
  auto counts = pooler::count_children(self, starter_sup);
  REQUIRE(counts);
  CHECK(counts->active == 0);
  // Growth goes through starters: it still works.
  auto a = *app.take_member(self, "p");
  auto b = app.take_member(self, "p", 2s);
  REQUIRE(b);
  CHECK(usage("p").in_use_count == 2);
  app.return_member("p", a);
  app.return_member("p", *b);
  REQUIRE(free_becomes("p", 2));
}

// -- garbage returns ---------------------------------------------------------------

TEST_CASE_FIXTURE(bad_input_fixture, "garbage returns change nothing") {
  REQUIRE(app.new_pool(pool("p", 3, 3)));
  REQUIRE(app.new_pool(pool("q", 1, 1)));
  auto held = *app.take_member(self, "p");
  auto of_q = *app.take_member(self, "q");
  auto stranger = sys.spawn(member, int64_t{0});
  auto p_before = snap("p");
  auto q_before = snap("q");
  SUBCASE("an unknown member, ok or fail") {
    app.return_member("p", stranger);
    app.return_member("p", stranger, pooler::member_status::fail);
  }
  SUBCASE("a null handle") {
    app.return_member("p", caf::actor{});
    app.return_member("p", caf::actor{}, pooler::member_status::fail);
  }
  SUBCASE("a member of another pool") {
    app.return_member("p", of_q);
    app.return_member("p", of_q, pooler::member_status::fail);
  }
  SUBCASE("a free member (double return)") {
    caf::actor free_one;
    auto stats = app.pool_stats("p");
    REQUIRE(stats);
    for (auto& x : *stats)
      if (x.status == pooler::member_state::free)
        free_one = x.member;
    app.return_member("p", free_one);
    app.return_member("p", free_one, pooler::member_status::fail);
  }
  SUBCASE("an unknown pool") {
    app.return_member("no_such_pool", held);
  }
  SUBCASE("garbage in the return message itself") {
    auto pool_actor = *app.pool_actor("p");
    caf::anon_send(pool_actor, pl_return_atom::value, held, 1);
    caf::anon_send(pool_actor, pl_return_atom::value, std::string{"x"}, true);
  }
  // Returns are asynchronous: the snapshot's requests queue behind them.
  CHECK(snap("p") == p_before);
  CHECK(snap("q") == q_before);
  CHECK(live_in("p") == 3);
  CHECK(live_in("q") == 1);
  app.return_member("p", held);
  app.return_member("q", of_q);
  REQUIRE(free_becomes("p", 3));
  REQUIRE(free_becomes("q", 1));
  self->send_exit(stranger, caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(bad_input_fixture, "returning a member after it died changes nothing") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto m = *app.take_member(self, "p");
  self->send(m, crash_atom::value);
  wait_down(m);
  // The pool saw the down message first and replaced the member.
  REQUIRE(eventually([&] {
    auto u = usage("p");
    return u.free_count == 2 && u.in_use_count == 0;
  }));
  auto before = snap("p");
  app.return_member("p", m);
  app.return_member("p", m, pooler::member_status::fail);
  CHECK(snap("p") == before);
  CHECK(live_in("p") == 2);
  still_works("p");
}

// -- invalid configs through the app ------------------------------------------------

namespace {

/// new_pool must fail with invalid_config whose detail names `key`, and
/// leave no pool behind.
void rejects(pooler::app& app, pooler::pool_config cfg, const std::string& key) {
  CAPTURE(key);
  auto name = cfg.name;
  auto res = app.new_pool(std::move(cfg));
  REQUIRE(!res);
  CHECK(res.error() == errc::invalid_config);
  auto detail = pooler::error_detail(res.error());
  CAPTURE(detail);
  CHECK(detail.find(key) != std::string::npos);
  CHECK(pooler::error_subject(res.error()) == name);
  if (!name.empty())
    CHECK(app.pool_utilization(name).error() == errc::pool_not_found);
}

} // namespace

TEST_CASE_FIXTURE(bad_input_fixture, "new_pool rejects every invalid config naming the key") {
  auto base = [] { return pool("bad", 1, 2); };
  auto c = base();
  c.name.clear();
  rejects(app, c, "name");
  c = base();
  c.start = pooler::member_factory{};
  rejects(app, c, "start");
  c = base();
  c.max_count = 0; // missing: a pool without room is no pool
  rejects(app, c, "max_count");
  c = base();
  c.init_count = 3;
  rejects(app, c, "init_count");
  c = base();
  c.start = pooler::member_factory::actor_type("no_such_type");
  rejects(app, c, "start");
  c = base();
  c.cull_interval = -1s;
  rejects(app, c, "cull_interval");
  c = base();
  c.max_age = -1ms;
  rejects(app, c, "max_age");
  c = base();
  c.member_start_timeout = caf::timespan{0};
  rejects(app, c, "member_start_timeout");
  c = base();
  c.member_shutdown = caf::timespan{0};
  rejects(app, c, "member_shutdown");
  c = base();
  c.max_lifetime = 1s;
  c.max_lifetime_jitter = 1s; // jitter must be < lifetime
  rejects(app, c, "max_lifetime_jitter");
  c = base();
  c.max_lifetime_jitter = 1s; // jitter without a lifetime
  rejects(app, c, "max_lifetime_jitter");
  c = base();
  c.max_lifetime = caf::timespan{0};
  rejects(app, c, "max_lifetime");
  c = base();
  c.start_backoff.initial = 2s;
  c.start_backoff.max = 1s;
  rejects(app, c, "start_backoff");
  c = base();
  c.metrics = "no_such_sink";
  rejects(app, c, "metrics");
  c = base();
  c.health_check = pooler::member_hook::message(caf::make_message(ping_atom::value));
  rejects(app, c, "health_check");
  // None of it disturbed the app: a valid pool of the same name starts.
  REQUIRE(app.new_pool(base()));
  still_works("bad");
}

TEST_CASE_FIXTURE(bad_input_fixture, "pool_reconfigure rejects an invalid config and applies nothing") {
  REQUIRE(app.new_pool(pool("p", 1, 2)));
  auto before = snap("p");
  auto cfg = *app.pool_config_of("p");
  cfg.init_count = 5;
  auto res = app.pool_reconfigure("p", cfg);
  REQUIRE(!res);
  CHECK(res.error() == errc::invalid_config);
  CHECK(pooler::error_detail(res.error()).find("init_count") != std::string::npos);
  CHECK(app.pool_config_of("p")->init_count == 1);
  CHECK(snap("p") == before);
}

namespace {

/// The pools of `ini` through `app::start(sys)`, as an application reads
/// caf-application.conf: must fail with invalid_config naming `key`.
void app_start_rejects(const std::string& ini, const std::string& key) {
  CAPTURE(ini);
  config cfg;
  std::istringstream in{ini};
  REQUIRE(!cfg.parse(std::vector<std::string>{}, in));
  caf::actor_system sys{cfg};
  auto res = pooler::app::start(sys);
  REQUIRE(!res);
  CHECK(res.error() == errc::invalid_config);
  auto detail = pooler::error_detail(res.error());
  CAPTURE(detail);
  CHECK(detail.find(key) != std::string::npos);
}

} // namespace

TEST_CASE("app::start rejects every invalid pool in the config file naming the key") {
  auto one = [](const std::string& fields) {
    return "[pooler]\npools=[{name=\"p\", start=\"test_member\", args=[0], "
           + fields + "}]\n";
  };
  app_start_rejects(one("max-count=2"), "init-count");     // missing
  app_start_rejects(one("init-count=1"), "max-count");     // missing
  app_start_rejects("[pooler]\npools=[{init-count=1, max-count=2, "
                    "start=\"test_member\"}]\n",
                    "name");
  app_start_rejects("[pooler]\npools=[{name=\"p\", init-count=1, "
                    "max-count=2}]\n",
                    "start");
  app_start_rejects(one("init-count=3, max-count=2"), "max-count");
  app_start_rejects(one("init-count=-1, max-count=2"), "init-count");
  app_start_rejects(one("init-count=\"x\", max-count=2"), "init-count");
  app_start_rejects(one("init-count=1, max-count=2, colour=\"red\""),
                    "colour");
  app_start_rejects(one("init-count=1, max-count=2, max-age=\"3 fortnights\""),
                    "max-age");
  app_start_rejects(one("init-count=1, max-count=2, max-lifetime=1s, "
                        "max-lifetime-jitter=2s"),
                    "max-lifetime-jitter");
  app_start_rejects("[pooler]\npools=[{name=\"p\", init-count=1, "
                    "max-count=2, start=\"no_such_type\"}]\n",
                    "start");
  app_start_rejects("[pooler]\npools=[{name=\"p\", init-count=1, max-count=2, "
                    "start=\"test_member\", args=[0]}, {name=\"p\", "
                    "init-count=1, max-count=2, start=\"test_member\", "
                    "args=[0]}]\n",
                    "name");
}
