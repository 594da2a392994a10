#include "actors/runner.hpp"

#include <exception>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace pooler {

namespace {

caf::message guarded(const run_work& work, caf::actor_system& sys) {
  try {
    return work(sys);
  } catch (const std::exception& e) {
    return caf::make_message(
      caf::make_error(caf::sec::runtime_error, std::string{e.what()}));
  } catch (...) {
    return caf::make_message(
      caf::make_error(caf::sec::runtime_error, "user code threw"));
  }
}

void runner(caf::blocking_actor* self, caf::actor reply_to, uint64_t tag,
            run_work work, run_orphaned orphaned) {
  auto result = guarded(work, self->system());
  if (!orphaned) {
    self->send(reply_to, run_done_atom::value, tag, std::move(result));
    return;
  }
  bool taken = false;
  // A receiver that dies before answering bounces the request, so this wait
  // ends either way.
  self->request(reply_to, caf::infinite, run_done_atom::value, tag, result)
    .receive([&] { taken = true; }, [](caf::error&) {});
  if (!taken)
    orphaned(result);
}

} // namespace

run_work hook_work(member_hook hook, caf::actor member) {
  return [hook = std::move(hook), member = std::move(member)](
           caf::actor_system& sys) {
    auto res = (*hook.fn())(sys, member);
    return caf::make_message(res ? caf::error{} : std::move(res.error()));
  };
}

caf::error hook_error(const caf::message& result) {
  if (result.match_elements<caf::error>())
    return result.get_as<caf::error>(0);
  return caf::make_error(caf::sec::unexpected_response, "hook result");
}

void run_detached(caf::actor_system& sys, caf::actor reply_to, uint64_t tag,
                  run_work work, run_orphaned orphaned) {
  // Blocking actors always get a thread of their own.
  sys.spawn(runner, std::move(reply_to), tag, std::move(work),
            std::move(orphaned));
}

} // namespace pooler
