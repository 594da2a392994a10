#pragma once

// pooler's application handle: starts pooler's supervision tree, manages
// pools and hands out members.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/response_handle.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/timespan.hpp>

#include "pooler/errors.hpp"
#include "pooler/pool_config.hpp"
#include "pooler/pool_types.hpp"
#include "pooler/supervisor.hpp"

namespace pooler {

namespace detail {
struct app_state;

/// Any event-based actor, typed or not.
template <class Self>
using if_scheduled_actor
  = std::enable_if_t<std::is_base_of_v<caf::scheduled_actor, Self>>;

/// A typed event-based actor (untyped ones have their own overloads).
template <class Self>
using if_typed_actor
  = std::enable_if_t<std::is_base_of_v<caf::scheduled_actor, Self>
                     && !std::is_base_of_v<caf::event_based_actor, Self>>;

/// Runs `on_member(m)` in `self`'s context after the current handler
/// returns, as the response to a take would: a take that completed in the
/// caller's thread must not call back before take_member returns (a take
/// inside its own callback would recurse). Costs one message to `self`'s
/// own mailbox, no other actor and no other thread.
template <class Self, class OnMember>
void deliver_later(Self* self, caf::actor m, OnMember on_member) {
  auto mid = self->new_request_id(caf::message_priority::normal);
  self->add_multiplexed_response_handler(
    mid.response_id(),
    caf::behavior{[on_member](caf::actor& x) mutable {
                    on_member(std::move(x));
                  },
                  [](caf::error&) {}});
  self->enqueue(caf::make_mailbox_element(nullptr, mid.response_id(), {},
                                          caf::make_message(std::move(m))),
                self->context());
}
} // namespace detail

class lease;
class shared_lease;

/// Waits without limit: an "infinite" take is allowed.
constexpr caf::timespan infinite_wait = caf::timespan::max();

/// A cheap, copyable handle to a running pooler tree; actors may capture it.
/// The tree stops on `stop()` or when the last handle goes away. On an empty
/// or stopped handle every call answers `app_stopped` (besides the errors
/// listed with it); a pool actor that vanished under a call is
/// `pool_not_found`, never CAF's `request_receiver_down`.
class app {
public:
  /// Starts pooler's tree and the pools of `sys.config()`'s `[pooler]`
  /// section. Errors: `invalid_config` (naming element, pool and key), or the
  /// first pool's start error (the tree is then stopped again).
  static caf::expected<app> start(caf::actor_system& sys);

  /// Starts the tree with these pools (and none from the config file).
  static caf::expected<app> start(caf::actor_system& sys,
                                  std::vector<pool_config> pools);

  /// Orderly shutdown of the whole tree: pools (members stopped, waiting
  /// requestors answered `pool_not_found`), then the supervisors. Blocks until
  /// every actor of the tree is gone. Idempotent. Afterwards every call
  /// answers `app_stopped` and `pool_names()` is empty.
  void stop();

  /// Starts a pool and returns once its `init_count` members have reported or
  /// `member_start_timeout` passed. Errors: `pool_exists`, `invalid_config`,
  /// `start_failed` (nothing is left behind: the name is free again).
  caf::expected<void> new_pool(pool_config cfg);

  /// Stops a pool's tree, waiting as long as its members' shutdown takes;
  /// its waiting requestors get `pool_not_found`. An unknown name is not an
  /// error; a `pool_child_spec` pool is `not_found` (its supervisor removes
  /// it). The name can be reused at once.
  caf::expected<void> rm_pool(const std::string& name);

  /// Removes every pool of the group; an unknown or emptied group is not an
  /// error. Error: the first failing `rm_pool`'s.
  caf::expected<void> rm_group(const std::string& group);

  /// Applies a full new config to a running pool and returns the actions taken
  /// in pooler's order. Errors: `pool_not_found`, `invalid_config`,
  /// `unsupported_change`, `not_enough_free_members` (nothing applied).
  caf::expected<std::vector<reconfigure_action>>
  pool_reconfigure(const std::string& name, pool_config cfg);

