// The local side of a connected node: keeps registries filled with
// the peer's current pool actors, so that takes and returns by name work
// through the same code as for local pools.

#include "actors/remote_mirror.hpp"

#include <caf/all.hpp>

#include "src/log.hpp"

namespace pooler {

namespace {

using mirror_ptr = caf::stateful_actor<remote_mirror_state>*;

/// After this many syncs in a row that still list a dead pool actor, the
/// mirror stops asking fast and waits for its regular refresh.
constexpr size_t max_fast_resyncs = 100;
constexpr auto fast_resync_delay = std::chrono::milliseconds(20);


void arm_timer(mirror_ptr self, caf::timespan delay) {
  self->delayed_send(self, delay, sync_atom::value, ++self->state.timer_gen);
}

void sync(mirror_ptr self) {
  auto& st = self->state;
  if (st.syncing)
    return;
  st.syncing = true;
  self->request(st.service, std::chrono::seconds(10), list_pools_atom::value)
    .then(
      [self](std::vector<remote_pool>& pools) {
        auto& st = self->state;
        st.syncing = false;
        st.stale = false;
        for (auto& pool : st.apply(std::move(pools)))
          self->monitor(pool);
        for (auto& rp : std::exchange(st.sync_waiters, {}))
          rp.deliver(caf::unit);
        if (st.stale && ++st.stale_syncs < max_fast_resyncs)
          arm_timer(self, fast_resync_delay);
        else if (!st.stale)
          st.stale_syncs = 0;
      },
      [self](caf::error& err) {
        auto& st = self->state;
        st.syncing = false;
        // A vanished service is handled by its down message.
        for (auto& rp : std::exchange(st.sync_waiters, {}))
          rp.deliver(err);
      });
}

} // namespace

std::vector<caf::actor> remote_mirror_state::apply(std::vector<remote_pool> pools) {
  std::map<std::string, remote_pool> next;
  for (auto& p : pools) {
    if (dead.count(p.pool.address()) > 0) {
      stale = true;
      continue;
    }
    auto name = p.name;
    next.emplace(std::move(name), std::move(p));
  }
  // Forget dead actors the service no longer names.
  std::set<caf::actor_addr> still_dead;
  for (auto& p : pools)
    if (dead.count(p.pool.address()) > 0)
      still_dead.insert(p.pool.address());
  dead = std::move(still_dead);
  for (auto& [name, old] : known)
    if (next.count(name) == 0)
      forget(name);
  targets.erase(std::remove_if(targets.begin(), targets.end(),
                               [](const target& t) { return t.reg.expired(); }),
                targets.end());
  std::vector<caf::actor> fresh;
  for (auto& [name, p] : next) {
    auto i = known.find(name);
    if (i == known.end() || i->second.pool != p.pool)
      fresh.push_back(p.pool);
    for (auto& t : targets) {
      auto reg = t.reg.lock();
      // A remote entry of its own: no config here (it holds functions and
      // stays on its node), and a local pool of the name is never shadowed.
      if (reg)
        reg->set_remote(name + t.suffix, p.group, p.pool);
    }
  }
  known = std::move(next);
  return fresh;
}

void remote_mirror_state::forget(const std::string& name) {
  for (auto& t : targets)
    if (auto reg = t.reg.lock())
      reg->erase_remote(name + t.suffix);
}

void remote_mirror_state::clear() {
  for (auto& [name, p] : known)
    forget(name);
  known.clear();
}

caf::behavior remote_mirror(caf::stateful_actor<remote_mirror_state>* self,
                            caf::actor service, std::shared_ptr<registry> reg) {
  auto& st = self->state;
  st.service = std::move(service);
  st.targets.push_back({reg, ""});
  self->monitor(st.service);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.service.address()) {
      // The peer is gone (or stopped its tree): its pools cannot be reached,
      // so takes answer pool_not_found at once instead of timing out.
      warn("pooler::connect: peer " + to_string(dm.source.node())
           + " disconnected: " + self->system().render(dm.reason));
      st.clear();
      for (auto& rp : std::exchange(st.sync_waiters, {}))
        rp.deliver(caf::make_error(caf::sec::remote_linking_failed));
      self->quit();
      return;
    }
    for (auto& [name, p] : st.known) {
      if (p.pool.address() != dm.source)
        continue;
      // Restarted by its supervisor (or removed): look it up again.
      st.dead.insert(dm.source);
      auto gone = name;
      st.forget(gone);
      st.known.erase(gone);
      sync(self);
      return;
    }
  });
  // Stopped through the app handle: take the mirrored entries away.
  self->set_exit_handler([self](caf::exit_msg& em) {
    self->state.clear();
    self->quit(em.reason);
  });
  arm_timer(self, mirror_refresh_interval);
  return {
    [self](sync_atom) {
      auto rp = self->make_response_promise();
      self->state.sync_waiters.push_back(rp);
      sync(self);
      return rp;
    },
    [self](sync_atom, uint64_t gen) {
      if (gen != self->state.timer_gen)
        return;
      arm_timer(self, mirror_refresh_interval);
      sync(self);
    },
    [self](join_atom, std::shared_ptr<registry>& other, std::string& suffix) {
      auto& st = self->state;
      st.targets.push_back({other, suffix});
      std::vector<remote_pool> pools;
      for (auto& [name, p] : st.known)
        pools.push_back(p);
      // Already monitored: `apply` returns no new actors for known pools.
      st.apply(std::move(pools));
      return caf::unit;
    },
  };
}

} // namespace pooler
