#pragma once

// The pool actor's bookkeeping (SPEC §4): free members, members in use by
// consumer, starting and stopping members, queued requestors. Every counter
// change sits next to the member transition that causes it, and
// `invariant_holds` checks free + in_use + starting + stopping <= max_count.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/pool_metrics.hpp"
#include "pooler/pool_config.hpp"
#include "pooler/pool_types.hpp"
#include "src/registry.hpp"

namespace pooler {

using steady_time = std::chrono::steady_clock::time_point;

struct member_rec {
  caf::actor handle;
  caf::actor_addr consumer;           ///< while in_use
  uint64_t free_seq = 0;              ///< identifies its entry in the free list
  steady_time accepted_at{};          ///< joined the pool (stats: started_at)
  steady_time last_free{};
  steady_time taken_at{};
  steady_time expires_at = steady_time::max();
  steady_time last_activity{};
  std::string session;                ///< affinity key it is bound to
  uint64_t checkouts = 0;
  uint64_t requests_handled = 0;
  uint64_t errors = 0;
  uint64_t sessions_served = 0;
  // Small fields last, packed: a pool of 10,000 keeps 10,000 of these.
  member_state status = member_state::free;
  bool replace_on_stop = false;       ///< while stopping
  bool shrink_stop = false;           ///< stopped to lower max_count
  bool checking = false;              ///< out for a health check
};

/// A monitored consumer (or queued requestor): monitored once, forgotten when
/// its down message arrives.
struct consumer_rec {
  std::vector<caf::actor_id> members;
};

struct waiter {
  caf::response_promise promise;
  caf::actor_addr who;
  /// Its entry in `consumers`: consumer_died removes the entry and the
  /// consumer's waiters together, so it is valid while the waiter queues.
  consumer_rec* consumer;
  steady_time since;
  steady_time deadline; ///< steady_time::max() waits without limit
  std::string affinity;
};

struct start_rec {
  steady_time since;
  bool initial = false;     ///< one of the pool's first init_count starts
  bool replacement = false; ///< replaces a member; retried after a failure
  bool abandoned = false;   ///< timed out; counted as stopping until it reports
};

/// A timer that waits for the earliest of several deadlines. delayed_send
/// cannot be cancelled: a tick whose generation is not the current one is
/// stale and ignored.
struct deadline_timer {
  uint64_t gen = 0;
  steady_time at = steady_time::max(); ///< max: not armed

  /// True for the tick of the current generation, which disarms the timer.
  bool fired(uint64_t tick) {
    if (tick != gen)
      return false;
    at = steady_time::max();
    return true;
  }
};

struct pool_state {
  using self_ptr = caf::stateful_actor<pool_state>*;

  // -- set up --------------------------------------------------------------------
  self_ptr self = nullptr;
  std::shared_ptr<registry> reg;
  caf::actor member_sup;
  pool_config cfg;
  pool_metrics metrics;
  std::minstd_rand rng{std::random_device{}()};

  // -- members -----------------------------------------------------------------------
  std::unordered_map<caf::actor_id, member_rec> members;
  /// Free members in the order they became free (oldest first); entries whose
  /// free_seq no longer matches their member are stale and skipped.
  std::deque<std::pair<caf::actor_id, uint64_t>> free_list;
  uint64_t free_seq = 0;
  std::unordered_map<std::string, caf::actor_id> sessions;
  std::unordered_map<caf::actor_addr, consumer_rec> consumers;
  std::deque<waiter> queue;
  std::unordered_map<uint64_t, start_rec> starts;
  uint64_t start_seq = 0;

  size_t free_count = 0;
  size_t in_use_count = 0;
  size_t starting_count = 0;
  size_t stopping_count = 0;

  // -- start-up and growth -------------------------------------------------------------
  size_t initial_pending = 0;
  std::vector<caf::response_promise> ready_waiters;
  size_t failed_starts_in_a_row = 0;
  steady_time backoff_until{};
  size_t owed_starts = 0; ///< replacements postponed by the start backoff

  // -- a reconfigure that lowers max_count: the new limit applies once the
  // members it stops are gone, so live members never exceed max_count.
  std::optional<size_t> shrink_to;
  size_t shrink_stops = 0;
  caf::response_promise shrink_promise;
  std::vector<reconfigure_action> shrink_actions;

