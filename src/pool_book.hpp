#pragma once

// The pool book: all of one pool's bookkeeping, as a plain class. It has no
// actor and reads no clock: every operation gets `now`, and returns what the
// pool actor must do (start a member, stop one, hand one to a waiter, arm a
// timer, ...) as a list of effects. Members, consumers and waiters are plain
// ids the book does not interpret, so every pool rule can be tested with a
// fake clock and no actor system.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "pooler/errors.hpp"
#include "pooler/pool_config.hpp"
#include "pooler/pool_types.hpp"
#include "src/pool_metrics.hpp"

namespace pooler {

using book_clock = std::chrono::steady_clock;
using book_time = book_clock::time_point;
using book_duration = std::chrono::nanoseconds;

/// `t + d`, clamped to the clock's range: a huge but valid duration (a take
/// timeout, a start timeout, a lifetime) must not overflow.
book_time saturating_add(book_time t, book_duration d);

/// Ids the book hands around without interpreting them. The pool actor uses
/// actor ids for members and its own numbering for consumers.
using member_id = uint64_t;
using consumer_id = uint64_t;
using waiter_id = uint64_t;
using start_id = uint64_t;

/// Where a member is. Exactly one at a time.
enum class member_phase : uint8_t {
  free,     ///< in the free set, can be handed out
  in_use,   ///< held by a consumer
  checking, ///< out for a health check: neither free nor held
  stopping, ///< being stopped; gone once its down message arrives
};

/// Why a member is being stopped; decides whether it is replaced.
enum class stop_cause : uint8_t {
  failed,           ///< returned with `fail`: replaced
  max_lifetime,     ///< past its lifetime: replaced
  consumer_crashed, ///< its consumer died abnormally: replaced
  health_failed,    ///< failed a health check: replaced
  start_timeout,    ///< its start was abandoned: not replaced
  max_age,          ///< culled: not replaced
  reconfigured,     ///< stopped to lower max_count: not replaced
};

/// True for the causes after which the pool starts a replacement.
bool replaces(stop_cause c);
const char* to_string(stop_cause c);

/// The book's timers. Each arm carries a generation: a tick whose generation
/// is no longer current is stale and ignored (delayed messages cannot be
/// cancelled).
enum class book_timer : uint8_t { queue, ttl, start, grow, cull, health };

/// An error for a take or a waiter: the pool actor adds the pool's name.
struct book_error {
  errc code = errc::no_members;
  std::string detail;
};

/// The effects an operation asks the pool actor to carry out, in order.
namespace fx {
/// Start one member; report with `member_started` or `start_failed`.
struct start { start_id id; };
/// Stop a member (through a stopper); its down message completes the stop.
struct stop { member_id member; stop_cause cause; };
/// Run a health check on a member; report with `health_result`.
struct check { member_id member; book_duration timeout; };
/// Hand a member to a queued waiter.
struct hand { waiter_id waiter; member_id member; };
/// Answer a queued waiter with an error.
struct fail { waiter_id waiter; book_error error; };
/// Deliver `tick(kind, gen)` at `at`.
struct arm { book_timer kind; book_time at; uint64_t gen; };
/// Monitor a consumer: it now holds a member or waits.
struct watch { consumer_id consumer; };
/// Stop monitoring a consumer and forget its id: it holds nothing, waits
/// for nothing.
struct unwatch { consumer_id consumer; };
/// The member's record is gone (it died): forget its handle.
struct forget { member_id member; };
/// Add `n` to an unlabeled counter.
struct count { metric m; double n; };
/// Add 1 to a counter labeled by reason.
struct count_reason { metric m; const char* reason; };
/// Observe a duration in a histogram.
struct observe { metric m; book_duration d; };
/// A line for the log.
struct warn { std::string text; };
/// Every initial start has reported or timed out.
struct ready {};
/// A reconfigure that waited for its stops is done; these are its actions.
struct reconfigured { std::vector<reconfigure_action> actions; };
} // namespace fx

using effect
  = std::variant<fx::start, fx::stop, fx::check, fx::hand, fx::fail, fx::arm,
                 fx::watch, fx::unwatch, fx::forget, fx::count,
                 fx::count_reason, fx::observe, fx::warn, fx::ready,
                 fx::reconfigured>;
using effects = std::vector<effect>;

/// One member, in exactly one phase.
struct member_rec {
  member_phase phase = member_phase::free;
  stop_cause cause = stop_cause::failed; ///< while stopping
  consumer_id consumer = 0;              ///< while in_use
  book_time accepted_at{};
  book_time last_free{};     ///< when it last became free (its idle clock)
  uint64_t free_seq = 0;     ///< its place among members freed at the same time
  book_time taken_at{};
  book_time last_activity{};
  book_time expires_at = book_time::max();
  std::string session; ///< affinity key it is bound to
  uint64_t checkouts = 0;
  uint64_t requests_handled = 0;
  uint64_t errors = 0;
  uint64_t sessions_served = 0;
};

/// A start in flight. An abandoned one (timed out) counts as stopping until
/// its starter reports.
struct start_rec {
  book_time since;
  bool initial = false;     ///< one of the pool's first init_count starts
  bool replacement = false; ///< replaces a member: retried after a failure
  bool abandoned = false;
};

/// What a take got: a member at once, a place in the queue, or an error.
struct take_result {
  std::optional<member_id> member;
  std::optional<waiter_id> waiter;
  std::optional<book_error> error;
};

/// What a reconfigure did: an error (nothing applied), or its actions, which
/// are answered later (`fx::reconfigured`) when it waits for members to stop.
struct reconfigure_result {
  std::optional<book_error> error;
  std::vector<reconfigure_action> actions;
  bool deferred = false;
};

class pool_book {
public:
  /// `seed` feeds the lifetime and backoff jitter.
  pool_book(pool_config cfg, uint64_t seed);

