// Example: a pool of Python worker processes (examples/python_worker.py)
// with session affinity (docs/pools.md).
//
// Three sessions send requests in turn through `execute_in_session`; each
// request is served by the worker bound to its session, whose per-process
// counter grows. Half-way, bob's worker process is killed with SIGKILL: the
// pool replaces the member, and bob continues on another process (whose
// counter is its own). Exits 0 when every session kept its worker (bob
// until the kill) and every counter counted on.
//
// The pool has one worker more than there are sessions and hands out the
// worker idle the longest (fifo): a session that lost its worker then gets
// the spare one, not the idle worker of another session (a session is
// bound to *any* free member when its own is not free).
//
//   python_pool [--rounds=4] [--python=python3]
//               [--script=examples/python_worker.py]

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <sys/types.h>

#include <caf/all.hpp>

#include "pooler/pooler.hpp"
#include "pooler/process_member.hpp"

using namespace std::chrono_literals;
using pooler::process_call_atom;

namespace {

constexpr const char* pool_name = "python";

const std::vector<std::string> sessions{"alice", "bob", "carol"};
const size_t workers = sessions.size() + 1;

struct example_config : caf::actor_system_config {
  std::string python = "python3";
  std::string script = POOLER_SOURCE_DIR "/examples/python_worker.py";
  size_t rounds = 4;

