#pragma once

// Runs user code (factories, hooks) off CAF's shared scheduler.
//
// A user callable may block: a process member's fork/exec, a slow
// `initialize`, a factory waiting on a resource. On CAF's shared workers two
// such calls stall every actor in the process. A runner is a detached actor
// with a thread of its own that runs one callable and sends its result back
// as a message, so the actor that wanted it keeps handling messages.
//
// Measured on the 2-core build machine (each run includes one message back
// to a waiting caller): a detached runner costs about 60-190 us, an
// event-based actor on the shared workers about 65-90 us; 64 concurrent
// runners about 60-130 us each. Cheap against a member start, and each call
// gets its own thread, so no slow callable waits behind another.

#include <cstdint>
#include <functional>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

/// (run_done, uint64 tag, caf::message result): a runner's result.
using run_done_atom = caf::atom_constant<caf::atom("run_done")>;

/// What a runner runs; its result message goes back to the caller.
using run_work = std::function<caf::message(caf::actor_system&)>;

/// Called on the runner's thread when the result could not be handed over
/// (the receiver is gone or answered with an error), e.g. to kill an actor
/// the work spawned.
using run_orphaned = std::function<void(const caf::message& result)>;

/// Runs `work` on a detached actor and sends `(run_done, tag, result)` to
/// `reply_to`. Without `orphaned`, a plain message. With it, a request that
/// `reply_to` must answer with an empty reply (a `caf::result<void>`
/// handler); if it is gone or answers with an error, `orphaned` runs.
/// An exception from `work` becomes a result of `sec::runtime_error`.
void run_detached(caf::actor_system& sys, caf::actor reply_to, uint64_t tag,
                  run_work work, run_orphaned orphaned = {});

/// The work of running a member hook's function against `member`; its
/// result is read back with `hook_error`.
run_work hook_work(member_hook hook, caf::actor member);

/// The hook's error from a `hook_work` result; empty on success.
caf::error hook_error(const caf::message& result);

} // namespace pooler
