// Starting members: batches for takes, auto-grow, replacements, the start
// timeout, and the backoff after failed starts.

#include "src/pool_book.hpp"

#include <algorithm>

namespace pooler {

size_t pool_book::can_add() const {
  auto live = live_count();
  auto limit = shrink_to_ ? std::min(cfg_.max_count, *shrink_to_)
                          : cfg_.max_count;
  return live < limit ? limit - live : 0;
}

void pool_book::start_members(size_t n, bool initial, bool replacement) {
  if (n == 0)
    return;
  for (size_t i = 0; i < n; ++i) {
    auto id = ++next_start_;
    starts_.emplace(id, start_rec{now_, initial, replacement, false});
    ++starting_;
    if (initial)
      ++initial_pending_;
    emit(fx::start{id});
  }
  // One timer for all starts: a pool of 10,000 would otherwise keep 10,000
  // pending timer messages.
  arm(start_timer_, book_timer::start,
      saturating_add(now_, cfg_.member_start_timeout));
}

bool pool_book::member_started(start_id sid, member_id id, book_time now) {
  begin(now);
  auto i = starts_.find(sid);
  if (i == starts_.end()) {
    end();
    return false;
  }
  auto rec = i->second;
  starts_.erase(i);
  auto& m = members_[id];
  m.accepted_at = now;
  m.last_activity = now;
  if (rec.abandoned) {
    // Counted as stopping since its timeout.
    m.phase = member_phase::stopping;
    m.cause = stop_cause::start_timeout;
    emit(fx::stop{id, stop_cause::start_timeout});
    end();
    return true;
  }
  if (rec.initial)
    note_initial_done();
  --starting_;
  failures_in_a_row_ = 0;
  emit(fx::observe{metric::member_start_seconds, now - rec.since});
  m.expires_at = expiry_for(now);
  offer(id, m, now);
  end();
  return true;
}

const effects& pool_book::start_failed(start_id sid, const std::string& cause,
                                       book_time now) {
  begin(now);
  auto i = starts_.find(sid);
  if (i == starts_.end())
    return end();
  auto rec = i->second;
  starts_.erase(i);
  if (rec.abandoned) {
    --stopping_;
  } else {
    --starting_;
    if (rec.initial)
      note_initial_done();
  }
  emit(fx::count{metric::start_failed, 1});
  ++start_failures_;
  last_start_failure_ = cause;
  if (failures_in_a_row_++ == 0)
    emit(fx::warn{"a member failed to start: " + cause});
  backoff_until_ = saturating_add(now, backoff_delay());
  if (rec.replacement)
    replace_one(now);
  return end();
}

void pool_book::start_timeouts(book_time now) {
  auto next = book_time::max();
  for (auto& [id, rec] : starts_) {
    if (rec.abandoned)
      continue;
    auto deadline = saturating_add(rec.since, cfg_.member_start_timeout);
    if (deadline > now) {
      next = std::min(next, deadline);
      continue;
    }
    // Abandoned: counted as stopping until the starter reports.
    rec.abandoned = true;
    --starting_;
    ++stopping_;
    emit(fx::count{metric::starting_member_timeout, 1});
    if (rec.initial) {
      rec.initial = false;
      note_initial_done();
    }
  }
  if (next != book_time::max())
    arm(start_timer_, book_timer::start, next);
}

void pool_book::note_initial_done() {
  if (--initial_pending_ == 0)
    emit(fx::ready{});
}

book_duration pool_book::backoff_delay() {
  auto& b = cfg_.start_backoff;
  auto delay = b.initial;
  for (size_t k = 1; k < failures_in_a_row_ && delay < b.max; ++k)
    delay = delay > b.max / 2 ? b.max : delay * 2;
  delay = std::min(delay, b.max);
  // +-20 % jitter, so that pools failing together do not retry together.
  std::uniform_real_distribution<double> jitter{0.8, 1.2};
  return std::chrono::duration_cast<book_duration>(
    std::chrono::duration<double, std::nano>(delay) * jitter(rng_));
}

const char* pool_book::grow_for_take(book_time now) {
  auto room = can_add();
  if (room == 0)
    return no_members_reason::at_capacity;
  if (now >= backoff_until_) {
    auto wanted = cfg_.init_count > starting_ ? cfg_.init_count - starting_
                                              : 0;
    start_members(std::max<size_t>(std::min(wanted, room), 1));
  }
  return no_members_reason::all_in_use;
}

void pool_book::maybe_auto_grow(book_time now) {
  if (!cfg_.auto_grow_threshold || free_.size() > *cfg_.auto_grow_threshold
      || now < backoff_until_)
    return;
  auto wanted = cfg_.init_count > starting_ ? cfg_.init_count - starting_ : 0;
  if (starting_ == 0)
    wanted = std::max<size_t>(wanted, 1);
  start_members(std::min(wanted, can_add()));
}

void pool_book::replace_one(book_time now) {
  if (now < backoff_until_) {
    ++owed_starts_;
    if (grow_timer_.at == book_time::max())
      arm(grow_timer_, book_timer::grow, backoff_until_);
    return;
  }
  if (can_add() > 0)
    start_members(1, false, true);
}

} // namespace pooler
