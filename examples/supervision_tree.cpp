// A supervision tree built with pooler's supervisors (docs/supervision.md).
//
//   root                 one_for_one
//   ├── chain            rest_for_one:  db, cache, api
//   ├── pair             all_for_one:   reader, writer
//   ├── jobs             simple_one_for_one: job workers started on demand
//   ├── fragile          one_for_one, at most 1 restart in 5 s: worker
//   └── flaky (added)    one_for_one with backoff: a worker that crashes
//
// Each scene breaks something and prints what the supervisors do about it.
// Runs for about two seconds and needs no input.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "pooler/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

const auto t0 = std::chrono::steady_clock::now();

void say(const std::string& line) {
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0)
              .count();
  std::printf("[%5lld ms] %s\n", static_cast<long long>(ms), line.c_str());
  std::fflush(stdout);
}

// A worker announces its end; it crashes when told to (or at once).
struct worker_state {
  std::string name;
  ~worker_state() {
    say("    stop  " + name);
  }
};

caf::behavior worker(caf::stateful_actor<worker_state>* self, std::string name,
                     bool crash_at_once) {
  self->state.name = std::move(name);
  if (crash_at_once)
    self->send(self, crash_atom::value);
  return {
    [self](crash_atom) {
      self->quit(caf::make_error(caf::sec::runtime_error, "crash"));
    },
  };
}

pooler::child_spec worker_spec(std::string id) {
  pooler::child_spec spec;
  spec.id = id;
  spec.start = [id](caf::actor_system& sys) -> caf::expected<caf::actor> {
    say("    start " + id);
    return sys.spawn(worker, id, false);
  };
  return spec;
}

// Job workers are named after their start_child argument.
pooler::child_spec job_template() {
  pooler::child_spec spec;
  spec.id = "job";
  spec.restart = pooler::restart_type::temporary;
  spec.start = [](caf::actor_system& sys, const caf::message& args)
    -> caf::expected<caf::actor> {
    auto name = "job-" + args.get_as<std::string>(0);
    say("    start " + name);
    return sys.spawn(worker, name, false);
  };
  return spec;
}

// Crashes at once on its first four starts, then stays up.
pooler::child_spec crashing_spec(std::shared_ptr<std::atomic<int>> starts) {
  pooler::child_spec spec;
  spec.id = "flaky-worker";
  spec.start = [starts](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto n = ++*starts;
    say("    start flaky-worker (start #" + std::to_string(n) + ")");
    return sys.spawn(worker, std::string{"flaky-worker"}, n <= 4);
  };
  return spec;
}

pooler::sup_flags flags(pooler::strategy s, int intensity = 5) {
  pooler::sup_flags f;
  f.strategy = s;
  f.intensity = intensity;
  f.period = 5s;
  return f;
}

caf::actor child(caf::scoped_actor& self, const caf::actor& sup,
                 const std::string& id) {
  if (auto children = pooler::which_children(self, sup))
    for (auto& c : *children)
      if (c.id == id)
        return c.child;
  return {};
}

// Polls (for at most 3 s) until `id` runs under a handle other than `old`.
caf::actor wait_restart(caf::scoped_actor& self, const caf::actor& sup,
                        const std::string& id, const caf::actor& old) {
  for (int i = 0; i < 1500; ++i) {
    if (auto now = child(self, sup, id); now && now != old)
      return now;
    std::this_thread::sleep_for(2ms);
  }
  return {};
}

// Crashes child `id` of `sup` and waits until it is back.
caf::actor crash(caf::scoped_actor& self, const caf::actor& sup,
                 const std::string& id) {
  auto old = child(self, sup, id);
  say("  crash " + id);
  caf::anon_send(old, crash_atom::value);
  return wait_restart(self, sup, id, old);
}

void scene(const std::string& title) {
  std::this_thread::sleep_for(50ms); // lets the log of the last scene settle
  say("");
  say("== " + title);
}

} // namespace

int main() {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  using pooler::strategy;

  scene("start: children start in list order, depth first");
  auto root = pooler::start_supervisor(
    sys, flags(strategy::one_for_one),
    {pooler::supervisor_spec("chain", flags(strategy::rest_for_one),
                             {worker_spec("db"), worker_spec("cache"),
                              worker_spec("api")}),
     pooler::supervisor_spec("pair", flags(strategy::all_for_one),
                             {worker_spec("reader"), worker_spec("writer")}),
     pooler::supervisor_spec("jobs", flags(strategy::simple_one_for_one),
                             {job_template()}),
     pooler::supervisor_spec("fragile", flags(strategy::one_for_one, 1),
                             {worker_spec("worker")})});
  if (!root) {
    say("cannot start the tree: " + sys.render(root.error()));
    return 1;
  }

  scene("rest_for_one: 'cache' crashes; 'api' (started after it) is stopped, "
        "both restart");
  crash(self, child(self, *root, "chain"), "cache");

  scene("all_for_one: 'reader' crashes; 'writer' is stopped, both restart");
  crash(self, child(self, *root, "pair"), "reader");

  scene("simple_one_for_one: jobs start on demand with arguments");
  auto jobs = child(self, *root, "jobs");
  caf::actor first;
  for (auto name : {"a", "b", "c"})
    if (auto job = pooler::start_child(self, jobs, caf::make_message(
                                                      std::string{name})))
      first = first ? first : *job;
  pooler::terminate_child(self, jobs, first);
  if (auto n = pooler::count_children(self, jobs))
    say("  jobs running: " + std::to_string(n->active));

  scene("intensity: 'fragile' allows 1 restart in 5 s; a second crash makes "
        "it give up, and root restarts it");
  auto fragile = child(self, *root, "fragile");
  self->monitor(fragile);
  crash(self, fragile, "worker");
  auto worker_now = child(self, fragile, "worker");
  say("  crash worker");
  caf::anon_send(worker_now, crash_atom::value);
  self->receive([&](caf::down_msg& dm) {
    say("  'fragile' exited: " + sys.render(dm.reason));
  });
  if (wait_restart(self, *root, "fragile", fragile))
    say("  root restarted 'fragile'");

  scene("backoff: restarts of a crashing child wait 100, 200, 400, 800 ms "
        "(± 10 %)");
  auto flaky_flags = flags(strategy::one_for_one, 10);
  flaky_flags.backoff = pooler::backoff_spec{100ms, 2s, 2.0, 0.1};
  auto starts = std::make_shared<std::atomic<int>>(0);
  pooler::start_child(
    self, *root,
    pooler::supervisor_spec("flaky", flaky_flags, {crashing_spec(starts)}));
  for (int i = 0; i < 1500 && *starts < 5; ++i)
    std::this_thread::sleep_for(2ms); // the fifth start stays up

  scene("shutdown: every supervisor stops its children in reverse start "
        "order");
  self->monitor(*root);
  self->send_exit(*root, caf::exit_reason::user_shutdown);
  self->receive([&](caf::down_msg& dm) {
    say("root exited: " + sys.render(dm.reason));
  });
  return 0;
}
