#include "src/registry.hpp"

#include <mutex>
#include <unordered_map>

namespace pooler {

uint64_t registry::next_id() {
  static std::atomic<uint64_t> ids{0};
  return ++ids;
}

// -- records of local pools --------------------------------------------------------

std::shared_ptr<pool_record> registry::reserve(const pool_config& cfg) {
  auto rec = std::make_shared<pool_record>(cfg);
  if (!claim(rec))
    return nullptr;
  return rec;
}

bool registry::claim(const std::shared_ptr<pool_record>& rec) {
  std::unique_lock guard{mtx_};
  auto [i, added] = pools_.emplace(rec->config.name, entry{rec, {}, {}});
  if (!added && i->second.local != rec)
    return false;
  changed();
  return true;
}

void registry::release(const pool_record& rec, const caf::actor_addr* sup) {
  std::unique_lock guard{mtx_};
  auto i = pools_.find(rec.config.name);
  if (i == pools_.end() || i->second.local.get() != &rec)
    return;
  if (sup != nullptr && rec.pool_sup.address() != *sup)
    return;
  pools_.erase(i);
  changed();
}

std::shared_ptr<pool_record> registry::record(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  return i != pools_.end() ? i->second.local : nullptr;
}

void registry::set_pool(pool_record& rec, caf::actor pool) {
  std::unique_lock guard{mtx_};
  rec.pool = std::move(pool);
  changed();
}

void registry::set_pool_sup(pool_record& rec, caf::actor sup) {
  std::unique_lock guard{mtx_};
  rec.pool_sup = std::move(sup);
}

void registry::set_member_sup(pool_record& rec, caf::actor sup) {
  std::unique_lock guard{mtx_};
  rec.member_sup = std::move(sup);
}

pool_config registry::config(const pool_record& rec) const {
  std::shared_lock guard{mtx_};
  return rec.config;
}

caf::actor registry::member_sup(const pool_record& rec) const {
  std::shared_lock guard{mtx_};
  return rec.member_sup;
}

// -- pools of connected nodes ----------------------------------------------------------

bool registry::set_remote(const std::string& name, const std::string& group,
                          caf::actor pool) {
  std::unique_lock guard{mtx_};
  auto& e = pools_[name];
  if (e.local)
    return false;
  e.remote_group = group;
  e.remote_pool = std::move(pool);
  changed();
  return true;
}

void registry::erase_remote(const std::string& name) {
  std::unique_lock guard{mtx_};
  if (auto i = pools_.find(name); i != pools_.end() && !i->second.local) {
    pools_.erase(i);
    changed();
  }
}

bool registry::remote_or_free(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto i = pools_.find(name);
  return i == pools_.end() || !i->second.local;
}

// -- by name -----------------------------------------------------------------------------

pool_record* registry::find_local(const std::string& name) const {
  auto i = pools_.find(name);
  return i != pools_.end() ? i->second.local.get() : nullptr;
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
  return i != pools_.end() ? i->second.pool() : caf::actor{};
}

const caf::actor& registry::cached_pool(const std::string& name) const {
  return cached(name).pool;
}

const registry::pool_ref& registry::cached(const std::string& name) const {
  struct cache {
    uint64_t registry_id = 0;
    uint64_t version = 0;
    std::unordered_map<std::string, pool_ref> pools;
  };
  thread_local cache local;
  static const pool_ref none;
  auto version = version_.load(std::memory_order_acquire);
  if (local.registry_id != id_ || local.version != version) {
    local.registry_id = id_;
    local.version = version;
    local.pools.clear();
  }
  if (auto i = local.pools.find(name); i != local.pools.end())
    return i->second;
  pool_ref ref;
  {
    std::shared_lock guard{mtx_};
    auto i = pools_.find(name);
    if (i == pools_.end() || !i->second.pool())
      return none;
    ref.pool = i->second.pool();
    if (i->second.local)
      ref.book = i->second.local->book;
  }
  return local.pools.emplace(name, std::move(ref)).first->second;
}

void registry::set_book(const std::string& name,
                        std::shared_ptr<shared_book> book) {
  std::unique_lock guard{mtx_};
  if (auto rec = find_local(name))
    rec->book = std::move(book);
  changed();
}

void registry::set_pool(const std::string& name, caf::actor pool) {
  std::unique_lock guard{mtx_};
  if (auto rec = find_local(name))
    rec->pool = std::move(pool);
  changed();
}

void registry::set_pool_sup(const std::string& name, caf::actor sup) {
  std::unique_lock guard{mtx_};
  if (auto rec = find_local(name))
    rec->pool_sup = std::move(sup);
}

void registry::set_member_sup(const std::string& name, caf::actor sup) {
  std::unique_lock guard{mtx_};
  if (auto rec = find_local(name))
    rec->member_sup = std::move(sup);
}

caf::actor registry::pool_sup(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto rec = find_local(name);
  return rec ? rec->pool_sup : caf::actor{};
}

caf::actor registry::member_sup(const std::string& name) const {
  std::shared_lock guard{mtx_};
  auto rec = find_local(name);
  return rec ? rec->member_sup : caf::actor{};
}

std::optional<pool_config> registry::config(const std::string& name) const {
  std::shared_lock guard{mtx_};
  if (auto rec = find_local(name))
    return rec->config;
  return std::nullopt;
}

void registry::set_config(const pool_config& cfg) {
  std::unique_lock guard{mtx_};
  if (auto rec = find_local(cfg.name))
    rec->config = cfg;
}

std::vector<std::string> registry::group_pools(const std::string& group) const {
  std::vector<std::string> result;
  if (group.empty())
    return result;
  std::shared_lock guard{mtx_};
  for (auto& [name, e] : pools_)
    if (e.group() == group)
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
