// A starter starts one member: it asks the pool's member supervisor for a
// child, runs the `initialize` hook against it and reports to the pool.
// Starters run in parallel, so a slow start never blocks the pool or other
// starts (pooler issue #104).
//
// The starter keeps a behavior until it has reported: a failed member is
// killed and the failure reported only when its down message arrives, so a
// slot is never freed while its member is still alive.

#include "actors/starter.hpp"

#include <caf/all.hpp>

#include "actors/runner.hpp"
#include "pooler/errors.hpp"
#include "pooler/supervisor.hpp"

namespace pooler {

namespace {

using starter_ptr = caf::stateful_actor<starter_state>*;

/// The member_start_timeout of this start has passed.
using start_timeout_atom = caf::atom_constant<caf::atom("st_tmout")>;

void report(starter_ptr self, caf::message result) {
  self->state.reported = true;
  self->send(self->state.job.pool, std::move(result));
  self->quit();
}

void report_member(starter_ptr self) {
  auto& st = self->state;
  if (st.failed)
    return; // a late reply to an initialize that has timed out
  st.ready = true;
  report(self, caf::make_message(accept_atom::value, st.job.id, st.member));
}

void report_failure(starter_ptr self) {
  auto& st = self->state;
  report(self, caf::make_message(accept_atom::value, st.job.id, st.failure));
}

// The first cause wins: a timeout after an initialize error changes nothing.
void fail(starter_ptr self, caf::error cause) {
  auto& st = self->state;
  if (st.failed || st.ready)
    return;
  st.failed = true;
  st.failure = std::move(cause);
  if (!st.member)
    return; // the member supervisor has not answered yet; see on_spawned
  self->monitor(st.member);
  self->send_exit(st.member, caf::exit_reason::kill);
}

void initialize(starter_ptr self) {
  auto& st = self->state;
  auto& hook = st.job.initialize;
  if (!hook) {
    report_member(self);
  } else if (hook.is_message()) {
    // Any non-error reply means success; a reply of a type we cannot name
    // arrives as unexpected_response, which is a reply too. The start's own
    // timer bounds the wait.
    self->request(st.member, caf::infinite, hook.msg())
      .then(
        [self] { report_member(self); },
        [self](caf::error& err) {
          if (err == caf::sec::unexpected_response)
            report_member(self);
          else
            fail(self, std::move(err));
        });
  } else {
    // User code may block: it runs on a thread of its own (see runner.hpp).
    run_detached(self->system(), caf::actor_cast<caf::actor>(self), st.job.id,
                 hook_work(hook, st.member));
  }
}

void on_spawned(starter_ptr self, caf::actor member) {
  auto& st = self->state;
  st.member = std::move(member);
  if (!st.failed) {
    initialize(self);
    return;
  }
  // Timed out while the factory ran: the late member must not outlive the
  // start it belongs to.
  self->monitor(st.member);
  self->send_exit(st.member, caf::exit_reason::kill);
}

} // namespace

starter_state::~starter_state() {
  if (reported)
    return;
  if (member)
    caf::anon_send_exit(member, caf::exit_reason::kill);
  if (job.pool)
    caf::anon_send(job.pool, accept_atom::value, job.id,
                   make_error(errc::start_failed, job.pool_name,
                              "starter stopped"));
}

caf::behavior starter(caf::stateful_actor<starter_state>* self, start_job job) {
  self->state.job = std::move(job);
  auto& j = self->state.job;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.member && dm.source == st.member.address())
      report_failure(self);
  });
  // The member supervisor is not monitored: its answer comes whatever
  // happens to it (a supervisor that ends answers every pending start, a
  // dead one bounces the request), and a monitor on it would outlive this
  // starter (CAF keeps a monitor until the observed actor dies) and make
  // each of its exits scan one entry per start ever made.
  // No timeout on the request: a member the factory delivers late must still
  // reach this starter, which then stops it (see on_spawned).
  self->request(j.member_sup, caf::infinite, start_child_atom::value,
                caf::message{})
    .then([self](caf::actor& member) { on_spawned(self, std::move(member)); },
          [self](caf::error& err) {
            // No member exists: report at once (a timeout's cause stays).
            fail(self, std::move(err));
            report_failure(self);
          });
  self->delayed_send(self, j.timeout, start_timeout_atom::value);
  return {
    [self](run_done_atom, uint64_t, caf::message& result) {
      if (auto err = hook_error(result))
        fail(self, std::move(err));
      else
        report_member(self);
    },
    [self](start_timeout_atom) {
      fail(self, make_error(errc::start_failed, self->state.job.pool_name,
                            "not started within member_start_timeout"));
    },
  };
}

} // namespace pooler
