// A stopper stops one member, so that a slow stop never blocks the pool.
// A stop that does not end the member in time is followed by a kill
// (pooler leaks the slot forever there).

#include "actors/stopper.hpp"

#include <caf/all.hpp>

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
    if (auto res = (*j.stop.fn())(self->system(), j.member); !res)
      kill();
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
  };
}

} // namespace pooler
