#pragma once

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/protocol.hpp"

namespace pooler {

struct starter_state {
  start_job job;
  /// The member, once the member supervisor has started it.
  caf::actor member;
  /// Why the start failed; reported once the member is gone.
  caf::error failure;
  bool failed = false;
  bool ready = false; ///< initialized; nothing left to wait for
  bool reported = false;
  /// Kills a member it still owns and tells the pool, whatever ended the
  /// starter, so that neither a member nor a slot is leaked.
  ~starter_state();
};

/// Starts one member for a pool and reports `(accept, id, member)` or
/// `(accept, id, error)` to it, exactly once. The error is the start's own
/// cause: the factory's error, the initialize hook's error, or `start_failed`
/// when `member_start_timeout` passed. A failure is reported only after the
/// failed member is gone, so the pool never counts a live member as free.
caf::behavior starter(caf::stateful_actor<starter_state>* self, start_job job);

} // namespace pooler
