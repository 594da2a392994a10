// The pool book's rules, one test each, with a fake clock and no actors:
// the test plays the pool actor (it starts members, delivers down messages
// and fires timers) through tests/book_harness.hpp.

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>

#include "tests/book_harness.hpp"

using namespace std::chrono_literals;
using pooler::book_duration;
using pooler::member_phase;
using pooler::stop_cause;
using test::book_config;
using test::book_harness;

TEST_CASE("the book starts init_count members and reports ready") {
  book_harness h{book_config(2, 4)};
  h.open();
  CHECK(h.pending.size() == 2);
  CHECK(h.usage().starting_count == 2);
  CHECK(!h.book->initial_done());
  h.start_all();
  CHECK(h.book->initial_done());
  CHECK(h.readies == 1);
  CHECK(h.usage().free_count == 2);
}

TEST_CASE("lifo hands out the most recently returned member, fifo the least") {
  for (auto order : {pooler::member_order::lifo, pooler::member_order::fifo}) {
    auto cfg = book_config(3, 3);
    cfg.member_order = order;
    book_harness h{cfg};
    h.open();
    auto all = h.start_all();
    h.advance(1s);
    auto a = *h.take(1).member;
    auto b = *h.take(1).member;
    h.give_back(a);
    h.advance(1s);
    h.give_back(b);
    // The third member has been free since the start: the oldest of all.
    auto c = all[0] + all[1] + all[2] - a - b;
    CHECK(*h.take(2).member == (order == pooler::member_order::lifo ? b : c));
    CHECK(*h.take(2).member == a);
  }
}

TEST_CASE("a take with no free member starts a batch and answers all_in_use") {
  book_harness h{book_config(2, 5)};
  h.open();
  h.start_all();
  h.take(1);
  h.take(1);
  auto r = h.take(1);
  REQUIRE(r.error);
  CHECK(r.error->detail == "all_in_use");
  // max(min(init_count - starting, can_add), 1) = 2
  CHECK(h.pending.size() == 2);
  CHECK(h.counts["error_no_members{all_in_use}"] == 1);
  h.take(2); // still starting: one more, at least one
  CHECK(h.pending.size() == 3);
  h.start_all();
  h.take(3);
  h.take(3);
  h.take(3);
  auto full = h.take(3);
  REQUIRE(full.error);
  CHECK(full.error->detail == "at_capacity");
  CHECK(h.usage().in_use_count == 5);
}

TEST_CASE("auto_grow starts members when the free count drops to the threshold") {
  auto cfg = book_config(2, 4);
  cfg.auto_grow_threshold = 1;
  book_harness h{cfg};
  h.open();
  h.start_all();
  CHECK(h.take(1).member);
  CHECK(h.pending.size() == 2);
}

TEST_CASE("waiters are served first come, first served") {
  book_harness h{book_config(1, 1)};
  h.open();
  auto m = h.start_one();
  CHECK(*h.take(1).member == m);
  auto w2 = *h.take(2, book_duration{1s}).waiter;
  auto w3 = *h.take(3, book_duration{1s}).waiter;
  CHECK(h.usage().queued_count == 2);
  h.give_back(m);
  CHECK(h.handed.at(w2) == m);
  CHECK(h.handed.count(w3) == 0);
  CHECK(h.usage().queued_count == 1);
}

TEST_CASE("a waiter gets no_members timeout at its deadline") {
  book_harness h{book_config(1, 1)};
  h.open();
  auto m = h.start_one();
  h.take(1);
  auto w = *h.take(2, book_duration{500ms}).waiter;
  h.advance(499ms);
  CHECK(h.failed.count(w) == 0);
  h.advance(1ms);
  REQUIRE(h.failed.count(w) == 1);
  CHECK(h.failed.at(w).detail == "timeout");
  CHECK(h.counts["take_timeout"] == 1);
  // The consumer waits for nothing any more: forgotten.
  CHECK(h.watched.count(2) == 0);
  h.give_back(m);
  CHECK(h.handed.empty());
  CHECK(h.usage().free_count == 1);
}

TEST_CASE("queue_max bounds the queue: the next waiter gets queue_full") {
  auto cfg = book_config(1, 1);
  cfg.queue_max = 1;
  book_harness h{cfg};
  h.open();
  h.start_all();
  h.take(1);
  CHECK(h.take(2, book_duration{1s}).waiter);
  auto r = h.take(3, book_duration{1s});
  REQUIRE(r.error);
  CHECK(r.error->detail == "queue_full");
  CHECK(h.counts["queue_max_reached"] == 1);
}