  // -- operations: each returns its effects, valid until the next operation --

  /// Starts the initial members and arms the periodic timers.
  const effects& open(book_time now);

  /// A take by `who`. timeout: 0 = never wait, nullopt = wait without limit.
  take_result take(consumer_id who, std::optional<book_duration> timeout,
                   const std::string& affinity, book_time now);
  /// A take that completes only with a free member and an empty queue (a
  /// take never overtakes a waiter); otherwise it changes nothing that a
  /// `take` would not (expired free members found on the way are stopped)
  /// and counts nothing, so the caller can fall back to `take`.
  std::optional<member_id> take_free(consumer_id who,
                                     const std::string& affinity,
                                     book_time now);
  /// Checks out every free member to `who`.
  std::vector<member_id> take_all_free(consumer_id who, book_time now);
  /// A return; an unknown, free or stopping member only logs a warning.
  const effects& give_back(member_id m, bool failed, uint64_t requests,
                           book_time now);
  /// A consumer died: `crashed` for any reason but normal.
  const effects& consumer_down(consumer_id who, bool crashed, book_time now);
  /// A member died. Returns false if the book does not know it.
  bool member_down(member_id m, book_time now);
  /// A start reported a member. False: not a start of this book (the caller
  /// must stop the member, the book never saw it).
  bool member_started(start_id id, member_id m, book_time now);
  /// A start failed with `cause`.
  const effects& start_failed(start_id id, const std::string& cause,
                              book_time now);
  /// A health check ended; `ok` false stops and replaces the member.
  const effects& health_result(member_id m, bool ok, book_time now);
  /// A timer fired.
  const effects& tick(book_timer kind, uint64_t gen, book_time now);
  /// Culls now (pooler's `cull_pool`).
  const effects& cull(book_time now);
  /// Whether `next` may replace the running config at all: not while an
  /// earlier reconfigure still stops members, and never a new name or
  /// member factory. Error: `unsupported_change`.
  std::optional<book_error> check_change(const pool_config& next) const;
  /// Applies a full new config, already validated, in pooler's order.
  /// Error: as check_change, or `not_enough_free_members`; nothing applied.
  reconfigure_result reconfigure(pool_config next, book_time now);
  /// The effects of the last operation (for the ones that return a value).
  const effects& last_effects() const noexcept { return fx_; }

  // -- queries ---------------------------------------------------------------

  utilization usage() const;
  /// The count gauges: free, in_use, starting, stopping, queued.
  std::array<size_t, 5> gauges() const noexcept {
    return {free_.size(), in_use_, starting_, stopping_, queue_.size()};
  }
  const pool_config& config() const noexcept { return cfg_; }
  bool initial_done() const noexcept { return initial_pending_ == 0; }
  bool knows_consumer(consumer_id c) const { return consumers_.count(c) > 0; }
  const std::unordered_map<member_id, member_rec>& members() const noexcept {
    return members_;
  }
  const std::unordered_map<start_id, start_rec>& starts() const noexcept {
    return starts_;
  }
  size_t live_count() const noexcept {
    return free_.size() + in_use_ + checking_ + starting_ + stopping_;
  }
  uint64_t start_failures() const noexcept { return start_failures_; }
  const std::string& last_start_failure() const noexcept {
    return last_start_failure_;
  }

  /// Recounts every state and checks the capacity rule; "" when all holds,
  /// else the first violation.
  std::string audit() const;

private:
  struct waiter {
    waiter_id id;
    consumer_id who;
    book_time since;
    book_time deadline; ///< book_time::max() waits without limit
    std::string affinity;
  };

