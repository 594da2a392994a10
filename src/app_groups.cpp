// Groups of pools: takes spread over the pools of a group, and
// returns find the pool a member came from.

#include <random>

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "pooler/app.hpp"
#include "src/app_state.hpp"
#include "src/log.hpp"

namespace pooler {

namespace {

/// The group's pools in try order: a random one first, then every other once.
std::vector<std::string> try_order(std::vector<std::string> pools) {
  if (pools.size() > 1) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick{0, pools.size() - 1};
    std::rotate(pools.begin(), pools.begin() + pick(rng), pools.end());
  }
  return pools;
}

/// Room a pool has for one more consumer: free or startable members, less
/// those already promised to its queue.
int64_t spare(const utilization& u) {
  return static_cast<int64_t>(u.max_count) - static_cast<int64_t>(u.in_use_count)
         - static_cast<int64_t>(u.stopping_count)
         - static_cast<int64_t>(u.queued_count);
}

void remember(detail::app_state& st, const caf::actor& member,
              const std::string& pool, const std::string& group) {
  st.group_members.remember(member, pool, group, [&st](const std::string& p) {
    return st.reg->contains(p);
  });
}

/// A take on a group without pools: as pooler, no member, not an error of
/// its own kind.
caf::error empty_group(const std::string& group) {
  return make_error(errc::no_members, group, "no pool in the group");
}

struct group_take {
  explicit group_take(app a) : handle(std::move(a)), st(handle.state()) {
  }
  app handle;
  std::shared_ptr<detail::app_state> st;
  std::string group;
  std::vector<std::string> pools;
  size_t next = 0;
  caf::timespan timeout;
  std::function<void(caf::actor)> on_member;
  std::function<void(caf::error)> on_error;
  caf::error last;
  std::string best;
  int64_t best_spare = std::numeric_limits<int64_t>::min();
};

void wait_in_best(caf::event_based_actor* self, std::shared_ptr<group_take> g);

void try_next(caf::event_based_actor* self, std::shared_ptr<group_take> g) {
  if (g->next == g->pools.size()) {
    if (g->timeout > caf::timespan{0}) {
      g->next = 0;
      wait_in_best(self, std::move(g));
    } else {
      g->on_error(std::move(g->last));
    }
    return;
  }
  auto pool = g->pools[g->next++];
  g->handle.take_member(
    self, pool, caf::timespan{0},
    [g, pool](caf::actor m) {
      remember(*g->st, m, pool, g->group);
      g->on_member(std::move(m));
    },
    [self, g](caf::error err) {
      g->last = std::move(err);
      try_next(self, g);
    });
}

// Asks each pool for its utilization, then queues in the one with the most
// spare capacity (**beyond** pooler: its group takes never wait).
void wait_in_best(caf::event_based_actor* self, std::shared_ptr<group_take> g) {
  if (g->next == g->pools.size()) {
    if (g->best.empty()) {
      g->on_error(std::move(g->last));
      return;
    }
    auto pool = g->best;
    g->handle.take_member(
      self, pool, g->timeout,
      [g, pool](caf::actor m) {
        remember(*g->st, m, pool, g->group);
        g->on_member(std::move(m));
      },
      [g](caf::error err) { g->on_error(std::move(err)); });
    return;
  }
  auto pool = g->pools[g->next++];
  auto handle = g->st->reg->pool(pool);
  if (!handle) {
    wait_in_best(self, std::move(g));
    return;
  }
  self->request(handle, std::chrono::seconds(5), util_atom::value)
    .then(
      [self, g, pool](utilization& u) {
        if (spare(u) > g->best_spare) {
          g->best_spare = spare(u);
          g->best = pool;
        }
        wait_in_best(self, g);
      },
      [self, g](caf::error&) { wait_in_best(self, g); });
}

} // namespace

std::vector<std::string> app::group_pools(const std::string& group) {
  if (!running())
    return {};
  return state_->reg->group_pools(group);
}

void app::take_group_member_impl(caf::event_based_actor* self,
                                 const std::string& group,
                                 caf::timespan timeout,
                                 std::function<void(caf::actor)> on_member,
                                 std::function<void(caf::error)> on_error) {
  if (auto err = check_take(group, timeout)) {
    on_error(std::move(err));
    return;
  }
  auto pools = group_pools(group);
  if (pools.empty()) {
    on_error(empty_group(group));
    return;
  }
  auto g = std::make_shared<group_take>(*this);
  g->group = group;
  g->pools = try_order(std::move(pools));
  g->timeout = timeout;
  g->on_member = std::move(on_member);
  g->on_error = std::move(on_error);
  try_next(self, std::move(g));
}

caf::expected<caf::actor> app::take_group_member(caf::scoped_actor& self,
                                                 const std::string& group,
                                                 caf::timespan timeout) {
  if (auto err = check_take(group, timeout))
    return err;
  auto pools = try_order(group_pools(group));
  if (pools.empty())
    return empty_group(group);
  caf::error last;
  for (auto& pool : pools) {
    auto m = take_member(self, pool, caf::timespan{0});
    if (m) {
      remember(*state_, *m, pool, group);
      return m;
    }
    last = std::move(m.error());
  }
  if (timeout <= caf::timespan{0})
    return last;
  std::string best;
  auto best_spare = std::numeric_limits<int64_t>::min();
  for (auto& pool : pools)
    if (auto u = pool_utilization(pool); u && spare(*u) > best_spare) {
      best_spare = spare(*u);
      best = pool;
    }
  if (best.empty())
    return last;
  auto m = take_member(self, best, timeout);
  if (m)
    remember(*state_, *m, best, group);
  return m;
}

void app::return_group_member(const std::string& group,
                              const caf::actor& member, member_status s) {
  if (!running())
    return;
  auto found = state_->group_members.take(member, group);
  switch (found.result) {
    case detail::group_table::lookup::found:
      return_member(found.pool, member, s);
      return;
    case detail::group_table::lookup::other_group:
      // As a return to the wrong pool: ignored, the member stays out.
      warn("return_group_member: the member came from group \"" + found.group
           + "\", not \"" + group + "\"; ignored");
      return;
    case detail::group_table::lookup::unknown:
      warn("return_group_member: group \"" + group
           + "\" did not hand out this member");
      return;
  }
}

} // namespace pooler
