// Members leaving the pool: stops (with their cause) and deaths.

#include "src/pool_book.hpp"

namespace pooler {

void pool_book::stop(member_id id, member_rec& m, stop_cause cause) {
  switch (m.phase) {
    case member_phase::free:
      leave_free(m);
      break;
    case member_phase::in_use:
      release(id, m, now_);
      break;
    case member_phase::checking:
      --checking_;
      break;
    case member_phase::stopping:
      return;
  }
  begin_stop(id, m, cause);
}

void pool_book::begin_stop(member_id id, member_rec& m, stop_cause cause) {
  unbind_session(id, m);
  m.phase = member_phase::stopping;
  m.cause = cause;
  ++stopping_;
  emit(fx::stop{id, cause});
}

void pool_book::stop_oldest_free(size_t n, stop_cause cause,
                                 const char* reason) {
  while (n-- > 0 && !free_.empty()) {
    auto id = free_.begin()->second;
    emit(fx::count_reason{metric::killed_free, reason});
    stop(id, members_[id], cause);
  }
}

void pool_book::stop_done(stop_cause cause) {
  if (cause != stop_cause::reconfigured || !shrink_to_ || --shrink_stops_ > 0)
    return;
  cfg_.max_count = *shrink_to_;
  shrink_to_.reset();
  emit(fx::reconfigured{std::move(shrink_actions_)});
  shrink_actions_.clear();
}

bool pool_book::member_down(member_id id, book_time now) {
  begin(now);
  auto i = members_.find(id);
  if (i == members_.end()) {
    end();
    return false;
  }
  auto& m = i->second;
  bool replace = true;
  switch (m.phase) {
    case member_phase::free:
      leave_free(m);
      emit(fx::count_reason{metric::killed_free, "crashed"});
      break;
    case member_phase::checking:
      // Out for a health check: a free member, as far as anyone knows.
      --checking_;
      emit(fx::count_reason{metric::killed_free, "crashed"});
      break;
    case member_phase::in_use:
      // The consumer is not told; it may monitor the member itself.
      release(id, m, now);
      emit(fx::count_reason{metric::killed_in_use, "crashed"});
      break;
    case member_phase::stopping:
      --stopping_;
      replace = replaces(m.cause);
      stop_done(m.cause);
      break;
  }
  unbind_session(id, m);
  members_.erase(i);
  emit(fx::forget{id});
  if (replace)
    replace_one(now);
  end();
  return true;
}

const effects& pool_book::health_result(member_id id, bool ok,
                                        book_time now) {
  begin(now);
  auto i = members_.find(id);
  if (i == members_.end() || i->second.phase != member_phase::checking)
    return end(); // it died meanwhile
  auto& m = i->second;
  --checking_;
  if (!ok) {
    emit(fx::count_reason{metric::killed_free, "failed"});
    begin_stop(id, m, stop_cause::health_failed);
  } else if (!queue_.empty()) {
    m.last_activity = now;
    offer(id, m, now);
  } else {
    // Back at its place among the idle: a check does not make it look fresh
    // to the culler.
    m.last_activity = now;
    m.phase = member_phase::free;
    insert_free(free_key{m.last_free, m.free_seq}, id);
    if (m.expires_at < ttl_timer_.at)
      arm(ttl_timer_, book_timer::ttl, m.expires_at);
  }
  return end();
}

} // namespace pooler
