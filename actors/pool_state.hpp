#pragma once

// The pool actor: a thin driver around the pool book (src/pool_book.hpp). It
// receives, calls the book with the time of the message, and carries out the
// effects the book returns: it starts members through starters, stops them
// through stoppers, answers waiters and arms timers. The book decides; the
// actor only maps the book's ids to CAF handles.

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
#include "src/registry.hpp"

namespace pooler {

struct pool_state {
  using self_ptr = caf::stateful_actor<pool_state>*;

  self_ptr self = nullptr;
  std::shared_ptr<registry> reg;
  caf::actor member_sup;
  std::string name;
  std::optional<pool_book> book;
  pool_metrics metrics;
  /// The time of the message being handled; effects' timers are relative
  /// to it.
  book_time now{};

  // -- the CAF side of the book's ids ------------------------------------------
  std::unordered_map<member_id, caf::actor> handles;
  std::unordered_map<waiter_id, caf::response_promise> waiters;
  std::unordered_map<caf::actor_addr, consumer_id> consumer_ids;
  std::unordered_map<consumer_id, caf::actor_addr> consumer_addrs;
  consumer_id next_consumer = 0;
  std::vector<caf::response_promise> ready_waiters;
  std::optional<caf::response_promise> reconfigure_waiter;

  // -- life cycle ------------------------------------------------------------------
  /// Answers whoever still waits: takes are requested without a CAF timeout,
  /// so a pool that dies (even by a kill) must not leave them hanging.
  ~pool_state();
  void init(self_ptr self, std::shared_ptr<registry> reg,
            const std::string& name, caf::actor member_sup);
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

  // -- carrying out the book's effects -----------------------------------------
  /// Stamps the message's time: one clock read per message.
  book_time tick_clock();
  void apply(const effects& fx);
  void apply_one(const effect& e);
  void start_member(start_id id);
  void stop_member(member_id id);
  void check_member(member_id id, book_duration timeout);
  void arm(book_timer kind, book_time at, uint64_t gen);
  void publish_gauges();
  caf::error to_error(const book_error& e) const;
  /// The consumer id of `who`, numbered on first sight.
  consumer_id consumer_of(const caf::actor_addr& who);
  /// Drops the numbering of a consumer the book does not record.
  void forget_consumer_if_unknown(consumer_id c);
};

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self,
                         std::shared_ptr<registry> reg, std::string name,
                         caf::actor member_sup);

} // namespace pooler
