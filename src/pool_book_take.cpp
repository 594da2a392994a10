// Takes, returns, the queue of waiters and the consumers that hold members.
// A consumer is recorded (and monitored) from its first checkout until it
// dies, so that its later takes need no new monitor and can complete in its
// own thread. One that only waited, or tried and got nothing, leaves no
// trace once it stops waiting.

#include "src/pool_book.hpp"

#include <algorithm>

namespace pooler {

take_result pool_book::take(consumer_id who,
                            std::optional<book_duration> timeout,
                            const std::string& affinity, book_time now) {
  begin(now);
  emit(fx::count{metric::take, 1});
  take_result result;
  if (auto p = pop_free(affinity, now)) {
    hand_out(p->id, *p->rec, who, affinity, now);
    result.member = p->id;
  } else if (auto reason = grow_for_take(now);
             timeout && timeout->count() <= 0) {
    result.error = no_members(reason);
  } else if (queue_.size() >= cfg_.queue_max) {
    emit(fx::count{metric::queue_max_reached, 1});
    result.error = no_members(no_members_reason::queue_full);
  } else {
    auto deadline = timeout ? saturating_add(now, *timeout) : book_time::max();
    ++consumer(who).waiting;
    queue_.push_back(waiter{++next_waiter_, who, now, deadline, affinity});
    arm(queue_timer_, book_timer::queue, deadline);
    result.waiter = next_waiter_;
  }
  end();
  return result;
}

std::optional<member_id> pool_book::take_free(consumer_id who,
                                              const std::string& affinity,
                                              book_time now) {
  begin(now);
  std::optional<picked> p;
  if (queue_.empty())
    p = pop_free(affinity, now);
  if (p) {
    emit(fx::count{metric::take, 1});
    hand_out(p->id, *p->rec, who, affinity, now);
  }
  end();
  return p ? std::optional<member_id>{p->id} : std::nullopt;
}

void pool_book::hand_out(member_id id, member_rec& m, consumer_id who,
                         const std::string& affinity, book_time now) {
  check_out(id, m, who, affinity, now);
  emit(fx::observe{metric::checkout_wait_seconds, book_duration{0}});
  maybe_auto_grow(now);
}

std::vector<member_id> pool_book::take_all_free(consumer_id who,
                                                book_time now) {
  begin(now);
  std::vector<member_id> result;
  while (auto p = pop_free({}, now)) {
    check_out(p->id, *p->rec, who, {}, now);
    result.push_back(p->id);
  }
  end();
  return result;
}

const effects& pool_book::give_back(member_id id, bool failed,
                                    uint64_t requests, book_time now) {
  begin(now);
  auto i = members_.find(id);
  if (i == members_.end()) {
    emit(fx::warn{"ignored the return of an unknown member"});
    return end();
  }
  auto& m = i->second;
  if (m.phase != member_phase::in_use) {
    emit(fx::warn{std::string{"ignored the return of a member that is "}
                  + (m.phase == member_phase::stopping ? "stopping"
                                                       : "free")});
    return end();
  }
  m.requests_handled += requests;
  release(id, m, now);
  emit(fx::count{metric::checkin, 1});
  m.last_activity = now;
  if (failed) {
    ++m.errors;
    emit(fx::count_reason{metric::killed_in_use, "failed"});
    begin_stop(id, m, stop_cause::failed);
  } else if (expired(m, now)) {
    emit(fx::count_reason{metric::killed_in_use, "max_lifetime"});
    begin_stop(id, m, stop_cause::max_lifetime);
  } else {
    offer(id, m, now);
  }
  return end();
}

const effects& pool_book::consumer_down(consumer_id who, bool crashed,
                                        book_time now) {
  begin(now);
  auto c = consumers_.find(who);
  if (c == consumers_.end())
    return end();
  auto held = std::move(c->second.members);
  consumers_.erase(c);
  emit(fx::unwatch{who});
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const waiter& w) { return w.who == who; }),
               queue_.end());
  for (auto id : held) {
    auto& m = members_[id];
    m.consumer = 0;
    --in_use_;
    // The lease ends with its consumer, as with a return.
    emit(fx::observe{metric::lease_seconds, now - m.taken_at});
    if (!crashed) {
      // A consumer that exits normally gives its members back.
      offer(id, m, now);
    } else {
      // One that crashed may have left them mid-request: replace them.
      emit(fx::count_reason{metric::killed_in_use, "failed"});
      begin_stop(id, m, stop_cause::consumer_crashed);
    }
  }
  return end();
}

pool_book::consumer_rec& pool_book::consumer(consumer_id who) {
  auto [i, added] = consumers_.try_emplace(who);
  if (added)
    emit(fx::watch{who});
  return i->second;
}

void pool_book::forget_if_idle(consumer_id who) {
  auto c = consumers_.find(who);
  if (c != consumers_.end() && !c->second.held && c->second.members.empty()
      && c->second.waiting == 0) {
    consumers_.erase(c);
    emit(fx::unwatch{who});
  }
}

void pool_book::check_out(member_id id, member_rec& m, consumer_id who,
                          const std::string& affinity, book_time now) {
  m.phase = member_phase::in_use;
  m.consumer = who;
  m.taken_at = now;
  m.last_activity = now;
  ++m.checkouts;
  ++in_use_;
  auto& c = consumer(who);
  c.members.push_back(id);
  c.held = true;
  if (!affinity.empty())
    bind_session(id, m, affinity);
}

void pool_book::release(member_id id, member_rec& m, book_time now) {
  if (auto c = consumers_.find(m.consumer); c != consumers_.end()) {
    auto& held = c->second.members;
    if (auto i = std::find(held.begin(), held.end(), id); i != held.end()) {
      *i = held.back();
      held.pop_back();
    }
    // Nothing to forget: a consumer that held a member stays recorded
    // until it dies.
  }
  emit(fx::observe{metric::lease_seconds, now - m.taken_at});
  m.consumer = 0;
  --in_use_;
}

void pool_book::offer(member_id id, member_rec& m, book_time now) {
  while (!queue_.empty()) {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    --consumers_[w.who].waiting;
    if (w.deadline <= now) {
      answer(w, no_members(no_members_reason::timeout));
      forget_if_idle(w.who);
      continue;
    }
    check_out(id, m, w.who, w.affinity, now);
    emit(fx::observe{metric::checkout_wait_seconds, now - w.since});
    emit(fx::hand{w.id, id});
    return;
  }
  push_free(id, m, now);
}

void pool_book::answer(const waiter& w, book_error err) {
  if (err.code == errc::no_members
      && err.detail.rfind(no_members_reason::timeout, 0) == 0)
    emit(fx::count{metric::take_timeout, 1});
  emit(fx::fail{w.id, std::move(err)});
}

void pool_book::expire_waiters(book_time now) {
  auto next = book_time::max();
  std::vector<consumer_id> gone;
  for (auto i = queue_.begin(); i != queue_.end();) {
    if (i->deadline <= now) {
      answer(*i, no_members(no_members_reason::timeout));
      --consumers_[i->who].waiting;
      gone.push_back(i->who);
      i = queue_.erase(i);
    } else {
      next = std::min(next, i->deadline);
      ++i;
    }
  }
  for (auto who : gone)
    forget_if_idle(who);
  if (next != book_time::max())
    arm(queue_timer_, book_timer::queue, next);
}

void pool_book::shrink_queue(size_t keep) {
  // The oldest waiters go first, as pooler.
  while (queue_.size() > keep) {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    --consumers_[w.who].waiting;
    answer(w, no_members(no_members_reason::queue_full));
    forget_if_idle(w.who);
  }
}

} // namespace pooler
