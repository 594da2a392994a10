// The supervisor actor: its records of children, and the behavior that
// routes requests and events to them. Requests are in supervisor_requests.cpp,
// restarts and intensity in supervisor_restarts.cpp, stopping children and
// the supervisor's own shutdown in supervisor_shutdown.cpp.

#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/runner.hpp"

namespace pooler {

// Requests nobody handles get an error, as any actor answers an unknown
// request; other unknown messages are dropped without a reply.
caf::result<caf::message> reject_unknown(caf::scheduled_actor* self,
                                         caf::message_view&) {
  if (self->current_message_id().is_request())
    return caf::make_error(caf::sec::unexpected_message);
  self->drop_current_message_id();
  return caf::message{};
}

caf::expected<caf::actor> run_start(const child_spec& spec,
                                    caf::actor_system& sys,
                                    const caf::message& extra) {
  if (!spec.start)
    return make_error(errc::start_failed, spec.id, "no start function");
  try {
    auto res = spec.start(sys, extra);
    if (res && !*res)
      return make_error(errc::start_failed, spec.id, "start returned no actor");
    return res;
  } catch (const std::exception& e) {
    return make_error(errc::start_failed, spec.id, e.what());
  } catch (...) {
    return make_error(errc::start_failed, spec.id, "start threw");
  }
}

// -- construction and teardown ------------------------------------------------

supervisor_state::supervisor_state(self_ptr self)
  : self_(self), rng_(std::random_device{}()) {
  // nop
}

supervisor_state::~supervisor_state() {
  // Killed, or gone without a shutdown: every start still waiting for its
  // child gets an answer (a starter waits for it).
  fail_pending_starts();
  auto kill = [](const caf::actor& child) {
    if (child)
      caf::anon_send_exit(child, caf::exit_reason::kill);
  };
  for (auto& c : children_)
    kill(c.handle);
  for (auto& kv : dynamic_)
    kill(kv.second.handle);
  for (auto& kv : stopping_)
    kill(kv.second.handle);
  if (job_)
    for (auto& item : job_->items)
      kill(item.handle);
}

void supervisor_state::init(supervisor_init init) {
  flags_ = std::move(init.flags);
  if (dynamic()) {
    template_ = std::move(init.specs.front());
    return;
  }
  children_.reserve(init.specs.size());
  for (size_t i = 0; i < init.specs.size(); ++i) {
    auto& c = add_rec(std::move(init.specs[i]), caf::message{});
    if (i < init.started.size())
      adopt(c, std::move(init.started[i]));
  }
  if (init.teardown) {
    // Set before any down message could trigger a restart.
    terminating_ = true;
    self_->send(self_, teardown_atom::value);
  }
}

// -- child records ------------------------------------------------------------

supervisor_state::child_rec* supervisor_state::find(uint64_t key) {
  if (dynamic()) {
    auto i = dynamic_.find(key);
    return i != dynamic_.end() ? &i->second : nullptr;
  }
  for (auto& c : children_)
    if (c.key == key)
      return &c;
  return nullptr;
}

supervisor_state::child_rec* supervisor_state::find_id(const std::string& id) {
  for (auto& c : children_)
    if (c.spec->id == id)
      return &c;
  return nullptr;
}

void supervisor_state::remove(uint64_t key) {
  if (dynamic()) {
    dynamic_.erase(key);
    return;
  }
  auto i = std::find_if(children_.begin(), children_.end(),
                        [key](const child_rec& c) { return c.key == key; });
  if (i != children_.end())
    children_.erase(i);
}

supervisor_state::child_rec& supervisor_state::add_rec(child_spec spec,
                                                       caf::message extra) {
  child_rec c;
  c.key = next_key_++;
  if (!dynamic())
    c.spec = std::make_unique<child_spec>(std::move(spec));
  c.extra = std::move(extra);
  if (dynamic())
    return dynamic_.emplace(c.key, std::move(c)).first->second;
  children_.push_back(std::move(c));
  return children_.back();
}

caf::error supervisor_state::start_rec(child_rec& c) {
  auto res = run_start(spec_of(c), self_->system(), c.extra);
  if (!res)
    return std::move(res.error());
  adopt(c, std::move(*res));
  return caf::none;
}

void supervisor_state::adopt(child_rec& c, caf::actor handle) {
  // Monitoring a child that is already dead yields its down message at once.
  self_->monitor(handle);
  by_addr_[handle.address()] = c.key;
  c.handle = std::move(handle);
  c.waiting = false;
  ++c.incarnation;
  c.started_at = clock::now();
}

supervisor_state::stop_item supervisor_state::detach(child_rec& c) {
  by_addr_.erase(c.handle.address());
  ++c.incarnation;
  c.waiting = false;
  return {std::move(c.handle), spec_of(c).effective_shutdown()};
}

std::vector<supervisor_state::stop_item>
supervisor_state::detach_running_reverse(size_t from) {
  std::vector<stop_item> items;
  for (size_t i = children_.size(); i > from; --i)
    if (children_[i - 1].handle)
      items.push_back(detach(children_[i - 1]));
  return items;
}

void supervisor_state::cancel_wait(child_rec& c) {
  if (c.waiting) {
    c.waiting = false;
    ++c.incarnation; // the scheduled retry tick is now stale
  }
}

size_t supervisor_state::index_of(uint64_t key) const {
  for (size_t i = 0; i < children_.size(); ++i)
    if (children_[i].key == key)
      return i;
  return children_.size();
}

// -- events -------------------------------------------------------------------

void supervisor_state::on_down(caf::down_msg& dm) {
  auto was_stopping = stopping_.count(dm.source) > 0;
  if (was_stopping)
    dynamic_down(dm.source);
  if (job_ && job_->alive.erase(dm.source) > 0) {
    advance();
    return;
  }
  if (was_stopping)
    return;
  auto i = by_addr_.find(dm.source);
  if (i == by_addr_.end())
    return; // not ours (any more)
  auto key = i->second;
  by_addr_.erase(i);
  auto c = find(key);
  if (!c)
    return;
  c->handle = nullptr;
  // Decided once no stop sequence runs, as OTP handles the EXIT message only
  // after the call that was blocking it.
  pending_.push_back({key, c->incarnation, std::move(dm.reason)});
  resume();
}

// -- the actor ----------------------------------------------------------------

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         supervisor_init init) {
  auto& st = self->state;
  self->set_down_handler([&st](caf::down_msg& dm) { st.on_down(dm); });
  self->set_exit_handler([&st](caf::exit_msg& em) { st.on_exit_msg(em); });
  self->set_default_handler(reject_unknown);
  st.init(std::move(init));
  return {
    [&st](start_child_atom, child_spec& spec) {
      return st.start_child(std::move(spec));
    },
    [&st](start_child_atom, caf::message& args) {
      return st.start_dynamic_child(std::move(args));
    },
    [&st](terminate_child_atom, const std::string& id) {
      return st.terminate_child(id);
    },
    [&st](terminate_child_atom, const caf::actor& child) {
      return st.terminate_dynamic_child(child);
    },
    [&st](restart_child_atom, const std::string& id) {
      return st.restart_child(id);
    },
    [&st](delete_child_atom, const std::string& id) {
      return st.delete_child(id);
    },
    [&st](which_children_atom) { return st.which_children(); },
    [&st](count_children_atom) { return st.count_children(); },
    [&st](retry_atom, uint64_t key, uint64_t incarnation) {
      st.on_retry(key, incarnation);
    },
    [](stop_tick_atom, uint64_t) {
      // stale: the stop sequence it belonged to has finished
    },
    [&st](teardown_atom) { st.on_teardown(); },
    [&st](run_done_atom, uint64_t key, caf::message& result) {
      return st.on_started(key, result);
    },
    [&st](template_shutdown_atom, bool brutal, caf::timespan after) {
      st.set_template_shutdown(brutal ? shutdown_spec::kill()
                                      : shutdown_spec::wait(after));
    },
    [&st](dyn_kill_atom, const caf::actor_addr& child) {
      st.on_dynamic_kill(child);
    },
  };
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_init init) {
  return sys.spawn(supervisor, std::move(init));
}

} // namespace pooler
