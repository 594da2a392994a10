// The app handle: takes and returns, event-based and blocking.

#include "pooler/app.hpp"

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "src/app_state.hpp"
#include "src/log.hpp"
#include "src/shared_book.hpp"

namespace pooler {

namespace {

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

caf::actor app::take_here(caf::actor_control_block* who,
                          const std::string& pool, const std::string* affinity,
                          caf::execution_unit* ctx) const {
  static const std::string none;
  if (!running())
    return {};
  auto& ref = state_->reg->cached(pool);
  if (!ref.book)
    return {};
  return ref.book->take_here(who, affinity ? *affinity : none, ctx);
}

bool app::return_here(const std::string& pool, const caf::actor& member,
                      member_status s, uint64_t requests_handled,
                      caf::execution_unit* ctx) const {
  if (!running())
    return false;
  auto& ref = state_->reg->cached(pool);
  if (!ref.book
      || !ref.book->give_back_here(member, s == member_status::fail,
                                   requests_handled, ctx))
    return false;
  state_->group_members.forget(member);
  return true;
}

caf::expected<caf::actor>
app::try_take_here(caf::actor_control_block* who, caf::execution_unit* ctx,
                   const std::string& pool,
                   const std::optional<std::string>& affinity) const {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  auto& ref = state_->reg->cached(pool);
  if (!ref.pool)
    return make_error(errc::pool_not_found, pool);
  if (!ref.book)
    return make_error(errc::invalid_argument, pool,
                      "try_take_member from an event-based actor needs a pool "
                      "of this process; use take_member with a timeout of 0");
  static const std::string none;
  return ref.book->try_take_here(who, affinity ? *affinity : none, ctx);
}

caf::expected<caf::actor>
app::try_take_member(caf::scoped_actor& self, const std::string& pool,
                     std::optional<std::string> affinity) {
  if (auto err = detail::unusable(state_.get(), pool))
    return err;
  if (auto& ref = state_->reg->cached(pool); ref.book) {
    static const std::string none;
    auto m = ref.book->try_take_here(self->ctrl(),
                                     affinity ? *affinity : none, nullptr);
    // A pool actor that stopped may be restarting: the message path waits
    // for its successor.
    if (m || m.error() != errc::pool_not_found)
      return m;
  }
  return take_member(self, pool, caf::timespan{0}, std::move(affinity));
}

caf::expected<caf::actor> app::take_member(caf::scoped_actor& self,
                                           const std::string& pool,
                                           caf::timespan timeout,
                                           std::optional<std::string> affinity) {
  if (auto err = check_take(pool, timeout))
    return err;
  if (auto m = take_here(self->ctrl(), pool,
                         affinity ? &*affinity : nullptr, nullptr))
    return m;
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
  if (return_here(pool, member, s, requests_handled, nullptr))
    return;
  if (auto& handle = returning(pool, member))
    caf::anon_send(handle, return_atom::value, member, s == member_status::fail,
                   requests_handled);
}

void app::return_member(caf::event_based_actor* self, const std::string& pool,
                        const caf::actor& member, member_status s,
                        uint64_t requests_handled) {
  if (return_here(pool, member, s, requests_handled, self->context()))
    return;
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

} // namespace pooler