TEST_CASE("culling stops the oldest idle members first, down to init_count") {
  auto cfg = book_config(1, 4);
  cfg.cull_interval = 1min;
  cfg.max_age = 30s;
  book_harness h{cfg};
  h.open();
  h.start_all();
  std::vector<pooler::member_id> held{*h.take(1).member};
  for (int i = 0; i < 3; ++i) {
    h.take(1);
    h.start_all();
    held.push_back(*h.take(1).member);
  }
  REQUIRE(held.size() == 4);
  // Returned 10 s apart, all at least 30 s idle at the tick (one minute
  // after the start): at most 4 - init_count = 3 go, oldest idle first.
  for (auto i : {2, 0, 3, 1}) {
    h.give_back(held[i]);
    h.advance(10s);
  }
  h.advance(h.timers.at(pooler::book_timer::cull).at - h.now);
  REQUIRE(h.stops.size() == 3);
  CHECK(h.stops[0].member == held[2]);
  CHECK(h.stops[1].member == held[0]);
  CHECK(h.stops[2].member == held[3]);
  for (auto& s : h.stops)
    CHECK(s.cause == stop_cause::max_age);
  h.finish_stops();
  CHECK(h.pending.empty()); // no replacement
  CHECK(h.usage().free_count == 1);
}

TEST_CASE("TTL: expiry is the lifetime plus or minus the jitter, per seed") {
  std::set<int64_t> spreads;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto cfg = book_config(1, 1);
    cfg.max_lifetime = 10s;
    cfg.max_lifetime_jitter = 2s;
    book_harness h{cfg, seed};
    h.open();
    auto m = h.start_one();
    auto& rec = h.book->members().at(m);
    auto life = rec.expires_at - rec.accepted_at;
    CHECK(life >= book_duration{8s});
    CHECK(life <= book_duration{12s});
    spreads.insert(life.count());
  }
  CHECK(spreads.size() > 1);
}

TEST_CASE("TTL: a free member is stopped and replaced when it expires") {
  auto cfg = book_config(1, 1);
  cfg.max_lifetime = 10s;
  book_harness h{cfg};
  h.open();
  auto m = h.start_one();
  h.advance(10s);
  REQUIRE(h.stops.size() == 1);
  CHECK(h.stops[0].member == m);
  CHECK(h.stops[0].cause == stop_cause::max_lifetime);
  CHECK(h.counts["killed_free{max_lifetime}"] == 1);
  h.finish_stops();
  CHECK(h.pending.size() == 1);
}

TEST_CASE("TTL: an in-use member is stopped only when returned after expiry") {
  auto cfg = book_config(1, 1);
  cfg.max_lifetime = 10s;
  book_harness h{cfg};
  h.open();
  h.start_one();
  auto m = *h.take(1).member;
  h.advance(20s);
  CHECK(h.stops.empty());
  h.give_back(m);
  REQUIRE(h.stops.size() == 1);
  CHECK(h.counts["killed_in_use{max_lifetime}"] == 1);
}

TEST_CASE("a start past member_start_timeout is abandoned, then stopped") {
  auto cfg = book_config(1, 1);
  cfg.member_start_timeout = 1s;
  book_harness h{cfg};
  h.open();
  h.advance(1s);
  CHECK(h.usage().starting_count == 0);
  CHECK(h.usage().stopping_count == 1);
  CHECK(h.counts["starting_member_timeout"] == 1);
  CHECK(h.book->initial_done());
  auto late = h.start_one();
  REQUIRE(h.stops.size() == 1);
  CHECK(h.stops[0].member == late);
  CHECK(h.stops[0].cause == stop_cause::start_timeout);
  h.finish_stops();
  CHECK(h.usage().stopping_count == 0);
  CHECK(h.pending.empty()); // not replaced
}