  example_config() {
    pooler::add_to(*this);
    opt_group{custom_options_, "global"}
      .add(python, "python", "the Python interpreter (default python3)")
      .add(script, "script", "the worker script")
      .add(rounds, "rounds", "requests per session, at least 2 (default 4)");
  }
};

pooler::pool_config make_pool(const example_config& cfg) {
  pooler::process_spec spec;
  spec.argv = {cfg.python, cfg.script};
  spec.request_timeout = 10s; // a hung worker is replaced after this
  spec.shutdown_timeout = 2s;
  pooler::pool_config pool;
  pool.name = pool_name;
  pool.init_count = workers;
  pool.max_count = workers;
  pool.start = pooler::process_member_factory(spec);
  pool.initialize = pooler::process_ping_hook(10s);
  // fifo: a session without a worker gets the one idle the longest, so that
  // sessions taking turns keep their own workers.
  pool.member_order = pooler::member_order::fifo;
  return pool;
}

// One step of a session: its counter on the worker that served it, and
// that worker's pid.
struct step {
  caf::expected<std::string> counter{caf::sec::none};
  caf::expected<std::string> pid{caf::sec::none};
};

step run_step(pooler::app& app, caf::scoped_actor& self,
              const std::string& session) {
  auto call = [&](const char* command) {
    return app.execute_in_session<std::string>(
      self, pool_name, session, 10s,
      caf::make_message(process_call_atom::value, std::string{command},
                        std::string{"null"}));
  };
  step res;
  res.counter = call("incr");
  res.pid = call("pid");
  return res;
}

// Kills the worker process bound to `session` and waits until the pool has
// replaced it. Returns the pid killed, or 0 on failure.
long kill_worker_of(pooler::app& app, caf::scoped_actor& self,
                    const std::string& session) {
  auto m = app.take_member(self, pool_name, 10s, session);
  if (!m)
    return 0;
  long pid = 0;
  self->request(*m, 10s, process_call_atom::value, std::string{"pid"},
                std::string{"null"})
    .receive([&](std::string& x) { pid = std::stol(x); },
             [](caf::error&) {});
  app.return_member(pool_name, *m);
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), SIGKILL) != 0)
    return 0;
  self->monitor(*m);
  bool down = false;
  self->receive(
    [&](caf::down_msg& dm) {
      down = true;
      std::printf("  member of pid %ld exited: %s\n", pid,
                  self->system().render(dm.reason).c_str());
    },
    caf::after(10s) >> [] {});
  if (!down)
    return 0;
  // Our down message may arrive before the pool's: wait until the pool has
  // dropped the dead member and started its replacement.
  auto replaced = [&] {
    auto stats = app.pool_stats(pool_name);
    if (!stats || stats->size() != workers)
      return false;
    for (auto& x : *stats)
      if (x.member == *m || x.status != pooler::member_state::free)
        return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (replaced())
      return pid;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

void print_stats(pooler::app& app, caf::scoped_actor& self) {
  auto stats = app.pool_stats(pool_name);
  if (!stats)
    return;
  std::printf("\n%-8s %-8s %10s %10s %10s\n", "pid", "session", "checkouts",
              "requests", "sessions");
  for (auto& m : *stats) {
    int64_t pid = 0;
    self->request(m.member, 10s, pooler::process_stats_atom::value)
      .receive([&](pooler::process_stats& s) { pid = s.pid; },
               [](caf::error&) {});
    auto session = m.session.empty() ? "-" : m.session.c_str();
    std::printf("%-8lld %-8s %10llu %10llu %10llu\n",
                static_cast<long long>(pid), session,
                static_cast<unsigned long long>(m.checkouts),
                static_cast<unsigned long long>(m.requests_handled),
                static_cast<unsigned long long>(m.sessions_served));
  }
}

// Runs the sessions; returns the number of unexpected outcomes.
int run(caf::actor_system& sys, const example_config& cfg) {
  auto app = pooler::app::start(sys, {make_pool(cfg)});
  if (!app) {
    std::fprintf(stderr, "python_pool: %s\n", sys.render(app.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  std::map<std::string, std::string> worker_of; // session -> pid
  std::map<std::string, long> next_counter;     // pid -> its next counter
  int problems = 0;
  long killed = 0;
  for (size_t round = 1; round <= cfg.rounds; ++round) {
    std::printf("round %zu\n", round);
    for (auto& session : sessions) {
      auto s = run_step(*app, self, session);
      if (!s.counter || !s.pid) {
        auto& err = s.counter ? s.pid.error() : s.counter.error();
        std::printf("  %-6s failed: %s\n", session.c_str(),
                    sys.render(err).c_str());
        ++problems;
        continue;
      }
      auto& known = worker_of[session];
      auto note = known.empty() ? "new worker"
                  : known == *s.pid ? "same worker"
                                    : "new worker (replaced)";
      // The worker's own counter: every incr it served, in this session or
      // another.
      auto& want = next_counter[*s.pid];
      if (want == 0)
        want = 1;
      if (std::stol(*s.counter) != want++)
        ++problems;
      std::printf("  %-6s -> pid %-7s counter %-3s %s\n", session.c_str(),
                  s.pid->c_str(), s.counter->c_str(), note);
      // Only bob's worker is killed: only bob may change workers, once.
      auto bobs_killed = session == "bob" && killed != 0
                         && known == std::to_string(killed);
      if (!known.empty() && known != *s.pid && !bobs_killed)
        ++problems;
      known = *s.pid;
    }
    if (round == cfg.rounds / 2 && killed == 0) {
      std::printf("killing bob's worker (pid %s) with SIGKILL\n",
                  worker_of["bob"].c_str());
      killed = kill_worker_of(*app, self, "bob");
      if (killed == 0 || std::to_string(killed) != worker_of["bob"]) {
        std::printf("  the worker was not replaced\n");
        ++problems;
      } else {
        std::printf("  replaced: the pool has %zu free workers again\n",
                    workers);
      }
    }
  }
  print_stats(*app, self);
  app->stop();
  return problems;
}

} // namespace

int main(int argc, char** argv) {
  example_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "python_pool: %s\n", cfg.render(err).c_str());
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.rounds < 2) {
    std::fprintf(stderr, "python_pool: --rounds must be at least 2\n");
    return 2;
  }
  int problems = 0;
  {
    caf::actor_system sys{cfg};
    problems = run(sys, cfg);
  }
  if (problems != 0)
    std::printf("\n%d unexpected outcome(s)\n", problems);
  else
    std::printf("\nevery request was served by its session's worker\n");
  return problems == 0 ? 0 : 1;
}
