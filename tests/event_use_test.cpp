// Safe use from event-based actors (typed or not): with_member and the
// shared lease give the member back on every path; typed actors take and
// return; request forms of introspection never block a worker.

#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

/// What a consumer reports to the test: an error (none for success) and
/// the member it used, if any.
struct report {
  caf::error err;
  caf::actor member;
};

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(report)

namespace {

struct event_fixture : fixture {
  caf::actor me = caf::actor{self};

  report next_report() {
    report r{caf::sec::request_timeout, {}};
    self->receive([&](report& x) { r = std::move(x); },
                  caf::after(5s) >> [] { FAIL("no report within 5 s"); });
    return r;
  }

  caf::actor only_member(const std::string& name) {
    auto stats = app.pool_stats(name);
    REQUIRE(stats);
    REQUIRE(stats->size() == 1);
    return stats->at(0).member;
  }
};

using typed_consumer = caf::typed_actor<caf::reacts_to<go_atom>>;

} // namespace

// -- with_member -------------------------------------------------------------------

TEST_CASE_FIXTURE(event_fixture, "event-based with_member returns the member ok after fn returns") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.with_member(
      c, "p", 1s, [](const caf::actor& m) { return m; },
      [c, me](caf::expected<caf::actor> r) {
        c->send(me, r ? report{{}, *r} : report{r.error(), {}});
        c->quit();
      });
  });
  auto r = next_report();
  CHECK(!r.err);
  CHECK(r.member == original);
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") == original);
}

TEST_CASE_FIXTURE(event_fixture, "event-based with_member fails the member when fn throws") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.with_member(
      c, "p", 1s,
      [](const caf::actor&) -> int { throw std::runtime_error("boom"); },
      [c, me](caf::expected<int> r) {
        c->send(me, report{r ? caf::error{} : r.error(), {}});
      });
  });
  auto r = next_report();
  CHECK(r.err == pooler::errc::function_threw);
  CHECK(pooler::error_subject(r.err) == "p");
  CHECK(pooler::error_detail(r.err) == "boom");
  wait_down(original); // stopped, not put back
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") != original);
}

TEST_CASE_FIXTURE(event_fixture, "event-based with_member passes the take's error and leaks nothing") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto held = *app.take_member(self, "p");
  auto a = app;
  bool ran = false;
  sys.spawn([a, me = me, &ran](caf::event_based_actor* c) mutable {
    a.with_member(
      c, "p", 0s, [&ran](const caf::actor&) { ran = true; },
      [c, me](caf::expected<void> r) {
        c->send(me, report{r ? caf::error{} : r.error(), {}});
      });
  });
  CHECK(next_report().err == errc::no_members);
  CHECK(!ran);
  app.return_member("p", held);
  REQUIRE(free_becomes("p", 1));
  CHECK(usage("p").in_use_count == 0);
}

TEST_CASE_FIXTURE(event_fixture, "typed actors use with_member, take and return") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  auto consumer = sys.spawn([a, me = me](typed_consumer::pointer c) mutable
                            -> typed_consumer::behavior_type {
    return {
      [a, c, me](go_atom) mutable {
        a.with_member(
          c, "p", 1s, [](const caf::actor& m) { return m; },
          [a, c, me](caf::expected<caf::actor> r) mutable {
            caf::anon_send(me, r ? report{{}, *r} : report{r.error(), {}});
            // Then a plain take and return by the same typed actor.
            a.take_member(
              c, "p", 1s,
              [a, c, me](caf::actor m) mutable {
                a.return_member(c, "p", m);
                caf::anon_send(me, report{{}, m});
              },
              [c, me](caf::error err) { caf::anon_send(me, report{err, {}}); });
          });
      },
    };
  });
  self->send(consumer, go_atom::value);
  auto first = next_report();
  CHECK(!first.err);
  CHECK(first.member == original);
  auto second = next_report();
  CHECK(!second.err);
  CHECK(second.member == original);
  REQUIRE(free_becomes("p", 1));
  self->send_exit(consumer, caf::exit_reason::user_shutdown);
  wait_down(caf::actor_cast<caf::actor>(consumer));
}

// -- the shared lease -----------------------------------------------------------

TEST_CASE_FIXTURE(event_fixture, "a shared lease held by response handlers goes back ok after the reply") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.take_lease(
      c, "p", 1s,
      [c, me](pooler::shared_lease l) {
        c->request(l.member(), 1s, ping_atom::value)
          .then(
            [c, me, l](caf::actor_id) mutable {
              l.count_request();
              c->send(me, report{{}, l.member()});
            },
            [c, me, l](caf::error& err) mutable {
              l.fail();
              c->send(me, report{err, l.member()});
            });
      },
      [c, me](caf::error err) { c->send(me, report{err, {}}); });
  });
  auto r = next_report();
  CHECK(!r.err);
  CHECK(r.member == original);
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") == original);
  CHECK(app.pool_stats("p")->at(0).requests_handled == 1);
}

