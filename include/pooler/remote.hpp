#pragma once

// Scale-out: a node's pools published through CAF's middleman and used from
// other nodes. Link `pooler::remote` (it brings caf_io); the actor systems
// involved need `cfg.load<caf::io::middleman>()` and `pooler::add_to(cfg)`.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "pooler/app.hpp"

namespace pooler {

/// Makes the pools of `a` reachable by `pooler::connect` at `host:port`
/// (0 = a random port; "" or "0.0.0.0" = every interface) and returns the
/// bound port; unpublished when the tree stops. Errors: CAF's
/// `cannot_open_port`, `feature_disabled` (no middleman), `not_local`.
caf::expected<uint16_t> publish(app& a, uint16_t port,
                                const std::string& host = "127.0.0.1");

/// A handle to the pools another node published with `publish`: takes
/// (event-based and blocking), returns, utilization, stats and group takes
/// work as for local pools; the consumers are monitored across nodes. Pools
/// created or removed there show up within about a second. new_pool,
/// rm_pool, pool_reconfigure and pool_config_of answer `not_local`. If the
/// peer goes away, its pools answer `pool_not_found`. Errors: CAF's
/// `cannot_connect_to_node`, `feature_disabled` (no middleman), or the
/// error of the first pool list request.
caf::expected<app> connect(caf::actor_system& sys, const std::string& host,
                           uint16_t port);

/// Lets the group takes of `a` use the pools of a connected `peer` (beyond
/// Erlang's pooler): they appear in `a` as `<pool>@<host>:<port>`, in their
/// group and by name, and follow the peer's restarts. Errors:
/// `invalid_argument` (peer not from `connect`), `not_local`.
caf::expected<void> join_remote(app& a, const app& peer);

} // namespace pooler
