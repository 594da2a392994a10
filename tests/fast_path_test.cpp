// Takes and returns that complete in the caller's thread (the shared book):
// try_take_member, callbacks that never run before take_member returns, no
// recursion for a take inside its own callback, FIFO fairness against
// queued requestors, exact metrics, and consumers that die holding members
// taken without a message.

#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

struct counting_sink : pooler::metrics_sink {
  std::mutex mtx;
  std::map<std::string, double> totals;
  void counter(std::string_view name, std::string_view, pooler::metric_labels,
               double n) override {
    std::lock_guard<std::mutex> guard{mtx};
    totals[std::string{name}] += n;
  }
  void gauge(std::string_view, std::string_view, pooler::metric_labels,
             double) override {}
  void histogram(std::string_view, std::string_view, pooler::metric_labels,
                 double) override {}
  double total(const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx};
    return totals[name];
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "a blocking try_take answers at once: a member, then no_members") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto m = app.try_take_member(self, "p");
  REQUIRE(m);
  auto again = app.try_take_member(self, "p");
  REQUIRE(!again);
  CHECK(again.error() == errc::no_members);
  app.return_member("p", *m);
  auto back = app.try_take_member(self, "p");
  REQUIRE(back);
  CHECK(*back == *m);
  app.return_member("p", *back);
  CHECK(usage("p").free_count == 1);
}

TEST_CASE_FIXTURE(fixture, "an event-based try_take returns the member from the call itself") {
  REQUIRE(app.new_pool(pool("p", 2, 2)));
  auto a = app;
  auto me = caf::actor{self};
  sys.spawn([a, me](caf::event_based_actor* c) mutable {
    auto first = a.try_take_member(c, "p");
    auto second = a.try_take_member(c, "p");
    auto third = a.try_take_member(c, "p");
    bool ok = first && second && !third && *first != *second
              && third.error() == errc::no_members;
    if (first)
      a.return_member(c, "p", *first);
    if (second)
      a.return_member(c, "p", *second);
    c->send(me, done_atom::value, ok);
  });
  self->receive([](done_atom, bool ok) { CHECK(ok); },
                caf::after(5s) >> [] { FAIL("no answer within 5 s"); });
  CHECK(free_becomes("p", 2));
}

TEST_CASE_FIXTURE(fixture, "the take callback never runs before take_member returns") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto a = app;
  auto me = caf::actor{self};
  sys.spawn([a, me](caf::event_based_actor* c) mutable {
    auto returned = std::make_shared<bool>(false);
    a.take_member(
      c, "p", 1s,
      [a, c, me, returned](caf::actor m) mutable {
        a.return_member(c, "p", m);
        c->send(me, done_atom::value, *returned);
      },
      [c, me](caf::error) { c->send(me, done_atom::value, false); });
    *returned = true;
  });
  self->receive([](done_atom, bool ok) { CHECK(ok); },
                caf::after(5s) >> [] { FAIL("no answer within 5 s"); });
}

TEST_CASE_FIXTURE(fixture, "100,000 takes, each inside the previous callback, do not recurse") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto a = app;
  auto me = caf::actor{self};
  struct loop {
    pooler::app a;
    caf::event_based_actor* c;
    caf::actor me;
    int left = 100000;
    const char* deepest = nullptr; ///< the lowest stack address seen
    const char* first = nullptr;
    void next() {
      char here;
      if (first == nullptr)
        first = &here;
      if (deepest == nullptr || &here < deepest)
        deepest = &here;
      if (left-- == 0) {
        // Every callback ran at the same stack depth, give or take a frame.
        c->send(me, done_atom::value, first - deepest < 64 * 1024);
        return;
      }
      a.take_member(
        c, "p", 1s,
        [this](caf::actor m) {
          a.return_member(c, "p", m);
          next();
        },
        [this](caf::error) { c->send(me, done_atom::value, false); });
    }
  };
  sys.spawn([a, me](caf::event_based_actor* c) {
    auto l = std::make_shared<loop>(loop{a, c, me});
    c->attach_functor([l] {}); // keeps the loop as long as the actor
    l->next();
  });
  self->receive([](done_atom, bool ok) { CHECK(ok); },
                caf::after(60s) >> [] { FAIL("no answer within 60 s"); });
  CHECK(free_becomes("p", 1));
  auto u = usage("p");
  CHECK(u.in_use_count == 0);
}

