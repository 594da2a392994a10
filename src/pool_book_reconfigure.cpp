// Runtime reconfiguration: a full new config, checked before anything is
// applied, then applied parameter by parameter in pooler's order, each
// `set_parameter` followed by its own actions.

#include "src/pool_book.hpp"

#include <algorithm>

namespace pooler {

namespace {

bool same_hook(const member_hook& x, const member_hook& y) {
  return x.is_message() == y.is_message() && x.fn() == y.fn()
         && caf::to_string(x.msg()) == caf::to_string(y.msg());
}

} // namespace

std::optional<book_error>
pool_book::check_change(const pool_config& next) const {
  auto unsupported = [](std::string detail) {
    return book_error{errc::unsupported_change, std::move(detail)};
  };
  if (shrink_to_)
    return unsupported("max_count: an earlier reconfigure is still stopping "
                       "members");
  if (next.name != cfg_.name)
    return unsupported("name: cannot change from \"" + cfg_.name + "\" to \""
                       + next.name + "\"");
  if (!next.start.same_as(cfg_.start))
    return unsupported("start: cannot change from " + cfg_.start.describe()
                       + " to " + next.start.describe());
  return std::nullopt;
}

reconfigure_result pool_book::reconfigure(pool_config next, book_time now) {
  begin(now);
  reconfigure_result result;
  if ((result.error = check_change(next))) {
    end();
    return result;
  }
  // Lowering max_count below the live count needs enough free members to
  // stop; otherwise nothing is applied.
  auto live = live_count();
  auto to_stop = live > next.max_count ? live - next.max_count : 0;
  if (to_stop > free_.size()) {
    result.error = book_error{errc::not_enough_free_members,
                              "max_count: " + std::to_string(next.max_count)
                                + " needs " + std::to_string(to_stop)
                                + " free members stopped, "
                                + std::to_string(free_.size()) + " are free"};
    end();
    return result;
  }
  auto& actions = result.actions;
  auto act = [&](const char* name, std::string arg = {}) {
    actions.push_back({name, std::move(arg)});
  };
  auto param = [&](const char* key, bool differs) {
    if (differs)
      act("set_parameter", key);
    return differs;
  };
  auto old = std::exchange(cfg_, std::move(next));
  auto& cfg = cfg_;
  // The registry moves the pool between groups once the book is done; the
  // actions record the order: leave the old group, then join the new one.
  if (param("group", old.group != cfg.group)) {
    if (!old.group.empty())
      act("leave_group", old.group);
    if (!cfg.group.empty())
      act("join_group", cfg.group);
  }
  if (param("init_count", old.init_count != cfg.init_count)) {
    auto held = free_.size() + in_use_ + checking_ + starting_;
    auto live = live_count();
    auto room = cfg.max_count > live ? cfg.max_count - live : 0;
    if (cfg.init_count > old.init_count && held < cfg.init_count) {
      if (auto n = std::min(cfg.init_count - held, room); n > 0) {
        act("start_workers", std::to_string(n));
        start_members(n);
      }
    }
  }
  if (param("max_count", old.max_count != cfg.max_count)) {
    auto live = live_count();
    if (auto to_stop = live > cfg.max_count ? live - cfg.max_count : 0;
        to_stop > 0) {
      act("stop_free_workers", std::to_string(to_stop));
      // The old limit stays until the stopped members are gone.
      shrink_to_ = cfg.max_count;
      shrink_stops_ = to_stop;
      cfg.max_count = old.max_count;
      stop_oldest_free(to_stop, stop_cause::reconfigured, "reconfigured");
    }
  }
  if (param("cull_interval", old.cull_interval != cfg.cull_interval)
      && cfg.cull_interval < old.cull_interval && culling()) {
    // As pooler: only a shorter interval restarts the timer; a longer one
    // takes effect at the next tick.
    act("reset_cull_timer", format_duration(cfg.cull_interval));
    arm_cull(now);
  }
  if (param("max_age", old.max_age != cfg.max_age)
      && cfg.max_age < old.max_age) {
    act("cull");
    cull_now(now);
  }
  param("member_start_timeout",
        old.member_start_timeout != cfg.member_start_timeout);
  if (param("queue_max", old.queue_max != cfg.queue_max)
      && queue_.size() > cfg.queue_max) {
    act("shrink_queue", std::to_string(queue_.size() - cfg.queue_max));
    shrink_queue(cfg.queue_max);
  }
  param("metrics", old.metrics != cfg.metrics || old.sink != cfg.sink);
  param("stop", !same_hook(old.stop, cfg.stop));
  param("initialize", !same_hook(old.initialize, cfg.initialize));
  param("auto_grow_threshold",
        old.auto_grow_threshold != cfg.auto_grow_threshold);
  param("member_shutdown", old.member_shutdown != cfg.member_shutdown);
  param("member_order", old.member_order != cfg.member_order);
  param("start_backoff",
        old.start_backoff.initial != cfg.start_backoff.initial
          || old.start_backoff.max != cfg.start_backoff.max);
  if (param("health_check_interval",
            old.health_check_interval != cfg.health_check_interval))
    arm_health(now);
  param("health_check", !same_hook(old.health_check, cfg.health_check));
  bool ttl = param("max_lifetime", old.max_lifetime != cfg.max_lifetime);
  ttl |= param("max_lifetime_jitter",
               old.max_lifetime_jitter != cfg.max_lifetime_jitter);
  if (ttl) {
    act("update_ttl",
        cfg.max_lifetime ? format_duration(*cfg.max_lifetime) : "none");
    for (auto& kvp : members_)
      kvp.second.expires_at = expiry_for(kvp.second.accepted_at);
    ++ttl_timer_.gen; // a pending tick is stale: rescan now
    ttl_timer_.at = book_time::max();
    ttl_scan(now);
  }
  // Culling may have been switched on (interval, init_count or max_count):
  // make sure its timer runs, without an action, as pooler's timer would.
  if (culling() && cull_timer_.at == book_time::max())
    arm_cull(now);
  if (shrink_to_) {
    shrink_actions_ = actions;
    result.deferred = true;
  }
  end();
  return result;
}

} // namespace pooler
