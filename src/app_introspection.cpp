// The app handle: introspection and maintenance of pools, blocking and as
// requests for actors.

#include "pooler/app.hpp"

#include <caf/all.hpp>

#include "actors/protocol.hpp"
#include "src/app_ask.hpp"
#include "src/app_state.hpp"
#include "src/remote.hpp"

namespace pooler {

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

// -- introspection -----------------------------------------------------------------

caf::expected<utilization> app::pool_utilization(const std::string& pool) {
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  return detail::ask<utilization>(*state_, pool, handle,
                          caf::make_message(util_atom::value));
}

caf::expected<std::vector<member_info>>
app::pool_stats(const std::string& pool) {
  auto handle = pool_handle(pool);
  if (!handle)
    return missing_pool(pool);
  return detail::ask<std::vector<member_info>>(*state_, pool, handle,
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
      results.push_back(
        detail::error_from_exception(std::current_exception(), pool));
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
  return detail::ask_void(*state_, pool, handle,
                          caf::make_message(cull_atom::value));
}

} // namespace pooler
