#pragma once

// Finds pools by name. Shared by the app handles and the pool actors; the
// pool actor's start function records the current actor, so the registry
// follows a pool that its supervisor restarted. Thread-safe: takes look a
// pool up on the caller's thread, so it is a read-mostly lock, not an actor
// (an actor would add a round trip to every take).

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

class registry {
public:
  /// Adds a pool entry; false if the name is taken.
  bool reserve(const pool_config& cfg);

  /// Removes a pool entry (no-op for unknown names).
  void erase(const std::string& name);

  /// Removes every entry (the app stopped).
  void clear();

  bool contains(const std::string& name) const;

  /// The current pool actor, or a null handle.
  caf::actor pool(const std::string& name) const;

  /// Same, from a per-thread cache that is dropped whenever any pool handle
  /// changes: takes and returns look a pool up on every call, and the shared
  /// lock's cache line bouncing between cores costs more than the lookup. A
  /// handle cached by a thread that outlives the actor system only keeps a
  /// terminated actor's memory until that thread ends (its state is gone).
  /// The reference is valid until the thread's next call.
  const caf::actor& cached_pool(const std::string& name) const;

  void set_pool(const std::string& name, caf::actor pool);
  void set_pool_sup(const std::string& name, caf::actor sup);
  void set_member_sup(const std::string& name, caf::actor sup);
  caf::actor pool_sup(const std::string& name) const;
  caf::actor member_sup(const std::string& name) const;

  /// The current config, which survives restarts of the pool actor.
  std::optional<pool_config> config(const std::string& name) const;
  void set_config(const pool_config& cfg);

  /// The pools of a group, sorted by name.
  std::vector<std::string> group_pools(const std::string& group) const;

  /// All pool names, sorted.
  std::vector<std::string> names() const;

  caf::actor starter_sup() const;
  void set_starter_sup(caf::actor sup);

private:
  struct entry {
    pool_config config;
    caf::actor pool;
    caf::actor pool_sup;
    caf::actor member_sup;
  };

  void changed() {
    version_.fetch_add(1, std::memory_order_release);
  }

  const uint64_t id_ = next_id();
  std::atomic<uint64_t> version_{0};
  mutable std::shared_mutex mtx_;
  std::map<std::string, entry> pools_;

  static uint64_t next_id();
  caf::actor starter_sup_;
};

} // namespace pooler