TEST_CASE_FIXTURE(fixture, "a returned member goes to the queued requestor, not to a later take") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto held = app.take_member(self, "p");
  REQUIRE(held);
  // A queued requestor...
  auto a = app;
  auto me = caf::actor{self};
  auto waiter = sys.spawn([a, me](caf::event_based_actor* c) mutable {
    a.take_member(
      c, "p", 5s,
      [c, me](caf::actor m) { c->send(me, done_atom::value, m); },
      [c, me](caf::error) { c->send(me, done_atom::value, caf::actor{}); });
  });
  REQUIRE(eventually([&] { return usage("p").queued_count == 1; }));
  // ...gets the member as it is returned from this thread; a try_take
  // right after finds nothing.
  app.return_member("p", *held);
  caf::scoped_actor other{sys};
  auto late = app.try_take_member(other, "p");
  CHECK(!late);
  self->receive(
    [&](done_atom, caf::actor& m) { CHECK(m == *held); },
    caf::after(5s) >> [] { FAIL("the waiter got nothing within 5 s"); });
  self->send_exit(waiter, caf::exit_reason::user_shutdown);
  CHECK(free_becomes("p", 1));
}

TEST_CASE_FIXTURE(fixture, "a consumer that crashes holding a member taken without a message loses it") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto a = app;
  auto me = caf::actor{self};
  auto consumer = sys.spawn([a, me](caf::event_based_actor* c) mutable {
    auto m = a.try_take_member(c, "p");
    c->send(me, done_atom::value, m ? *m : caf::actor{});
    return caf::behavior{[c](go_atom) {
      c->quit(caf::make_error(caf::sec::runtime_error, "consumer crash"));
    }};
  });
  caf::actor taken;
  self->receive([&](done_atom, caf::actor& m) { taken = m; },
                caf::after(5s) >> [] { FAIL("no member within 5 s"); });
  REQUIRE(taken);
  self->send(consumer, go_atom::value);
  wait_down(taken); // destroyed...
  REQUIRE(free_becomes("p", 1));
  auto stats = app.pool_stats("p");
  REQUIRE(stats);
  REQUIRE(stats->size() == 1);
  CHECK(stats->at(0).member != taken); // ...and replaced
}

TEST_CASE_FIXTURE(fixture, "a consumer that exits normally gives back a member taken without a message") {
  REQUIRE(app.new_pool(pool("p", 1, 1)));
  auto a = app;
  auto me = caf::actor{self};
  caf::actor taken;
  {
    caf::scoped_actor c{sys};
    auto m = a.try_take_member(c, "p");
    REQUIRE(m);
    taken = *m;
    CHECK(usage("p").in_use_count == 1);
  } // the scoped actor ends normally here
  REQUIRE(free_becomes("p", 1));
  auto again = app.try_take_member(self, "p");
  REQUIRE(again);
  CHECK(*again == taken);
  app.return_member("p", *again);
}

TEST_CASE_FIXTURE(fixture, "takes and returns in the caller's thread count exactly") {
  auto sink = std::make_shared<counting_sink>();
  auto cfg = pool("p", 2, 2);
  cfg.sink = sink;
  REQUIRE(app.new_pool(cfg));
  for (int i = 0; i < 100; ++i) {
    auto m = app.take_member(self, "p");
    REQUIRE(m);
    app.return_member("p", *m);
  }
  auto m = app.try_take_member(self, "p");
  auto n = app.try_take_member(self, "p");
  REQUIRE(m);
  REQUIRE(n);
  CHECK(!app.try_take_member(self, "p"));
  app.return_member("p", *m);
  app.return_member("p", *n);
  CHECK(sink->total("take") == 103);
  CHECK(sink->total("checkin") == 102);
  CHECK(sink->total("error_no_members") == 1);
}

TEST_CASE_FIXTURE(fixture, "try_take on a missing pool or a stopped app names the error") {
  auto m = app.try_take_member(self, "nope");
  REQUIRE(!m);
  CHECK(m.error() == errc::pool_not_found);
  app.stop();
  auto after = app.try_take_member(self, "nope");
  REQUIRE(!after);
  CHECK(after.error() == errc::app_stopped);
}
