#pragma once

// Finds pools by name. Each pool subtree owns one record (its config and its
// current actors); the registry only maps names to those records, and to
// the pools of connected nodes, which have no config here. Thread-safe:
// takes look a pool up on the caller's thread, so it is a read-mostly lock,
// not an actor (an actor would add a round trip to every take).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

class shared_book;

/// What one pool's subtree owns: its current config (which survives
/// restarts of the pool actor and of the subtree) and its current actors.
/// Read and written through the registry, under its lock; the subtree's
/// child spec keeps it alive, so a restarted subtree finds it again.
struct pool_record {
  explicit pool_record(pool_config cfg) : config(std::move(cfg)) {
  }
  pool_config config;
  caf::actor pool;
  caf::actor pool_sup;
  caf::actor member_sup;
  /// The pool actor's book, which takes and returns in this process use
  /// directly (src/shared_book.hpp).
  std::shared_ptr<shared_book> book;
  /// Started by `new_pool` under pooler's own tree (not `pool_child_spec`).
  bool in_pooler_tree = false;
};

class registry {
public:
  // -- records of local pools ------------------------------------------------------

  /// Makes a record for `cfg` and registers it; null if the name is taken.
  std::shared_ptr<pool_record> reserve(const pool_config& cfg);

  /// Registers `rec` under its config's name: true if the name was free or
  /// already `rec`'s, false if another pool (local or remote) holds it.
  bool claim(const std::shared_ptr<pool_record>& rec);

  /// Unregisters `rec`'s name if `rec` holds it; with `sup`, only if `sup`
  /// is still the record's subtree (a restarted subtree keeps its name).
  void release(const pool_record& rec, const caf::actor_addr* sup = nullptr);

  /// The record registered under `name`, or null (also for remote pools).
  std::shared_ptr<pool_record> record(const std::string& name) const;

  void set_pool(pool_record& rec, caf::actor pool);
  void set_pool_sup(pool_record& rec, caf::actor sup);
  void set_member_sup(pool_record& rec, caf::actor sup);
  pool_config config(const pool_record& rec) const;
  caf::actor member_sup(const pool_record& rec) const;

  // -- pools of connected nodes ------------------------------------------------------

  /// Registers or updates a remote pool; false if a local pool holds the
  /// name (a mirror never shadows one).
  bool set_remote(const std::string& name, const std::string& group,
                  caf::actor pool);

  /// Removes a remote pool's entry (local pools of that name stay).
  void erase_remote(const std::string& name);

  /// Whether `name` is free or a remote pool's.
  bool remote_or_free(const std::string& name) const;

  // -- by name -------------------------------------------------------------------------

  /// Removes an entry (no-op for unknown names).
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

  /// A pool's handle and, for a local pool, its shared book.
  struct pool_ref {
    caf::actor pool;
    std::shared_ptr<shared_book> book;
  };
  /// Both, from the same per-thread cache as `cached_pool`.
  const pool_ref& cached(const std::string& name) const;

  /// Publishes a local pool's shared book (its pool actor started).
  void set_book(const std::string& name, std::shared_ptr<shared_book> book);

  void set_pool(const std::string& name, caf::actor pool);
  void set_pool_sup(const std::string& name, caf::actor sup);
  void set_member_sup(const std::string& name, caf::actor sup);
  caf::actor pool_sup(const std::string& name) const;
  caf::actor member_sup(const std::string& name) const;

  /// The current config of a local pool (none for remote pools), which
  /// survives restarts of the pool actor.
  std::optional<pool_config> config(const std::string& name) const;

  /// Replaces the config of the local pool named `cfg.name`.
  void set_config(const pool_config& cfg);

  /// The pools of a group (local and remote), sorted by name.
  std::vector<std::string> group_pools(const std::string& group) const;

  /// All pool names, sorted.
  std::vector<std::string> names() const;

  caf::actor starter_sup() const;
  void set_starter_sup(caf::actor sup);

private:
  /// A local pool (`local` set) or a connected node's (`remote_*`).
  struct entry {
    std::shared_ptr<pool_record> local;
    std::string remote_group;
    caf::actor remote_pool;

    const caf::actor& pool() const {
      return local ? local->pool : remote_pool;
    }
    const std::string& group() const {
      return local ? local->config.group : remote_group;
    }
  };

  pool_record* find_local(const std::string& name) const;

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
