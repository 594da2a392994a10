// The app handle: pooler's tree, pools by name, takes and returns.

#include "pooler/app.hpp"

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "actors/tree.hpp"
#include "pooler/config_file.hpp"
#include "pooler/process_member.hpp"
#include "src/app_state.hpp"
#include "src/log.hpp"
#include "src/remote.hpp"

namespace pooler {

namespace detail {

void app_state::stop(bool wait) {
  if (stopped.exchange(true) || !top)
    return;
  if (!wait) {
    caf::anon_send_exit(top, caf::exit_reason::user_shutdown);
    reg->clear();
    return;
  }
  caf::scoped_actor self{*sys};
  self->monitor(top);
  self->send_exit(top, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  // Pools under the application's own supervisors are no longer reachable
  // by name either: the handle is done.
  reg->clear();
  group_members.clear();
}

void app_state::watch_tree(const std::shared_ptr<app_state>& st) {
  std::weak_ptr<app_state> weak = st;
  // Runs on the thread that ends the top supervisor; the registry is
  // thread-safe and the flag atomic.
  caf::actor_cast<caf::abstract_actor*>(st->top)->attach_functor([weak] {
    if (auto st = weak.lock()) {
      st->stopped.store(true, std::memory_order_release);
      st->reg->clear();
    }
  });
}

app_state::~app_state() {
  // The last handle may go away inside an actor: never block there.
  stop(false);
}

caf::error stopped_error(const std::string& subject) {
  return make_error(errc::app_stopped, subject,
                    "the pooler app is stopped or empty");
}

caf::error unusable(const app_state* st, const std::string& subject) {
  if (st == nullptr || !st->running())
    return stopped_error(subject);
  return {};
}

caf::error call_error(const app_state* st, const std::string& pool,
                      caf::error err) {
  if (err == caf::sec::request_receiver_down)
    return unusable(st, pool) ? stopped_error(pool)
                              : make_error(errc::pool_not_found, pool);
  return err;
}

int64_t take_timeout_ns(caf::timespan timeout) {
  if (timeout == infinite_wait)
    return -1;
  return std::max<int64_t>(0, timeout.count());
}

caf::duration take_request_timeout(const app_state& st, caf::timespan timeout) {
  if (timeout == infinite_wait || !st.remote)
    return caf::duration{caf::infinite};
  return caf::duration{timeout + timeout / 10 + std::chrono::seconds(1)};
}

caf::error take_error(const std::string& pool, caf::error err) {
  if (err == caf::sec::request_timeout)
    return make_error(errc::no_members, pool, no_members_reason::timeout);
  if (err == caf::sec::request_receiver_down)
    return make_error(errc::pool_not_found, pool);
  return err;
}

caf::error error_from_exception(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error,
                           std::string{"unknown exception"});
  }
}

} // namespace detail

namespace {

/// Asks a pool actor; a pool that vanished meanwhile answers as the API
/// promises (pool_not_found, or app_stopped after stop), never with CAF's
/// request_receiver_down.
template <class T>
caf::expected<T> ask(const detail::app_state& st, const std::string& pool,
                     const caf::actor& dest, caf::message msg,
                     caf::timespan timeout = std::chrono::seconds(10)) {
  caf::expected<T> result{caf::sec::none};
  caf::scoped_actor self{*st.sys};
  self->request(dest, timeout, std::move(msg))
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) {
               result = detail::call_error(&st, pool, std::move(err));
             });
  return result;
}

caf::expected<void> ask_void(const detail::app_state& st,
                             const std::string& pool, const caf::actor& dest,
                             caf::message msg,
                             caf::timespan timeout = std::chrono::seconds(10)) {
  caf::expected<void> result;
  caf::scoped_actor self{*st.sys};
  self->request(dest, timeout, std::move(msg))
    .receive([] {}, [&](caf::error& err) {
      result = detail::call_error(&st, pool, std::move(err));
    });
  return result;
}

caf::timespan saturating_add(caf::timespan x, caf::timespan y) {
  return x > caf::timespan::max() - y ? caf::timespan::max() : x + y;
}

