#pragma once

// Which pool (and group) each member handed out by a group take came from,
// so that return_group_member finds its way back. Entries leave when the
// member is returned by any path the handle sees, when its pool is removed,
// and, for members that died or went back through their consumer's exit, at
// the next sweep: the table never holds more than the live members of group
// pools plus the growth since the last sweep.

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

namespace pooler::detail {

class group_table {
public:
  /// A sweep runs once the table has grown to this size (and then to twice
  /// the size a sweep leaves).
  static constexpr size_t min_sweep_size = 256;

  /// Records that `member` came from `pool` through a take on `group`.
  /// `pool_exists` tells a sweep which entries' pools are gone.
  void remember(const caf::actor& member, const std::string& pool,
                const std::string& group,
                const std::function<bool(const std::string&)>& pool_exists);

  /// What `return_group_member(group, member)` finds.
  struct lookup {
    enum { found, other_group, unknown } result;
    std::string pool;  ///< the member's pool (found)
    std::string group; ///< the group it was taken from (other_group)
  };

  /// Removes and returns the entry of `member` if it was taken from `group`;
  /// an entry of another group stays.
  lookup take(const caf::actor& member, const std::string& group);

  /// Drops the entry of a member returned by another path. Cheap when the
  /// table is empty (one atomic load), so every return may call it.
  void forget(const caf::actor& member);

  /// Drops the entries of a removed pool.
  void forget_pool(const std::string& pool);

  void clear();

  size_t size() const;

private:
  struct entry {
    std::string pool;
    std::string group;
  };

  void sweep(const std::function<bool(const std::string&)>& pool_exists);

  mutable std::mutex mtx_;
  std::unordered_map<caf::actor_addr, entry> entries_;
  std::atomic<size_t> size_{0};
  size_t sweep_at_ = min_sweep_size;
};

} // namespace pooler::detail
