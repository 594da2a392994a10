// The top of pooler's tree: a one_for_one supervisor over the starter
// supervisor and one subtree per pool.

#include "actors/tree.hpp"

#include <caf/all.hpp>

#include "actors/health_checker.hpp"
#include "actors/protocol.hpp"
#include "actors/starter.hpp"
#include "actors/stopper.hpp"

namespace pooler {

namespace {

// Starters, stoppers and health checkers are the same kind of short-lived child; the job in
// the start_child arguments says which one to spawn.
caf::expected<caf::actor> spawn_job(caf::actor_system& sys,
                                    const caf::message& job) {
  if (job.match_elements<start_job>())
    return sys.spawn(starter, job.get_as<start_job>(0));
  if (job.match_elements<stop_job>())
    return sys.spawn(stopper, job.get_as<stop_job>(0));
  if (job.match_elements<health_job>())
    return sys.spawn(health_checker, job.get_as<health_job>(0));
  return caf::make_error(caf::sec::invalid_argument,
                         "starter_sup: unknown job");
}

child_spec starter_sup_spec(std::shared_ptr<registry> reg) {
  child_spec worker;
  worker.id = "starter";
  worker.start = spawn_job;
  worker.restart = restart_type::temporary;
  worker.shutdown = shutdown_spec::kill();
  worker.inline_start = true; // spawning a starter never blocks
  child_spec spec;
  spec.id = "starter_sup";
  spec.type = child_type::supervisor;
  spec.start = [reg, worker](caf::actor_system& sys) -> caf::expected<caf::actor> {
    sup_flags flags;
    flags.strategy = strategy::simple_one_for_one;
    auto sup = start_supervisor(sys, flags, {worker});
    if (sup)
      reg->set_starter_sup(*sup);
    return sup;
  };
  return spec;
}

} // namespace

caf::expected<caf::actor> start_pooler_sup(caf::actor_system& sys,
                                           std::shared_ptr<registry> reg) {
  sup_flags flags;
  flags.strategy = strategy::one_for_one;
  flags.intensity = 5;
  flags.period = std::chrono::seconds(60);
  return start_supervisor(sys, flags, {starter_sup_spec(std::move(reg))});
}

} // namespace pooler
