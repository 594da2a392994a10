// A stopper stops one member, so that a slow stop never blocks the pool.
// A stop that does not end the member in time is followed by a kill
// (pooler leaks the slot forever there).

#include "actors/stopper.hpp"

#include <caf/all.hpp>

#include "actors/runner.hpp"
#include "pooler/supervisor.hpp"

namespace pooler {

namespace {

using kill_atom = caf::atom_constant<caf::atom("st_kill")>;

} // namespace

stopper_state::~stopper_state() {
  if (!member_down && job.member)
    caf::anon_send_exit(job.member, caf::exit_reason::kill);
}

caf::behavior stopper(caf::stateful_actor<stopper_state>* self, stop_job job) {
  self->state.job = std::move(job);
  auto& j = self->state.job;
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source != self->state.job.member.address())
      return;
    self->state.member_down = true;
    self->quit();
  });
  self->monitor(j.member);
  auto kill = [self] {
    self->send_exit(self->state.job.member, caf::exit_reason::kill);
  };
  if (j.stop && j.stop.is_message()) {
    self->send(j.member, j.stop.msg());
  } else if (j.stop) {
    // User code may block: it runs on a thread of its own (see runner.hpp).
    run_detached(self->system(), caf::actor_cast<caf::actor>(self), 0,
                 hook_work(j.stop, j.member));
  } else {
    self
      ->request(j.member_sup, caf::infinite, terminate_child_atom::value,
                j.member)
      .then([] {},
            [kill](caf::error& err) {
              if (err != caf::sec::unexpected_response)
                kill();
            });
  }
  self->delayed_send(self, j.shutdown, kill_atom::value);
  return {
    [kill](kill_atom) { kill(); },
    [kill](run_done_atom, uint64_t, caf::message& result) {
      if (hook_error(result))
        kill();
    },
  };
}

} // namespace pooler
