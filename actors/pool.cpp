// The pool actor: receives, asks the pool book, carries out its effects. It
// never blocks: members are started by starters and stopped by stoppers, and
// every timer is a delayed message.

#include "actors/pool_state.hpp"
#include "actors/supervisor_state.hpp"

#include <algorithm>
#include <mutex>
#include <random>

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "pooler/errors.hpp"
#include "src/log.hpp"

namespace pooler {

namespace {

caf::timestamp to_timestamp(book_time t, book_time now,
                            caf::timestamp wall_now) {
  return wall_now - std::chrono::duration_cast<caf::timespan>(now - t);
}

member_state to_member_state(member_phase p) {
  switch (p) {
    case member_phase::free: return member_state::free;
    case member_phase::in_use: return member_state::in_use;
    case member_phase::checking: return member_state::checking;
    case member_phase::stopping: return member_state::stopping;
  }
  return member_state::stopping;
}

} // namespace

// -- life cycle ------------------------------------------------------------------

void pool_state::init(self_ptr s, std::shared_ptr<registry> r,
                      const std::string& pool_name, caf::actor msup) {
  self = s;
  reg = std::move(r);
  member_sup = std::move(msup);
  name = pool_name;
  // The registry holds the current config, so a restarted pool actor comes
  // back with reconfigured values (pooler loses them).
  auto cfg = reg->config(name).value_or(pool_config{});
  cfg.name = name;
  sh = std::make_shared<shared_book>(name, std::move(cfg),
                                     std::random_device{}());
  std::lock_guard<std::mutex> guard{sh->mtx};
  sh->pool = self->ctrl();
  apply(book().open(tick_clock()));
  // Callers find the book with the pool's handle.
  reg->set_book(name, sh);
}

void pool_state::answer_all_waiters() {
  if (sh) {
    std::lock_guard<std::mutex> guard{sh->mtx};
    sh->close();
  }
  auto err = make_error(errc::pool_not_found, name, "pool stopped");
  for (auto& rp : ready_waiters)
    rp.deliver(err);
  ready_waiters.clear();
  if (reconfigure_waiter)
    reconfigure_waiter->deliver(err);
  reconfigure_waiter.reset();
}

pool_state::~pool_state() {
  answer_all_waiters();
}

void pool_state::drain() {
  tick_clock();
  auto todo = std::move(sh->deferred);
  sh->deferred.clear();
  for (auto& e : todo)
    apply_own(e);
}

// -- handlers --------------------------------------------------------------------

caf::result<caf::actor> pool_state::take(int64_t timeout_ns,
                                         const std::string& affinity) {
  // current_sender() must be read before make_response_promise() moves it.
  auto sender = self->current_sender();
  if (!sender)
    return caf::make_error(caf::sec::invalid_argument,
                           "take_member needs a sender to monitor");
  auto who = sh->consumer_of(sender.get());
  std::optional<book_duration> timeout;
  if (timeout_ns >= 0)
    timeout = book_duration{timeout_ns};
  auto res = book().take(who, timeout, affinity, tick_clock());
  apply(book().last_effects());
  sh->forget_consumer_if_unknown(who);
  if (res.member)
    return sh->handles[*res.member];
  if (res.error)
    return to_error(*res.error);
  auto rp = self->make_response_promise();
  sh->waiters.emplace(*res.waiter, rp);
  return rp;
}

std::vector<caf::actor> pool_state::take_all_free() {
  std::vector<caf::actor> result;
  auto sender = self->current_sender();
  if (!sender)
    return result;
  auto who = sh->consumer_of(sender.get());
  for (auto id : book().take_all_free(who, tick_clock()))
    result.push_back(sh->handles[id]);
  apply(book().last_effects());
  sh->forget_consumer_if_unknown(who);
  return result;
}

void pool_state::give_back(const caf::actor& member, bool failed,
                           uint64_t requests) {
  auto& handles = sh->handles;
  auto i = member ? handles.find(member.id()) : handles.end();
  if (i == handles.end() || i->second != member) {
    warn("pool \"" + name + "\": ignored the return of an unknown member");
    return;
  }
  apply(book().give_back(i->first, failed, requests, tick_clock()));
}

void pool_state::on_down(const caf::down_msg& dm) {
  auto t = tick_clock();
  if (auto i = sh->handles.find(dm.source.id());
      i != sh->handles.end() && i->second.address() == dm.source) {
    book().member_down(i->first, t);
    apply(book().last_effects());
  }
  if (auto c = sh->consumer_ids.find(dm.source.get());
      c != sh->consumer_ids.end())
    apply(book().consumer_down(c->second, static_cast<bool>(dm.reason), t));
}

void pool_state::on_started(uint64_t id, const caf::actor& member) {
  if (!member)
    return;
  sh->handles.emplace(member.id(), member);
  if (!book().member_started(id, member.id(), tick_clock())) {
    // Not ours (or a start already given up): it must not outlive its start.
    sh->handles.erase(member.id());
    self->send_exit(member, caf::exit_reason::kill);
    return;
  }
  self->monitor(member);
  apply(book().last_effects());
}

void pool_state::on_health_result(const caf::actor& member,
                                  const caf::error& err) {
  if (member)
    apply(book().health_result(member.id(), !err, tick_clock()));
}

caf::result<std::vector<reconfigure_action>>
pool_state::reconfigure(pool_config next) {
  if (auto refused = book().check_change(next))
    return to_error(*refused);
  if (auto valid = validate(next, self->system().config()); !valid)
    return std::move(valid.error());
  auto old_shutdown = book().config().member_shutdown;
  auto res = book().reconfigure(next, tick_clock());
  if (res.error)
    return to_error(*res.error);
  // Stoppers read the book's config; the member supervisor keeps its own
  // copy, used when the whole pool stops.
  if (next.member_shutdown != old_shutdown)
    self->send(member_sup, template_shutdown_atom::value,
               !next.member_shutdown,
               next.member_shutdown.value_or(caf::timespan{0}));
  // The registry keeps the new config: it survives a restart of this actor
  // and moves the pool between groups.
  reg->set_config(next);
  sh->metrics.configure(next);
  apply(book().last_effects());
  if (!res.deferred)
    return std::move(res.actions);
  reconfigure_waiter = self->make_response_promise();
  return *reconfigure_waiter;
}

utilization pool_state::usage() const {
  return book().usage();
}

std::vector<member_info> pool_state::stats() const {
  auto t = book_clock::now();
  auto wall = caf::make_timestamp();
  std::vector<member_info> result;
  result.reserve(book().members().size() + book().starts().size());
  for (auto& [id, m] : book().members()) {
    member_info x;
    if (auto h = sh->handles.find(id); h != sh->handles.end())
      x.member = h->second;
    x.status = to_member_state(m.phase);
    if (m.phase == member_phase::in_use)
      if (auto c = sh->consumer_addrs.find(m.consumer);
          c != sh->consumer_addrs.end())
        x.consumer = c->second;
    x.last_free = to_timestamp(m.last_free, t, wall);
    if (m.expires_at != book_time::max())
      x.expires_at = to_timestamp(m.expires_at, t, wall);
    x.session = m.session;
    x.checkouts = m.checkouts;
    x.requests_handled = m.requests_handled;
    x.errors = m.errors;
    x.sessions_served = m.sessions_served;
    x.started_at = to_timestamp(m.accepted_at, t, wall);
    x.last_activity = to_timestamp(m.last_activity, t, wall);
    result.push_back(std::move(x));
  }
  for (auto& kvp : book().starts()) {
    member_info x;
    x.status = kvp.second.abandoned ? member_state::stopping
                                    : member_state::starting;
    x.started_at = to_timestamp(kvp.second.since, t, wall);
    result.push_back(std::move(x));
  }
  return result;
}

caf::error pool_state::not_ready() const {
  auto& cfg = book().config();
  auto u = book().usage();
  auto running = u.free_count + u.in_use_count + u.checking_count;
  if (running >= cfg.min_ready)
    return {};
  auto detail = "min_ready is " + std::to_string(cfg.min_ready) + " but "
                + std::to_string(running) + " of "
                + std::to_string(cfg.init_count) + " members started";
  if (!u.last_start_failure.empty())
    detail += "; last start failed: " + u.last_start_failure;
  return make_error(errc::start_failed, name, std::move(detail));
}

caf::result<void> pool_state::ready() {
  if (book().initial_done()) {
    if (auto err = not_ready())
      return err;
    return caf::unit;
  }
  ready_waiters.push_back(self->make_response_promise());
  return ready_waiters.back();
}

// -- the behavior ---------------------------------------------------------------------

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self,
                         std::shared_ptr<registry> reg, std::string name,
                         caf::actor member_sup) {
  self->state.init(self, std::move(reg), name, std::move(member_sup));
  auto& st = self->state;
  // Every handler holds the shared book's lock: callers' threads take and
  // return through the same book.
  auto lock = [&st] { return std::unique_lock<std::mutex>{st.sh->mtx}; };
  self->set_down_handler([&st, lock](caf::down_msg& dm) {
    auto guard = lock();
    st.on_down(dm);
  });
  // Stopped by its supervisor: answer waiting requestors, then go.
  self->set_exit_handler([self](caf::exit_msg& em) {
    self->state.answer_all_waiters();
    self->quit(em.reason);
  });
  // Unknown messages are answered with unexpected_message (requests) or
  // dropped, without CAF's default line on stderr: garbage must not be noise.
  self->set_default_handler(caf::drop);
  auto tick = [&st, lock](book_timer kind, uint64_t gen) {
    auto guard = lock();
    st.apply(st.book().tick(kind, gen, st.tick_clock()));
  };
  return {
    [&st, lock](take_atom, int64_t timeout_ns) {
      auto guard = lock();
      return st.take(timeout_ns, {});
    },
    [&st, lock](take_atom, int64_t timeout_ns, const std::string& affinity) {
      auto guard = lock();
      return st.take(timeout_ns, affinity);
    },
    [&st, lock](return_atom, const caf::actor& member, bool failed,
                uint64_t requests) {
      auto guard = lock();
      st.give_back(member, failed, requests);
    },
    [&st, lock](drain_atom) {
      auto guard = lock();
      st.drain();
    },
    [&st, lock](util_atom) {
      auto guard = lock();
      return st.usage();
    },
    [&st, lock](stats_atom) {
      auto guard = lock();
      return st.stats();
    },
    [&st, lock](take_free_atom) {
      auto guard = lock();
      return st.take_all_free();
    },
    [&st, lock](ready_atom) {
      auto guard = lock();
      return st.ready();
    },
    [&st, lock](config_atom) {
      auto guard = lock();
      return st.book().config();
    },
    [&st, lock](reconf_atom, pool_config& next) {
      auto guard = lock();
      return st.reconfigure(std::move(next));
    },
    [&st, lock](cull_atom) {
      auto guard = lock();
      st.apply(st.book().cull(st.tick_clock()));
      return caf::unit;
    },
    [tick](cull_atom, uint64_t gen) { tick(book_timer::cull, gen); },
    [&st, lock](accept_atom, uint64_t id, const caf::actor& member) {
      auto guard = lock();
      st.on_started(id, member);
    },
    [&st, lock](accept_atom, uint64_t id, const caf::error& err) {
      auto guard = lock();
      st.apply(st.book().start_failed(id, st.self->system().render(err),
                                      st.tick_clock()));
    },
    [tick](tick_start_atom, uint64_t gen) { tick(book_timer::start, gen); },
    [tick](tick_queue_atom, uint64_t gen) { tick(book_timer::queue, gen); },
    [tick](tick_ttl_atom, uint64_t gen) { tick(book_timer::ttl, gen); },
    [tick](tick_grow_atom, uint64_t gen) { tick(book_timer::grow, gen); },
    [tick](tick_health_atom, uint64_t gen) { tick(book_timer::health, gen); },
    [&st, lock](health_result_atom, const caf::actor& member,
                const caf::error& err) {
      auto guard = lock();
      st.on_health_result(member, err);
    },
  };
}

} // namespace pooler
