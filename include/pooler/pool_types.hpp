#pragma once

// Value types that pools hand out: utilization, per-member statistics,
// reconfigure actions (see docs/pools.md).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>
#include <caf/timestamp.hpp>

namespace pooler {

/// How a member comes back: `ok` (reusable) or `fail` (stop and replace it).
enum class member_status { ok, fail };

std::string to_string(member_status x);

/// Counts of one pool.
struct utilization {
  size_t max_count = 0;
  size_t in_use_count = 0;
  size_t free_count = 0;
  size_t starting_count = 0;
  size_t stopping_count = 0;
  size_t queued_count = 0;
  size_t queue_max = 0;
  /// Members out for a health check: neither free nor in use.
  size_t checking_count = 0;
  /// Member starts that failed since the pool started.
  uint64_t start_failures = 0;
  /// The cause of the last failed start, or "".
  std::string last_start_failure;

  /// The capacity rule: free + in_use + starting + stopping <= max_count.
  bool within_capacity() const noexcept {
    return free_count + in_use_count + checking_count + starting_count
             + stopping_count
           <= max_count;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, utilization& x) {
  return f(caf::meta::type_name("pooler_utilization"), x.max_count,
           x.in_use_count, x.free_count, x.starting_count, x.stopping_count,
           x.queued_count, x.queue_max, x.checking_count, x.start_failures,
           x.last_start_failure);
}

/// Where a member is; `checking`: out for a health check.
enum class member_state : uint8_t { starting, free, in_use, stopping, checking };

std::string to_string(member_state x);

/// One member of a pool. `member` is null while starting.
struct member_info {
  caf::actor member;
  member_state status = member_state::free;
  caf::actor_addr consumer;        ///< set while in_use
  caf::timestamp last_free{};      ///< when it last became free
  caf::optional<caf::timestamp> expires_at; ///< with max_lifetime
  std::string session;             ///< affinity key it is bound to, or ""
  // Statistics.
  uint64_t checkouts = 0;
  uint64_t requests_handled = 0;
  uint64_t errors = 0;
  uint64_t sessions_served = 0;
  caf::timestamp started_at{};
  caf::timestamp last_activity{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("pooler_member_info"), x.member, x.status,
           x.consumer, x.last_free, x.expires_at, x.session, x.checkouts,
           x.requests_handled, x.errors, x.sessions_served, x.started_at,
           x.last_activity);
}

/// One step taken by `pool_reconfigure`, printable as `name(argument)`,
/// e.g. `start_workers(1)` or `set_parameter(max_count)`.
struct reconfigure_action {
  std::string name;
  std::string argument;

  friend bool operator==(const reconfigure_action& x,
                         const reconfigure_action& y) {
    return x.name == y.name && x.argument == y.argument;
  }
};

std::string to_string(const reconfigure_action& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconfigure_action& x) {
  return f(caf::meta::type_name("pooler_reconfigure_action"), x.name,
           x.argument);
}

} // namespace pooler
