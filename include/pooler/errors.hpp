#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace pooler {

/// Error codes of the category `pooler` (atom "pooler"). Zero means no error.
enum class errc : uint8_t {
  /// No member available; the reason (at_capacity, all_in_use, queue_full,
  /// timeout) is in the context, see `no_members_reason`.
  no_members = 1,
  pool_not_found,
  pool_exists,
  /// The context names the pool and the key.
  invalid_config,
  /// `pool_reconfigure` changed `name` or `start`.
  unsupported_change,
  /// `pool_reconfigure` lowered `max_count` below the live count.
  not_enough_free_members,
  not_a_member,
  /// A member (or a supervisor's child) could not be started.
  start_failed,
  // Supervision (OTP's error atoms).
  already_present,
  already_started,
  running,
  not_found,
  simple_one_for_one,
  /// No longer answered: a take on an unknown or emptied group is
  /// `no_members` and `rm_group` of one succeeds, as in pooler. Kept so that
  /// codes and existing comparisons stay valid.
  group_not_found,
  // External-process members; the subject is the command or the
  // program, the detail says what happened.
  /// The process answered `ok:false`; the detail is its error text.
  call_failed,
  /// The process did not answer a request within its timeout.
  call_timeout,
  /// The request could not be sent (e.g. its arguments are not JSON).
  bad_request,
  /// The process wrote a reply line that is not a valid reply.
  bad_reply,
  /// The process could not be started, died, or closed its stdout.
  process_failed,
  /// The operation needs the pool's own node: pool configs hold
  /// functions and cannot cross nodes.
  not_local,
  /// An argument is out of range (e.g. a negative take timeout); the
  /// subject names the pool, the detail the argument.
  invalid_argument,
  /// The call went to an app handle that was stopped (or whose tree ended)
  /// or that is empty (default-constructed); the subject names the pool.
  app_stopped,
  /// The function given to `with_member` (or `for_each_free`-like helpers)
  /// threw; the subject names the pool, the detail is the exception's text.
  function_threw,
};

/// The atom that identifies pooler's error category.
constexpr caf::atom_value error_category = caf::atom("pooler");

/// Returns the name of an error code, e.g. "no_members".
std::string to_string(errc x);

/// Makes an error without context. Found by ADL, so handlers may return `errc`.
caf::error make_error(errc x);

/// Makes an error whose context is the pool (or supervisor child) it concerns
/// and a free-form detail, e.g. `make_error(errc::no_members, "p1", "timeout")`.
caf::error make_error(errc x, std::string subject, std::string detail = {});

/// Renders a pooler error readably, e.g.
/// `pooler_error(no_members, pool "p1": timeout)`; registered by `add_to`.
std::string render_error(uint8_t code, caf::atom_value category,
                         const caf::message& context);

/// The subject of a pooler error (pool name or child id), or "" if none.
std::string error_subject(const caf::error& err);

/// The detail of a pooler error (e.g. "timeout" for `no_members`), or "".
std::string error_detail(const caf::error& err);

/// Reasons of `no_members`, spelled as in pooler's metrics.
namespace no_members_reason {
constexpr const char* at_capacity = "at_capacity";
constexpr const char* all_in_use = "all_in_use";
constexpr const char* queue_full = "queue_full";
constexpr const char* timeout = "timeout";
} // namespace no_members_reason

} // namespace pooler
