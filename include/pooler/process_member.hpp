#pragma once

// External-process members (docs/pools.md): a member actor that owns one OS child
// process and talks to it in newline-delimited JSON over its stdin/stdout.
//
// Wire protocol, one JSON object per line:
//   to the process:   {"id":N,"command":"add","args":[1,2]}
//   from the process: {"id":N,"ok":true,"result":3}
//                or   {"id":N,"ok":false,"error":"text"}
// Replies may come in any order; they are matched by id.
//
// Message protocol of the member actor:
//   (process_call_atom, std::string command, std::string args_json)
//   (process_call_atom, std::string command, std::string args_json,
//    caf::timespan timeout)
//       -> std::string result_json (the reply's "result", serialized)
//       or an error of the category `pooler`:
//          call_failed    the process answered ok:false; detail = its error
//          call_timeout   no reply within the timeout (spec.request_timeout)
//          bad_request    args_json is not JSON
//          bad_reply      the reply line was not JSON or not a valid reply
//          process_failed the process is gone (detail says how)
//   (caf::ping_atom) or (caf::ping_atom, caf::timespan timeout)
//       -> caf::ok_atom once the process answered the command "ping" with
//          ok:true; errors as above (spec.ping_timeout by default)
//   (process_stats_atom) -> process_stats
//
// Lifetime: when the process dies or closes its stdout, the member fails its
// pending requests and exits with `process_failed` (detail e.g. "exited with
// status 3"), so a pool replaces it. When the member exits for any reason
// (including exit_reason::kill), the process gets EOF on stdin and SIGTERM,
// SIGKILL after spec.shutdown_timeout, and is reaped; it also gets SIGKILL
// if the whole program dies (PR_SET_PDEATHSIG). No zombie, no orphan.
//
// A malformed line fails only the request whose id it carries (the id is
// searched in the raw text when the line is not JSON); a line without a
// usable id, or the late reply of a timed-out request, is counted in
// `process_stats::ignored_lines`, logged and ignored.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

/// How to start and run one external process.
struct process_spec {
  /// Program and arguments; argv[0] without a '/' is looked up in PATH
  /// (the PATH of `env` if it sets one). Required.
  std::vector<std::string> argv;
  /// Variables added to (or overriding) the parent's environment.
  std::vector<std::pair<std::string, std::string>> env;
  /// Working directory of the process; "" keeps the parent's.
  std::string working_dir;
  /// Default timeout of a ping (also of the startup ping).
  caf::timespan ping_timeout = std::chrono::seconds(5);
  /// The member pings the process when it starts and exits with
  /// `process_failed` if the ping fails.
  bool ping_on_start = true;
  /// Default timeout of a call.
  caf::timespan request_timeout = std::chrono::seconds(30);
  /// A call that timed out means a hung process: the member fails all its
  /// requests and exits with `process_failed`, which stops the process, so
  /// that a pool replaces it. When false, only that call fails and a late
  /// reply is ignored.
  bool exit_on_timeout = true;
  /// Between SIGTERM and SIGKILL when the process is stopped.
  caf::timespan shutdown_timeout = std::chrono::seconds(5);
  /// Longest reply line; a longer one fails its request with `bad_reply`.
  size_t max_line_length = 16 * 1024 * 1024;
  /// False sends the process's stderr to /dev/null.
  bool inherit_stderr = true;
};

/// Per-member statistics, answered to `process_stats_atom`.
struct process_stats {
  int64_t pid = 0;
  uint64_t requests_handled = 0; ///< calls the process answered (ok or not)
  uint64_t errors = 0;           ///< calls that ended in an error
  uint64_t ignored_lines = 0;    ///< stdout lines matching no request
  caf::timestamp started_at{};
  caf::timestamp last_activity{}; ///< last reply line, or the start
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_stats& x) {
  return f(caf::meta::type_name("pooler_process_stats"), x.pid,
           x.requests_handled, x.errors, x.ignored_lines, x.started_at,
           x.last_activity);
}

/// Request a call: (process_call_atom, command, args_json[, timeout]).
using process_call_atom = caf::atom_constant<caf::atom("proc_call")>;
/// Request the member's statistics: (process_stats_atom) -> process_stats.
using process_stats_atom = caf::atom_constant<caf::atom("proc_stats")>;

/// Starts the process and its member actor; returns once exec succeeded.
/// Errors: `process_failed` with argv[0] as subject and a detail such as
/// "execve /x: No such file or directory", "x: not found in PATH",
/// "chdir /y: ..." or "argv is empty". Does not wait for the startup ping.
caf::expected<caf::actor> spawn_process_member(caf::actor_system& sys,
                                               process_spec spec);

/// A pool's `start`: each member is `spawn_process_member(sys, spec)`.
member_factory process_member_factory(process_spec spec);

/// Registers `type_name` as an actor type (as `add_actor_type` does) whose
/// members are process members of `base`, so that a config file can name it
/// in `start`. The pool's `args` extend `base.argv`, in order: each a string,
/// an integer (written in decimal: INI integers arrive as int64_t) or a list
/// of strings. A spawn with another argument type, or whose process cannot
/// start (logged), fails with `sec::cannot_spawn_actor_from_arguments`.
void add_process_member_type(caf::actor_system_config& cfg,
                             std::string type_name, process_spec base);

/// A pool's `initialize` or health check: the request (caf::ping_atom,
/// timeout); succeeds when the process answers the ping within `timeout`.
member_hook process_ping_hook(caf::timespan timeout);

} // namespace pooler