  // -- timers (delayed_send cannot be cancelled: stale generations are ignored)
  uint64_t cull_gen = 0;
  deadline_timer queue_timer; ///< earliest deadline of a waiter
  deadline_timer ttl_timer;   ///< earliest expiry of a free member
  deadline_timer start_timer; ///< earliest member_start_timeout of a start
  uint64_t grow_gen = 0;
  bool grow_timer_armed = false;
  uint64_t health_gen = 0;

  // -- life cycle ---------------------------------------------------------------------
  /// Answers whoever still waits: takes are requested without a CAF timeout,
  /// so a pool that dies (even by a kill) must not leave them hanging.
  ~pool_state();
  void init(self_ptr self, std::shared_ptr<registry> reg, const std::string& name,
            caf::actor member_sup);
  void shut_down(const caf::error& reason);
  void answer_all_waiters();

  // -- the API -------------------------------------------------------------------------
  caf::result<caf::actor> take(int64_t timeout_ns, std::string affinity);
  void give_back(const caf::actor& member, bool failed, uint64_t requests);
  utilization usage() const;
  std::vector<member_info> stats() const;
  std::vector<caf::actor> take_all_free();
  caf::result<void> ready();

  // -- events ------------------------------------------------------------------------------
  void on_down(const caf::down_msg& dm);
  void on_started(uint64_t id, const caf::actor& member);
  void on_start_failed(uint64_t id, const caf::error& err);
  void on_start_tick(uint64_t gen);
  void on_queue_tick(uint64_t gen);
  void on_ttl_tick(uint64_t gen);
  void on_grow_tick(uint64_t gen);
  void on_health_tick(uint64_t gen);
  void on_health_result(const caf::actor& member, const caf::error& err);
  void cull();

  // -- reconfigure ---------------------------------------------------------------------------
  caf::result<std::vector<reconfigure_action>> reconfigure(pool_config next);
  void shrink_stop_done();

  // -- helpers --------------------------------------------------------------------------------
  bool invariant_holds() const;
  size_t live_count() const {
    return free_count + in_use_count + starting_count + stopping_count;
  }
  size_t can_add() const {
    auto live = live_count();
    auto limit = shrink_to ? std::min(cfg.max_count, *shrink_to) : cfg.max_count;
    return live < limit ? limit - live : 0;
  }

  member_rec* pop_free(const std::string& affinity, caf::actor_id& id,
                       steady_time now);
  member_rec* valid_free(const std::pair<caf::actor_id, uint64_t>& entry);
  void push_free(caf::actor_id id, member_rec& m, steady_time now);
  void push_free_since(caf::actor_id id, member_rec& m, steady_time since);
  void leave_free(member_rec& m);
  void compact_free_list();
  void check_out(caf::actor_id id, member_rec& m, const caf::actor_addr& who,
                 consumer_rec& consumer, const std::string& affinity,
                 steady_time now);
  void release_from_consumer(caf::actor_id id, member_rec& m, steady_time now);
  /// Hands the member to the first live waiter, or makes it free.
  void offer(caf::actor_id id, member_rec& m, steady_time now);
  /// Leaves the member's state (free or in use) and stops it.
  void stop_member(caf::actor_id id, member_rec& m, bool replace);
  /// Stops a member that is already out of the free and in-use counts.
  void begin_stop(caf::actor_id id, member_rec& m, bool replace);
  void stop_free_members(size_t n, const char* reason);
  void start_members(size_t n, bool initial = false, bool replacement = false);
  void spawn_stopper(const caf::actor& member);
  void member_died(caf::actor_id id, member_rec& m);
  void consumer_died(const caf::actor_addr& who, const caf::error& reason);
  bool expired(const member_rec& m, steady_time now) const {
    return m.expires_at <= now;
  }
  void unbind_session(caf::actor_id id, member_rec& m);
  void bind_session(caf::actor_id id, member_rec& m, const std::string& key);
  caf::timespan backoff_delay();
  const char* grow_for_take();
  void maybe_auto_grow();
  void replace_one();
  void note_ready();
  consumer_rec& ensure_monitored(const caf::actor_addr& who,
                                 const caf::strong_actor_ptr& ptr);
  /// Aims `t` at `deadline` unless it already fires earlier.
  template <class Atom>
  void arm(deadline_timer& t, steady_time deadline, Atom tick);
  void arm_ttl_timer();
  void arm_cull_timer();
  void arm_health_timer();
  void answer_waiter(waiter& w, caf::error err);
  void publish_gauges();
  steady_time expiry_for_new_member(steady_time now);
  caf::error no_members(const char* reason);
};

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self,
                         std::shared_ptr<registry> reg, std::string name,
                         caf::actor member_sup);

} // namespace pooler
