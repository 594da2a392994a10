// The pool actor (SPEC §4): all of a pool's bookkeeping. It never blocks:
// members are started by starters and stopped by stoppers, and every timer is
// a delayed message.

#include "actors/pool_state.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "pooler/errors.hpp"
#include "pooler/supervisor.hpp"
#include "src/log.hpp"

namespace pooler {

namespace {

using clock = std::chrono::steady_clock;

caf::timespan until(steady_time t, steady_time now) {
  return t > now ? std::chrono::duration_cast<caf::timespan>(t - now)
                 : caf::timespan{0};
}

caf::timestamp to_timestamp(steady_time t, steady_time now,
                            caf::timestamp wall_now) {
  return wall_now - std::chrono::duration_cast<caf::timespan>(now - t);
}

// Margin by which a pool answers before the requestor's own CAF timeout.
constexpr auto never = steady_time::max();

} // namespace

// -- life cycle ------------------------------------------------------------------

void pool_state::init(self_ptr s, std::shared_ptr<registry> r,
                      const std::string& name, caf::actor msup) {
  self = s;
  reg = std::move(r);
  member_sup = std::move(msup);
  // The registry holds the current config, so a restarted pool actor comes
  // back with reconfigured values (pooler loses them).
  cfg = reg->config(name).value_or(pool_config{});
  cfg.name = name;
  metrics.configure(cfg);
  start_members(cfg.init_count, true);
  arm_cull_timer();
  arm_health_timer();
  publish_gauges();
}

void pool_state::answer_all_waiters() {
  auto err = make_error(errc::pool_not_found, cfg.name, "pool stopped");
  for (auto& w : queue)
    w.promise.deliver(err);
  queue.clear();
  for (auto& rp : ready_waiters)
    rp.deliver(err);
  ready_waiters.clear();
  if (shrink_to)
    shrink_promise.deliver(err);
  shrink_to.reset();
}

pool_state::~pool_state() {
  answer_all_waiters();
}

void pool_state::shut_down(const caf::error& reason) {
  answer_all_waiters();
  self->quit(reason);
}

// -- the API -------------------------------------------------------------------------

caf::result<caf::actor> pool_state::take(int64_t timeout_ns,
                                         std::string affinity) {
  // current_sender() must be read before make_response_promise() moves it.
  auto sender = self->current_sender();
  if (!sender)
    return caf::make_error(caf::sec::invalid_argument,
                           "take_member needs a sender to monitor");
  auto who = caf::actor_cast<caf::actor_addr>(sender);
  auto& consumer = ensure_monitored(who, sender);
  metrics.count(metric::take);
  // One clock read per message: at a few hundred thousand takes a second,
  // clock reads were a tenth of the pool's own time.
  auto now = clock::now();
  caf::actor_id id = 0;
  if (auto m = pop_free(affinity, id, now)) {
    check_out(id, *m, who, consumer, affinity, now);
    metrics.seconds(metric::checkout_wait_seconds, caf::timespan{0});
    maybe_auto_grow();
    publish_gauges();
    return m->handle;
  }
  auto reason = grow_for_take();
  if (timeout_ns == 0)
    return no_members(reason);
  if (queue.size() >= cfg.queue_max) {
    metrics.count(metric::queue_max_reached);
    return no_members(no_members_reason::queue_full);
  }
  auto deadline = timeout_ns < 0 ? never
                                 : now + std::chrono::nanoseconds(timeout_ns);
  queue.push_back(waiter{self->make_response_promise(), who, &consumer, now,
                         deadline, std::move(affinity)});
  arm(queue_timer, deadline, tick_queue_atom::value);
  publish_gauges();
  return queue.back().promise;
}

void pool_state::give_back(const caf::actor& member, bool failed,
                           uint64_t requests) {
  auto i = member ? members.find(member.id()) : members.end();
  if (i == members.end() || i->second.handle != member) {
    warn("pool \"" + cfg.name + "\": ignored the return of an unknown member");
    return;
  }
  auto id = i->first;
  auto& m = i->second;
  if (m.status != member_state::in_use || m.checking) {
    warn("pool \"" + cfg.name + "\": ignored the return of a member that is "
         + (m.checking ? std::string{"free"} : to_string(m.status)));
    return;
  }
  m.requests_handled += requests;
  auto now = clock::now();
  release_from_consumer(id, m, now);
  metrics.count(metric::checkin);
  m.last_activity = now;
  if (failed) {
    ++m.errors;
    metrics.count(metric::killed_in_use, "failed");
    begin_stop(id, m, true);
  } else if (expired(m, now)) {
    metrics.count(metric::killed_in_use, "max_lifetime");
    begin_stop(id, m, true);
  } else {
    offer(id, m, now);
  }
  publish_gauges();
}

utilization pool_state::usage() const {
  return {cfg.max_count,  in_use_count, free_count, starting_count,
          stopping_count, queue.size(), cfg.queue_max};
}

std::vector<member_info> pool_state::stats() const {
  auto now = clock::now();
  auto wall = caf::make_timestamp();
  std::vector<member_info> result;
  result.reserve(members.size() + starts.size());
  for (auto& [id, m] : members) {
    member_info x;
    x.member = m.handle;
    x.status = m.status;
    x.consumer = m.consumer;
    x.last_free = to_timestamp(m.last_free, now, wall);
    if (m.expires_at != never)
      x.expires_at = to_timestamp(m.expires_at, now, wall);
    x.session = m.session;
    x.checkouts = m.checkouts;
    x.requests_handled = m.requests_handled;
    x.errors = m.errors;
    x.sessions_served = m.sessions_served;
    x.started_at = to_timestamp(m.accepted_at, now, wall);
    x.last_activity = to_timestamp(m.last_activity, now, wall);
    result.push_back(std::move(x));
  }
  for (auto& kvp : starts) {
    member_info x;
    x.status = kvp.second.abandoned ? member_state::stopping
                                    : member_state::starting;
    x.started_at = to_timestamp(kvp.second.since, now, wall);
    result.push_back(std::move(x));
  }
  return result;
}

std::vector<caf::actor> pool_state::take_all_free() {
  auto sender = self->current_sender();
  std::vector<caf::actor> result;
  if (!sender)
    return result;
  auto who = caf::actor_cast<caf::actor_addr>(sender);
  auto& consumer = ensure_monitored(who, sender);
  auto now = clock::now();
  caf::actor_id id = 0;
  while (auto m = pop_free({}, id, now)) {
    check_out(id, *m, who, consumer, {}, now);
    result.push_back(m->handle);
  }
  publish_gauges();
  return result;
}

caf::result<void> pool_state::ready() {
  if (initial_pending == 0)
    return caf::unit;
  ready_waiters.push_back(self->make_response_promise());
  return ready_waiters.back();
}

// -- free list -----------------------------------------------------------------------

member_rec* pool_state::valid_free(const std::pair<caf::actor_id, uint64_t>& e) {
  auto i = members.find(e.first);
  if (i == members.end() || i->second.status != member_state::free
      || i->second.free_seq != e.second)
    return nullptr;
  return &i->second;
}

void pool_state::push_free(caf::actor_id id, member_rec& m, steady_time now) {
  m.status = member_state::free;
  m.free_seq = ++free_seq;
  m.last_free = now;
  free_list.emplace_back(id, m.free_seq);
  ++free_count;
  if (m.expires_at < ttl_timer.at)
    arm_ttl_timer();
}

void pool_state::push_free_since(caf::actor_id id, member_rec& m,
                                 steady_time since) {
  // Back in the free list at the place its idle time gives it, so that a
  // health check does not make an idle member look fresh to the culler.
  push_free(id, m, since);
  auto pos = free_list.size() - 1;
  auto entry = free_list.back();
  while (pos > 0) {
    auto prev = valid_free(free_list[pos - 1]);
    if (prev && prev->last_free <= since)
      break;
    free_list[pos] = free_list[pos - 1];
    --pos;
  }
  free_list[pos] = entry;
}

void pool_state::leave_free(member_rec& m) {
  // The free-list entry becomes stale; pops and compaction skip it.
  m.free_seq = 0;
  --free_count;
  compact_free_list();
}

void pool_state::compact_free_list() {
  if (free_list.size() <= 2 * free_count + 64)
    return;
  std::deque<std::pair<caf::actor_id, uint64_t>> live;
  for (auto& e : free_list)
    if (valid_free(e))
      live.push_back(e);
  free_list.swap(live);
}

member_rec* pool_state::pop_free(const std::string& affinity,
                                 caf::actor_id& id, steady_time now) {
  if (!affinity.empty()) {
    if (auto s = sessions.find(affinity); s != sessions.end()) {
      auto i = members.find(s->second);
      if (i != members.end() && i->second.status == member_state::free
          && !expired(i->second, now)) {
        leave_free(i->second);
        id = i->first;
        return &i->second;
      }
    }
  }
  while (!free_list.empty()) {
    auto e = cfg.member_order == member_order::lifo ? free_list.back()
                                                    : free_list.front();
    if (cfg.member_order == member_order::lifo)
      free_list.pop_back();
    else
      free_list.pop_front();
    auto m = valid_free(e);
    if (!m)
      continue;
    m->free_seq = 0;
    --free_count;
    if (expired(*m, now)) {
      // An expired free member is never handed out (SPEC §4.8).
      metrics.count(metric::killed_free, "max_lifetime");
      begin_stop(e.first, *m, true);
      continue;
    }
    id = e.first;
    return m;
  }
  return nullptr;
}

// -- member transitions --------------------------------------------------------------

void pool_state::check_out(caf::actor_id id, member_rec& m,
                           const caf::actor_addr& who, consumer_rec& consumer,
                           const std::string& affinity, steady_time now) {
  m.status = member_state::in_use;
  m.consumer = who;
  m.taken_at = now;
  m.last_activity = now;
  ++m.checkouts;
  ++in_use_count;
  consumer.members.push_back(id);
  if (!affinity.empty())
    bind_session(id, m, affinity);
}

void pool_state::release_from_consumer(caf::actor_id id, member_rec& m,
                                       steady_time now) {
  if (auto c = m.consumer ? consumers.find(m.consumer) : consumers.end();
      c != consumers.end()) {
    auto& held = c->second.members;
    if (auto i = std::find(held.begin(), held.end(), id); i != held.end()) {
      *i = held.back();
      held.pop_back();
    }
  }
  metrics.seconds(metric::lease_seconds, now - m.taken_at);
  m.consumer = caf::actor_addr{};
  --in_use_count;
}

void pool_state::bind_session(caf::actor_id id, member_rec& m,
                              const std::string& key) {
  if (m.session == key)
    return;
  unbind_session(id, m);
  // The key moves to this member; a member it was bound to forgets it.
  if (auto s = sessions.find(key); s != sessions.end()) {
    if (auto other = members.find(s->second); other != members.end())
      other->second.session.clear();
  }
  sessions[key] = id;
  m.session = key;
  ++m.sessions_served;
}

void pool_state::unbind_session(caf::actor_id id, member_rec& m) {
  if (m.session.empty())
    return;
  if (auto s = sessions.find(m.session); s != sessions.end() && s->second == id)
    sessions.erase(s);
  m.session.clear();
}

void pool_state::offer(caf::actor_id id, member_rec& m, steady_time now) {
  while (!queue.empty()) {
    auto w = std::move(queue.front());
    queue.pop_front();
    if (w.deadline <= now) {
      answer_waiter(w, no_members(no_members_reason::timeout));
      continue;
    }
    check_out(id, m, w.who, *w.consumer, w.affinity, now);
    metrics.seconds(metric::checkout_wait_seconds, now - w.since);
    w.promise.deliver(m.handle);
    return;
  }
  push_free(id, m, now);
}

void pool_state::stop_member(caf::actor_id id, member_rec& m, bool replace) {
  if (m.status == member_state::free)
    leave_free(m);
  else if (m.status == member_state::in_use)
    release_from_consumer(id, m, clock::now());
  else if (m.status == member_state::stopping)
    return;
  begin_stop(id, m, replace);
}

void pool_state::begin_stop(caf::actor_id id, member_rec& m, bool replace) {
  unbind_session(id, m);
  m.status = member_state::stopping;
  m.replace_on_stop = replace;
  ++stopping_count;
  spawn_stopper(m.handle);
}

void pool_state::stop_free_members(size_t n, const char* reason) {
  // Oldest idle first.
  std::vector<caf::actor_id> victims;
  for (auto& e : free_list) {
    if (victims.size() >= n)
      break;
    if (valid_free(e))
      victims.push_back(e.first);
  }
  for (auto id : victims) {
    metrics.count(metric::killed_free, reason);
    auto& m = members[id];
    m.shrink_stop = true;
    stop_member(id, m, false);
  }
}

void pool_state::spawn_stopper(const caf::actor& member) {
  auto ss = reg->starter_sup();
  auto fallback = [self = self, member](const caf::error&) {
    // No stopper: stop the member directly rather than leak the slot.
    self->send_exit(member, caf::exit_reason::kill);
  };
  if (!ss) {
    fallback(caf::error{});
    return;
  }
  stop_job job{member, member_sup, cfg.stop,
               cfg.member_shutdown.value_or(std::chrono::seconds(5))};
  self
    ->request(ss, caf::infinite, start_child_atom::value,
              caf::make_message(std::move(job)))
    .then([](const caf::actor&) {}, fallback);
}

// -- starting members ----------------------------------------------------------------

void pool_state::start_members(size_t n, bool initial, bool replacement) {
  if (n == 0)
    return;
  auto ss = reg->starter_sup();
  auto now = clock::now();
  for (size_t i = 0; i < n; ++i) {
    auto id = ++start_seq;
    starts.emplace(id, start_rec{now, initial, replacement, false});
    ++starting_count;
    if (initial)
      ++initial_pending;
    if (!ss) {
      self->send(self, accept_atom::value, id,
                 make_error(errc::start_failed, cfg.name, "no starter supervisor"));
      continue;
    }
    start_job job{self, member_sup, cfg.initialize, cfg.member_start_timeout, id};
    self
      ->request(ss, caf::infinite, start_child_atom::value,
                caf::make_message(std::move(job)))
      .then([](const caf::actor&) {},
            [self = self, id](const caf::error& err) {
              self->state.on_start_failed(id, err);
            });
  }
  // One timer for all starts: a pool of 10,000 would otherwise keep 10,000
  // pending timer messages in CAF's clock.
  arm(start_timer, now + cfg.member_start_timeout, tick_start_atom::value);
}

template <class Atom>
void pool_state::arm(deadline_timer& t, steady_time deadline, Atom tick) {
  if (deadline >= t.at)
    return;
  t.at = deadline;
  self->delayed_send(self, until(deadline, clock::now()), tick, ++t.gen);
}

void pool_state::on_started(uint64_t id, const caf::actor& member) {
  auto i = starts.find(id);
  if (i == starts.end() || !member) {
    // Not ours (or nothing): make sure it does not outlive its start.
    if (member)
      self->send_exit(member, caf::exit_reason::kill);
    return;
  }
  auto rec = i->second;
  starts.erase(i);
  if (rec.initial)
    note_ready();
  auto now = clock::now();
  self->monitor(member);
  auto& m = members[member.id()];
  m.handle = member;
  m.accepted_at = now;
  m.last_activity = now;
  if (rec.abandoned) {
    // Already counted as stopping since its timeout (SPEC §4.6).
    m.status = member_state::stopping;
    m.replace_on_stop = false;
    spawn_stopper(member);
    return;
  }
  --starting_count;
  failed_starts_in_a_row = 0;
  metrics.seconds(metric::member_start_seconds, now - rec.since);
  m.expires_at = expiry_for_new_member(now);
  offer(member.id(), m, now);
  publish_gauges();
}

void pool_state::on_start_failed(uint64_t id, const caf::error& err) {
  auto i = starts.find(id);
  if (i == starts.end())
    return;
  auto rec = i->second;
  starts.erase(i);
  if (rec.abandoned)
    --stopping_count;
  else
    --starting_count;
  if (rec.initial)
    note_ready();
  metrics.count(metric::start_failed);
  if (failed_starts_in_a_row++ == 0)
    warn("pool \"" + cfg.name + "\": a member failed to start: "
         + self->system().render(err));
  backoff_until = clock::now() + backoff_delay();
  if (rec.replacement)
    replace_one();
  publish_gauges();
}

void pool_state::on_start_tick(uint64_t gen) {
  if (!start_timer.fired(gen))
    return;
  auto now = clock::now();
  auto next = never;
  for (auto& [id, rec] : starts) {
    if (rec.abandoned)
      continue;
    auto deadline = rec.since + cfg.member_start_timeout;
    if (deadline > now) {
      next = std::min(next, deadline);
      continue;
    }
    // Abandoned: counted as stopping until the starter reports (SPEC §4.6).
    rec.abandoned = true;
    --starting_count;
    ++stopping_count;
    metrics.count(metric::starting_member_timeout);
    if (rec.initial) {
      rec.initial = false;
      note_ready();
    }
  }
  if (next != never)
    arm(start_timer, next, tick_start_atom::value);
  publish_gauges();
}

void pool_state::note_ready() {
  if (--initial_pending > 0)
    return;
  for (auto& rp : ready_waiters)
    rp.deliver(caf::unit);
  ready_waiters.clear();
}

caf::timespan pool_state::backoff_delay() {
  auto& b = cfg.start_backoff;
  auto delay = b.initial;
  for (size_t k = 1; k < failed_starts_in_a_row && delay < b.max; ++k)
    delay *= 2;
  delay = std::min(delay, b.max);
  // ±20 % jitter, so that pools failing together do not retry together.
  std::uniform_real_distribution<double> jitter{0.8, 1.2};
  return std::chrono::duration_cast<caf::timespan>(delay * jitter(rng));
}

const char* pool_state::grow_for_take() {
  auto room = can_add();
  if (room == 0) {
    return no_members_reason::at_capacity;
  }
  if (clock::now() >= backoff_until) {
    auto wanted = cfg.init_count > starting_count ? cfg.init_count - starting_count
                                                  : 0;
    start_members(std::max<size_t>(std::min(wanted, room), 1));
  }
  return no_members_reason::all_in_use;
}

void pool_state::maybe_auto_grow() {
  if (!cfg.auto_grow_threshold || free_count > *cfg.auto_grow_threshold
      || clock::now() < backoff_until)
    return;
  auto wanted = cfg.init_count > starting_count ? cfg.init_count - starting_count
                                                : 0;
  if (starting_count == 0)
    wanted = std::max<size_t>(wanted, 1);
  start_members(std::min(wanted, can_add()));
}

void pool_state::replace_one() {
  auto now = clock::now();
  if (now < backoff_until) {
    ++owed_starts;
    if (!grow_timer_armed) {
      grow_timer_armed = true;
      self->delayed_send(self, until(backoff_until, now), tick_grow_atom::value,
                         ++grow_gen);
    }
    return;
  }
  if (can_add() > 0)
    start_members(1, false, true);
}

void pool_state::on_grow_tick(uint64_t gen) {
  if (gen != grow_gen)
    return;
  grow_timer_armed = false;
  auto owed = std::exchange(owed_starts, 0);
  for (size_t i = 0; i < owed; ++i)
    replace_one();
}

// -- members and consumers that die -------------------------------------------------

void pool_state::on_down(const caf::down_msg& dm) {
  if (auto i = members.find(dm.source.id());
      i != members.end() && i->second.handle.address() == dm.source)
    member_died(i->first, i->second);
  if (consumers.count(dm.source) > 0)
    consumer_died(dm.source, dm.reason);
  publish_gauges();
}

void pool_state::member_died(caf::actor_id id, member_rec& m) {
  bool replace = true;
  switch (m.status) {
    case member_state::free:
      leave_free(m);
      metrics.count(metric::killed_free, "crashed");
      break;
    case member_state::in_use:
      if (m.checking) {
        // Out for a health check: a free member, as far as anyone knows.
        --in_use_count;
        metrics.count(metric::killed_free, "crashed");
        break;
      }
      // The consumer is not told; it may monitor the member itself.
      release_from_consumer(id, m, clock::now());
      metrics.count(metric::killed_in_use, "crashed");
      break;
    case member_state::stopping:
      --stopping_count;
      replace = m.replace_on_stop;
      if (m.shrink_stop)
        shrink_stop_done();
      break;
    case member_state::starting:
      break;
  }
  unbind_session(id, m);
  members.erase(id);
  if (replace)
    replace_one();
}

void pool_state::consumer_died(const caf::actor_addr& who,
                               const caf::error& reason) {
  auto held = std::move(consumers[who].members);
  consumers.erase(who);
  queue.erase(std::remove_if(queue.begin(), queue.end(),
                             [&](const waiter& w) { return w.who == who; }),
              queue.end());
  for (auto id : held) {
    auto i = members.find(id);
    if (i == members.end() || i->second.status != member_state::in_use)
      continue;
    auto& m = i->second;
    m.consumer = caf::actor_addr{};
    --in_use_count;
    // The lease ends with its consumer, as with a return (SPEC §5).
    metrics.since(metric::lease_seconds, m.taken_at);
    if (!reason) {
      // A consumer that exits normally gives its members back (SPEC §4.5).
      offer(id, m, clock::now());
    } else {
      // One that crashed may have left them mid-request: replace them.
      metrics.count(metric::killed_in_use, "failed");
      begin_stop(id, m, true);
    }
  }
}

consumer_rec& pool_state::ensure_monitored(const caf::actor_addr& who,
                                           const caf::strong_actor_ptr& ptr) {
  // Monitor each consumer once: a second monitor would mean a second down.
  auto [i, added] = consumers.try_emplace(who);
  if (added)
    self->monitor(ptr);
  return i->second;
}

// -- timers ---------------------------------------------------------------------------

void pool_state::answer_waiter(waiter& w, caf::error err) {
  if (err == errc::no_members
      && error_detail(err) == no_members_reason::timeout)
    metrics.count(metric::take_timeout);
  w.promise.deliver(std::move(err));
}

void pool_state::on_queue_tick(uint64_t gen) {
  if (!queue_timer.fired(gen))
    return;
  auto now = clock::now();
  auto next = never;
  for (auto i = queue.begin(); i != queue.end();) {
    if (i->deadline <= now) {
      answer_waiter(*i, no_members(no_members_reason::timeout));
      i = queue.erase(i);
    } else {
      next = std::min(next, i->deadline);
      ++i;
    }
  }
  if (next != never)
    arm(queue_timer, next, tick_queue_atom::value);
  publish_gauges();
}

steady_time pool_state::expiry_for_new_member(steady_time now) {
  if (!cfg.max_lifetime)
    return never;
  auto jitter = cfg.max_lifetime_jitter.count();
  std::uniform_int_distribution<int64_t> dist{-jitter, jitter};
  return now + *cfg.max_lifetime + caf::timespan{jitter > 0 ? dist(rng) : 0};
}

void pool_state::arm_ttl_timer() {
  // One timer per pool, aimed at the earliest expiry of a free member. The
  // tick rescans, so a removed member can never leave it dangling.
  auto earliest = never;
  for (auto& e : free_list)
    if (auto m = valid_free(e))
      earliest = std::min(earliest, m->expires_at);
  if (earliest != never)
    arm(ttl_timer, earliest, tick_ttl_atom::value);
}

void pool_state::on_ttl_tick(uint64_t gen) {
  if (!ttl_timer.fired(gen))
    return;
  auto now = clock::now();
  std::vector<caf::actor_id> expired_ids;
  for (auto& e : free_list)
    if (auto m = valid_free(e); m && expired(*m, now))
      expired_ids.push_back(e.first);
  for (auto id : expired_ids) {
    metrics.count(metric::killed_free, "max_lifetime");
    stop_member(id, members[id], true);
  }
  arm_ttl_timer();
  publish_gauges();
}

void pool_state::arm_cull_timer() {
  if (cfg.cull_interval <= caf::timespan{0} || cfg.init_count >= cfg.max_count)
    return;
  self->delayed_send(self, cfg.cull_interval, cull_atom::value, ++cull_gen);
}

void pool_state::cull() {
  auto total = free_count + in_use_count;
  if (total <= cfg.init_count || free_count == 0)
    return;
  auto max_cull = total - cfg.init_count;
  auto now = clock::now();
  // The free list is ordered by the time members became free: oldest first.
  std::vector<caf::actor_id> victims;
  for (auto& e : free_list) {
    if (victims.size() >= max_cull)
      break;
    auto m = valid_free(e);
    if (!m)
      continue;
    if (now - m->last_free < cfg.max_age)
      break;
    victims.push_back(e.first);
  }
  for (auto id : victims) {
    metrics.count(metric::killed_free, "max_age");
    stop_member(id, members[id], false);
  }
  publish_gauges();
}

void pool_state::arm_health_timer() {
  if (cfg.health_check_interval)
    self->delayed_send(self, *cfg.health_check_interval,
                       tick_health_atom::value, ++health_gen);
}

void pool_state::on_health_tick(uint64_t gen) {
  if (gen != health_gen)
    return;
  arm_health_timer();
  auto ss = reg->starter_sup();
  if (!ss)
    return;
  auto now = clock::now();
  auto interval = *cfg.health_check_interval;
  std::vector<caf::actor_id> idle;
  for (auto& e : free_list)
    if (auto m = valid_free(e); m && now - m->last_activity >= interval)
      idle.push_back(e.first);
  auto timeout = std::min<caf::timespan>(interval, std::chrono::seconds(5));
  for (auto id : idle) {
    // Out of the free list while checked: counted in use, by nobody.
    auto& m = members[id];
    leave_free(m);
    m.status = member_state::in_use;
    m.checking = true;
    ++in_use_count;
    health_job job{self, m.handle, cfg.health_check, timeout};
    self
      ->request(ss, caf::infinite, start_child_atom::value,
                caf::make_message(std::move(job)))
      .then([](const caf::actor&) {},
            [self = self, member = m.handle](const caf::error& err) {
              self->state.on_health_result(member, err);
            });
  }
  publish_gauges();
}

void pool_state::on_health_result(const caf::actor& member,
                                  const caf::error& err) {
  auto i = member ? members.find(member.id()) : members.end();
  if (i == members.end() || !i->second.checking)
    return; // it died meanwhile
  auto id = i->first;
  auto& m = i->second;
  m.checking = false;
  --in_use_count;
  if (err) {
    metrics.count(metric::killed_free, "failed");
    begin_stop(id, m, true);
  } else {
    auto now = clock::now();
    m.last_activity = now;
    if (queue.empty())
      push_free_since(id, m, m.last_free);
    else
      offer(id, m, now);
  }
  publish_gauges();
}

// -- helpers ---------------------------------------------------------------------------

bool pool_state::invariant_holds() const {
  return live_count() <= cfg.max_count;
}

void pool_state::publish_gauges() {
  metrics.counts(
    {free_count, in_use_count, starting_count, stopping_count, queue.size()});
}

caf::error pool_state::no_members(const char* reason) {
  metrics.count(metric::error_no_members, reason);
  return make_error(errc::no_members, cfg.name, reason);
}

// -- the behavior ---------------------------------------------------------------------

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self,
                         std::shared_ptr<registry> reg, std::string name,
                         caf::actor member_sup) {
  self->state.init(self, std::move(reg), name, std::move(member_sup));
  self->set_down_handler(
    [self](caf::down_msg& dm) { self->state.on_down(dm); });
  // Stopped by its supervisor: answer waiting requestors, then go.
  self->set_exit_handler(
    [self](caf::exit_msg& em) { self->state.shut_down(em.reason); });
  // Unknown messages are answered with unexpected_message (requests) or
  // dropped, without CAF's default line on stderr: garbage must not be noise.
  self->set_default_handler(caf::drop);
  return {
    [self](take_atom, int64_t timeout_ns) {
      return self->state.take(timeout_ns, std::string{});
    },
    [self](take_atom, int64_t timeout_ns, std::string& affinity) {
      return self->state.take(timeout_ns, std::move(affinity));
    },
    [self](return_atom, const caf::actor& member, bool failed,
           uint64_t requests) {
      self->state.give_back(member, failed, requests);
    },
    [self](util_atom) { return self->state.usage(); },
    [self](stats_atom) { return self->state.stats(); },
    [self](take_free_atom) { return self->state.take_all_free(); },
    [self](ready_atom) { return self->state.ready(); },
    [self](config_atom) { return self->state.cfg; },
    [self](reconf_atom, pool_config& next) {
      return self->state.reconfigure(std::move(next));
    },
    [self](cull_atom) {
      self->state.cull();
      return caf::unit;
    },
    [self](cull_atom, uint64_t gen) {
      if (gen != self->state.cull_gen)
        return;
      self->state.cull();
      self->state.arm_cull_timer();
    },
    [self](accept_atom, uint64_t id, const caf::actor& member) {
      self->state.on_started(id, member);
    },
    [self](accept_atom, uint64_t id, const caf::error& err) {
      self->state.on_start_failed(id, err);
    },
    [self](tick_start_atom, uint64_t gen) { self->state.on_start_tick(gen); },
    [self](tick_queue_atom, uint64_t gen) { self->state.on_queue_tick(gen); },
    [self](tick_ttl_atom, uint64_t gen) { self->state.on_ttl_tick(gen); },
    [self](tick_grow_atom, uint64_t gen) { self->state.on_grow_tick(gen); },
    [self](tick_health_atom, uint64_t gen) { self->state.on_health_tick(gen); },
    [self](health_result_atom, const caf::actor& member, const caf::error& err) {
      self->state.on_health_result(member, err);
    },
  };
}

} // namespace pooler
