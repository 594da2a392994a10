// A starter starts one member (SPEC §1): it asks the pool's member supervisor
// for a child, runs the `initialize` hook against it and reports to the pool.
// Starters run in parallel, so a slow start never blocks the pool or other
// starts (pooler issue #104).

#include "actors/starter.hpp"

#include <caf/all.hpp>

#include "pooler/errors.hpp"
#include "pooler/supervisor.hpp"

namespace pooler {

namespace {

using starter_ptr = caf::stateful_actor<starter_state>*;

void report(starter_ptr self, caf::message result) {
  self->state.reported = true;
  self->send(self->state.job.pool, std::move(result));
  self->quit();
}

void report_member(starter_ptr self, const caf::actor& member) {
  report(self, caf::make_message(accept_atom::value, self->state.job.id, member));
}

// A failed member must be gone before the pool frees its slot, or the pool
// could briefly hold more live members than max_count.
void fail(starter_ptr self, const caf::actor& member, caf::error err) {
  auto failure = caf::make_message(accept_atom::value, self->state.job.id,
                                   std::move(err));
  if (!member) {
    report(self, std::move(failure));
    return;
  }
  self->set_down_handler(
    [self, failure](caf::down_msg&) { report(self, failure); });
  self->monitor(member);
  self->send_exit(member, caf::exit_reason::kill);
}

void initialize(starter_ptr self, const caf::actor& member) {
  auto& hook = self->state.job.initialize;
  if (!hook) {
    report_member(self, member);
  } else if (hook.is_message()) {
    // Any non-error reply means success; a reply of a type we cannot name
    // arrives as unexpected_response, which is a reply too.
    auto ok = [self, member] { report_member(self, member); };
    self->request(member, self->state.job.timeout, hook.msg())
      .then(
        [ok] { ok(); },
        [self, member, ok](caf::error& err) {
          if (err == caf::sec::unexpected_response)
            ok();
          else
            fail(self, member, std::move(err));
        });
  } else if (auto res = (*hook.fn())(self->system(), member)) {
    report_member(self, member);
  } else {
    fail(self, member, std::move(res.error()));
  }
}

} // namespace

starter_state::~starter_state() {
  // Whatever ended the starter, the pool must hear about its start.
  if (!reported && job.pool)
    caf::anon_send(job.pool, accept_atom::value, job.id,
                   make_error(errc::start_failed, "", "starter stopped"));
}

caf::behavior starter(caf::stateful_actor<starter_state>* self, start_job job) {
  self->state.job = std::move(job);
  auto& j = self->state.job;
  self->request(j.member_sup, j.timeout, start_child_atom::value, caf::message{})
    .then([self](caf::actor& member) { initialize(self, member); },
          [self](caf::error& err) { fail(self, caf::actor{}, std::move(err)); });
  return {};
}

} // namespace pooler