  /// The current config of a pool (including reconfigured values).
  /// Error: `pool_not_found`.
  caf::expected<pool_config> pool_config_of(const std::string& name);

  // -- taking members ----------------------------------------------------------

  /// Event-based take: `self` becomes the consumer and is monitored.
  /// Exactly one callback runs, in `self`'s context, and never before this
  /// call returns. On a pool of this process with a free member and nobody
  /// queued, the take completes in `self`'s own thread without a message to
  /// the pool; otherwise it is a request to the pool actor. Errors:
  /// `no_members` (reason at_capacity, all_in_use, queue_full or timeout),
  /// `pool_not_found`, `app_stopped`, `invalid_argument` (a negative
  /// timeout). A timeout of 0 never waits; `infinite_wait` waits
  /// without limit. With `affinity`, prefers the member bound to that key.
  template <class OnMember, class OnError>
  void take_member(caf::event_based_actor* self, const std::string& pool,
                   caf::timespan timeout, OnMember on_member, OnError on_error,
                   std::optional<std::string> affinity = std::nullopt) {
    // The callbacks go straight into CAF's response handler: no
    // std::function and no shared context on either path.
    if (auto err = check_take(pool, timeout)) {
      on_error(std::move(err));
      return;
    }
    if (auto m = take_here(self->ctrl(), pool, affinity ? &*affinity : nullptr,
                           self->context())) {
      detail::deliver_later(self, std::move(m), std::move(on_member));
      return;
    }
    const caf::actor& handle = pool_handle(pool);
    if (!handle) {
      on_error(missing_pool(pool));
      return;
    }
    auto first = handle.id();
    request_take(self, handle, timeout, affinity ? &*affinity : nullptr)
      .then([on_member](caf::actor& m) mutable { on_member(std::move(m)); },
            [self, a = *this, pool, timeout, first, on_member, on_error,
             affinity = std::move(affinity)](caf::error& err) mutable {
              // The pool actor died meanwhile; its supervisor may have
              // restarted it under the same name: one more try.
              if (a.pool_restarted(err, pool, first))
                a.take_member_impl(self, pool, timeout,
                                   std::function<void(caf::actor)>{
                                     std::move(on_member)},
                                   std::function<void(caf::error)>{
                                     std::move(on_error)},
                                   std::move(affinity));
              else
                on_error(a.take_failed(pool, std::move(err)));
            });
  }

  /// Same, for a typed event-based actor (`typed_actor<...>::pointer` or a
  /// typed stateful actor). Same errors.
  template <class Self, class OnMember, class OnError,
            class = detail::if_typed_actor<Self>>
  void take_member(Self* self, const std::string& pool, caf::timespan timeout,
                   OnMember on_member, OnError on_error,
                   std::optional<std::string> affinity = std::nullopt) {
    if (auto err = check_take(pool, timeout)) {
      on_error(std::move(err));
      return;
    }
    if (auto m = take_here(self->ctrl(), pool, affinity ? &*affinity : nullptr,
                           self->context())) {
      detail::deliver_later(self, std::move(m), std::move(on_member));
      return;
    }
    const caf::actor& handle = pool_handle(pool);
    if (!handle) {
      on_error(missing_pool(pool));
      return;
    }
    self
      ->request(handle, take_deadline(timeout),
                take_message(timeout, affinity ? &*affinity : nullptr))
      .then([on_member](caf::actor& m) mutable { on_member(std::move(m)); },
            [a = *this, pool, on_error](caf::error& err) mutable {
              on_error(a.take_failed(pool, std::move(err)));
            });
  }

  /// Event-based group take: a random pool of the group first,
  /// then every other once; with a timeout, waits in the queue of the pool
  /// with the most spare capacity. Errors: `no_members` (also for an unknown
  /// or emptied group, as pooler), `app_stopped`, `invalid_argument`.
  template <class OnMember, class OnError>
  void take_group_member(caf::event_based_actor* self, const std::string& group,
                         caf::timespan timeout, OnMember on_member,
                         OnError on_error) {
    take_group_member_impl(
      self, group, timeout, std::function<void(caf::actor)>{std::move(on_member)},
      std::function<void(caf::error)>{std::move(on_error)});
  }