/// Why `new_pool` failed, naming the pool: its own start error, or
/// start_failed with what ended the start.
caf::error start_error(const std::string& name, caf::error err) {
  if (err == errc::start_failed || err == errc::invalid_config
      || err == errc::app_stopped)
    return err;
  if (err == caf::sec::request_timeout)
    return make_error(errc::start_failed, name,
                      "not ready within member_start_timeout");
  auto detail = err.category() == error_category ? error_detail(err)
                                                 : to_string(err);
  return make_error(errc::start_failed, name,
                    "the pool ended during its start"
                      + (detail.empty() ? std::string{} : ": " + detail));
}

/// Stops a pool's subtree under pooler_sup, removes its child spec and its
/// name. Waits as long as the members' shutdown takes: for the subtree's
/// down message (or the tree's), never for a fixed time.
caf::expected<void> remove_subtree(detail::app_state& st,
                                   const std::string& name) {
  caf::scoped_actor self{*st.sys};
  auto id = pool_sup_id(name);
  auto subtree = st.reg->pool_sup(name);
  self->monitor(st.top);
  if (subtree) {
    self->monitor(subtree);
    // Waiting requestors get pool_not_found from the pool as it stops. An
    // asynchronous request: the reply is not awaited, the down message is.
    self->send(st.top, terminate_child_atom::value, id);
    bool tree_gone = false;
    self->receive([&](caf::down_msg& dm) {
      tree_gone = dm.source == st.top.address();
    });
    if (tree_gone) {
      st.reg->erase(name);
      return detail::stopped_error(name);
    }
  }
  // Queued behind the stop, so it finds the child terminated; a subtree
  // that pooler_sup restarted meanwhile is stopped by this call instead.
  if (auto ok = terminate_child(self, st.top, id);
      !ok && ok.error() != errc::not_found)
    return detail::call_error(&st, name, std::move(ok.error()));
  delete_child(self, st.top, id);
  st.reg->erase(name);
  st.group_members.forget_pool(name);
  return caf::unit;
}

/// One event-based take in flight: a single allocation that both response
/// handlers share, instead of copies of every callback in each of them.
struct take_ctx {
  std::shared_ptr<detail::app_state> st;
  std::string pool;
  std::string affinity;
  caf::timespan timeout;
  std::function<void(caf::actor)> on_member;
  std::function<void(caf::error)> on_error;
  caf::actor handle;
  int attempts_left;
};

void take_async(caf::event_based_actor* self, std::shared_ptr<take_ctx> ctx) {
  if (auto err = detail::unusable(ctx->st.get(), ctx->pool)) {
    ctx->on_error(std::move(err));
    return;
  }
  ctx->handle = ctx->st->reg->cached_pool(ctx->pool);
  if (!ctx->handle) {
    ctx->on_error(make_error(errc::pool_not_found, ctx->pool));
    return;
  }
  self
    ->request(ctx->handle, detail::take_request_timeout(*ctx->st, ctx->timeout),
              take_atom::value, detail::take_timeout_ns(ctx->timeout),
              ctx->affinity)
    .then([ctx](caf::actor& m) { ctx->on_member(std::move(m)); },
          [self, ctx](caf::error& err) {
            // The pool actor died meanwhile; its supervisor may have
            // restarted it under the same name.
            if (err == caf::sec::request_receiver_down
                && ctx->attempts_left-- > 1
                && ctx->st->reg->pool(ctx->pool) != ctx->handle) {
              take_async(self, ctx);
              return;
            }
            ctx->on_error(detail::call_error(
              ctx->st.get(), ctx->pool,
              detail::take_error(ctx->pool, std::move(err))));
          });
}

} // namespace

// -- life cycle ----------------------------------------------------------------------

caf::expected<app> app::start(caf::actor_system& sys) {
  auto pools = pools_from_config(sys.config());
  if (!pools)
    return std::move(pools.error());
  return start(sys, std::move(*pools));
}

caf::expected<app> app::start(caf::actor_system& sys,
                              std::vector<pool_config> pools) {
  auto st = std::make_shared<detail::app_state>();
  st->sys = &sys;
  auto top = start_pooler_sup(sys, st->reg);
  if (!top)
    return std::move(top.error());
  st->top = std::move(*top);
  detail::app_state::watch_tree(st);
  app result{std::move(st)};
  for (auto& cfg : pools) {
    if (auto ok = result.new_pool(std::move(cfg)); !ok) {
      result.stop();
      return std::move(ok.error());
    }
  }
  return result;
}

