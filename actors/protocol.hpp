#pragma once

// The messages between pooler's own actors: the app API and the pool actor,
// the pool and its starters and stoppers. Private to the library.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/timespan.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

// -- requests to a pool actor ----------------------------------------------------

/// (take, int64 timeout_ns, std::string affinity) -> caf::actor.
/// timeout_ns: 0 = never wait, < 0 = wait without limit.
using take_atom = caf::atom_constant<caf::atom("pl_take")>;
/// (return, caf::actor member, bool failed, uint64 requests_handled),
/// asynchronous.
using return_atom = caf::atom_constant<caf::atom("pl_return")>;
/// (util) -> utilization.
using util_atom = caf::atom_constant<caf::atom("pl_util")>;
/// (stats) -> std::vector<member_info>.
using stats_atom = caf::atom_constant<caf::atom("pl_stats")>;
/// (ready) -> unit once the initial members have reported or timed out.
using ready_atom = caf::atom_constant<caf::atom("pl_ready")>;
/// (cull) -> unit: cull now. (cull, uint64 generation): the cull timer.
using cull_atom = caf::atom_constant<caf::atom("pl_cull")>;
/// (take_free) -> std::vector<caf::actor>: checks out every free member.
using take_free_atom = caf::atom_constant<caf::atom("pl_takefre")>;
/// (reconf, pool_config) -> std::vector<reconfigure_action>.
using reconf_atom = caf::atom_constant<caf::atom("pl_reconf")>;
/// (config) -> pool_config.
using config_atom = caf::atom_constant<caf::atom("pl_config")>;

// -- the pool's own timers ------------------------------------------------------------

/// (tick_queue, uint64 generation): expire waiters whose deadline passed.
using tick_queue_atom = caf::atom_constant<caf::atom("pl_tqueue")>;
/// (tick_ttl, uint64 generation): stop free members past their lifetime.
using tick_ttl_atom = caf::atom_constant<caf::atom("pl_tttl")>;
/// (tick_start, uint64 generation): abandon the starts whose
/// member_start_timeout has passed.
using tick_start_atom = caf::atom_constant<caf::atom("pl_tstart")>;
/// (tick_grow, uint64 generation): the start backoff is over.
using tick_grow_atom = caf::atom_constant<caf::atom("pl_tgrow")>;
/// (tick_health, uint64 generation): check idle members.
using tick_health_atom = caf::atom_constant<caf::atom("pl_thealth")>;

// -- starters and stoppers ---------------------------------------------------------------

/// (accept, uint64 start_id, caf::actor member) or
/// (accept, uint64 start_id, caf::error reason): a starter's report.
using accept_atom = caf::atom_constant<caf::atom("pl_accept")>;
/// (health_result, caf::actor member, caf::error) from a health checker;
/// an empty error means healthy.
using health_result_atom = caf::atom_constant<caf::atom("pl_health")>;
/// (drain): a take or a return in a caller's thread left effects that only
/// the pool actor can carry out (see src/shared_book.hpp).
using drain_atom = caf::atom_constant<caf::atom("pl_drain")>;

/// What a starter needs to start one member (sent in a start_child request
/// to the starter supervisor).
struct start_job {
  caf::actor pool;
  caf::actor member_sup;
  member_hook initialize;
  caf::timespan timeout;
  uint64_t id = 0;
  std::string pool_name; ///< the subject of the errors the starter reports
};

/// What a stopper needs to stop one member.
struct stop_job {
  caf::actor member;
  caf::actor member_sup;
  member_hook stop;
  caf::timespan shutdown; ///< wait for the member to exit before killing it
};

/// What a health checker needs to check one idle member.
struct health_job {
  caf::actor pool;
  caf::actor member;
  member_hook check;
  caf::timespan timeout;
};

} // namespace pooler

// Local only: jobs and configs carry std::functions.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::start_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::stop_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::health_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pooler::pool_config)
