#pragma once

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/protocol.hpp"

namespace pooler {

struct starter_state {
  start_job job;
  bool reported = false;
  ~starter_state();
};

/// Starts one member for a pool and reports `(accept, id, member)` or
/// `(accept, id, error)` to it, exactly once.
caf::behavior starter(caf::stateful_actor<starter_state>* self, start_job job);

} // namespace pooler
