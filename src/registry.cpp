#include "src/registry.hpp"

#include <mutex>
#include <unordered_map>

namespace pooler {

uint64_t registry::next_id() {
  static std::atomic<uint64_t> ids{0};
  return ++ids;
}

bool registry::reserve(const pool_config& cfg) {
  std::unique_lock guard{mtx_};
  return pools_.emplace(cfg.name, entry{cfg, {}, {}, {}}).second;
}

void registry::erase(const std::string& name) {
  std::unique_lock guard{mtx_};
  pools_.erase(name);
  changed();
}

void registry::clear() {
  std::unique_lock guard{mtx_};
  pools_.clear();
  changed();
}

bool registry::contains(const std::string& name) const {
  std::shared_lock guard{mtx_};
  return pools_.count(name) > 0;
}

caf::actor registry::pool(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  return i != pools_.end() ? i->second.pool : caf::actor{};
}

const caf::actor& registry::cached_pool(const std::string& name) const {
  struct cache {
    uint64_t registry_id = 0;
    uint64_t version = 0;
    std::unordered_map<std::string, caf::actor> pools;
  };
  thread_local cache local;
  static const caf::actor none;
  auto version = version_.load(std::memory_order_acquire);
  if (local.registry_id != id_ || local.version != version) {
    local.registry_id = id_;
    local.version = version;
    local.pools.clear();
  }
  if (auto i = local.pools.find(name); i != local.pools.end())
    return i->second;
  auto handle = pool(name);
  if (!handle)
    return none;
  return local.pools.emplace(name, std::move(handle)).first->second;
}

void registry::set_pool(const std::string& name, caf::actor pool) {
  std::unique_lock guard{mtx_};
  if (auto i = pools_.find(name); i != pools_.end())
    i->second.pool = std::move(pool);
  changed();
}

void registry::set_pool_sup(const std::string& name, caf::actor sup) {
  std::unique_lock guard{mtx_};
  if (auto i = pools_.find(name); i != pools_.end())
    i->second.pool_sup = std::move(sup);
}

void registry::set_member_sup(const std::string& name, caf::actor sup) {
  std::unique_lock guard{mtx_};
  if (auto i = pools_.find(name); i != pools_.end())
    i->second.member_sup = std::move(sup);
}

caf::actor registry::pool_sup(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  return i != pools_.end() ? i->second.pool_sup : caf::actor{};
}

caf::actor registry::member_sup(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  return i != pools_.end() ? i->second.member_sup : caf::actor{};
}

std::optional<pool_config> registry::config(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  if (i == pools_.end())
    return std::nullopt;
  return i->second.config;
}

void registry::set_config(const pool_config& cfg) {
  std::unique_lock guard{mtx_};
  if (auto i = pools_.find(cfg.name); i != pools_.end())
    i->second.config = cfg;
}

std::vector<std::string> registry::group_pools(const std::string& group) const {
  std::vector<std::string> result;
  std::shared_lock guard{mtx_};
  for (auto& [name, e] : pools_)
    if (!group.empty() && e.config.group == group)
      result.push_back(name);
  return result;
}

std::vector<std::string> registry::names() const {
  std::vector<std::string> result;
  std::shared_lock guard{mtx_};
  for (auto& kvp : pools_)
    result.push_back(kvp.first);
  return result;
}

caf::actor registry::starter_sup() const {
  std::shared_lock guard{mtx_};
  return starter_sup_;
}

void registry::set_starter_sup(caf::actor sup) {
  std::unique_lock guard{mtx_};
  starter_sup_ = std::move(sup);
}

} // namespace pooler
