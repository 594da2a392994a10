#pragma once

// The supervisor actor, private to the library. The public face is
// include/pooler/supervisor.hpp; start_supervisor (src/supervisor_api.cpp)
// starts the children and hands them to `spawn_supervisor`.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "pooler/supervisor.hpp"

namespace pooler {

// Messages a supervisor sends itself.
using retry_atom = caf::atom_constant<caf::atom("sup_retry")>;
using stop_tick_atom = caf::atom_constant<caf::atom("sup_tick")>;
using teardown_atom = caf::atom_constant<caf::atom("sup_tear")>;
/// (dyn_kill, actor_addr): a simple_one_for_one child's shutdown time is up.
using dyn_kill_atom = caf::atom_constant<caf::atom("sup_dkill")>;

// Messages from pooler's own actors.
/// (template_shutdown, bool brutal_kill, timespan): a simple_one_for_one
/// supervisor's children, running and future, stop with this shutdown spec
/// from now on (a pool's reconfigured member_shutdown). Ignored by other
/// strategies.
using template_shutdown_atom = caf::atom_constant<caf::atom("sup_tshut")>;

/// The default handler of a supervisor: an unknown request gets
/// `sec::unexpected_message`, other unknown messages are dropped.
caf::result<caf::message> reject_unknown(caf::scheduled_actor* self,
                                         caf::message_view&);

/// What a new supervisor actor starts with.
struct supervisor_init {
  sup_flags flags;
  /// All specs in start order; for simple_one_for_one the template alone.
  std::vector<child_spec> specs;
  /// Running children of specs[0 .. started.size()), already started.
  std::vector<caf::actor> started;
  /// Set when a start failed: stop `started` (reverse order) and quit.
  bool teardown = false;
};

/// Spawns the supervisor actor; it monitors the children it is handed.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_init init);

/// Runs a start function; a null handle or an exception is a failed start.
caf::expected<caf::actor> run_start(const child_spec& spec,
                                    caf::actor_system& sys,
                                    const caf::message& extra);

class supervisor_state {
public:
  using clock = std::chrono::steady_clock;
  using self_ptr = caf::stateful_actor<supervisor_state>*;

  explicit supervisor_state(self_ptr self);
  supervisor_state(const supervisor_state&) = delete;
  supervisor_state& operator=(const supervisor_state&) = delete;

  /// Kills every child still alive: a supervisor never leaves orphans, even
  /// when it is killed itself (CAF destroys the state on every exit path).
  ~supervisor_state();

  void init(supervisor_init init);

  // -- requests ---------------------------------------------------------------
  caf::result<caf::actor> start_child(child_spec spec);
  caf::result<caf::actor> start_dynamic_child(caf::message args);
  caf::result<void> terminate_child(const std::string& id);
  caf::result<void> terminate_dynamic_child(const caf::actor& child);
  caf::result<caf::actor> restart_child(const std::string& id);
  caf::result<void> delete_child(const std::string& id);
  std::vector<child_info> which_children() const;
  child_counts count_children() const;

  // -- events -----------------------------------------------------------------
  void on_down(caf::down_msg& dm);
  void on_exit_msg(caf::exit_msg& em);
  void on_retry(uint64_t key, uint64_t incarnation);
  void on_stop_tick(uint64_t gen);
  void on_teardown();
  /// A runner's result for a simple_one_for_one start; an error reply makes
  /// the runner kill the child it started.
  caf::result<void> on_started(uint64_t key, caf::message& result);
  void on_dynamic_kill(const caf::actor_addr& child);
  void set_template_shutdown(shutdown_spec how);

private:
  /// One child (static supervisors) or one dynamic child (simple_one_for_one).
  struct child_rec {
    uint64_t key = 0;
    /// Null for dynamic children, which use the template: a simple_one_for_one
    /// supervisor of 10,000 members keeps no 10,000 copies of a spec.
    std::unique_ptr<child_spec> spec;
    caf::message extra; ///< start_child arguments of a dynamic child
    caf::actor handle;  ///< null unless running
    /// Bumped on every start and every scheduled restart, so that exit events
    /// and retry ticks of an earlier life are recognised as stale.
    uint64_t incarnation = 0;
    bool waiting = false; ///< a restart attempt is scheduled
    clock::time_point started_at;
    unsigned consecutive = 0; ///< backoff: restarts without a healthy run
  };