  /// Blocking take: `self` becomes the consumer. Same errors as above.
  caf::expected<caf::actor>
  take_member(caf::scoped_actor& self, const std::string& pool,
              caf::timespan timeout = caf::timespan{0},
              std::optional<std::string> affinity = std::nullopt);

  /// A take that never waits, for a blocking consumer: a member, or
  /// `no_members` at once. Other errors: `pool_not_found`, `app_stopped`.
  /// On a pool of this process it sends no message at all.
  caf::expected<caf::actor>
  try_take_member(caf::scoped_actor& self, const std::string& pool,
                  std::optional<std::string> affinity = std::nullopt);

  /// Same, for an event-based actor, answered in the call itself (no
  /// callback). Needs a pool of this process: a connected node's pool
  /// answers `invalid_argument` (use take_member with a timeout of 0).
  /// `pool_not_found` also while the pool's actor restarts.
  caf::expected<caf::actor>
  try_take_member(caf::event_based_actor* self, const std::string& pool,
                  std::optional<std::string> affinity = std::nullopt) {
    return try_take_here(self->ctrl(), self->context(), pool, affinity);
  }

  /// Same, for a typed event-based actor.
  template <class Self, class = detail::if_typed_actor<Self>>
  caf::expected<caf::actor>
  try_take_member(Self* self, const std::string& pool,
                  std::optional<std::string> affinity = std::nullopt) {
    return try_take_here(self->ctrl(), self->context(), pool, affinity);
  }

  /// Blocking group take. Same errors as the event-based form.
  caf::expected<caf::actor> take_group_member(caf::scoped_actor& self,
                                              const std::string& group,
                                              caf::timespan timeout
                                              = caf::timespan{0});

  /// Returns a member; callable from anywhere, never blocks. On a pool of
  /// this process it completes in the calling thread (a queued requestor
  /// gets the member directly), else it is a message. Unknown members and
  /// double returns are harmless (a warning is logged).
  void return_member(const std::string& pool, const caf::actor& member,
                     member_status s = member_status::ok);

  /// Same, and adds `requests_handled` to the member's statistics.
  void return_member(const std::string& pool, const caf::actor& member,
                     member_status s, uint64_t requests_handled);

  /// Same, by the event-based actor `self`: a requestor handed the member,
  /// or the pool actor when the return is a message, is scheduled on
  /// `self`'s worker instead of waiting for an idle worker to wake up. Use
  /// this form inside actors.
  void return_member(caf::event_based_actor* self, const std::string& pool,
                     const caf::actor& member,
                     member_status s = member_status::ok,
                     uint64_t requests_handled = 0);

  /// Same, sent by a typed event-based actor `self`.
  template <class Self, class = detail::if_typed_actor<Self>>
  void return_member(Self* self, const std::string& pool,
                     const caf::actor& member,
                     member_status s = member_status::ok,
                     uint64_t requests_handled = 0) {
    if (return_here(pool, member, s, requests_handled, self->context()))
      return;
    // Typed actors may not send() to an untyped actor; the primitive keeps
    // `self` as sender and the pool on `self`'s worker, as send() would.
    if (auto& handle = returning(pool, member))
      handle->enqueue(caf::make_mailbox_element(
                        self->ctrl(), caf::make_message_id(), {},
                        return_message(member, s, requests_handled)),
                      self->context());
  }

  /// Returns a member to the pool it came from, if a take on `group` handed
  /// it out; a member of another group, or unknown, is ignored (a warning).
  void return_group_member(const std::string& group, const caf::actor& member,
                           member_status s = member_status::ok);

  // -- safe use -------------------------------------------------------------------

  /// Takes a member, runs `fn(member)` and returns the member: `ok` after
  /// `fn` returns, `fail` if it throws (the exception becomes the error,
  /// `sec::runtime_error` with its what()). Returns `fn`'s result; a `fn`
  /// returning `caf::expected<T>` is flattened. Never leaks the member.
  template <class F>
  auto with_member(caf::scoped_actor& self, const std::string& pool,
                   caf::timespan timeout, F fn);

