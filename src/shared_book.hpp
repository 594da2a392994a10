#pragma once

// The pool book shared by the pool actor and the threads of its process.
//
// Why: a take that is a message to the pool actor costs a wake-up of that
// actor and one of the consumer, and every take of the pool queues behind
// one actor. Here a take that finds a free member (with nobody queued before
// it) and every return complete in the caller's own thread, under one lock
// that the pool actor also holds for each of its messages. What only the
// pool actor can do (start, stop or check a member, arm a timer) is queued
// in `deferred` and the actor nudged once. A hand-off to a queued requestor
// goes from the returning thread straight to the requestor's mailbox.
//
// A mutex, not a lock-free structure: the book's rules (FIFO waiters,
// affinity, expiry, growth, metrics) run inside it unchanged, the critical
// section is a few hundred nanoseconds, and a lock-free bag would need its
// own copy of those rules (docs/design.md has the measurements).

#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>

#include "src/pool_book.hpp"
#include "src/pool_metrics.hpp"

namespace pooler {

/// What the pool actor carries out itself: starters, stoppers, health
/// checks, timers, answers to `ready` and `reconfigure`.
class actor_effects {
public:
  virtual ~actor_effects() = default;
  virtual void apply_own(const effect& e) = 0;
};

class shared_book {
public:
  shared_book(std::string name, pool_config cfg, uint64_t seed);

  /// Guards everything below: held by the pool actor for each message, and
  /// by a caller for one take or return.
  std::mutex mtx;
  std::string name;
  pool_book book;
  pool_metrics metrics;
  std::unordered_map<member_id, caf::actor> handles;
  /// Queued takes: a promise per waiter, answered from whichever thread
  /// frees a member.
  std::unordered_map<waiter_id, caf::response_promise> waiters;
  /// Keyed by control block: a lookup needs no reference count, and the
  /// address kept in consumer_addrs keeps the block (and so the key) alive.
  std::unordered_map<const caf::actor_control_block*, consumer_id>
    consumer_ids;
  std::unordered_map<consumer_id, caf::actor_addr> consumer_addrs;
  consumer_id next_consumer = 0;
  /// The pool actor while it runs; null once it stopped, after which every
  /// call here declines and callers fall back to messages.
  caf::strong_actor_ptr pool;
  /// Effects callers left for the pool actor, in order.
  effects deferred;

  // -- a caller's thread (each takes the lock) -------------------------------

  /// A take by `who` (alive: the caller itself) that completes here. Null:
  /// nothing free, a requestor queued, or the pool stopped; send the take
  /// message instead.
  caf::actor take_here(caf::actor_control_block* who,
                       const std::string& affinity, caf::execution_unit* ctx);

  /// A take that never waits: a member, or `no_members`. A pool that
  /// stopped answers `pool_not_found`.
  caf::expected<caf::actor> try_take_here(caf::actor_control_block* who,
                                          const std::string& affinity,
                                          caf::execution_unit* ctx);

  /// A return completed here (a queued requestor gets the member directly).
  /// False once the pool stopped: send the return message instead.
  bool give_back_here(const caf::actor& member, bool failed,
                      uint64_t requests, caf::execution_unit* ctx);

  // -- both paths, with the lock held ----------------------------------------

  /// The consumer id of `who`, numbered on first sight.
  consumer_id consumer_of(caf::actor_control_block* who);
  /// Drops the numbering of a consumer the book does not record.
  void forget_consumer_if_unknown(consumer_id c);
  /// Carries out `fx`: what any thread can do here, the rest by `own` (the
  /// pool actor) or, without it, queued for the pool actor.
  void apply(const effects& fx, caf::execution_unit* ctx, actor_effects* own);
  caf::error to_error(const book_error& e) const;
  /// The pool actor stopped: every waiter gets `pool_not_found`, and calls
  /// here decline from now on.
  void close();

private:
  bool apply_here(const effect& e, caf::execution_unit* ctx);
  void answer(waiter_id w, caf::message msg, caf::execution_unit* ctx);
  void watch(consumer_id c, caf::execution_unit* ctx);
  void unwatch(consumer_id c);
  /// Removes the pool actor's monitor from `consumer`, records untouched.
  void unwatch_only(const caf::actor_addr& consumer);
  void defer(const effect& e, caf::execution_unit* ctx);
  void publish_gauges();
};

} // namespace pooler