  struct consumer_rec {
    std::vector<member_id> members;
    size_t waiting = 0;
    /// Held a member once: stays recorded (and monitored) until it dies,
    /// so its next takes need no new monitor.
    bool held = false;
  };

  struct timer_slot {
    uint64_t gen = 0;
    book_time at = book_time::max(); ///< max: not armed
  };

  /// Free members ordered by the time they became free (oldest first).
  using free_key = std::pair<book_time, uint64_t>;
  using free_set = std::map<free_key, member_id>;

  // pool_book.cpp
  /// Starts an operation at `now`: clears the effects.
  const effects& begin(book_time now);
  const effects& end();
  void check() const;
  book_error no_members(const char* reason);
  void emit(effect e) { fx_.push_back(std::move(e)); }

  // pool_book_free.cpp: the free set and sessions
  void push_free(member_id id, member_rec& m, book_time since);
  void insert_free(free_key key, member_id id);
  member_id extract_free(free_set::iterator pos);
  void leave_free(member_rec& m);
  /// A member taken out of the free set, and its record.
  struct picked {
    member_id id;
    member_rec* rec;
  };
  std::optional<picked> pop_free(const std::string& affinity,
                                    book_time now);
  bool expired(const member_rec& m, book_time now) const {
    return m.expires_at <= now;
  }
  void bind_session(member_id id, member_rec& m, const std::string& key);
  void unbind_session(member_id id, member_rec& m);

  // pool_book_take.cpp: consumers, waiters, returns
  consumer_rec& consumer(consumer_id who);
  void forget_if_idle(consumer_id who);
  void check_out(member_id id, member_rec& m, consumer_id who,
                 const std::string& affinity, book_time now);
  void hand_out(member_id id, member_rec& m, consumer_id who,
                const std::string& affinity,
                book_time now);
  void release(member_id id, member_rec& m, book_time now);
  void offer(member_id id, member_rec& m, book_time now);
  void answer(const waiter& w, book_error err);
  void expire_waiters(book_time now);
  void shrink_queue(size_t keep);

  // pool_book_members.cpp: stops and deaths
  void stop(member_id id, member_rec& m, stop_cause cause);
  void begin_stop(member_id id, member_rec& m, stop_cause cause);
  void stop_oldest_free(size_t n, stop_cause cause, const char* reason);
  void stop_done(stop_cause cause);

  // pool_book_starts.cpp: starts, growth, backoff
  void start_members(size_t n, bool initial = false, bool replacement = false);
  const char* grow_for_take(book_time now);
  void maybe_auto_grow(book_time now);
  void replace_one(book_time now);
  void note_initial_done();
  book_duration backoff_delay();
  void start_timeouts(book_time now);
  size_t can_add() const;

  // pool_book_timers.cpp: TTL, cull, health
  book_time expiry_for(book_time accepted);
  void arm(timer_slot& t, book_timer kind, book_time at);
  void arm_periodic(timer_slot& t, book_timer kind, book_time now,
                    book_duration every);
  void arm_ttl();
  void ttl_scan(book_time now);
  void arm_cull(book_time now);
  bool culling() const;
  void cull_now(book_time now);
  void arm_health(book_time now);
  void health_round(book_time now);


  pool_config cfg_;
  std::mt19937_64 rng_;
  effects fx_;
  book_time now_{}; ///< the current operation's time

  std::unordered_map<member_id, member_rec> members_;
  free_set free_;
  /// Nodes of the free set kept for reuse, at most max_spare_nodes.
  static constexpr size_t max_spare_nodes = 64;
  std::vector<free_set::node_type> spare_nodes_;
  uint64_t free_seq_ = 0;
  std::unordered_map<std::string, member_id> sessions_;
  std::unordered_map<consumer_id, consumer_rec> consumers_;
  std::deque<waiter> queue_;
  waiter_id next_waiter_ = 0;
  std::unordered_map<start_id, start_rec> starts_;
  start_id next_start_ = 0;

  size_t in_use_ = 0;
  size_t checking_ = 0;
  size_t starting_ = 0;
  size_t stopping_ = 0;

  size_t initial_pending_ = 0;
  size_t failures_in_a_row_ = 0;
  uint64_t start_failures_ = 0;
  std::string last_start_failure_;
  book_time backoff_until_{};
  size_t owed_starts_ = 0; ///< replacements postponed by the backoff

  /// A reconfigure that lowers max_count: the new limit applies once the
  /// members it stops are gone, so live members never exceed max_count.
  std::optional<size_t> shrink_to_;
  size_t shrink_stops_ = 0;
  std::vector<reconfigure_action> shrink_actions_;

  timer_slot queue_timer_, ttl_timer_, start_timer_, grow_timer_, cull_timer_,
    health_timer_;
};

} // namespace pooler
