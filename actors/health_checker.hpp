#pragma once

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/protocol.hpp"

namespace pooler {

struct health_checker_state {
  health_job job;
  bool reported = false;
  ~health_checker_state();
};

/// Runs a pool's health check against one idle member and reports
/// `(health_result, member, error)` to the pool exactly once; an empty error
/// means healthy.
caf::behavior health_checker(caf::stateful_actor<health_checker_state>* self,
                             health_job job);

} // namespace pooler
