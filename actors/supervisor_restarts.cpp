// Restarts: which exits restart a child, the strategies, the restart
// intensity window and the backoff between restarts of the same child.

#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>

#include "src/log.hpp"

namespace pooler {

namespace {

// OTP: transient children are restarted unless they exited `normal` or
// `shutdown` (our `user_shutdown`).
bool should_restart(restart_type type, const caf::error& reason) {
  switch (type) {
    case restart_type::permanent:
      return true;
    case restart_type::transient:
      return reason && reason != caf::exit_reason::user_shutdown;
    case restart_type::temporary:
      return false;
  }
  return false;
}

std::string describe(caf::actor_system& sys, const caf::error& err) {
  if (err.category() == error_category)
    return render_error(err.code(), err.category(), err.context());
  return sys.render(err);
}

} // namespace

void supervisor_state::on_retry(uint64_t key, uint64_t incarnation) {
  auto c = find(key);
  if (terminating_ || !c || !c->waiting || c->incarnation != incarnation)
    return; // stale: the child was restarted, terminated or deleted since
  c->waiting = false;
  attempt(key);
}

// -- restarts -----------------------------------------------------------------

void supervisor_state::resume() {
  while (!busy() && !terminating_) {
    if (pending_exit_) {
      auto reason = std::move(*pending_exit_);
      pending_exit_.reset();
      begin_terminate(std::move(reason));
      return;
    }
    if (pending_.empty())
      return;
    auto ev = std::move(pending_.front());
    pending_.pop_front();
    handle_exit(ev);
  }
}

void supervisor_state::handle_exit(const exit_event& ev) {
  auto c = find(ev.key);
  if (!c || c->handle || c->waiting || c->incarnation != ev.incarnation)
    return; // restarted or removed while the event waited
  auto& spec = spec_of(*c);
  if (!should_restart(spec.restart, ev.reason)) {
    // Dynamic children and temporary specs are forgotten; a static transient
    // child that finished stays listed as terminated.
    if (dynamic() || spec.restart == restart_type::temporary)
      remove(ev.key);
    return;
  }
  // A child that stayed up for a whole intensity period counts as healthy.
  if (clock::now() - c->started_at >= flags_.period)
    c->consecutive = 0;
  schedule_attempt(*c, false);
}

void supervisor_state::schedule_attempt(child_rec& c, bool after_failure) {
  auto delay = next_delay(c);
  if (delay.count() == 0 && !after_failure) {
    attempt(c.key);
    return;
  }
  // A failed start is retried through the mailbox, so that requests and
  // down messages in between are handled and a failing child cannot spin.
  c.waiting = true;
  ++c.incarnation;
  if (delay.count() == 0)
    self_->send(self_, retry_atom::value, c.key, c.incarnation);
  else
    self_->delayed_send(self_, delay, retry_atom::value, c.key, c.incarnation);
}

void supervisor_state::attempt(uint64_t key) {
  if (!add_restart()) {
    warn("supervisor " + std::to_string(self_->id()) + ": more than "
         + std::to_string(flags_.intensity) + " restarts within "
         + std::to_string(flags_.period.count() / 1000000) + " ms, shutting down");
    begin_terminate(caf::exit_reason::user_shutdown);
    return;
  }
  do_restart(key);
}

void supervisor_state::do_restart(uint64_t key) {
  switch (flags_.strategy) {
    case strategy::one_for_one:
    case strategy::simple_one_for_one: {
      auto c = find(key);
      if (auto err = start_rec(*c)) {
        warn("supervisor " + std::to_string(self_->id()) + ": restart of '"
             + spec_of(*c).id + "' failed: " + describe(self_->system(), err));
        schedule_attempt(*c, true);
      }
      return;
    }
    case strategy::all_for_one:
      stop(detach_running_reverse(0), false,
           [this, key] { restart_from(key, true); });
      return;
    case strategy::rest_for_one:
      stop(detach_running_reverse(index_of(key) + 1), false,
           [this, key] { restart_from(key, false); });
      return;
  }
}

void supervisor_state::restart_from(uint64_t key, bool whole_group) {
  if (terminating_ || pending_exit_)
    return; // the supervisor is going down anyway
  drop_dead_temporaries();
  auto first = whole_group ? 0 : index_of(key);
  for (auto i = first; i < children_.size(); ++i) {
    auto& c = children_[i];
    if (c.handle)
      continue;
    cancel_wait(c);
    if (auto err = start_rec(c)) {
      warn("supervisor " + std::to_string(self_->id()) + ": restart of '"
           + c.spec->id + "' failed: " + describe(self_->system(), err));
      // As OTP's try_again: the retry applies the strategy once more.
      schedule_attempt(c, true);
      return;
    }
  }
}

bool supervisor_state::add_restart() {
  auto now = clock::now();
  restarts_.push_back(now);
  while (now - restarts_.front() > flags_.period)
    restarts_.pop_front();
  return restarts_.size() <= static_cast<size_t>(std::max(flags_.intensity, 0));
}

caf::timespan supervisor_state::next_delay(child_rec& c) {
  if (!flags_.backoff)
    return caf::timespan{0};
  auto& b = *flags_.backoff;
  auto n = ++c.consecutive;
  auto ns = static_cast<double>(b.initial.count())
            * std::pow(b.multiplier, static_cast<double>(n - 1));
  ns = std::min(ns, static_cast<double>(b.max.count()));
  if (b.jitter > 0) {
    std::uniform_real_distribution<double> dist{-b.jitter, b.jitter};
    ns *= 1.0 + dist(rng_);
  }
  return caf::timespan{static_cast<caf::timespan::rep>(std::max(ns, 0.0))};
}

void supervisor_state::drop_dead_temporaries() {
  children_.erase(std::remove_if(children_.begin(), children_.end(),
                                 [](const child_rec& c) {
                                   return !c.handle
                                          && c.spec->restart
                                               == restart_type::temporary;
                                 }),
                  children_.end());
}

} // namespace pooler