void app::stop() {
  if (state_)
    state_->stop(true);
}

bool app::running() const noexcept {
  return state_ && state_->running();
}

caf::expected<void> app::new_pool(pool_config cfg) {
  if (auto err = detail::unusable(state_.get(), cfg.name))
    return err;
  if (state_->remote)
    return detail::local_only(*state_, cfg.name, "new_pool");
  if (auto valid = validate(cfg, system().config()); !valid)
    return valid;
  auto& reg = *state_->reg;
  auto name = cfg.name;
  auto rec = std::make_shared<pool_record>(cfg);
  rec->in_pooler_tree = true;
  if (!reg.claim(rec))
    return make_error(errc::pool_exists, name);
  caf::scoped_actor self{system()};
  auto sup = start_child(self, state_->top, pool_sup_spec(state_->reg, rec));
  if (!sup) {
    reg.erase(name);
    return std::move(sup.error());
  }
  // Usable once the init_count starts have reported or timed out.
  auto timeout = saturating_add(cfg.member_start_timeout,
                                std::chrono::seconds(5));
  auto ready = ask_void(*state_, name, reg.pool(name),
                        caf::make_message(ready_atom::value), timeout);
  if (ready)
    return ready;
  // A pool that failed to start leaves nothing behind: neither a name nor a
  // supervised subtree.
  remove_subtree(*state_, name);
  return start_error(name, std::move(ready.error()));
}

caf::expected<void> app::rm_pool(const std::string& name) {
  if (auto err = detail::unusable(state_.get(), name))
    return err;
  if (auto err = detail::local_only(*state_, name, "rm_pool"))
    return err;
  auto rec = state_->reg->record(name);
  if (!rec)
    return caf::unit;
  if (!rec->in_pooler_tree)
    return make_error(errc::not_found, name,
                      "a pool_child_spec pool is removed through its own "
                      "supervisor (delete_child)");
  return remove_subtree(*state_, name);
}

caf::expected<void> app::rm_group(const std::string& group) {
  if (auto err = detail::unusable(state_.get(), group))
    return err;
  // An unknown or emptied group is not an error (as pooler).
  auto pools = group_pools(group);
  for (auto& name : pools)
    if (auto ok = rm_pool(name); !ok)
      return ok;
  return caf::unit;
}

caf::expected<std::vector<reconfigure_action>>
app::pool_reconfigure(const std::string& name, pool_config cfg) {
  if (auto err = detail::unusable(state_.get(), name))
    return err;
  if (auto err = detail::local_only(*state_, name, "pool_reconfigure"))
    return err;
  auto pool = state_->reg->pool(name);
  if (!pool)
    return make_error(errc::pool_not_found, name);
  return ask<std::vector<reconfigure_action>>(
    *state_, name, pool, caf::make_message(reconf_atom::value, std::move(cfg)));
}

caf::expected<pool_config> app::pool_config_of(const std::string& name) {
  if (auto err = detail::unusable(state_.get(), name))
    return err;
  if (auto err = detail::local_only(*state_, name, "pool_config_of"))
    return err;
  if (auto cfg = state_->reg->config(name))
    return std::move(*cfg);
  return make_error(errc::pool_not_found, name);
}

// -- taking and returning ------------------------------------------------------------

const caf::actor& app::pool_handle(const std::string& pool) const {
  static const caf::actor none;
  if (!running())
    return none;
  return state_->reg->cached_pool(pool);
}

caf::error app::missing_pool(const std::string& pool) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  return make_error(errc::pool_not_found, pool);
}

caf::error app::check_take(const std::string& pool,
                           caf::timespan timeout) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (timeout < caf::timespan{0})
    return make_error(errc::invalid_argument, pool,
                      "take timeout is negative ("
                        + std::to_string(timeout.count()) + " ns)");
  return {};
}

