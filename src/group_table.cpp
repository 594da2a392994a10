#include "src/group_table.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>

namespace pooler::detail {

void group_table::remember(
  const caf::actor& member, const std::string& pool, const std::string& group,
  const std::function<bool(const std::string&)>& pool_exists) {
  std::lock_guard guard{mtx_};
  entries_[member.address()] = entry{pool, group};
  if (entries_.size() >= sweep_at_)
    sweep(pool_exists);
  size_.store(entries_.size(), std::memory_order_release);
}

group_table::lookup group_table::take(const caf::actor& member,
                                      const std::string& group) {
  std::lock_guard guard{mtx_};
  auto i = entries_.find(member.address());
  if (i == entries_.end())
    return {lookup::unknown, {}, {}};
  if (i->second.group != group)
    return {lookup::other_group, {}, i->second.group};
  auto pool = std::move(i->second.pool);
  entries_.erase(i);
  size_.store(entries_.size(), std::memory_order_release);
  return {lookup::found, std::move(pool), {}};
}

void group_table::forget(const caf::actor& member) {
  if (size_.load(std::memory_order_acquire) == 0)
    return;
  std::lock_guard guard{mtx_};
  entries_.erase(member.address());
  size_.store(entries_.size(), std::memory_order_release);
}

void group_table::forget_pool(const std::string& pool) {
  std::lock_guard guard{mtx_};
  for (auto i = entries_.begin(); i != entries_.end();)
    i = i->second.pool == pool ? entries_.erase(i) : std::next(i);
  size_.store(entries_.size(), std::memory_order_release);
}

void group_table::clear() {
  std::lock_guard guard{mtx_};
  entries_.clear();
  size_.store(0, std::memory_order_release);
}

size_t group_table::size() const {
  return size_.load(std::memory_order_acquire);
}

void group_table::sweep(
  const std::function<bool(const std::string&)>& pool_exists) {
  // A member nobody holds a handle to any more is gone (its pool dropped it
  // when it died); a member of a removed pool cannot be returned there.
  for (auto i = entries_.begin(); i != entries_.end();) {
    auto alive = caf::actor_cast<caf::actor>(i->first) != nullptr;
    i = alive && pool_exists(i->second.pool) ? std::next(i) : entries_.erase(i);
  }
  sweep_at_ = std::max(min_sweep_size, 2 * entries_.size());
}

} // namespace pooler::detail
