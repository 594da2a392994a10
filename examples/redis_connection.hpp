#pragma once

// A Redis connection as a pool member (the Redis example): an actor that
// owns one hiredis `redisContext` to a redis-server.
//
// Message protocol:
//   (redis_cmd_atom, std::vector<std::string> argv) -> std::string
//     The reply rendered as text: a status or bulk string as is, an integer
//     in decimal, an array as a JSON array (nil elements as null). Errors of
//     the category `redis` (`redis_errc`):
//       nil_reply        the reply is nil (e.g. GET of a missing key)
//       command_failed   the server answered with an error (e.g. WRONGTYPE);
//                        the connection stays usable
//       connection_lost  the connection broke or a command timed out; the
//                        member then exits with this error, so that a pool
//                        replaces it
//
// Threading: hiredis calls block, so each member is spawned `caf::detached`
// (a thread of its own) and CAF's scheduler threads never wait on Redis. A
// command timeout (`redisSetTimeout`) bounds every call as well, so that a
// hung server cannot keep a member - and the shutdown of its pool - waiting
// forever. A thread per connection is cheap at connection-pool sizes.
//
// The member connects on its own thread when it starts; if the connection
// fails it exits with `connect_failed`. Use `redis_ping_hook()` as the pool's
// `initialize`, so that such a member counts as a failed start.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "pooler/pool_config.hpp"

namespace redis_example {

/// A command: (redis_cmd_atom, std::vector<std::string> argv).
using redis_cmd_atom = caf::atom_constant<caf::atom("redis_cmd")>;

/// Error codes of the category `redis`.
enum class redis_errc : uint8_t {
  connect_failed = 1,
  connection_lost,
  command_failed,
  nil_reply,
};

constexpr caf::atom_value redis_error_category = caf::atom("redis");

std::string to_string(redis_errc x);

/// An error of the category `redis` whose context is the text `detail`.
caf::error make_error(redis_errc x, std::string detail = {});

/// The detail text of a `redis` error, or "".
std::string redis_error_detail(const caf::error& err);

/// Registers the renderer of `redis` errors, e.g.
/// `redis_error(connection_lost, "Server closed the connection")`.
void add_to(caf::actor_system_config& cfg);

/// Where and how to connect.
struct redis_endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  caf::timespan connect_timeout = std::chrono::seconds(2);
  /// Longest wait for one reply; a timeout counts as a lost connection.
  caf::timespan command_timeout = std::chrono::seconds(2);
};

/// Spawns one connection member (detached); it connects on its own thread.
caf::actor spawn_redis_connection(caf::actor_system& sys, redis_endpoint ep);

/// A pool's `start`: each member is `spawn_redis_connection(sys, ep)`.
pooler::member_factory redis_connection_factory(redis_endpoint ep);

/// A pool's `initialize` (or health check): the command PING, which
/// succeeds only on a connected member.
pooler::member_hook redis_ping_hook();

} // namespace redis_example