  /// Takes a member as an RAII lease, returned on destruction.
  caf::expected<lease> take_lease(caf::scoped_actor& self,
                                  const std::string& pool,
                                  caf::timespan timeout);

  /// Takes a member with affinity `session`, sends it `request`, returns the
  /// member (`fail` if the request failed) and returns the reply.
  template <class Reply>
  caf::expected<Reply>
  execute_in_session(caf::scoped_actor& self, const std::string& pool,
                     const std::string& session, caf::timespan timeout,
                     caf::message request);

  /// Event-based safe use: takes a member for `self`, runs `fn(member)` in
  /// `self`'s context, returns the member (`fail` if `fn` throws, else `ok`)
  /// and calls `on_done(caf::expected<R>)` with `fn`'s result, its exception
  /// as `sec::runtime_error`, or the take's error. For typed actors too.
  template <class Self, class F, class OnDone,
            class = detail::if_scheduled_actor<Self>>
  void with_member(Self* self, const std::string& pool, caf::timespan timeout,
                   F fn, OnDone on_done);

  /// Event-based lease: `on_lease(shared_lease)` or `on_error(caf::error)`
  /// runs in `self`'s context. The member goes back when the last copy of
  /// the lease is gone (see `shared_lease`). For typed actors too.
  template <class Self, class OnLease, class OnError,
            class = detail::if_scheduled_actor<Self>>
  void take_lease(Self* self, const std::string& pool, caf::timespan timeout,
                  OnLease on_lease, OnError on_error);

  // -- introspection ---------------------------------------------------------------

  /// Counts of a pool. Error: `pool_not_found`.
  caf::expected<utilization> pool_utilization(const std::string& pool);

  /// One record per member. Error: `pool_not_found`.
  caf::expected<std::vector<member_info>> pool_stats(const std::string& pool);

  /// Checks out every free member at once, runs `fn` on each in the caller's
  /// thread and returns them `ok`: the pool itself never blocks (pooler's
  /// call_free_members blocks its pool). One result per member. `timeout`
  /// bounds the checkout. Error: `pool_not_found`.
  caf::expected<std::vector<caf::expected<caf::message>>> call_free_members(
    const std::string& pool,
    std::function<caf::expected<caf::message>(const caf::actor&)> fn,
    caf::timespan timeout = std::chrono::seconds(5));

  // Request forms for actors: they never block a worker thread. Exactly one
  // callback runs, in `self`'s context; errors as the blocking forms.

  /// `on_result(utilization)` or `on_error(caf::error)`.
  template <class Self, class OnResult, class OnError,
            class = detail::if_scheduled_actor<Self>>
  void pool_utilization(Self* self, const std::string& pool,
                        OnResult on_result, OnError on_error) {
    ask_pool<utilization>(self, pool, request_kind::utilization, {},
                          std::move(on_result), std::move(on_error));
  }

  /// `on_result(std::vector<member_info>)` or `on_error(caf::error)`.
  template <class Self, class OnResult, class OnError,
            class = detail::if_scheduled_actor<Self>>
  void pool_stats(Self* self, const std::string& pool, OnResult on_result,
                  OnError on_error) {
    ask_pool<std::vector<member_info>>(self, pool, request_kind::stats, {},
                                       std::move(on_result),
                                       std::move(on_error));
  }

  /// `on_done()` once the pool culled, or `on_error(caf::error)`.
  template <class Self, class OnDone, class OnError,
            class = detail::if_scheduled_actor<Self>>
  void cull_pool(Self* self, const std::string& pool, OnDone on_done,
                 OnError on_error) {
    ask_pool<void>(self, pool, request_kind::cull, {}, std::move(on_done),
                   std::move(on_error));
  }

  /// `on_result(std::vector<reconfigure_action>)` or `on_error(caf::error)`.
  template <class Self, class OnResult, class OnError,
            class = detail::if_scheduled_actor<Self>>
  void pool_reconfigure(Self* self, const std::string& name, pool_config cfg,
                        OnResult on_result, OnError on_error) {
    ask_pool<std::vector<reconfigure_action>>(
      self, name, request_kind::reconfigure, std::move(cfg),
      std::move(on_result), std::move(on_error));
  }