TEST_CASE("after a failed start, replacements wait for the backoff") {
  auto cfg = book_config(1, 1);
  cfg.start_backoff.initial = 100ms;
  cfg.start_backoff.max = 1s;
  book_harness h{cfg};
  h.open();
  auto m = h.start_one();
  h.take(1);
  h.give_back(m, true); // fail: stopped, replaced after its down
  h.finish_stops();
  REQUIRE(h.pending.size() == 1);
  h.fail_one("boom"); // the replacement failed: retried after the backoff
  CHECK(h.pending.empty());
  h.advance(79ms); // the backoff is 100 ms +- 20 %
  CHECK(h.pending.empty());
  h.advance(41ms);
  CHECK(h.pending.size() == 1);
}

TEST_CASE("lowering max_count stops free members first, then applies") {
  book_harness h{book_config(3, 3)};
  h.open();
  h.start_all();
  auto next = h.book->config();
  next.init_count = 1;
  next.max_count = 1;
  auto r = h.book->reconfigure(next, h.now);
  h.absorb(h.book->last_effects());
  REQUIRE(!r.error);
  CHECK(r.deferred);
  CHECK(h.stops.size() == 2);
  CHECK(h.book->config().max_count == 3); // until they are gone
  h.finish_stops();
  CHECK(h.book->config().max_count == 1);
  REQUIRE(h.reconfigured);
  CHECK(h.reconfigured->back().name == "stop_free_workers");
  CHECK(h.pending.empty());
}

TEST_CASE("lowering max_count without enough free members changes nothing") {
  book_harness h{book_config(2, 2)};
  h.open();
  h.start_all();
  h.take(1);
  h.take(1);
  auto next = h.book->config();
  next.init_count = 1;
  next.max_count = 1;
  auto r = h.book->reconfigure(next, h.now);
  REQUIRE(r.error);
  CHECK(r.error->code == pooler::errc::not_enough_free_members);
  CHECK(h.book->config().max_count == 2);
}

TEST_CASE("reconfigure goes parameter by parameter, in pooler's order") {
  auto cfg = book_config(1, 2);
  cfg.group = "g1";
  book_harness h{cfg};
  h.open();
  h.start_all();
  auto next = h.book->config();
  next.init_count = 2;
  next.max_count = 3;
  next.group = "g2";
  next.cull_interval = 30s; // lowered from 1 min: the timer restarts
  auto r = h.book->reconfigure(next, h.now);
  REQUIRE(!r.error);
  std::vector<std::string> names;
  for (auto& a : r.actions)
    names.push_back(pooler::to_string(a));
  CHECK(names
        == std::vector<std::string>{
          "set_parameter(group)", "leave_group(g1)", "join_group(g2)",
          "set_parameter(init_count)", "start_workers(1)",
          "set_parameter(max_count)", "set_parameter(cull_interval)",
          "reset_cull_timer(30s)"});
  next.cull_interval = 2min; // raised: no reset
  r = h.book->reconfigure(next, h.now);
  REQUIRE(r.actions.size() == 1);
  CHECK(pooler::to_string(r.actions[0]) == "set_parameter(cull_interval)");
}

TEST_CASE("affinity hands out the member bound to the key while it is free") {
  book_harness h{book_config(3, 3)};
  h.open();
  h.start_all();
  auto s1 = *h.take(1, book_duration{0}, "s1").member;
  auto other = *h.take(1).member;
  h.give_back(s1);
  h.give_back(other); // lifo would hand out `other`
  CHECK(*h.take(2, book_duration{0}, "s1").member == s1);
  CHECK(h.book->members().at(s1).session == "s1");
  CHECK(h.book->members().at(s1).sessions_served == 1);
}

TEST_CASE("a consumer that exits normally gives its members back") {
  book_harness h{book_config(2, 2)};
  h.open();
  h.start_all();
  h.take(1);
  h.take(1);
  CHECK(h.watched.count(1) == 1);
  h.absorb(h.book->consumer_down(1, false, h.now));
  CHECK(h.usage().free_count == 2);
  CHECK(h.stops.empty());
  CHECK(h.watched.count(1) == 0);
}

TEST_CASE("a consumer that crashes has its members stopped and replaced") {
  book_harness h{book_config(2, 2)};
  h.open();
  h.start_all();
  auto m = *h.take(1).member;
  h.absorb(h.book->consumer_down(1, true, h.now));
  REQUIRE(h.stops.size() == 1);
  CHECK(h.stops[0].member == m);
  CHECK(h.stops[0].cause == stop_cause::consumer_crashed);
  h.finish_stops();
  CHECK(h.pending.size() == 1);
}

