// A health checker checks one idle member (SPEC §6.3, NimblePool's
// worker_idle_timeout), so that a slow or hung member never blocks the pool.

#include "actors/health_checker.hpp"

#include <caf/all.hpp>

#include "pooler/errors.hpp"

namespace pooler {

namespace {

using checker_ptr = caf::stateful_actor<health_checker_state>*;

void report(checker_ptr self, caf::error err) {
  auto& st = self->state;
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
  // Unset hook: a ping, which process members answer (SPEC §6.3).
  auto msg = j.check ? j.check.msg() : caf::make_message(caf::ping_atom::value);
  if (j.check && !j.check.is_message()) {
    auto res = (*j.check.fn())(self->system(), j.member);
    report(self, res ? caf::error{} : std::move(res.error()));
    return {};
  }
  // Any non-error reply means healthy; a reply we cannot name is one too.
  self->request(j.member, j.timeout, std::move(msg))
    .then([self] { report(self, caf::error{}); },
          [self](caf::error& err) {
            report(self, err == caf::sec::unexpected_response ? caf::error{}
                                                              : std::move(err));
          });
  return {};
}

} // namespace pooler