  /// The pools of a group, sorted by name; empty for an unknown group.
  std::vector<std::string> group_pools(const std::string& group);

  /// Names of all pools, sorted.
  std::vector<std::string> pool_names();

  /// Culls a pool now (pooler's `cull_pool` message). Error: `pool_not_found`.
  caf::expected<void> cull_pool(const std::string& pool);

  // -- the tree (for applications' own supervisors and for tests) ---------------------

  /// The actor system the tree runs in. Throws std::logic_error on an
  /// empty handle, which has none.
  caf::actor_system& system() const;

  /// The top supervisor (`pooler_sup`); a null handle on an empty app.
  caf::actor top_supervisor() const;

  /// The pool actor of `pool` (changes when its supervisor restarts it).
  caf::expected<caf::actor> pool_actor(const std::string& pool) const;

  /// The pool's all_for_one supervisor (`<name>_pool_sup`).
  caf::expected<caf::actor> pool_supervisor(const std::string& pool) const;

  /// The pool's member supervisor (simple_one_for_one over its members).
  caf::expected<caf::actor> member_supervisor(const std::string& pool) const;

  /// An empty handle: every call answers `app_stopped` (or nothing, for
  /// returns and name lists) until a started app is assigned to it.
  app() noexcept = default;

  explicit app(std::shared_ptr<detail::app_state> st) : state_(std::move(st)) {}

  /// Whether the handle refers to a tree that is still running (false when
  /// empty, after `stop()`, or once the tree ended on its own).
  bool running() const noexcept;

  const std::shared_ptr<detail::app_state>& state() const noexcept {
    return state_;
  }

private:
  enum class request_kind { utilization, stats, cull, reconfigure };

  /// The pool actor and the message of a request form, or why there is
  /// none (`app_stopped`, `pool_not_found`, `not_local`).
  caf::error prepare(const std::string& pool, request_kind kind,
                     pool_config cfg, caf::actor& dest,
                     caf::message& msg) const;

  template <class T, class Self, class OnResult, class OnError>
  void ask_pool(Self* self, const std::string& pool, request_kind kind,
                pool_config cfg, OnResult on_result, OnError on_error) {
    caf::actor dest;
    caf::message msg;
    if (auto err = prepare(pool, kind, std::move(cfg), dest, msg)) {
      on_error(std::move(err));
      return;
    }
    auto on_failure = [a = *this, pool,
                       on_error](caf::error& err) mutable {
      on_error(a.call_failed(pool, std::move(err)));
    };
    if constexpr (std::is_void_v<T>)
      self->request(dest, request_timeout, std::move(msg))
        .then([on_result]() mutable { on_result(); }, std::move(on_failure));
    else
      self->request(dest, request_timeout, std::move(msg))
        .then([on_result](T& x) mutable { on_result(std::move(x)); },
              std::move(on_failure));
  }

  /// How long a request form waits for a pool that went silent.
  static constexpr auto request_timeout = std::chrono::seconds(10);

  /// The CAF timeout of a take request.
  caf::duration take_deadline(caf::timespan timeout) const;

  /// A take request's content.
  static caf::message take_message(caf::timespan timeout,
                                   const std::string* affinity);

  /// A return's content.
  static caf::message return_message(const caf::actor& member, member_status s,
                                     uint64_t requests_handled);

  /// Forgets `member`'s group entry and finds the pool to return it to
  /// (null, with a warning, for an unknown pool).
  const caf::actor& returning(const std::string& pool,
                              const caf::actor& member) const;

  using take_response
    = caf::response_handle<caf::event_based_actor, caf::message, false>;

  /// A take by `who` completed in the calling thread, on a pool of this
  /// process with a free member and nobody queued; null otherwise (send the
  /// take message).
  caf::actor take_here(caf::actor_control_block* who,
                       const std::string& pool, const std::string* affinity,
                       caf::execution_unit* ctx) const;

  /// A return completed in the calling thread; false: send it.
  bool return_here(const std::string& pool, const caf::actor& member,
                   member_status s, uint64_t requests_handled,
                   caf::execution_unit* ctx) const;