TEST_CASE("a consumer is watched from its first checkout until it dies") {
  book_harness h{book_config(0, 1)};
  h.open();
  auto r = h.take(7); // nothing free: an error, and no record
  REQUIRE(r.error);
  CHECK(h.watched.empty());
  CHECK(!h.book->knows_consumer(7));
  auto m = h.start_one();
  CHECK(*h.take(7).member == m);
  CHECK(h.watched.count(7) == 1);
  h.give_back(m);
  // Still watched: its next take needs no new monitor.
  CHECK(h.watched.count(7) == 1);
  CHECK(h.book->knows_consumer(7));
  h.absorb(h.book->consumer_down(7, false, h.now));
  CHECK(h.watched.empty());
  CHECK(!h.book->knows_consumer(7));
}

TEST_CASE("a consumer that only waited is forgotten when it stops waiting") {
  auto cfg = book_config(0, 1);
  book_harness h{cfg};
  h.open();
  auto r = h.take(7, 1s);
  REQUIRE(r.waiter);
  CHECK(h.watched.count(7) == 1);
  h.advance(2s);
  CHECK(h.watched.empty());
  CHECK(!h.book->knows_consumer(7));
}

TEST_CASE("take_free completes only with a free member and an empty queue") {
  auto cfg = book_config(1, 2);
  book_harness h{cfg};
  h.open();
  auto m = h.start_one();
  auto got = h.book->take_free(1, {}, h.now);
  REQUIRE(got);
  CHECK(*got == m);
  h.absorb(h.book->last_effects());
  CHECK(h.usage().in_use_count == 1);
  CHECK(h.counts["take"] == 1);
  CHECK(h.watched.count(1) == 1);
  // Nothing free: no member, nothing counted, no record of the consumer.
  CHECK(!h.book->take_free(2, {}, h.now));
  CHECK(h.book->last_effects().empty());
  CHECK(!h.book->knows_consumer(2));
  // A returned member goes to the queued waiter, never to a later take.
  auto w = h.take(3, 10s);
  REQUIRE(w.waiter);
  h.give_back(m);
  CHECK(h.handed[*w.waiter] == m);
  CHECK(!h.book->take_free(1, {}, h.now));
  CHECK(h.usage().in_use_count == 1);
}

TEST_CASE("a health-checked member is checking, not in use, and goes back in place") {
  auto cfg = book_config(2, 2);
  cfg.health_check_interval = 10s;
  cfg.member_order = pooler::member_order::fifo;
  book_harness h{cfg};
  h.open();
  auto a = h.start_one();
  h.advance(1s);
  auto b = h.start_one();
  h.advance(9s); // a is idle 10 s: checked; b only 9 s
  REQUIRE(h.checks == std::vector<pooler::member_id>{a});
  CHECK(h.phase(a) == member_phase::checking);
  CHECK(h.usage().checking_count == 1);
  CHECK(h.usage().in_use_count == 0);
  CHECK(h.usage().free_count == 1);
  CHECK(*h.take(1).member == b); // never handed out during its check
  h.absorb(h.book->health_result(a, true, h.now));
  CHECK(h.phase(a) == member_phase::free);
  // Back at its place: still the oldest idle, first for fifo.
  h.give_back(b);
  CHECK(*h.take(1).member == a);
}

TEST_CASE("a member failing its health check is stopped and replaced") {
  auto cfg = book_config(1, 1);
  cfg.health_check_interval = 10s;
  book_harness h{cfg};
  h.open();
  auto a = h.start_one();
  h.advance(10s);
  h.absorb(h.book->health_result(a, false, h.now));
  REQUIRE(h.stops.size() == 1);
  CHECK(h.stops[0].cause == stop_cause::health_failed);
  CHECK(h.counts["killed_free{failed}"] == 1);
  h.finish_stops();
  CHECK(h.pending.size() == 1);
}

