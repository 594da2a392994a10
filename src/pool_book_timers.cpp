// The book's timers: the queue's deadlines, the start timeout, the end of a
// start backoff, member lifetimes (TTL), culling and health checks.

#include "src/pool_book.hpp"

#include <algorithm>

namespace pooler {

void pool_book::arm(timer_slot& t, book_timer kind, book_time at) {
  // A deadline timer only ever moves earlier; its tick rescans and re-arms.
  if (at >= t.at)
    return;
  t.at = at;
  emit(fx::arm{kind, at, ++t.gen});
}

void pool_book::arm_periodic(timer_slot& t, book_timer kind, book_time now,
                             book_duration every) {
  t.at = saturating_add(now, every);
  emit(fx::arm{kind, t.at, ++t.gen});
}

const effects& pool_book::tick(book_timer kind, uint64_t gen, book_time now) {
  begin(now);
  timer_slot* slots[] = {&queue_timer_, &ttl_timer_,  &start_timer_,
                         &grow_timer_,  &cull_timer_, &health_timer_};
  auto& t = *slots[static_cast<size_t>(kind)];
  if (gen != t.gen || t.at == book_time::max())
    return end(); // stale: a later arm replaced it
  t.at = book_time::max();
  switch (kind) {
    case book_timer::queue:
      expire_waiters(now);
      break;
    case book_timer::ttl:
      ttl_scan(now);
      break;
    case book_timer::start:
      start_timeouts(now);
      break;
    case book_timer::grow:
      for (auto owed = std::exchange(owed_starts_, 0); owed > 0; --owed)
        replace_one(now);
      break;
    case book_timer::cull:
      cull_now(now);
      arm_cull(now);
      break;
    case book_timer::health:
      arm_health(now);
      health_round(now);
      break;
  }
  return end();
}

// -- lifetime ------------------------------------------------------------------

book_time pool_book::expiry_for(book_time accepted) {
  if (!cfg_.max_lifetime)
    return book_time::max();
  auto jitter = cfg_.max_lifetime_jitter.count();
  std::uniform_int_distribution<int64_t> dist{-jitter, jitter};
  auto spread = book_duration{jitter > 0 ? dist(rng_) : 0};
  // Jitter is validated below the lifetime, so the sum stays positive.
  return saturating_add(saturating_add(accepted, *cfg_.max_lifetime), spread);
}

void pool_book::arm_ttl() {
  // One timer per pool, aimed at the earliest expiry of a free member. The
  // tick rescans, so a removed member can never leave it dangling.
  auto earliest = book_time::max();
  for (auto& kvp : free_)
    earliest = std::min(earliest, members_[kvp.second].expires_at);
  if (earliest != book_time::max())
    arm(ttl_timer_, book_timer::ttl, earliest);
}

void pool_book::ttl_scan(book_time now) {
  std::vector<member_id> expired_ids;
  for (auto& kvp : free_)
    if (expired(members_[kvp.second], now))
      expired_ids.push_back(kvp.second);
  for (auto id : expired_ids) {
    emit(fx::count_reason{metric::killed_free, "max_lifetime"});
    stop(id, members_[id], stop_cause::max_lifetime);
  }
  arm_ttl();
}

// -- culling ---------------------------------------------------------------------

bool pool_book::culling() const {
  return cfg_.cull_interval > book_duration{0}
         && cfg_.init_count < cfg_.max_count;
}

void pool_book::arm_cull(book_time now) {
  if (culling())
    arm_periodic(cull_timer_, book_timer::cull, now, cfg_.cull_interval);
  else
    cull_timer_.at = book_time::max();
}

const effects& pool_book::cull(book_time now) {
  begin(now);
  cull_now(now);
  return end();
}

void pool_book::cull_now(book_time now) {
  auto total = free_.size() + in_use_ + checking_;
  if (total <= cfg_.init_count || free_.empty())
    return;
  auto max_cull = total - cfg_.init_count;
  // The free set is ordered by idle time: oldest first.
  std::vector<member_id> victims;
  for (auto& [key, id] : free_) {
    if (victims.size() >= max_cull || now - key.first < cfg_.max_age)
      break;
    victims.push_back(id);
  }
  for (auto id : victims) {
    emit(fx::count_reason{metric::killed_free, "max_age"});
    stop(id, members_[id], stop_cause::max_age);
  }
}

// -- health checks -----------------------------------------------------------------

void pool_book::arm_health(book_time now) {
  if (cfg_.health_check_interval)
    arm_periodic(health_timer_, book_timer::health, now,
                 *cfg_.health_check_interval);
  else
    health_timer_.at = book_time::max();
}

void pool_book::health_round(book_time now) {
  if (!cfg_.health_check_interval)
    return;
  auto interval = *cfg_.health_check_interval;
  std::vector<member_id> idle;
  for (auto& kvp : free_)
    if (now - members_[kvp.second].last_activity >= interval)
      idle.push_back(kvp.second);
  auto timeout = std::min<book_duration>(interval, std::chrono::seconds(5));
  for (auto id : idle) {
    // Out of the free set while checked, but it keeps its idle time (and its
    // key), so that it goes back to its place in O(log n).
    auto& m = members_[id];
    leave_free(m);
    m.phase = member_phase::checking;
    ++checking_;
    emit(fx::check{id, timeout});
  }
}

} // namespace pooler