  caf::expected<caf::actor>
  try_take_here(caf::actor_control_block* who, caf::execution_unit* ctx,
                const std::string& pool,
                const std::optional<std::string>& affinity) const;

  /// The pool actor of `pool` from the calling thread's cache, or null.
  const caf::actor& pool_handle(const std::string& pool) const;

  /// Sends a take to `handle`; the caller attaches the response handlers.
  take_response request_take(caf::event_based_actor* self,
                             const caf::actor& handle, caf::timespan timeout,
                             const std::string* affinity) const;

  /// Whether `err` says the pool actor `first` died and `pool` has another.
  bool pool_restarted(const caf::error& err, const std::string& pool,
                      caf::actor_id first) const;

  /// A take's CAF error as pooler's (request_receiver_down: pool_not_found).
  caf::error take_failed(const std::string& pool, caf::error err) const;

  /// A request's CAF error as pooler's (request_receiver_down:
  /// pool_not_found, or app_stopped after stop).
  caf::error call_failed(const std::string& pool, caf::error err) const;

  /// Why `pool` has no handle: `app_stopped` or `pool_not_found`.
  caf::error missing_pool(const std::string& pool) const;

  /// The error a take with these arguments answers before any message is
  /// sent (`app_stopped`, `invalid_argument`), or none.
  caf::error check_take(const std::string& pool, caf::timespan timeout) const;

  void take_member_impl(caf::event_based_actor* self, const std::string& pool,
                        caf::timespan timeout,
                        std::function<void(caf::actor)> on_member,
                        std::function<void(caf::error)> on_error,
                        std::optional<std::string> affinity);

  void take_group_member_impl(caf::event_based_actor* self,
                              const std::string& group, caf::timespan timeout,
                              std::function<void(caf::actor)> on_member,
                              std::function<void(caf::error)> on_error);

  std::shared_ptr<detail::app_state> state_;
};

/// A child spec that starts one pool's subtree (pool_sup → member_sup + pool)
/// under an application's own supervisor; the pool registers with `a`, so
/// take/return by name work as for `new_pool`. Its start fails with
/// `pool_exists` for a name in use, `app_stopped` after `a` stopped; the
/// name is released when the supervisor terminates, deletes or ends it.
child_spec pool_child_spec(app& a, pool_config cfg);

/// Registers pooler with an actor system config: the error category renderer,
/// the message types and the `[pooler]` config section. Call before the
/// actor system is created. For scale-out it also sets
/// `middleman.heartbeat-interval` (500 ms) and `middleman.connection-timeout`
/// (2 s) unless already set, but does not load the middleman itself.
void add_to(caf::actor_system_config& cfg);

/// A member held under RAII: returned `ok` on destruction, or `fail` after
/// `fail()`. Movable, not copyable.
class lease {
public:
  lease(app a, std::string pool, caf::actor member);
  lease(lease&& other) noexcept;
  lease& operator=(lease&& other) noexcept;
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  ~lease();

  const caf::actor& member() const noexcept { return member_; }

  /// Marks the member broken: it is returned `fail` (stopped and replaced).
  void fail() noexcept { failed_ = true; }

  /// Counts requests the member handled during the lease; the pool adds them
  /// to the member's `requests_handled` on return.
  void count_request(uint64_t n = 1) noexcept { requests_ += n; }

  /// Returns the member now (idempotent).
  void release();

private:
  std::optional<app> app_;
  std::string pool_;
  caf::actor member_;
  bool failed_ = false;
  uint64_t requests_ = 0;
};

/// A member held by an event-based actor (typed or not). Copyable, so that
/// response handlers can capture it: the member goes back when the last copy
/// is gone or on `release()`; `fail` if any copy called `fail()` or the last
/// copy went during stack unwinding (the work threw). If the consumer died
/// first, nothing is sent: the pool reclaims the member (back `ok` after a
/// normal exit, stopped and replaced after a crash).
class shared_lease {
public:
  /// An empty lease (no member).
  shared_lease() noexcept = default;

