#pragma once

// pooler's diagnostics: lines about harmless misuse and trouble that no reply
// can carry (a member returned twice, a member type that failed to start, a
// supervisor giving up). They go to one process-wide log function, stderr by
// default. pooler does not use CAF's logger: Debian's CAF is built without it,
// and a log function forwards to CAF's logger, spdlog or syslog alike.
//
// Repeated lines are rate-limited per key (the message text, unless the
// caller gives a key): the first line of a key is passed on, the following
// ones within the interval are counted, and when the interval has passed the
// last of them is passed on once with " (N more suppressed)" appended. So a
// burst of returns of unknown members costs two lines per second, not one per
// return.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace pooler {

/// Severity of a line; `off` is only a threshold for `set_log_level`.
enum class log_level { debug, info, warning, error, off };

/// "debug", "info", "warning", "error" or "off".
std::string to_string(log_level x);

/// Receives each line that passes the level and the rate limit, without a
/// trailing newline. Called from any thread, possibly concurrently.
using log_function = std::function<void(log_level, std::string_view)>;

/// Sends pooler's lines to `fn` instead of stderr; an empty `fn` restores the
/// default, which writes "pooler: <line>" to stderr. Thread-safe.
void set_log_function(log_function fn);

/// Drops lines below `level` (default: warning, or off when the environment
/// variable POOLER_QUIET is set at the first line). Thread-safe.
void set_log_level(log_level level);

/// The current threshold set by `set_log_level` or the environment.
log_level get_log_level();

/// Passes at most one line per key per `interval` (default 1 s); zero turns
/// rate limiting off. Thread-safe.
void set_log_rate_limit(std::chrono::milliseconds interval);

/// Passes on the suppression counts still pending (otherwise passed with the
/// next line after their interval, or at exit for the default stderr).
void flush_log();

} // namespace pooler
