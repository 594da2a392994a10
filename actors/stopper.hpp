#pragma once

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/protocol.hpp"

namespace pooler {

struct stopper_state {
  stop_job job;
  bool member_down = false;
  /// A stopper that ends before its member (killed, or its stop hook threw)
  /// kills the member: the pool's down message for it must always come.
  ~stopper_state();
};

/// Stops one member: runs the pool's `stop` hook, or asks the member
/// supervisor to terminate it; kills it if it is not gone within the job's
/// shutdown time. Quits when the member is down.
caf::behavior stopper(caf::stateful_actor<stopper_state>* self, stop_job job);

} // namespace pooler