  shared_lease(app a, std::string pool, caf::actor member,
               caf::actor_addr consumer);

  /// The member, or a null handle for an empty lease.
  const caf::actor& member() const noexcept;

  /// Marks the member broken: it is returned `fail` (stopped and replaced).
  void fail() noexcept;

  /// Counts requests the member handled; added to its `requests_handled`.
  void count_request(uint64_t n = 1) noexcept;

  /// Returns the member now, for every copy (idempotent).
  void release();

  explicit operator bool() const noexcept {
    return static_cast<bool>(impl_);
  }

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// -- template definitions ----------------------------------------------------------

namespace detail {

template <class T>
struct flatten_expected {
  using type = T;
};

template <class T>
struct flatten_expected<caf::expected<T>> {
  using type = T;
};

/// `function_threw` naming `pool`, with the exception's text.
caf::error error_from_exception(std::exception_ptr ep, const std::string& pool);

/// Runs `fn(member)`; marks `l` failed if it throws. The result, flattened.
template <class F>
auto run_guarded(F& fn, shared_lease& l, const std::string& pool) {
  using raw = std::invoke_result_t<F&, const caf::actor&>;
  using result = caf::expected<typename flatten_expected<raw>::type>;
  try {
    if constexpr (std::is_void_v<raw>) {
      fn(l.member());
      return result{};
    } else {
      return result{fn(l.member())};
    }
  } catch (...) {
    l.fail();
    return result{error_from_exception(std::current_exception(), pool)};
  }
}

} // namespace detail

template <class Self, class OnLease, class OnError, class>
void app::take_lease(Self* self, const std::string& pool,
                     caf::timespan timeout, OnLease on_lease,
                     OnError on_error) {
  take_member(
    self, pool, timeout,
    [self, a = *this, pool, on_lease](caf::actor m) mutable {
      on_lease(shared_lease{a, pool, std::move(m), self->address()});
    },
    std::move(on_error));
}

template <class Self, class F, class OnDone, class>
void app::with_member(Self* self, const std::string& pool,
                      caf::timespan timeout, F fn, OnDone on_done) {
  using raw = std::invoke_result_t<F&, const caf::actor&>;
  using result = caf::expected<typename detail::flatten_expected<raw>::type>;
  take_lease(
    self, pool, timeout,
    [fn, on_done, pool](shared_lease l) mutable {
      auto r = detail::run_guarded(fn, l, pool);
      // Back before on_done runs: on_done may take the next member.
      l.release();
      on_done(std::move(r));
    },
    [on_done](caf::error err) mutable { on_done(result{std::move(err)}); });
}

template <class F>
auto app::with_member(caf::scoped_actor& self, const std::string& pool,
                      caf::timespan timeout, F fn) {
  using raw = std::invoke_result_t<F&, const caf::actor&>;
  using value = typename detail::flatten_expected<raw>::type;
  using result = caf::expected<value>;
  auto m = take_member(self, pool, timeout);
  if (!m)
    return result{std::move(m.error())};
  // A guard, so that the member goes back even if the scope unwinds.
  lease guard{*this, pool, *m};
  try {
    if constexpr (std::is_void_v<raw>) {
      fn(guard.member());
      return result{};
    } else {
      return result{fn(guard.member())};
    }
  } catch (...) {
    guard.fail();
    return result{detail::error_from_exception(std::current_exception(), pool)};
  }
}

template <class Reply>
caf::expected<Reply>
app::execute_in_session(caf::scoped_actor& self, const std::string& pool,
                        const std::string& session, caf::timespan timeout,
                        caf::message request) {
  auto m = take_member(self, pool, timeout, session);
  if (!m)
    return std::move(m.error());
  lease guard{*this, pool, *m};
  caf::expected<Reply> result{caf::sec::none};
  self->request(*m, timeout, std::move(request))
    .receive(
      [&](Reply& x) {
        guard.count_request();
        result = std::move(x);
      },
             [&](caf::error& err) {
               // A member that timed out or vanished mid-request is suspect.
               if (err.category() == caf::atom("system"))
                 guard.fail();
               result = std::move(err);
             });
  return result;
}

} // namespace pooler
