#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/remote_protocol.hpp"
#include "src/registry.hpp"

namespace pooler {

struct remote_mirror_state {
  /// A registry kept in step with the remote pools, each entry named
  /// `<remote name><suffix>`. Weak: the mirror must not keep an app alive.
  struct target {
    std::weak_ptr<registry> reg;
    std::string suffix;
  };

  caf::actor service;
  std::vector<target> targets;
  /// The remote pools as last seen, by remote name.
  std::map<std::string, remote_pool> known;
  /// Requestors of a sync that is in flight.
  std::vector<caf::response_promise> sync_waiters;
  bool syncing = false;
  /// A pool actor went down and the service still named it: ask again soon.
  bool stale = false;
  uint64_t timer_gen = 0;

  /// Pool actors whose down message arrived while the service may still
  /// name them (until their supervisor's restart registered the new one).
  std::set<caf::actor_addr> dead;
  size_t stale_syncs = 0;

  /// Installs a fresh list in every target registry; returns the pool
  /// actors seen for the first time (to be monitored). Dead actors are left
  /// out and set `stale`.
  std::vector<caf::actor> apply(std::vector<remote_pool> pools);
  /// Removes one remote pool from every target.
  void forget(const std::string& name);
  /// Removes every mirrored entry from every target (peer gone or stop).
  void clear();
};

/// How often a mirror asks the service for the pool list, so that pools
/// created or removed on the peer appear and disappear here.
constexpr auto mirror_refresh_interval = std::chrono::seconds(1);

/// The local side of a `pooler::connect`: keeps the connected handle's
/// registry (and those of apps that joined it) filled with the peer's pool
/// actors. Monitors each remote pool actor and the service: a restarted pool
/// is looked up again at once; a vanished peer empties the registries and
/// ends the mirror.
caf::behavior remote_mirror(caf::stateful_actor<remote_mirror_state>* self,
                            caf::actor service, std::shared_ptr<registry> reg);

} // namespace pooler