app::take_response app::request_take(caf::event_based_actor* self,
                                     const caf::actor& handle,
                                     caf::timespan timeout,
                                     const std::string* affinity) const {
  auto t = detail::take_request_timeout(*state_, timeout);
  auto ns = detail::take_timeout_ns(timeout);
  // Without affinity the message carries no string: less to build and match.
  if (affinity == nullptr || affinity->empty())
    return self->request(handle, t, take_atom::value, ns);
  return self->request(handle, t, take_atom::value, ns, *affinity);
}

bool app::pool_restarted(const caf::error& err, const std::string& pool,
                         caf::actor_id first) const {
  if (err != caf::sec::request_receiver_down)
    return false;
  auto now = state_->reg->pool(pool);
  return now && now.id() != first;
}

caf::error app::take_failed(const std::string& pool, caf::error err) const {
  return detail::call_error(state_.get(), pool,
                            detail::take_error(pool, std::move(err)));
}

void app::take_member_impl(caf::event_based_actor* self,
                           const std::string& pool, caf::timespan timeout,
                           std::function<void(caf::actor)> on_member,
                           std::function<void(caf::error)> on_error,
                           std::optional<std::string> affinity) {
  take_async(self, std::make_shared<take_ctx>(take_ctx{
                     state_, pool, affinity.value_or(std::string{}), timeout,
                     std::move(on_member), std::move(on_error), caf::actor{},
                     2}));
}

caf::expected<caf::actor> app::take_member(caf::scoped_actor& self,
                                           const std::string& pool,
                                           caf::timespan timeout,
                                           std::optional<std::string> affinity) {
  if (auto err = check_take(pool, timeout))
    return err;
  auto ns = detail::take_timeout_ns(timeout);
  auto msg = affinity && !affinity->empty()
               ? caf::make_message(take_atom::value, ns, *affinity)
               : caf::make_message(take_atom::value, ns);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto handle = state_->reg->cached_pool(pool);
    if (!handle)
      break;
    caf::expected<caf::actor> result{caf::sec::none};
    self->request(handle, detail::take_request_timeout(*state_, timeout), msg)
      .receive([&](caf::actor& m) { result = std::move(m); },
               [&](caf::error& err) { result = std::move(err); });
    if (result)
      return result;
    // A pool actor that died meanwhile may have been restarted.
    if (result.error() != caf::sec::request_receiver_down
        || state_->reg->pool(pool) == handle)
      return take_failed(pool, std::move(result.error()));
  }
  return missing_pool(pool);
}

void app::return_member(const std::string& pool, const caf::actor& member,
                        member_status s) {
  return_member(pool, member, s, 0);
}

void app::return_member(const std::string& pool, const caf::actor& member,
                        member_status s, uint64_t requests_handled) {
  if (auto& handle = returning(pool, member))
    caf::anon_send(handle, return_atom::value, member, s == member_status::fail,
                   requests_handled);
}

void app::return_member(caf::event_based_actor* self, const std::string& pool,
                        const caf::actor& member, member_status s,
                        uint64_t requests_handled) {
  if (auto& handle = returning(pool, member))
    self->send(handle, return_atom::value, member, s == member_status::fail,
               requests_handled);
}

const caf::actor& app::returning(const std::string& pool,
                                 const caf::actor& member) const {
  if (state_)
    state_->group_members.forget(member);
  auto& handle = pool_handle(pool);
  // After stop the pools are gone with their members: nothing to say.
  if (!handle && running())
    warn("return_member: unknown pool \"" + pool + "\"");
  return handle;
}

caf::message app::return_message(const caf::actor& member, member_status s,
                                 uint64_t requests_handled) {
  return caf::make_message(return_atom::value, member,
                           s == member_status::fail, requests_handled);
}

caf::duration app::take_deadline(caf::timespan timeout) const {
  return detail::take_request_timeout(*state_, timeout);
}

caf::message app::take_message(caf::timespan timeout,
                               const std::string* affinity) {
  auto ns = detail::take_timeout_ns(timeout);
  if (affinity == nullptr || affinity->empty())
    return caf::make_message(take_atom::value, ns);
  return caf::make_message(take_atom::value, ns, *affinity);
}

