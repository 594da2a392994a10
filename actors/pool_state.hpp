#pragma once

// The pool actor: a thin driver around the pool book (src/pool_book.hpp),
// which it shares with takes and returns in the callers' threads
// (src/shared_book.hpp). It receives, calls the book under the shared lock
// with the time of the message, and carries out the effects the book
// returns: it starts members through starters, stops them through stoppers,
// checks them through health checkers and arms timers. The book decides.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "pooler/pool_config.hpp"
#include "pooler/pool_types.hpp"
#include "src/pool_book.hpp"
#include "src/pool_metrics.hpp"
#include "src/shared_book.hpp"
#include "src/registry.hpp"

namespace pooler {

struct pool_state : actor_effects {
  using self_ptr = caf::stateful_actor<pool_state>*;

  self_ptr self = nullptr;
  std::shared_ptr<registry> reg;
  caf::actor member_sup;
  std::string name;
  /// The book and the CAF side of its ids, shared with callers' threads:
  /// every handler holds its lock.
  std::shared_ptr<shared_book> sh;
  pool_book& book() { return sh->book; }
  const pool_book& book() const { return sh->book; }
  /// The time of the message being handled; effects' timers are relative
  /// to it.
  book_time now{};

  std::vector<caf::response_promise> ready_waiters;
  std::optional<caf::response_promise> reconfigure_waiter;

  // -- life cycle ------------------------------------------------------------------
  /// Answers whoever still waits: takes are requested without a CAF timeout,
  /// so a pool that dies (even by a kill) must not leave them hanging.
  ~pool_state() override;
  void init(self_ptr self, std::shared_ptr<registry> reg,
            const std::string& name, caf::actor member_sup);
  /// Closes the shared book (its waiters get pool_not_found, callers fall
  /// back to messages) and answers the actor's own waiters.
  void answer_all_waiters();

  // -- handlers --------------------------------------------------------------------
  caf::result<caf::actor> take(int64_t timeout_ns, const std::string& affinity);
  std::vector<caf::actor> take_all_free();
  void give_back(const caf::actor& member, bool failed, uint64_t requests);
  void on_down(const caf::down_msg& dm);
  void on_started(uint64_t id, const caf::actor& member);
  void on_health_result(const caf::actor& member, const caf::error& err);
  caf::result<std::vector<reconfigure_action>> reconfigure(pool_config next);
  utilization usage() const;
  std::vector<member_info> stats() const;
  caf::result<void> ready();
  /// start_failed when fewer than min_ready members run once the initial
  /// starts have reported; none otherwise.
  caf::error not_ready() const;

  /// Carries out what callers' takes and returns left for the actor.
  void drain();

  // -- carrying out the book's effects -----------------------------------------
  /// Stamps the message's time: one clock read per message.
  book_time tick_clock();
  void apply(const effects& fx);
  void apply_own(const effect& e) override;
  void start_member(start_id id);
  void stop_member(member_id id);
  void check_member(member_id id, book_duration timeout);
  void arm(book_timer kind, book_time at, uint64_t gen);
  caf::error to_error(const book_error& e) const;
};

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self,
                         std::shared_ptr<registry> reg, std::string name,
                         caf::actor member_sup);

} // namespace pooler
