// The pool book's frame: construction, the capacity check after every
// operation, the counts it reports.

#include "src/pool_book.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace pooler {

book_time saturating_add(book_time t, book_duration d) {
  using rep = book_duration::rep;
  auto base = std::chrono::duration_cast<book_duration>(t.time_since_epoch())
                .count();
  auto step = d.count();
  rep sum;
  if (__builtin_add_overflow(base, step, &sum))
    return step > 0 ? book_time::max() : book_time::min();
  return book_time{std::chrono::duration_cast<book_clock::duration>(
    book_duration{sum})};
}

bool replaces(stop_cause c) {
  switch (c) {
    case stop_cause::start_timeout:
    case stop_cause::max_age:
    case stop_cause::reconfigured:
      return false;
    default:
      return true;
  }
}

const char* to_string(stop_cause c) {
  switch (c) {
    case stop_cause::failed: return "failed";
    case stop_cause::max_lifetime: return "max_lifetime";
    case stop_cause::consumer_crashed: return "consumer_crashed";
    case stop_cause::health_failed: return "health_failed";
    case stop_cause::start_timeout: return "start_timeout";
    case stop_cause::max_age: return "max_age";
    case stop_cause::reconfigured: return "reconfigured";
  }
  return "unknown";
}

pool_book::pool_book(pool_config cfg, uint64_t seed)
  : cfg_(std::move(cfg)), rng_(seed) {
  fx_.reserve(8);
}

const effects& pool_book::open(book_time now) {
  begin(now);
  start_members(cfg_.init_count, true);
  arm_cull(now);
  arm_health(now);
  return end();
}

const effects& pool_book::begin(book_time now) {
  now_ = now;
  fx_.clear();
  return fx_;
}

const effects& pool_book::end() {
  check();
  return fx_;
}

void pool_book::check() const {
#if defined(POOLER_CHECK_INVARIANTS) || !defined(NDEBUG)
  if (auto broken = audit(); !broken.empty()) {
    std::fprintf(stderr, "pooler: pool \"%s\": book invariant broken: %s\n",
                 cfg_.name.c_str(), broken.c_str());
    std::abort();
  }
#endif
}

std::string pool_book::audit() const {
  size_t free = 0, in_use = 0, checking = 0, stopping = 0;
  for (auto& [id, m] : members_) {
    switch (m.phase) {
      case member_phase::free:
        ++free;
        if (free_.count({m.last_free, m.free_seq}) == 0)
          return "free member " + std::to_string(id) + " not in the free set";
        break;
      case member_phase::in_use: {
        ++in_use;
        auto c = consumers_.find(m.consumer);
        if (c == consumers_.end())
          return "member " + std::to_string(id) + " held by an unknown consumer";
        auto& held = c->second.members;
        if (std::count(held.begin(), held.end(), id) != 1)
          return "member " + std::to_string(id) + " not held exactly once";
        break;
      }
      case member_phase::checking:
        ++checking;
        break;
      case member_phase::stopping:
        ++stopping;
        break;
    }
  }
  size_t starting = 0;
  for (auto& kvp : starts_)
    (kvp.second.abandoned ? stopping : starting) += 1;
  if (free != free_.size())
    return "free set holds " + std::to_string(free_.size()) + ", recount "
           + std::to_string(free);
  for (auto& [key, id] : free_) {
    auto i = members_.find(id);
    if (i == members_.end() || i->second.phase != member_phase::free)
      return "free set holds a member that is not free";
  }
  if (in_use != in_use_ || checking != checking_ || starting != starting_
      || stopping != stopping_)
    return "counters in_use/checking/starting/stopping "
           + std::to_string(in_use_) + "/" + std::to_string(checking_) + "/"
           + std::to_string(starting_) + "/" + std::to_string(stopping_)
           + ", recount " + std::to_string(in_use) + "/"
           + std::to_string(checking) + "/" + std::to_string(starting) + "/"
           + std::to_string(stopping);
  size_t held = 0, waiting = 0;
  for (auto& [who, c] : consumers_) {
    if (!c.held && c.members.empty() && c.waiting == 0)
      return "consumer " + std::to_string(who)
             + " recorded that never held and does not wait";
    held += c.members.size();
    waiting += c.waiting;
  }
  if (held != in_use)
    return "consumers hold " + std::to_string(held) + ", in use "
           + std::to_string(in_use);
  if (waiting != queue_.size())
    return "consumers wait " + std::to_string(waiting) + ", queue "
           + std::to_string(queue_.size());
  for (auto& w : queue_)
    if (consumers_.count(w.who) == 0)
      return "a waiter's consumer is not recorded";
  if (live_count() > cfg_.max_count)
    return "live " + std::to_string(live_count()) + " > max_count "
           + std::to_string(cfg_.max_count);
  return {};
}

utilization pool_book::usage() const {
  utilization u;
  u.max_count = cfg_.max_count;
  u.in_use_count = in_use_;
  u.free_count = free_.size();
  u.starting_count = starting_;
  u.stopping_count = stopping_;
  u.queued_count = queue_.size();
  u.queue_max = cfg_.queue_max;
  u.checking_count = checking_;
  u.start_failures = start_failures_;
  u.last_start_failure = last_start_failure_;
  return u;
}

book_error pool_book::no_members(const char* reason) {
  emit(fx::count_reason{metric::error_no_members, reason});
  std::string detail = reason;
  // A pool whose starts keep failing says why, not only that it is empty.
  if (failures_in_a_row_ > 0)
    detail += "; " + std::to_string(free_.size() + in_use_ + checking_)
              + " of " + std::to_string(cfg_.max_count)
              + " members running; last start failed: " + last_start_failure_;
  return {errc::no_members, std::move(detail)};
}

} // namespace pooler