caf::error app::call_failed(const std::string& pool, caf::error err) const {
  return detail::call_error(state_.get(), pool, std::move(err));
}

caf::error app::prepare(const std::string& pool, request_kind kind,
                        pool_config cfg, caf::actor& dest,
                        caf::message& msg) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (kind == request_kind::reconfigure)
    if (auto err = detail::local_only(*state_, pool, "pool_reconfigure"))
      return err;
  dest = state_->reg->pool(pool);
  if (!dest)
    return make_error(errc::pool_not_found, pool);
  switch (kind) {
    case request_kind::utilization:
      msg = caf::make_message(util_atom::value);
      break;
    case request_kind::stats:
      msg = caf::make_message(stats_atom::value);
      break;
    case request_kind::cull:
      msg = caf::make_message(cull_atom::value);
      break;
    case request_kind::reconfigure:
      msg = caf::make_message(reconf_atom::value, std::move(cfg));
      break;
  }
  return {};
}

caf::expected<lease> app::take_lease(caf::scoped_actor& self,
                                     const std::string& pool,
                                     caf::timespan timeout) {
  auto m = take_member(self, pool, timeout);
  if (!m)
    return std::move(m.error());
  return lease{*this, pool, std::move(*m)};
}

// -- introspection -----------------------------------------------------------------

caf::expected<utilization> app::pool_utilization(const std::string& pool) {
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  return ask<utilization>(*state_, pool, handle,
                          caf::make_message(util_atom::value));
}

caf::expected<std::vector<member_info>>
app::pool_stats(const std::string& pool) {
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  return ask<std::vector<member_info>>(*state_, pool, handle,
                                       caf::make_message(stats_atom::value));
}

caf::expected<std::vector<caf::expected<caf::message>>> app::call_free_members(
  const std::string& pool,
  std::function<caf::expected<caf::message>(const caf::actor&)> fn,
  caf::timespan timeout) {
  if (auto err = check_take(pool, timeout))
    return err;
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  // This thread's scoped actor is the consumer of every member it runs on.
  caf::scoped_actor self{system()};
  caf::expected<std::vector<caf::actor>> free{caf::sec::none};
  self->request(handle, timeout, take_free_atom::value)
    .receive([&](std::vector<caf::actor>& xs) { free = std::move(xs); },
             [&](caf::error& err) { free = std::move(err); });
  if (!free)
    return take_failed(pool, std::move(free.error()));
  std::vector<caf::expected<caf::message>> results;
  for (auto& m : *free) {
    try {
      results.push_back(fn(m));
    } catch (...) {
      results.push_back(detail::error_from_exception(std::current_exception()));
    }
    return_member(pool, m);
  }
  return results;
}

std::vector<std::string> app::pool_names() {
  if (!running())
    return {};
  return state_->reg->names();
}

caf::expected<void> app::cull_pool(const std::string& pool) {
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  return ask_void(*state_, pool, handle, caf::make_message(cull_atom::value));
}

// -- the tree ----------------------------------------------------------------------------

caf::actor_system& app::system() const {
  if (!state_)
    throw std::logic_error("pooler::app: an empty handle has no actor system");
  return *state_->sys;
}

caf::actor app::top_supervisor() const {
  return state_ ? state_->top : caf::actor{};
}

caf::expected<caf::actor> app::pool_actor(const std::string& pool) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (auto x = state_->reg->pool(pool))
    return x;
  return make_error(errc::pool_not_found, pool);
}

caf::expected<caf::actor> app::pool_supervisor(const std::string& pool) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (auto x = state_->reg->pool_sup(pool))
    return x;
  return make_error(errc::pool_not_found, pool);
}

caf::expected<caf::actor> app::member_supervisor(const std::string& pool) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (auto x = state_->reg->member_sup(pool))
    return x;
  return make_error(errc::pool_not_found, pool);
}

