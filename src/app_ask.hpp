#pragma once

// Blocking requests from the app's calls to a pool actor.

#include <caf/all.hpp>

#include "src/app_state.hpp"

namespace pooler::detail {

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

inline caf::expected<void> ask_void(const detail::app_state& st,
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

} // namespace pooler::detail
