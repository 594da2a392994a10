#pragma once

// Erlang/OTP-style supervisors on CAF 0.17.
//
// A supervisor is an actor that starts children from child specs, monitors
// them and restarts them by its strategy. Children are supervised with
// monitors, never links: in CAF 0.17 a linked, exit-trapping actor still dies
// when a child is killed. A supervisor that ends for any reason (even a kill)
// takes its remaining children down with it, so a tree never leaves orphans.
//
// A supervisor traps exits: an exit message with a reason other than normal
// (e.g. `user_shutdown` from its parent) makes it stop its children (reverse
// start order; simple_one_for_one: all at once) and exit with that reason. A
// normal exit message is ignored, as by any CAF actor. While it stops children
// (a shutdown, an all_for_one/rest_for_one restart, a terminate_child by id)
// it answers no request: requests wait in its mailbox, as with OTP's blocking
// supervisor. simple_one_for_one never waits on one child: its start function
// runs on a thread of its own (unless `inline_start`), and terminate_child
// answers when that child is down while other requests are served.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "pooler/errors.hpp"

namespace pooler {

/// How a supervisor reacts to the death of a child, as in OTP.
enum class strategy { one_for_one, all_for_one, rest_for_one, simple_one_for_one };

/// When a dead child is restarted: always, unless it exited normally (or with
/// `user_shutdown`, OTP's `shutdown`), or never (its spec is then dropped).
enum class restart_type { permanent, transient, temporary };

/// Workers default to a 5 s shutdown timeout, supervisors to infinity.
enum class child_type { worker, supervisor };

std::string to_string(strategy x);
std::string to_string(restart_type x);
std::string to_string(child_type x);

/// Restart spacing (**beyond** OTP): the n-th consecutive restart of the same
/// child waits min(initial * multiplier^(n-1), max) ± jitter fraction
/// (uniform). A child that stayed up for a whole `period` of its supervisor
/// counts as healthy: its next restart is the first again. Restarts count
/// against the intensity when they are attempted, i.e. after the delay.
struct backoff_spec {
  caf::timespan initial = std::chrono::milliseconds(100);
  caf::timespan max = std::chrono::seconds(30);
  double multiplier = 2.0;
  double jitter = 0.2; ///< fraction of the delay, in [0, 1)
};

/// Supervisor flags. More than `intensity` restarts within `period` make the
/// supervisor shut its children down and exit with `user_shutdown`. A failed
/// restart is retried (at once, or per `backoff`) and counts as a restart.
struct sup_flags {
  pooler::strategy strategy = strategy::one_for_one;
  int intensity = 1;
  caf::timespan period = std::chrono::seconds(5);
  std::optional<backoff_spec> backoff;
};

/// How a child is stopped: killed at once, asked (exit `user_shutdown`) and
/// killed after a timeout, or asked and waited for without limit.
struct shutdown_spec {
  enum kind_t { brutal_kill, timeout, infinity };
  kind_t kind = timeout;
  caf::timespan after = std::chrono::seconds(5);

  static shutdown_spec kill() { return {brutal_kill, caf::timespan{0}}; }
  static shutdown_spec wait(caf::timespan t) { return {timeout, t}; }
  static shutdown_spec forever() { return {infinity, caf::timespan{0}}; }
};

/// Starts one child: spawns it and returns its handle, or an error if the
/// start failed. For simple_one_for_one, `extra` holds the `start_child`
/// arguments (Erlang appends them to the MFA); otherwise it is empty.
/// Accepts callables taking `(caf::actor_system&)` or
/// `(caf::actor_system&, const caf::message& extra)`.
class start_fn {
public:
  using signature = caf::expected<caf::actor>(caf::actor_system&,
                                              const caf::message&);

  start_fn() = default;

  template <class F,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, start_fn>>>
  start_fn(F f) {
    if constexpr (std::is_invocable_v<F&, caf::actor_system&,
                                      const caf::message&>)
      fn_ = std::move(f);
    else
      fn_ = [g = std::move(f)](caf::actor_system& sys, const caf::message&)
        -> caf::expected<caf::actor> { return g(sys); };
  }

  caf::expected<caf::actor> operator()(caf::actor_system& sys,
                                       const caf::message& extra) const {
    return fn_(sys, extra);
  }

  explicit operator bool() const noexcept { return static_cast<bool>(fn_); }

private:
  std::function<signature> fn_;
};

/// One child of a supervisor: how to start, restart and stop it.
struct child_spec {
  std::string id;
  start_fn start;
  restart_type restart = restart_type::permanent;
  /// Unset: 5 s for workers, infinity for supervisors.
  std::optional<shutdown_spec> shutdown;
  child_type type = child_type::worker;
  /// simple_one_for_one: by default the start function runs on a thread of
  /// its own, so a slow start never holds up the supervisor. Set this for a
  /// start that only spawns an actor: it then runs in the supervisor itself.
  bool inline_start = false;

