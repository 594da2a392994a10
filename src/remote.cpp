// Pools across nodes through CAF's middleman: publishing a node's
// pools, connecting to them, and groups that span nodes.

#include "pooler/remote.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/pooler_service.hpp"
#include "actors/remote_mirror.hpp"
#include "actors/remote_protocol.hpp"
#include "src/app_state.hpp"

namespace pooler {

namespace {

constexpr auto remote_call_timeout = std::chrono::seconds(10);

caf::error no_middleman(const char* what) {
  return caf::make_error(caf::sec::feature_disabled,
                         std::string{what}
                           + " needs the middleman: call "
                             "cfg.load<caf::io::middleman>() before creating "
                             "the actor system");
}

} // namespace

caf::expected<uint16_t> publish(app& a, uint16_t port,
                                const std::string& host) {
  auto& st = *a.state();
  if (st.remote)
    return make_error(errc::not_local, "publish",
                      "a connected handle cannot be published again");
  auto& sys = a.system();
  if (!sys.has_middleman())
    return no_middleman("pooler::publish");
  auto service = sys.spawn(pooler_service, st.reg, st.top);
  // An empty host (or "0.0.0.0") listens on every interface.
  auto where = host.empty() || host == "0.0.0.0" ? nullptr : host.c_str();
  auto bound = sys.middleman().publish(service, port, where, true);
  if (!bound)
    caf::anon_send_exit(service, caf::exit_reason::kill);
  return bound;
}

caf::expected<void> join_remote(app& a, const app& peer) {
  if (!peer.state()->remote)
    return caf::make_error(caf::sec::invalid_argument,
                           "join_remote needs a handle from pooler::connect");
  if (a.state()->remote)
    return make_error(errc::not_local, "join_remote",
                      "join the peer from a local app");
  caf::expected<void> result;
  caf::scoped_actor self{a.system()};
  self
    ->request(peer.state()->top, remote_call_timeout, join_atom::value,
              a.state()->reg, "@" + peer.state()->peer)
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
