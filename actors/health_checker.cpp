// A health checker checks one idle member (NimblePool's
// worker_idle_timeout), so that a slow or hung member never blocks the pool.

#include "actors/health_checker.hpp"

#include <caf/all.hpp>

#include "actors/runner.hpp"
#include "pooler/errors.hpp"

namespace pooler {

namespace {

using checker_ptr = caf::stateful_actor<health_checker_state>*;

/// The check's time is up.
using check_timeout_atom = caf::atom_constant<caf::atom("hc_tmout")>;

void report(checker_ptr self, caf::error err) {
  auto& st = self->state;
  if (st.reported)
    return;
  st.reported = true;
  self->send(st.job.pool, health_result_atom::value, st.job.member,
             std::move(err));
  self->quit();
}

} // namespace

health_checker_state::~health_checker_state() {
  if (!reported && job.pool)
    caf::anon_send(job.pool, health_result_atom::value, job.member,
                   make_error(errc::start_failed, "", "health checker stopped"));
}

caf::behavior health_checker(caf::stateful_actor<health_checker_state>* self,
                             health_job job) {
  self->state.job = std::move(job);
  auto& j = self->state.job;
  if (j.check && !j.check.is_message()) {
    // User code may block: it runs on a thread of its own (see runner.hpp),
    // bounded by the same timeout as a ping.
    run_detached(self->system(), caf::actor_cast<caf::actor>(self), 0,
                 hook_work(j.check, j.member));
  } else {
    // Unset hook: a ping, which process members answer. Any non-error reply
    // means healthy; a reply we cannot name is one too.
    auto msg = j.check ? j.check.msg()
                       : caf::make_message(caf::ping_atom::value);
    self->request(j.member, caf::infinite, std::move(msg))
      .then([self] { report(self, caf::error{}); },
            [self](caf::error& err) {
              report(self, err == caf::sec::unexpected_response
                             ? caf::error{}
                             : std::move(err));
            });
  }
  self->delayed_send(self, j.timeout, check_timeout_atom::value);
  return {
    [self](run_done_atom, uint64_t, caf::message& result) {
      report(self, hook_error(result));
    },
    [self](check_timeout_atom) {
      report(self, caf::make_error(caf::sec::request_timeout,
                                   "health check timed out"));
    },
  };
}

} // namespace pooler
