// The app handle: pooler's tree, pools by name, their lifecycle.

#include "pooler/app.hpp"

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "actors/tree.hpp"
#include "pooler/config_file.hpp"
#include "pooler/process_member.hpp"
#include "src/app_ask.hpp"
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

} // namespace detail

namespace {

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
  auto ready = detail::ask_void(*state_, name, reg.pool(name),
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
  return detail::ask<std::vector<reconfigure_action>>(
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

} // namespace pooler
