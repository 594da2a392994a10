// The published face of a node's pools.

#include "actors/pooler_service.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/remote_protocol.hpp"

namespace pooler {

namespace {

std::vector<remote_pool> list_pools(const registry& reg) {
  std::vector<remote_pool> result;
  for (auto& name : reg.names()) {
    auto pool = reg.pool(name);
    auto cfg = reg.config(name);
    // A pool between a crash and its restart has no actor: skip it, the
    // peer's next sync finds the new one.
    if (pool && cfg)
      result.push_back(remote_pool{name, cfg->group, pool});
  }
  return result;
}

} // namespace

caf::behavior pooler_service(caf::stateful_actor<pooler_service_state>* self,
                             std::shared_ptr<registry> reg, caf::actor top) {
  self->state.reg = std::move(reg);
  // Only a monitor: a strong handle from here would keep the tree alive.
  self->monitor(top);
  self->set_down_handler([self](caf::down_msg&) {
    // The tree is gone: free the port (asynchronously; the middleman may
    // already be shutting down with the whole system).
    auto& sys = self->system();
    if (sys.has_middleman())
      caf::anon_send(sys.middleman().actor_handle(),
                     caf::unpublish_atom::value, self->address(), uint16_t{0});
    self->quit();
  });
  return {
    [self](list_pools_atom) { return list_pools(*self->state.reg); },
  };
}

} // namespace pooler
