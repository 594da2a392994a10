// Stopping children, one after the other or all at once, each by its
// shutdown spec; and the supervisor's own shutdown.

#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <utility>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/runner.hpp"

namespace pooler {

void supervisor_state::on_exit_msg(caf::exit_msg& em) {
  // A normal exit message stops no actor in CAF; a supervisor is no exception.
  if (!em.reason || terminating_)
    return;
  if (busy()) {
    if (!pending_exit_)
      pending_exit_ = std::move(em.reason);
    return;
  }
  begin_terminate(std::move(em.reason));
}

void supervisor_state::on_teardown() {
  begin_terminate(caf::error{});
}

// -- stopping children --------------------------------------------------------

void supervisor_state::stop(std::vector<stop_item> items, bool parallel,
                            std::function<void()> then) {
  if (items.empty()) {
    then();
    return;
  }
  job_.emplace();
  job_->items = std::move(items);
  job_->parallel = parallel;
  job_->then = std::move(then);
  for (auto& item : job_->items)
    job_->alive.insert(item.handle.address());
  enter_busy();
  if (!parallel) {
    advance();
    return;
  }
  // All at once, as OTP stops simple_one_for_one children: one timer for all.
  auto longest = caf::timespan{-1};
  for (auto& item : job_->items) {
    send_stop(item);
    if (item.how.kind == shutdown_spec::timeout)
      longest = std::max(longest, item.how.after);
  }
  if (longest.count() >= 0)
    self_->delayed_send(self_, longest, stop_tick_atom::value,
                        job_->tick_gen = ++tick_gen_);
}

void supervisor_state::advance() {
  auto& j = *job_;
  if (j.parallel) {
    if (j.alive.empty())
      finish_job();
    return;
  }
  if (j.next > 0 && j.alive.count(j.items[j.next - 1].handle.address()) > 0)
    return; // still waiting for the current child
  // Children that died on their own meanwhile need no stopping.
  while (j.next < j.items.size()) {
    auto& item = j.items[j.next++];
    if (j.alive.count(item.handle.address()) == 0)
      continue;
    send_stop(item);
    if (item.how.kind == shutdown_spec::timeout)
      self_->delayed_send(self_, item.how.after, stop_tick_atom::value,
                          j.tick_gen = ++tick_gen_);
    return;
  }
  finish_job();
}

void supervisor_state::send_stop(const stop_item& item) {
  self_->send_exit(item.handle, item.how.kind == shutdown_spec::brutal_kill
                                  ? caf::exit_reason::kill
                                  : caf::exit_reason::user_shutdown);
}

void supervisor_state::on_stop_tick(uint64_t gen) {
  if (!job_ || gen != job_->tick_gen)
    return; // a timer of a child that has stopped in time
  auto& j = *job_;
  auto overdue = [&j](const stop_item& item) {
    return item.how.kind == shutdown_spec::timeout
           && j.alive.count(item.handle.address()) > 0;
  };
  if (!j.parallel) {
    if (overdue(j.items[j.next - 1]))
      self_->send_exit(j.items[j.next - 1].handle, caf::exit_reason::kill);
    return;
  }
  for (auto& item : j.items)
    if (overdue(item))
      self_->send_exit(item.handle, caf::exit_reason::kill);
}

void supervisor_state::finish_job() {
  auto then = std::move(job_->then);
  job_.reset();
  leave_busy();
  then();
  resume();
}

void supervisor_state::enter_busy() {
  // Like OTP's supervisor blocked in a shutdown: only the stop timer is
  // handled, requests and retries stay in the mailbox until leave_busy.
  self_->become(caf::keep_behavior,
                caf::behavior{
                  [this](stop_tick_atom, uint64_t gen) { on_stop_tick(gen); },
                  // Never held back: a runner waits for this answer.
                  [this](run_done_atom, uint64_t key, caf::message& result) {
                    return on_started(key, result);
                  },
                  [this](dyn_kill_atom, const caf::actor_addr& child) {
                    on_dynamic_kill(child);
                  },
                });
  self_->set_default_handler(caf::skip);
}

void supervisor_state::leave_busy() {
  self_->unbecome();
  self_->set_default_handler(reject_unknown);
}

void supervisor_state::begin_terminate(caf::error reason) {
  terminating_ = true;
  pending_.clear();
  std::vector<stop_item> items;
  if (dynamic()) {
    fail_pending_starts();
    for (auto& kv : dynamic_)
      if (kv.second.handle)
        items.push_back(detach(kv.second));
    // Children already being terminated are waited for like the others.
    for (auto& kv : stopping_)
      items.push_back({kv.second.handle, kv.second.how});
  } else {
    for (auto& c : children_)
      cancel_wait(c);
    items = detach_running_reverse(0);
  }
  stop(std::move(items), dynamic(),
       [this, reason] { self_->quit(reason); });
}

} // namespace pooler
