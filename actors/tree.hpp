#pragma once

// How pooler's tree is made from the generic supervisor:
//   pooler_sup (one_for_one, 5 / 60 s)
//   ├── starter_sup (simple_one_for_one: starters and stoppers)
//   └── <name>_pool_sup (all_for_one, 5 / 60 s), one per pool
//       ├── member_sup (simple_one_for_one: the members)
//       └── pool

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "pooler/supervisor.hpp"
#include "src/registry.hpp"

namespace pooler {

/// Starts `pooler_sup` with its starter supervisor; records the starter
/// supervisor in `reg`.
caf::expected<caf::actor> start_pooler_sup(caf::actor_system& sys,
                                           std::shared_ptr<registry> reg);

/// The child spec of one pool's subtree, which owns `rec`. Its start
/// registers `rec` under the pool's name (`pool_exists` if another pool holds
/// it) and records the subtree's actors in it (again on every restart). The
/// name is released when the subtree ends and when the last copy of the spec
/// goes (its supervisor deleted the child or ended).
child_spec pool_sup_spec(std::shared_ptr<registry> reg,
                         std::shared_ptr<pool_record> rec);

/// The id of a pool's subtree under `pooler_sup`.
std::string pool_sup_id(const std::string& name);

} // namespace pooler