TEST_CASE("huge durations saturate instead of overflowing") {
  auto huge = book_duration{std::numeric_limits<int64_t>::max()};
  auto cfg = book_config(1, 1);
  cfg.member_start_timeout = huge;
  cfg.max_lifetime = huge - book_duration{1};
  cfg.max_lifetime_jitter = book_duration{1000};
  book_harness h{cfg};
  h.open();
  auto m = h.start_one();
  CHECK(h.book->members().at(m).expires_at > h.now + 1000000h);
  h.take(1);
  auto w = h.take(2, huge);
  CHECK(w.waiter);
  CHECK(pooler::saturating_add(h.now, huge) == pooler::book_time::max());
  auto edge = pooler::book_time::max() - book_duration{1};
  CHECK(pooler::saturating_add(edge, book_duration{2})
        == pooler::book_time::max());
  edge = pooler::book_time::min() + book_duration{1};
  CHECK(pooler::saturating_add(edge, book_duration{-2})
        == pooler::book_time::min());
  h.advance(24h);
  CHECK(h.failed.empty());
}

TEST_CASE("failed starts are counted, and a take's error names the last cause") {
  book_harness h{book_config(2, 2)};
  h.open();
  h.fail_one("initialize: connection refused");
  h.fail_one("initialize: connection refused");
  CHECK(h.usage().start_failures == 2);
  CHECK(h.usage().last_start_failure == "initialize: connection refused");
  CHECK(h.counts["start_failed"] == 2);
  CHECK(h.warnings.size() == 1); // once per streak
  h.advance(1min); // past the backoff
  auto r = h.take(1);
  REQUIRE(r.error);
  CHECK(r.error->detail
        == "all_in_use; 0 of 2 members running; last start failed: "
           "initialize: connection refused");
  // A start that succeeds ends the streak: the error is plain again.
  h.start_one();
  h.take(1);
  auto again = h.take(1);
  REQUIRE(again.error);
  CHECK(again.error->detail.find("last start failed") == std::string::npos);
}

TEST_CASE("a return of a free, stopping or unknown member changes nothing") {
  book_harness h{book_config(1, 1)};
  h.open();
  auto m = h.start_one();
  h.give_back(m);
  h.give_back(999);
  CHECK(h.warnings.size() == 2);
  CHECK(h.usage().free_count == 1);
}

TEST_CASE("a waiter whose consumer died is dropped, never handed a member") {
  book_harness h{book_config(1, 1)};
  h.open();
  auto m = h.start_one();
  h.take(1);
  auto dead = *h.take(2, book_duration{1s}).waiter;
  auto alive = *h.take(3, book_duration{1s}).waiter;
  h.absorb(h.book->consumer_down(2, true, h.now));
  CHECK(h.usage().queued_count == 1);
  CHECK(h.watched.count(2) == 0);
  h.give_back(m);
  CHECK(h.handed.count(dead) == 0);
  CHECK(h.handed.at(alive) == m);
}

TEST_CASE("an expired free member is never handed out, even before its tick") {
  auto cfg = book_config(2, 2);
  cfg.max_lifetime = 10s;
  cfg.member_order = pooler::member_order::fifo;
  book_harness h{cfg};
  h.open();
  auto old = h.start_one();
  h.now += 5s; // no timer fires: the take itself must notice
  auto young = h.start_one();
  h.now += 6s;
  CHECK(*h.take(1).member == young);
  REQUIRE(h.stops.size() == 1);
  CHECK(h.stops[0].member == old);
  CHECK(h.stops[0].cause == stop_cause::max_lifetime);
}

TEST_CASE("reconfigure: shrink_queue answers the oldest waiters, update_ttl re-times members") {
  book_harness h{book_config(1, 1)};
  h.open();
  auto m = h.start_one();
  h.take(1);
  auto w1 = *h.take(2, book_duration{1min}).waiter;
  auto w2 = *h.take(3, book_duration{1min}).waiter;
  auto next = h.book->config();
  next.queue_max = 1;
  next.max_lifetime = 1h;
  auto r = h.book->reconfigure(next, h.now);
  h.absorb(h.book->last_effects());
  std::vector<std::string> names;
  for (auto& a : r.actions)
    names.push_back(pooler::to_string(a));
  CHECK(names
        == std::vector<std::string>{"set_parameter(queue_max)",
                                    "shrink_queue(1)",
                                    "set_parameter(max_lifetime)",
                                    "update_ttl(1h)"});
  REQUIRE(h.failed.count(w1) == 1);
  CHECK(h.failed.at(w1).detail == "queue_full");
  CHECK(h.failed.count(w2) == 0);
  auto& rec = h.book->members().at(m);
  CHECK(rec.expires_at == rec.accepted_at + std::chrono::hours(1));
}
