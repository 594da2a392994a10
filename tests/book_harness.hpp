#pragma once

// A test driver for the pool book: a fake clock, and a record of every
// effect the book asked for, so that tests play the pool actor's part
// (start members, deliver their down messages, fire timers) by hand.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "src/pool_book.hpp"

namespace test {

using namespace std::chrono_literals;
using pooler::book_time;
using pooler::member_id;

inline pooler::pool_config book_config(size_t init, size_t max) {
  pooler::pool_config cfg;
  cfg.name = "p";
  cfg.init_count = init;
  cfg.max_count = max;
  cfg.start = pooler::member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> { return caf::actor{}; });
  return cfg;
}

/// The armed timers of a book, by kind: each kind's latest arm.
using armed_timers = std::map<pooler::book_timer, pooler::fx::arm>;

/// The timer due first at or before `until`, or `timers.end()`.
inline armed_timers::iterator first_due(armed_timers& timers,
                                        book_time until) {
  auto next = timers.end();
  for (auto i = timers.begin(); i != timers.end(); ++i)
    if (i->second.at <= until
        && (next == timers.end() || i->second.at < next->second.at))
      next = i;
  return next;
}

struct book_harness {
  std::optional<pooler::pool_book> book;
  book_time now = book_time{} + std::chrono::hours(1);
  std::vector<pooler::start_id> pending;           ///< starts not reported
  std::vector<pooler::fx::stop> stops;             ///< every stop asked for
  std::map<pooler::waiter_id, member_id> handed;   ///< waiter -> member
  std::map<pooler::waiter_id, pooler::book_error> failed;
  armed_timers timers; ///< latest arm
  std::vector<member_id> checks;
  std::set<pooler::consumer_id> watched;
  std::map<std::string, double> counts; ///< "metric" or "metric{reason}"
  std::vector<std::string> warnings;
  std::optional<std::vector<pooler::reconfigure_action>> reconfigured;
  int readies = 0;
  member_id next_member = 100;

  explicit book_harness(pooler::pool_config cfg, uint64_t seed = 1) {
    book.emplace(std::move(cfg), seed);
  }

  /// Records one operation's effects; returns the audit ("" when sound).
  std::string absorb(const pooler::effects& fx) {
    using namespace pooler;
    for (auto& e : fx) {
      if (auto x = std::get_if<fx::start>(&e))
        pending.push_back(x->id);
      else if (auto x = std::get_if<fx::stop>(&e))
        stops.push_back(*x);
      else if (auto x = std::get_if<fx::hand>(&e))
        handed[x->waiter] = x->member;
      else if (auto x = std::get_if<fx::fail>(&e))
        failed[x->waiter] = x->error;
      else if (auto x = std::get_if<fx::arm>(&e))
        timers[x->kind] = *x;
      else if (auto x = std::get_if<fx::check>(&e))
        checks.push_back(x->member);
      else if (auto x = std::get_if<fx::watch>(&e))
        watched.insert(x->consumer);
      else if (auto x = std::get_if<fx::unwatch>(&e))
        watched.erase(x->consumer);
      else if (auto x = std::get_if<fx::count>(&e))
        counts[std::string{metric_names[static_cast<size_t>(x->m)]}] += x->n;
      else if (auto x = std::get_if<fx::count_reason>(&e))
        counts[std::string{metric_names[static_cast<size_t>(x->m)]} + "{"
               + x->reason + "}"] += 1;
      else if (auto x = std::get_if<fx::warn>(&e))
        warnings.push_back(x->text);
      else if (std::get_if<fx::ready>(&e))
        ++readies;
      else if (auto x = std::get_if<fx::reconfigured>(&e))
        reconfigured = x->actions;
    }
    auto broken = book->audit();
    CHECK(broken == "");
    return broken;
  }

  std::string open() { return absorb(book->open(now)); }

  /// Reports the oldest pending start as a new member; returns its id.
  member_id start_one() {
    auto sid = pending.front();
    pending.erase(pending.begin());
    auto id = next_member++;
    book->member_started(sid, id, now);
    absorb(book->last_effects());
    return id;
  }

  /// Reports every pending start as a member.
  std::vector<member_id> start_all() {
    std::vector<member_id> ids;
    while (!pending.empty())
      ids.push_back(start_one());
    return ids;
  }

  /// Fails the oldest pending start.
  void fail_one(const std::string& cause) {
    auto sid = pending.front();
    pending.erase(pending.begin());
    absorb(book->start_failed(sid, cause, now));
  }

  pooler::take_result take(pooler::consumer_id who,
                           std::optional<pooler::book_duration> timeout
                           = pooler::book_duration{0},
                           const std::string& affinity = {}) {
    auto r = book->take(who, timeout, affinity, now);
    absorb(book->last_effects());
    return r;
  }

  void give_back(member_id m, bool failed = false) {
    absorb(book->give_back(m, failed, 0, now));
  }

  /// The member's down message (after a stop or a crash).
  void down(member_id m) {
    book->member_down(m, now);
    absorb(book->last_effects());
  }

  /// Delivers the down message of every member asked to stop.
  void finish_stops() {
    auto todo = std::move(stops);
    stops.clear();
    for (auto& s : todo)
      down(s.member);
  }

  /// Moves the clock and fires every timer that is due, in time order.
  void advance(pooler::book_duration d) {
    auto until = now + d;
    for (;;) {
      auto next = first_due(timers, until);
      if (next == timers.end())
        break;
      auto arm = next->second;
      timers.erase(next);
      now = std::max(now, arm.at);
      absorb(book->tick(arm.kind, arm.gen, now));
    }
    now = until;
  }

  pooler::utilization usage() const { return book->usage(); }

  pooler::member_phase phase(member_id m) const {
    return book->members().at(m).phase;
  }
};

} // namespace test
