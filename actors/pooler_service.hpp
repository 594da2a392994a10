#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "src/registry.hpp"

namespace pooler {

struct pooler_service_state {
  std::shared_ptr<registry> reg;
};

/// The actor `pooler::publish` binds to a port: answers
/// `(list) -> std::vector<remote_pool>` from the node's registry, so a
/// connected node finds the current pool actors. It ends with the tree
/// (`top`) and then unpublishes itself.
caf::behavior pooler_service(caf::stateful_actor<pooler_service_state>* self,
                             std::shared_ptr<registry> reg, caf::actor top);

} // namespace pooler
