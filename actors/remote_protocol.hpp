#pragma once

// The messages of scale-out: what a published pooler service
// answers about its node's pools, and how a connected handle's mirror is
// driven. `remote_pool` crosses the wire (registered by `pooler::add_to`);
// the mirror's own messages stay on one node.

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "src/registry.hpp"

namespace pooler {

/// One pool of a published node: its name, group ("" for none) and current
/// pool actor.
struct remote_pool {
  std::string name;
  std::string group;
  caf::actor pool;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_pool& x) {
  return f(caf::meta::type_name("pooler_remote_pool"), x.name, x.group,
           x.pool);
}

/// (list) -> std::vector<remote_pool>: every pool of the published node.
using list_pools_atom = caf::atom_constant<caf::atom("pl_rlist")>;

/// (sync) -> unit: the mirror fetched the list and applied it.
/// (sync, uint64 generation): the mirror's refresh timer.
using sync_atom = caf::atom_constant<caf::atom("pl_rsync")>;

/// (join, std::shared_ptr<registry>, std::string suffix) -> unit: mirror the
/// remote pools into another (local) registry as `<name><suffix>`.
using join_atom = caf::atom_constant<caf::atom("pl_rjoin")>;

} // namespace pooler

// The registry a mirror writes to is a local object: never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<pooler::registry>)
