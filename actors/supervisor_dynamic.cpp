// simple_one_for_one: starts and stops that never make the supervisor wait.
//
// A member supervisor holds every member of a pool. If it ran a factory in
// its own handler, one slow factory (a process member's fork/exec, a callable
// waiting on a resource) would hold up every other start of the pool; if it
// waited for one child's graceful stop, every start would wait too (pooler
// issue #104). So the template's start function runs on a runner of its own,
// and a terminated child is stopped while other requests go on: each request
// is answered when its child is up, or down. At most max_running_starts
// factories run at once (a pool of 10,000 must not make 10,000 threads);
// further starts wait their turn in the supervisor, which keeps answering.

#include "actors/supervisor_state.hpp"

#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/runner.hpp"

namespace pooler {

namespace {

caf::message as_message(caf::expected<caf::actor> res) {
  if (res)
    return caf::make_message(std::move(*res));
  return caf::make_message(std::move(res.error()));
}

// The supervisor did not take the child (it is shutting down or gone).
void kill_orphan(const caf::message& result) {
  if (result.match_elements<caf::actor>())
    caf::anon_send_exit(result.get_as<caf::actor>(0), caf::exit_reason::kill);
}

} // namespace

caf::result<caf::actor>
supervisor_state::start_dynamic_child(caf::message args) {
  if (!dynamic())
    return make_error(errc::simple_one_for_one, "",
                      "not a simple_one_for_one supervisor");
  if (template_.inline_start) {
    auto res = run_start(template_, self_->system(), args);
    if (!res)
      return std::move(res.error());
    return add_dynamic(std::move(*res), std::move(args));
  }
  auto key = next_key_++;
  starting_.emplace(key, pending_start{self_->make_response_promise(),
                                       std::move(args)});
  if (running_starts_ < max_running_starts)
    launch_start(key);
  else
    queued_starts_.push_back(key);
  return caf::delegated<caf::actor>{};
}

void supervisor_state::launch_start(uint64_t key) {
  ++running_starts_;
  run_detached(
    self_->system(), caf::actor_cast<caf::actor>(self_), key,
    [spec = template_, args = starting_[key].args](caf::actor_system& sys) {
      return as_message(run_start(spec, sys, args));
    },
    kill_orphan);
}

caf::result<void> supervisor_state::on_started(uint64_t key,
                                               caf::message& result) {
  if (running_starts_ > 0)
    --running_starts_;
  while (!queued_starts_.empty() && running_starts_ < max_running_starts) {
    auto next = queued_starts_.front();
    queued_starts_.pop_front();
    launch_start(next);
  }
  auto i = starting_.find(key);
  if (i == starting_.end())
    return make_error(errc::start_failed, template_.id,
                      "the supervisor is shutting down");
  auto start = std::move(i->second);
  starting_.erase(i);
  if (result.match_elements<caf::error>()) {
    start.promise.deliver(result.get_as<caf::error>(0));
    return caf::unit;
  }
  start.promise.deliver(
    add_dynamic(result.get_as<caf::actor>(0), std::move(start.args)));
  return caf::unit;
}

caf::actor supervisor_state::add_dynamic(caf::actor child, caf::message args) {
  // Temporary children are never restarted: their arguments are not needed.
  if (template_.restart == restart_type::temporary)
    args = caf::message{};
  auto& c = add_rec(child_spec{}, std::move(args));
  adopt(c, std::move(child));
  return c.handle;
}

void supervisor_state::fail_pending_starts() {
  for (auto& kv : starting_)
    kv.second.promise.deliver(make_error(errc::start_failed, template_.id,
                                         "the supervisor is shutting down"));
  starting_.clear();
  queued_starts_.clear();
}

caf::result<void>
supervisor_state::terminate_dynamic_child(const caf::actor& child) {
  if (!dynamic())
    return make_error(errc::not_found, "",
                      "children are terminated by id here");
  if (!child)
    return make_error(errc::not_found);
  if (auto s = stopping_.find(child.address()); s != stopping_.end()) {
    // Asked twice: both answers come when it is down.
    s->second.promises.push_back(self_->make_response_promise());
    return caf::delegated<void>{};
  }
  auto i = by_addr_.find(child.address());
  if (i == by_addr_.end())
    return make_error(errc::not_found);
  stop_dynamic(i->second, self_->make_response_promise());
  return caf::delegated<void>{};
}

void supervisor_state::stop_dynamic(uint64_t key, caf::response_promise rp) {
  auto item = detach(*find(key));
  remove(key);
  auto addr = item.handle.address();
  send_stop(item);
  if (item.how.kind == shutdown_spec::timeout)
    self_->delayed_send(self_, item.how.after, dyn_kill_atom::value, addr);
  dynamic_stop s{std::move(item.handle), item.how, {}};
  s.promises.push_back(std::move(rp));
  stopping_.emplace(addr, std::move(s));
}

void supervisor_state::set_template_shutdown(shutdown_spec how) {
  // Children share the template (spec_of): one assignment reaches them all.
  if (dynamic())
    template_.shutdown = how;
}

void supervisor_state::on_dynamic_kill(const caf::actor_addr& child) {
  auto i = stopping_.find(child);
  if (i != stopping_.end())
    self_->send_exit(i->second.handle, caf::exit_reason::kill);
}

void supervisor_state::dynamic_down(const caf::actor_addr& child) {
  auto i = stopping_.find(child);
  if (i == stopping_.end())
    return;
  for (auto& rp : i->second.promises)
    rp.deliver(caf::unit);
  stopping_.erase(i);
}

} // namespace pooler