  /// A child died; handled when no stop sequence is in progress.
  struct exit_event {
    uint64_t key;
    uint64_t incarnation;
    caf::error reason;
  };

  struct stop_item {
    caf::actor handle;
    shutdown_spec how;
  };

  /// Stopping children one after the other (or all at once), then `then`.
  /// While a job runs the supervisor is busy: requests wait in the mailbox.
  struct stop_job {
    std::vector<stop_item> items; ///< in stop order
    bool parallel = false;
    size_t next = 0; ///< sequential: items[next - 1] is being stopped
    std::unordered_set<caf::actor_addr> alive; ///< items not down yet
    uint64_t tick_gen = 0;
    std::function<void()> then;
  };

  /// A simple_one_for_one start whose factory runs on a runner.
  struct pending_start {
    caf::response_promise promise;
    caf::message args;
  };

  /// A simple_one_for_one child being terminated: stopped concurrently with
  /// everything else, answered when its down message arrives.
  struct dynamic_stop {
    caf::actor handle;
    shutdown_spec how;
    std::vector<caf::response_promise> promises;
  };

  bool dynamic() const {
    return flags_.strategy == strategy::simple_one_for_one;
  }
  const child_spec& spec_of(const child_rec& c) const {
    return dynamic() ? template_ : *c.spec;
  }
  bool busy() const {
    return job_.has_value();
  }

  child_rec* find(uint64_t key);
  child_rec* find_id(const std::string& id);
  /// The child `id` if it exists and is not running (restart/delete_child's
  /// precondition); otherwise OTP's error: simple_one_for_one, not_found or
  /// running.
  caf::expected<child_rec*> find_stopped(const std::string& id);
  void remove(uint64_t key);
  child_rec& add_rec(child_spec spec, caf::message extra);
  caf::error start_rec(child_rec& c);
  void adopt(child_rec& c, caf::actor handle);
  stop_item detach(child_rec& c);
  std::vector<stop_item> detach_running_reverse(size_t from);
  void cancel_wait(child_rec& c);
  size_t index_of(uint64_t key) const;

  // restarts
  void resume();
  void handle_exit(const exit_event& ev);
  void schedule_attempt(child_rec& c, bool after_failure);
  void attempt(uint64_t key);
  void do_restart(uint64_t key);
  void restart_from(uint64_t key, bool whole_group);
  bool add_restart();
  caf::timespan next_delay(child_rec& c);
  void drop_dead_temporaries();

  // stopping
  void stop(std::vector<stop_item> items, bool parallel,
            std::function<void()> then);
  void advance();
  void send_stop(const stop_item& item);
  void finish_job();
  void enter_busy();
  void leave_busy();
  void begin_terminate(caf::error reason);

  // simple_one_for_one: starts and stops that never make the supervisor busy
  caf::actor add_dynamic(caf::actor child, caf::message args);
  void launch_start(uint64_t key);
  void stop_dynamic(uint64_t key, caf::response_promise rp);
  void dynamic_down(const caf::actor_addr& child);
  void fail_pending_starts();

  self_ptr self_;
  sup_flags flags_;
  child_spec template_; ///< simple_one_for_one only
  std::vector<child_rec> children_;                 ///< static: start order
  std::unordered_map<uint64_t, child_rec> dynamic_; ///< simple_one_for_one
  std::unordered_map<caf::actor_addr, uint64_t> by_addr_; ///< running
  std::unordered_map<uint64_t, pending_start> starting_; ///< by start key
  std::unordered_map<caf::actor_addr, dynamic_stop> stopping_;
  static constexpr size_t max_running_starts = 64;
  size_t running_starts_ = 0;     ///< runners whose result has not come
  std::deque<uint64_t> queued_starts_; ///< starts waiting for a runner
  uint64_t next_key_ = 1;
  std::deque<exit_event> pending_;
  std::deque<clock::time_point> restarts_; ///< intensity window
  std::optional<stop_job> job_;
  uint64_t tick_gen_ = 0;
  std::optional<caf::error> pending_exit_;
  bool terminating_ = false;
  std::minstd_rand rng_;
};

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         supervisor_init init);

} // namespace pooler