child_spec pool_child_spec(app& a, pool_config cfg) {
  if (!a.running()) {
    child_spec spec;
    spec.id = pool_sup_id(cfg.name);
    spec.type = child_type::supervisor;
    spec.start = [name = cfg.name](caf::actor_system&, const caf::message&)
      -> caf::expected<caf::actor> { return detail::stopped_error(name); };
    return spec;
  }
  auto st = a.state();
  // The spec owns the pool's record: a restart finds the (possibly
  // reconfigured) config in place, and the name goes with the spec.
  auto rec = std::make_shared<pool_record>(cfg);
  auto inner = pool_sup_spec(st->reg, rec);
  auto spec = inner;
  std::weak_ptr<detail::app_state> weak = st;
  spec.start = [weak, cfg, inner](caf::actor_system& sys,
                                  const caf::message& extra)
    -> caf::expected<caf::actor> {
    auto st = weak.lock();
    if (auto err = detail::unusable(st.get(), cfg.name))
      return err;
    if (auto valid = validate(cfg, sys.config()); !valid)
      return std::move(valid.error());
    return inner.start(sys, extra);
  };
  return spec;
}

void add_to(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category, render_error);
  detail::add_remote_to(cfg);
  cfg.add_message_type<utilization>("pooler_utilization");
  cfg.add_message_type<member_info>("pooler_member_info");
  cfg.add_message_type<std::vector<member_info>>("pooler_member_infos");
  cfg.add_message_type<reconfigure_action>("pooler_reconfigure_action");
  cfg.add_message_type<std::vector<reconfigure_action>>(
    "pooler_reconfigure_actions");
  cfg.add_message_type<process_stats>("pooler_process_stats");
}

// -- shared lease -------------------------------------------------------------------------

struct shared_lease::impl {
  app owner;
  std::string pool;
  caf::actor member;
  caf::actor_addr consumer;
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> released{false};

  void release(bool unwinding) {
    if (released.exchange(true))
      return;
    // A consumer that died (or is dying) holds the member no more: the pool
    // reclaims it on its down message, ok or fail by the exit reason. A
    // return sent now could overtake that message and put back ok a member
    // whose work a crash cut short.
    auto c = caf::actor_cast<caf::strong_actor_ptr>(consumer);
    // CAF marks a quitting actor shutting down before it drops its response
    // handlers (and with them the lease copies they hold).
    constexpr int ending = caf::abstract_actor::is_shutting_down_flag
                           | caf::abstract_actor::is_terminated_flag;
    if (!c || c->get()->getf(ending))
      return;
    auto s = failed || unwinding ? member_status::fail : member_status::ok;
    owner.return_member(pool, member, s, requests);
  }

  ~impl() {
    release(std::uncaught_exceptions() > 0);
  }
};

shared_lease::shared_lease(app a, std::string pool, caf::actor member,
                           caf::actor_addr consumer)
  : impl_(std::make_shared<impl>()) {
  impl_->owner = std::move(a);
  impl_->pool = std::move(pool);
  impl_->member = std::move(member);
  impl_->consumer = std::move(consumer);
}

const caf::actor& shared_lease::member() const noexcept {
  static const caf::actor none;
  return impl_ ? impl_->member : none;
}

void shared_lease::fail() noexcept {
  if (impl_)
    impl_->failed = true;
}

void shared_lease::count_request(uint64_t n) noexcept {
  if (impl_)
    impl_->requests += n;
}

void shared_lease::release() {
  if (impl_)
    impl_->release(false);
}

// -- lease -------------------------------------------------------------------------------

lease::lease(app a, std::string pool, caf::actor member)
  : app_(std::move(a)), pool_(std::move(pool)), member_(std::move(member)) {
}

lease::lease(lease&& other) noexcept
  : app_(std::move(other.app_)),
    pool_(std::move(other.pool_)),
    member_(std::move(other.member_)),
    failed_(other.failed_),
    requests_(other.requests_) {
  other.app_.reset();
}

lease& lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    release();
    app_ = std::move(other.app_);
    pool_ = std::move(other.pool_);
    member_ = std::move(other.member_);
    failed_ = other.failed_;
    requests_ = other.requests_;
    other.app_.reset();
  }
  return *this;
}

lease::~lease() {
  release();
}

void lease::release() {
  if (!app_ || !member_)
    return;
  app_->return_member(pool_, member_,
                      failed_ ? member_status::fail : member_status::ok,
                      requests_);
  app_.reset();
}

} // namespace pooler
