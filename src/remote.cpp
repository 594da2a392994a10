// Pools across nodes through CAF's middleman (SPEC §9): publishing a node's
// pools, connecting to them, and groups that span nodes.

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/pooler_service.hpp"
#include "actors/remote_mirror.hpp"
#include "actors/remote_protocol.hpp"
#include "pooler/app.hpp"
#include "src/app_state.hpp"
#include "src/remote.hpp"

namespace pooler {

namespace {

/// Without heartbeats CAF never notices a peer that goes silent without
/// closing its connection (a frozen process, a cut cable); these defaults
/// bound that to about connection_timeout + heartbeat_interval.
constexpr auto default_heartbeat_interval = std::chrono::milliseconds(500);
constexpr auto default_connection_timeout = std::chrono::seconds(2);

constexpr auto remote_call_timeout = std::chrono::seconds(10);

caf::error no_middleman(const char* what) {
  return caf::make_error(caf::sec::feature_disabled,
                         std::string{what}
                           + " needs the middleman: call "
                             "cfg.load<caf::io::middleman>() before creating "
                             "the actor system");
}

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

caf::expected<uint16_t> app::publish(uint16_t port, const std::string& host) {
  if (state_->remote)
    return make_error(errc::not_local, "publish",
                      "a connected handle cannot be published again");
  auto& sys = system();
  if (!sys.has_middleman())
    return no_middleman("pooler::app::publish");
  auto service = sys.spawn(pooler_service, state_->reg, state_->top);
  // An empty host (or "0.0.0.0") listens on every interface.
  auto where = host.empty() || host == "0.0.0.0" ? nullptr : host.c_str();
  auto bound = sys.middleman().publish(service, port, where, true);
  if (!bound)
    caf::anon_send_exit(service, caf::exit_reason::kill);
  return bound;
}

caf::expected<void> app::join_remote(const app& peer) {
  if (!peer.state_->remote)
    return caf::make_error(caf::sec::invalid_argument,
                           "join_remote needs a handle from pooler::connect");
  if (state_->remote)
    return make_error(errc::not_local, "join_remote",
                      "join the peer from a local app");
  caf::expected<void> result;
  caf::scoped_actor self{system()};
  self
    ->request(peer.state_->top, remote_call_timeout, join_atom::value,
              state_->reg, "@" + peer.state_->peer)
    .receive([] {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<app> connect(caf::actor_system& sys, const std::string& host,
                           uint16_t port) {
  if (!sys.has_middleman())
    return no_middleman("pooler::connect");
  auto service = sys.middleman().remote_actor(host, port);
  if (!service)
    return std::move(service.error());
  auto st = std::make_shared<detail::app_state>();
  st->sys = &sys;
  st->remote = true;
  st->peer = host + ":" + std::to_string(port);
  // The mirror is this handle's "tree": app::stop() and the last handle
  // going away end it.
  st->top = sys.spawn(remote_mirror, std::move(*service), st->reg);
  caf::error err;
  {
    caf::scoped_actor self{sys};
    self->request(st->top, remote_call_timeout, sync_atom::value)
      .receive([] {}, [&](caf::error& x) { err = std::move(x); });
  }
  if (err) {
    st->stop(true);
    return err;
  }
  return app{std::move(st)};
}

} // namespace pooler
