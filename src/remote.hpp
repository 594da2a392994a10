#pragma once

// What the core library knows of scale-out, shared with app.cpp;
// implemented in src/remote_common.cpp.

#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace pooler::detail {

struct app_state;

/// Registers what crosses the wire and sets the heartbeat defaults (see
/// `pooler::add_to`).
void add_remote_to(caf::actor_system_config& cfg);

/// An error if `pool` lives on another node (or `st` is a connected handle):
/// `op` needs the pool's own node, because a pool_config holds functions and
/// cannot cross nodes. No error for local and unknown pools.
caf::error local_only(const app_state& st, const std::string& pool,
                      const char* op);

} // namespace pooler::detail
