// Runtime reconfiguration of a pool (SPEC §4.10): a full new config, checked
// before anything is applied, applied as pooler's ordered list of actions.

#include "actors/pool_state.hpp"

#include <caf/all.hpp>

#include "pooler/errors.hpp"

namespace pooler {

namespace {

std::string count_str(size_t n) {
  return std::to_string(n);
}

/// The keys whose values differ, in SPEC §3's order.
std::vector<std::string> changed_keys(const pool_config& a,
                                      const pool_config& b) {
  std::vector<std::string> keys;
  auto check = [&](const char* key, bool differs) {
    if (differs)
      keys.emplace_back(key);
  };
  auto same_hook = [](const member_hook& x, const member_hook& y) {
    return x.is_message() == y.is_message() && x.fn() == y.fn()
           && caf::to_string(x.msg()) == caf::to_string(y.msg());
  };
  check("init_count", a.init_count != b.init_count);
  check("max_count", a.max_count != b.max_count);
  check("group", a.group != b.group);
  check("cull_interval", a.cull_interval != b.cull_interval);
  check("max_age", a.max_age != b.max_age);
  check("member_start_timeout", a.member_start_timeout != b.member_start_timeout);
  check("queue_max", a.queue_max != b.queue_max);
  check("auto_grow_threshold", a.auto_grow_threshold != b.auto_grow_threshold);
  check("initialize", !same_hook(a.initialize, b.initialize));
  check("stop", !same_hook(a.stop, b.stop));
  check("member_shutdown", a.member_shutdown != b.member_shutdown);
  check("max_lifetime", a.max_lifetime != b.max_lifetime);
  check("max_lifetime_jitter", a.max_lifetime_jitter != b.max_lifetime_jitter);
  check("member_order", a.member_order != b.member_order);
  check("start_backoff", a.start_backoff.initial != b.start_backoff.initial
                           || a.start_backoff.max != b.start_backoff.max);
  check("metrics", a.metrics != b.metrics || a.sink != b.sink);
  check("health_check_interval",
        a.health_check_interval != b.health_check_interval);
  check("health_check", !same_hook(a.health_check, b.health_check));
  return keys;
}

} // namespace

caf::result<std::vector<reconfigure_action>>
pool_state::reconfigure(pool_config next) {
  if (shrink_to)
    return make_error(errc::unsupported_change, cfg.name,
                      "max_count: an earlier reconfigure is still stopping "
                      "members");
  if (next.name != cfg.name)
    return make_error(errc::unsupported_change, cfg.name,
                      "name: cannot change from \"" + cfg.name + "\" to \""
                        + next.name + "\"");
  if (!next.start.same_as(cfg.start))
    return make_error(errc::unsupported_change, cfg.name,
                      "start: cannot change from " + cfg.start.describe()
                        + " to " + next.start.describe());
  if (auto valid = validate(next, self->system().config()); !valid)
    return std::move(valid.error());
  // Lowering max_count below the live count needs enough free members to
  // stop; otherwise nothing is applied.
  auto live = live_count();
  size_t to_stop = live > next.max_count ? live - next.max_count : 0;
  if (to_stop > free_count)
    return make_error(errc::not_enough_free_members, cfg.name,
                      "max_count: " + count_str(next.max_count) + " needs "
                        + count_str(to_stop) + " free members stopped, "
                        + count_str(free_count) + " are free");
  auto old = std::exchange(cfg, std::move(next));
  std::vector<reconfigure_action> actions;
  for (auto& key : changed_keys(old, cfg))
    actions.push_back({"set_parameter", key});
  // Members to start so that the pool holds init_count again.
  auto held = free_count + in_use_count + starting_count;
  if (cfg.init_count > old.init_count && held < cfg.init_count) {
    auto n = std::min(cfg.init_count - held, can_add());
    if (n > 0)
      actions.push_back({"start_workers", count_str(n)});
  }
  if (to_stop > 0)
    actions.push_back({"stop_free_workers", count_str(to_stop)});
  if (queue.size() > cfg.queue_max)
    actions.push_back({"shrink_queue", count_str(queue.size() - cfg.queue_max)});
  if (old.cull_interval != cfg.cull_interval)
    actions.push_back({"reset_cull_timer", format_duration(cfg.cull_interval)});
  if (cfg.max_age < old.max_age)
    actions.push_back({"cull", ""});
  if (!cfg.group.empty() && cfg.group != old.group)
    actions.push_back({"join_group", cfg.group});
  if (!old.group.empty() && cfg.group != old.group)
    actions.push_back({"leave_group", old.group});
  if (old.max_lifetime != cfg.max_lifetime
      || old.max_lifetime_jitter != cfg.max_lifetime_jitter)
    actions.push_back(
      {"update_ttl",
       cfg.max_lifetime ? format_duration(*cfg.max_lifetime) : "none"});
  // The registry keeps the new config: it survives a restart of this actor
  // and moves the pool between groups.
  reg->set_config(cfg);
  metrics.configure(cfg);
  if (to_stop > 0) {
    // The old limit stays until the stopped members are gone.
    shrink_to = cfg.max_count;
    cfg.max_count = old.max_count;
  }
  for (auto& a : actions) {
    if (a.name == "start_workers") {
      start_members(std::stoul(a.argument));
    } else if (a.name == "stop_free_workers") {
      shrink_stops = to_stop;
      stop_free_members(to_stop, "reconfigured");
    } else if (a.name == "shrink_queue") {
      // The oldest waiters go first, as pooler.
      while (queue.size() > cfg.queue_max) {
        answer_waiter(queue.front(), no_members(no_members_reason::queue_full));
        queue.pop_front();
      }
    } else if (a.name == "reset_cull_timer") {
      ++cull_gen; // a pending tick of the old interval becomes stale
      arm_cull_timer();
    } else if (a.name == "cull") {
      cull();
    } else if (a.name == "update_ttl") {
      for (auto& kvp : members) {
        auto& m = kvp.second;
        m.expires_at = expiry_for_new_member(m.accepted_at);
      }
      on_ttl_tick(++ttl_timer.gen); // rescan now; a pending tick is stale
    }
  }
  if (old.health_check_interval != cfg.health_check_interval) {
    ++health_gen; // a pending tick of the old interval becomes stale
    arm_health_timer();
  }
  publish_gauges();
  if (shrink_to) {
    shrink_actions = std::move(actions);
    shrink_promise = self->make_response_promise();
    return shrink_promise;
  }
  return actions;
}

void pool_state::shrink_stop_done() {
  if (--shrink_stops > 0)
    return;
  cfg.max_count = *shrink_to;
  shrink_to.reset();
  shrink_promise.deliver(std::move(shrink_actions));
  shrink_actions.clear();
}

} // namespace pooler