  /// The shutdown that applies, with the default filled in.
  shutdown_spec effective_shutdown() const;
};

/// One entry of `which_children`. `child` is null for a spec whose child is
/// not running (terminated, or waiting for a restart).
struct child_info {
  std::string id;
  caf::actor child;
  child_type type = child_type::worker;
};

/// Result of `count_children`, as OTP.
struct child_counts {
  size_t specs = 0;
  size_t active = 0;
  size_t supervisors = 0;
  size_t workers = 0;
};

// -- message protocol (requests to a supervisor actor) ------------------------
// Each operation below is one request; event-based callers may send these
// directly, e.g. `self->request(sup, t, which_children_atom::value)`.
//
//   request                                    reply
//   (start_child_atom, child_spec)             caf::actor
//   (start_child_atom, caf::message args)      caf::actor  (simple_one_for_one)
//   (terminate_child_atom, std::string id)     empty message
//   (terminate_child_atom, caf::actor child)   empty message (simple_one_for_one)
//   (restart_child_atom, std::string id)       caf::actor
//   (delete_child_atom, std::string id)        empty message
//   (which_children_atom)                      std::vector<child_info>
//   (count_children_atom)                      child_counts
//
// Errors come as error replies (see the blocking helpers below for which).
// An empty message is what a `caf::result<void>` handler sends; take it with
// a handler without arguments: `.then([=] { ... }, [=](caf::error&) { ... })`.
// Any other request is answered with `sec::unexpected_message`.

using start_child_atom = caf::atom_constant<caf::atom("sup_start")>;
using terminate_child_atom = caf::atom_constant<caf::atom("sup_term")>;
using restart_child_atom = caf::atom_constant<caf::atom("sup_restrt")>;
using delete_child_atom = caf::atom_constant<caf::atom("sup_delete")>;
using which_children_atom = caf::atom_constant<caf::atom("sup_which")>;
using count_children_atom = caf::atom_constant<caf::atom("sup_count")>;

// -- starting a supervisor ----------------------------------------------------

/// Starts a supervisor: its children start in list order, synchronously in the
/// calling thread (a nested supervisor's start starts its own children). If one
/// fails, those already started are shut down in reverse order and the error
/// is returned: the start's own error, or `start_failed` (subject: the child
/// id) if it returned no actor or threw. `invalid_config` for bad flags or
/// specs: negative intensity, period <= 0, bad backoff, duplicate ids, a spec
/// without start function, simple_one_for_one without exactly one spec.
/// Never blocks on other actors, so it may be called from an actor's handler.
caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           sup_flags flags,
                                           std::vector<child_spec> specs);

/// A child spec whose child is a supervisor with these flags and children.
/// Defaults: permanent, shutdown infinity.
child_spec supervisor_spec(std::string id, sup_flags flags,
                           std::vector<child_spec> children);

// -- blocking helpers (threads, tests) -----------------------------------------
// Each sends one request to `sup` and waits for the answer (default timeout
// 10 s; `sec::request_timeout` if it passes).

/// Adds and starts a child (not for simple_one_for_one). Errors:
/// `already_present` (id known, not running), `already_started` (id running
/// or waiting for a restart; the context carries the id), the start's own
/// error (the spec is then not kept), `simple_one_for_one`.
caf::expected<caf::actor> start_child(caf::scoped_actor& self,
                                      const caf::actor& sup, child_spec spec);

/// simple_one_for_one only: starts a child from the template spec with
/// `args` as extra arguments. Error `simple_one_for_one` on other strategies,
/// `start_failed` if the supervisor shuts down before the start returned.
caf::expected<caf::actor> start_child(caf::scoped_actor& self,
                                      const caf::actor& sup, caf::message args);

/// Stops the child by its spec's shutdown; the spec stays (unless temporary).
/// Error `not_found`; `simple_one_for_one` on such a supervisor (use the
/// actor overload).
caf::expected<void> terminate_child(caf::scoped_actor& self,
                                    const caf::actor& sup,
                                    const std::string& id);

/// simple_one_for_one only: stops that child and forgets it. Error
/// `not_found` (not a running child, or not a simple_one_for_one supervisor).
caf::expected<void> terminate_child(caf::scoped_actor& self,
                                    const caf::actor& sup,
                                    const caf::actor& child);

/// Restarts a terminated child from its spec. Errors: `running` (also while
/// it waits for a restart), `not_found`, `simple_one_for_one`, or the start's
/// own error.
caf::expected<caf::actor> restart_child(caf::scoped_actor& self,
                                        const caf::actor& sup,
                                        const std::string& id);

/// Deletes the spec of a terminated child. Errors: `running`, `not_found`,
/// `simple_one_for_one`.
caf::expected<void> delete_child(caf::scoped_actor& self, const caf::actor& sup,
                                 const std::string& id);

/// The children in start order (for simple_one_for_one, the live children).
caf::expected<std::vector<child_info>>
which_children(caf::scoped_actor& self, const caf::actor& sup);

/// Counts as OTP's count_children.
caf::expected<child_counts> count_children(caf::scoped_actor& self,
                                           const caf::actor& sup);

} // namespace pooler

// Local messages only: a child_spec carries a std::function.
#include <caf/allowed_unsafe_message_type.hpp>
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::child_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::child_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<pooler::child_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::child_counts)
