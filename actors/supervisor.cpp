#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "src/log.hpp"

namespace pooler {

namespace {

// Messages a supervisor sends itself.
using retry_atom = caf::atom_constant<caf::atom("sup_retry")>;
using stop_tick_atom = caf::atom_constant<caf::atom("sup_tick")>;
using teardown_atom = caf::atom_constant<caf::atom("sup_tear")>;

// Requests nobody handles get an error, as any actor answers an unknown
// request; other unknown messages are dropped without a reply.
caf::result<caf::message> reject_unknown(caf::scheduled_actor* self,
                                         caf::message_view&) {
  if (self->current_message_id().is_request())
    return caf::make_error(caf::sec::unexpected_message);
  self->drop_current_message_id();
  return caf::message{};
}

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
  auto kill = [](const caf::actor& child) {
    if (child)
      caf::anon_send_exit(child, caf::exit_reason::kill);
  };
  for (auto& c : children_)
    kill(c.handle);
  for (auto& kv : dynamic_)
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

// -- requests -----------------------------------------------------------------

caf::result<caf::actor> supervisor_state::start_child(child_spec spec) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, spec.id,
                      "start_child takes arguments, not a child spec");
  if (auto c = find_id(spec.id))
    return make_error(c->handle || c->waiting ? errc::already_started
                                              : errc::already_present,
                      spec.id);
  auto res = run_start(spec, self_->system(), caf::message{});
  if (!res)
    return std::move(res.error());
  auto& c = add_rec(std::move(spec), caf::message{});
  adopt(c, std::move(*res));
  return c.handle;
}

caf::result<caf::actor> supervisor_state::start_dynamic_child(caf::message args) {
  if (!dynamic())
    return make_error(errc::simple_one_for_one, "",
                      "not a simple_one_for_one supervisor");
  auto res = run_start(template_, self_->system(), args);
  if (!res)
    return std::move(res.error());
  // Temporary children are never restarted: their arguments are not needed.
  if (template_.restart == restart_type::temporary)
    args = caf::message{};
  auto& c = add_rec(child_spec{}, std::move(args));
  adopt(c, std::move(*res));
  return c.handle;
}

caf::result<void> supervisor_state::terminate_child(const std::string& id) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, id);
  auto c = find_id(id);
  if (!c)
    return make_error(errc::not_found, id);
  cancel_wait(*c);
  auto key = c->key;
  auto temporary = c->spec->restart == restart_type::temporary;
  if (!c->handle) {
    if (temporary)
      remove(key);
    return caf::unit;
  }
  auto rp = self_->make_response_promise();
  stop({detach(*c)}, false, [this, key, temporary, rp]() mutable {
    if (temporary)
      remove(key);
    rp.deliver(caf::unit);
  });
  return rp;
}

caf::result<void>
supervisor_state::terminate_dynamic_child(const caf::actor& child) {
  if (!dynamic())
    return make_error(errc::not_found, "",
                      "children are terminated by id here");
  auto i = child ? by_addr_.find(child.address()) : by_addr_.end();
  if (i == by_addr_.end())
    return make_error(errc::not_found);
  auto key = i->second;
  auto rp = self_->make_response_promise();
  stop({detach(*find(key))}, false, [this, key, rp]() mutable {
    remove(key);
    rp.deliver(caf::unit);
  });
  return rp;
}

caf::expected<supervisor_state::child_rec*>
supervisor_state::find_stopped(const std::string& id) {
  if (dynamic())
    return make_error(errc::simple_one_for_one, id);
  auto c = find_id(id);
  if (!c)
    return make_error(errc::not_found, id);
  if (c->handle || c->waiting)
    return make_error(errc::running, id);
  return c;
}

caf::result<caf::actor> supervisor_state::restart_child(const std::string& id) {
  auto c = find_stopped(id);
  if (!c)
    return std::move(c.error());
  if (auto err = start_rec(**c))
    return err;
  return (*c)->handle;
}

caf::result<void> supervisor_state::delete_child(const std::string& id) {
  auto c = find_stopped(id);
  if (!c)
    return std::move(c.error());
  remove((*c)->key);
  return caf::unit;
}

std::vector<child_info> supervisor_state::which_children() const {
  std::vector<child_info> out;
  if (!dynamic()) {
    for (auto& c : children_)
      out.push_back({c.spec->id, c.handle, c.spec->type});
    return out;
  }
  // Keys grow with every start_child: sorting by key is start order.
  std::vector<const child_rec*> live;
  for (auto& kv : dynamic_)
    if (kv.second.handle)
      live.push_back(&kv.second);
  std::sort(live.begin(), live.end(),
            [](auto x, auto y) { return x->key < y->key; });
  for (auto c : live)
    out.push_back({template_.id, c->handle, template_.type});
  return out;
}

child_counts supervisor_state::count_children() const {
  child_counts res;
  auto tally = [&res](const child_rec& c, child_type type) {
    if (c.handle)
      ++res.active;
    if (type == child_type::supervisor)
      ++res.supervisors;
    else
      ++res.workers;
  };
  if (dynamic()) {
    res.specs = 1; // OTP counts the template once
    for (auto& kv : dynamic_)
      tally(kv.second, template_.type);
    return res;
  }
  res.specs = children_.size();
  for (auto& c : children_)
    tally(c, c.spec->type);
  return res;
}

// -- events -------------------------------------------------------------------

void supervisor_state::on_down(caf::down_msg& dm) {
  if (job_ && job_->alive.erase(dm.source) > 0) {
    advance();
    return;
  }
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

void supervisor_state::on_retry(uint64_t key, uint64_t incarnation) {
  auto c = find(key);
  if (terminating_ || !c || !c->waiting || c->incarnation != incarnation)
    return; // stale: the child was restarted, terminated or deleted since
  c->waiting = false;
  attempt(key);
}

void supervisor_state::on_teardown() {
  begin_terminate(caf::error{});
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
                caf::behavior{[this](stop_tick_atom, uint64_t gen) {
                  on_stop_tick(gen);
                }});
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
    for (auto& kv : dynamic_)
      if (kv.second.handle)
        items.push_back(detach(kv.second));
  } else {
    for (auto& c : children_)
      cancel_wait(c);
    items = detach_running_reverse(0);
  }
  stop(std::move(items), dynamic(),
       [this, reason] { self_->quit(reason); });
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
  };
}

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_init init) {
  return sys.spawn(supervisor, std::move(init));
}

} // namespace pooler
