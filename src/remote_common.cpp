// The parts of scale-out that every app needs, without CAF's middleman (so
// without caf_io): the types that cross the wire, the heartbeat defaults, and
// the check that an operation runs on the pool's own node. Publishing and
// connecting live in src/remote.cpp, in the pooler::remote library.

#include <caf/all.hpp>

#include "actors/remote_protocol.hpp"
#include "src/app_state.hpp"
#include "src/remote.hpp"

namespace pooler {

namespace {

/// Without heartbeats CAF never notices a peer that goes silent without
/// closing its connection (a frozen process, a cut cable); these defaults
/// bound that to about connection_timeout + heartbeat_interval.
constexpr auto default_heartbeat_interval = std::chrono::milliseconds(500);
constexpr auto default_connection_timeout = std::chrono::seconds(2);

void set_default(caf::actor_system_config& cfg, const char* key,
                 caf::timespan value) {
  if (caf::get_if(&cfg.content, key) == nullptr)
    cfg.set(key, value);
}

} // namespace

namespace detail {

void add_remote_to(caf::actor_system_config& cfg) {
  cfg.add_message_type<remote_pool>("pooler_remote_pool");
  cfg.add_message_type<std::vector<remote_pool>>("pooler_remote_pools");
  set_default(cfg, "middleman.heartbeat-interval", default_heartbeat_interval);
  set_default(cfg, "middleman.connection-timeout", default_connection_timeout);
}

caf::error local_only(const app_state& st, const std::string& pool,
                      const char* op) {
  auto handle = st.reg->pool(pool);
  if (!st.remote && (!handle || handle.node() == st.sys->node()))
    return {};
  return make_error(errc::not_local, pool,
                    std::string{op}
                      + " works on the pool's own node only (a pool_config "
                        "holds functions and cannot cross nodes)");
}

} // namespace detail

} // namespace pooler