TEST_CASE_FIXTURE(event_fixture, "a shared lease whose work failed sends the member back fail") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.take_lease(
      c, "p", 1s,
      [c, me](pooler::shared_lease l) {
        // The member does not understand this request: the reply is an
        // error, the work failed.
        c->request(l.member(), 1s, hang_atom::value)
          .then([c, me, l]() { c->send(me, report{{}, l.member()}); },
                [c, me, l](caf::error& err) mutable {
                  l.fail();
                  c->send(me, report{err, l.member()});
                });
      },
      [c, me](caf::error err) { c->send(me, report{err, {}}); });
  });
  auto r = next_report();
  CHECK(r.err);
  wait_down(original);
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") != original);
}

TEST_CASE_FIXTURE(event_fixture, "a shared lease of a consumer that crashes is reclaimed as failed") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  auto consumer = sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.take_lease(
      c, "p", 1s,
      [c, me](pooler::shared_lease l) {
        // Held by a pending request, then the consumer dies mid-work.
        c->request(l.member(), caf::infinite, ping_atom::value)
          .then([l](caf::actor_id) {}, [l](caf::error&) {});
        c->send(me, report{{}, l.member()});
        c->quit(caf::make_error(caf::sec::runtime_error, "consumer crash"));
      },
      [c, me](caf::error err) { c->send(me, report{err, {}}); });
  });
  auto r = next_report();
  CHECK(r.member == original);
  wait_down(consumer);
  wait_down(original); // stopped and replaced, never put back
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") != original);
}

TEST_CASE_FIXTURE(event_fixture, "a shared lease of a consumer that exits normally goes back ok") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  auto consumer = sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    a.take_lease(
      c, "p", 1s,
      [c, me](pooler::shared_lease l) {
        c->request(l.member(), caf::infinite, ping_atom::value)
          .then([l](caf::actor_id) {}, [l](caf::error&) {});
        c->send(me, report{{}, l.member()});
        c->quit();
      },
      [c, me](caf::error err) { c->send(me, report{err, {}}); });
  });
  CHECK(next_report().member == original);
  wait_down(consumer);
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") == original);
}

TEST_CASE_FIXTURE(event_fixture, "a shared lease dropped by a throwing handler sends the member back fail") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto original = only_member("p");
  auto a = app;
  auto consumer = sys.spawn([a, me = me](caf::event_based_actor* c) mutable {
    c->set_exception_handler([](std::exception_ptr&) -> caf::error {
      return caf::make_error(caf::sec::runtime_error, "handler threw");
    });
    a.take_lease(
      c, "p", 1s,
      [c, me](pooler::shared_lease l) {
        c->send(me, report{{}, l.member()});
        throw std::runtime_error("work failed");
      },
      [c, me](caf::error err) { c->send(me, report{err, {}}); });
  });
  CHECK(next_report().member == original);
  wait_down(consumer);
  wait_down(original);
  REQUIRE(free_becomes("p", 1));
  CHECK(only_member("p") != original);
}

// -- request forms of introspection -------------------------------------------------------

namespace {

struct one_worker_config : config {
  one_worker_config() {
    set("scheduler.max-threads", 1);
  }
};

} // namespace

TEST_CASE("request forms of introspection answer an actor on a single worker thread") {
  one_worker_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto app = *pooler::app::start(sys, {pool("p", 1, 2)});
  auto next_cfg = *app.pool_config_of("p");
  next_cfg.max_count = 3;
  caf::actor me = self;
  auto t0 = clock::now();
  sys.spawn([app, me, next_cfg](caf::event_based_actor* c) mutable {
    auto fail = [c, me](caf::error err) { c->send(me, report{err, {}}); };
    app.pool_utilization(
      c, "p",
      [=](pooler::utilization u) mutable {
        c->send(me, report{u.max_count == 2 ? caf::error{}
                                            : caf::sec::invalid_argument,
                           {}});
        app.pool_stats(
          c, "p",
          [=](std::vector<pooler::member_info> xs) mutable {
            c->send(me, report{{}, xs.at(0).member});
            app.cull_pool(
              c, "p",
              [=]() mutable {
                c->send(me, report{{}, {}});
                app.pool_reconfigure(
                  c, "p", next_cfg,
                  [=](std::vector<pooler::reconfigure_action> xs) mutable {
                    c->send(me, report{xs.empty() ? caf::sec::invalid_argument
                                                  : caf::error{},
                                       {}});
                    app.pool_utilization(
                      c, "nope", [=](pooler::utilization) mutable {},
                      [=](caf::error err) mutable {
                        c->send(me, report{err, {}});
                        c->quit();
                      });
                  },
                  fail);
              },
              fail);
          },
          fail);
      },
      fail);
  });
  std::vector<caf::error> errors;
  for (int i = 0; i < 5; ++i)
    self->receive([&](report& r) { errors.push_back(r.err); },
                  caf::after(5s) >> [] { FAIL("no answer within 5 s"); });
  for (int i = 0; i < 4; ++i)
    CHECK(!errors[i]);
  CHECK(errors[4] == errc::pool_not_found);
  // The blocking forms would have stalled the only worker until their 10 s
  // timeout.
  CHECK(ms_since(t0) < 5000);
  CHECK(app.pool_utilization("p")->max_count == 3);
  app.stop();
}
