#pragma once

// What an `app` handle shares: the actor system, the registry of pools, the
// top supervisor and the group takes in flight.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "src/group_table.hpp"
#include "src/registry.hpp"

namespace pooler::detail {

struct app_state {
  caf::actor_system* sys = nullptr;
  std::shared_ptr<registry> reg = std::make_shared<registry>();
  caf::actor top;
  std::atomic<bool> stopped{false};

  /// A handle from `pooler::connect`: `reg` mirrors the peer's
  /// pools, `top` is the mirror actor, `peer` is "host:port".
  bool remote = false;
  std::string peer;

  /// Members handed out by group takes, and the pool each came from, so
  /// that return_group_member finds its way back.
  group_table group_members;

  /// Stops the tree; with `wait`, blocks until it is gone. Afterwards the
  /// registry is empty and every call answers `app_stopped`.
  void stop(bool wait);

  bool running() const noexcept {
    return !stopped.load(std::memory_order_acquire);
  }

  /// Marks the app stopped once its tree has ended by itself (its top
  /// supervisor gave up): calls answer `app_stopped`, as after `stop()`.
  static void watch_tree(const std::shared_ptr<app_state>& st);

  ~app_state();
};

/// The pool's deadline as sent in a take: 0 = never wait, -1 = no limit.
int64_t take_timeout_ns(caf::timespan timeout);

/// The requestor's own timeout. A local pool always answers by itself: at
/// its deadline, and with pool_not_found when it dies holding a take (its
/// state's destructor), so no CAF timeout is needed — and none is armed,
/// since each one costs a trip through CAF's timer thread. A request to a
/// dead remote actor is never answered, so remote takes wait at most past
/// the pool's deadline, which the pool answers first: a late reply (which
/// CAF would drop, leaking the member) cannot happen.
caf::duration take_request_timeout(const app_state& st, caf::timespan timeout);

/// A failed take's error as the API promises it: a request timeout becomes
/// `no_members` (timeout), a vanished pool `pool_not_found`.
caf::error take_error(const std::string& pool, caf::error err);

/// `app_stopped` naming `subject`, for calls on an empty or stopped handle.
caf::error stopped_error(const std::string& subject);

/// The error a call on `st` answers before doing anything: `app_stopped`
/// when the handle is empty or stopped, else none.
caf::error unusable(const app_state* st, const std::string& subject);

/// A failed request's CAF error as the API promises it: a vanished actor is
/// `app_stopped` after stop and `pool_not_found` before.
caf::error call_error(const app_state* st, const std::string& pool,
                      caf::error err);

} // namespace pooler::detail
