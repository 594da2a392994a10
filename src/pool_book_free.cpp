// The free set (ordered by idle time, so lifo, fifo and the culler's "oldest
// idle first" are its two ends) and session affinity.

#include "src/pool_book.hpp"

namespace pooler {

void pool_book::push_free(member_id id, member_rec& m, book_time since) {
  m.phase = member_phase::free;
  m.last_free = since;
  m.free_seq = ++free_seq_;
  insert_free(free_key{since, m.free_seq}, id);
  if (m.expires_at < ttl_timer_.at)
    arm(ttl_timer_, book_timer::ttl, m.expires_at);
}

void pool_book::insert_free(free_key key, member_id id) {
  // A take and a return move one member out of and back into the free set:
  // reusing the node saves an allocation and a free on each.
  if (spare_nodes_.empty()) {
    free_.emplace(key, id);
    return;
  }
  auto node = std::move(spare_nodes_.back());
  spare_nodes_.pop_back();
  node.key() = key;
  node.mapped() = id;
  free_.insert(std::move(node));
}

member_id pool_book::extract_free(free_set::iterator pos) {
  auto node = free_.extract(pos);
  auto id = node.mapped();
  if (spare_nodes_.size() < max_spare_nodes)
    spare_nodes_.push_back(std::move(node));
  return id;
}

void pool_book::leave_free(member_rec& m) {
  if (auto i = free_.find(free_key{m.last_free, m.free_seq}); i != free_.end())
    extract_free(i);
}

std::optional<pool_book::picked>
pool_book::pop_free(const std::string& affinity, book_time now) {
  if (!affinity.empty()) {
    if (auto s = sessions_.find(affinity); s != sessions_.end()) {
      auto i = members_.find(s->second);
      if (i != members_.end() && i->second.phase == member_phase::free
          && !expired(i->second, now)) {
        leave_free(i->second);
        return picked{i->first, &i->second};
      }
    }
  }
  while (!free_.empty()) {
    auto pos = cfg_.member_order == member_order::lifo ? std::prev(free_.end())
                                                       : free_.begin();
    auto id = extract_free(pos);
    auto& m = members_[id];
    if (expired(m, now)) {
      // An expired free member is never handed out.
      emit(fx::count_reason{metric::killed_free, "max_lifetime"});
      begin_stop(id, m, stop_cause::max_lifetime);
      continue;
    }
    return picked{id, &m};
  }
  return std::nullopt;
}

void pool_book::bind_session(member_id id, member_rec& m,
                             const std::string& key) {
  if (m.session == key)
    return;
  unbind_session(id, m);
  // The key moves to this member; a member it was bound to forgets it.
  if (auto s = sessions_.find(key); s != sessions_.end()) {
    if (auto other = members_.find(s->second); other != members_.end())
      other->second.session.clear();
  }
  sessions_[key] = id;
  m.session = key;
  ++m.sessions_served;
}

void pool_book::unbind_session(member_id id, member_rec& m) {
  if (m.session.empty())
    return;
  if (auto s = sessions_.find(m.session);
      s != sessions_.end() && s->second == id)
    sessions_.erase(s);
  m.session.clear();
}

} // namespace pooler
