// Pools of external processes (statistics, affinity, the Python example):
// pools of examples/python_worker.py driven through the public API. Every
// wait is on a reply, a down message, or a bounded poll (of the pool or of
// /proc).

#include "pool_fixture.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <csignal>
#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include "child_process.hpp"
#include "gate.hpp"
#include "pooler/process_member.hpp"

using namespace test;
using pooler::errc;
using pooler::member_status;
using pooler::process_call_atom;

namespace {

// The pool and the library warn about returns of members that died; the
// tests look at the pool instead.
[[maybe_unused]] const bool quiet = [] {
  return ::setenv("POOLER_QUIET", "1", 1) == 0;
}();

std::string python() {
  // The real interpreter: a pyenv shim adds ~100 ms per start.
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                 : "python3";
}

pooler::process_spec worker_spec() {
  pooler::process_spec spec;
  spec.argv = {python(), POOLER_SOURCE_DIR "/examples/python_worker.py"};
  spec.ping_timeout = 10s; // a loaded sanitizer build starts python slowly
  spec.shutdown_timeout = 1s;
  return spec;
}

pooler::pool_config python_pool(std::string name, size_t init, size_t max) {
  pooler::pool_config cfg;
  cfg.name = std::move(name);
  cfg.init_count = init;
  cfg.max_count = max;
  cfg.start = pooler::process_member_factory(worker_spec());
  cfg.initialize = pooler::process_ping_hook(10s);
  return cfg;
}

// Parent pid and state letter ('Z' = zombie) of /proc/<pid>/stat; state 0
// when the process is gone (reaped).
struct proc_stat {
  char state = 0;
  pid_t ppid = 0;
};

proc_stat stat_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return {};
  // "pid (comm) S ppid ...": comm may hold spaces, so parse after ')'.
  auto pos = line.rfind(')');
  if (pos == std::string::npos || pos + 4 >= line.size())
    return {'?', 0};
  proc_stat res;
  res.state = line[pos + 2];
  res.ppid = static_cast<pid_t>(std::atol(line.c_str() + pos + 4));
  return res;
}

// Children of this process, zombies included (forked by any thread: the
// kernel reports the thread group as parent).
std::vector<pid_t> children() {
  std::vector<pid_t> res;
  auto dir = ::opendir("/proc");
  if (dir == nullptr)
    return res;
  while (auto entry = ::readdir(dir)) {
    auto pid = static_cast<pid_t>(std::atol(entry->d_name));
    if (pid > 0 && stat_of(pid).ppid == ::getpid())
      res.push_back(pid);
  }
  ::closedir(dir);
  return res;
}

bool gone(pid_t pid) {
  return stat_of(pid).state == 0;
}

struct process_fixture : fixture {
  caf::expected<std::string> call(const caf::actor& m, const std::string& cmd,
                                  const std::string& args = "null") {
    caf::expected<std::string> res = caf::sec::request_timeout;
    self->request(m, 20s, process_call_atom::value, cmd, args)
      .receive([&](std::string& r) { res = std::move(r); },
               [&](caf::error& e) { res = std::move(e); });
    return res;
  }

  pid_t pid_of(const caf::actor& m) {
    auto r = call(m, "pid");
    REQUIRE_MESSAGE(r, sys.render(r.error()));
    return static_cast<pid_t>(std::stol(*r));
  }

  // The pids of `n` members taken at once (so that they are distinct), which
  // are then returned.
  std::set<pid_t> pids_of_members(const std::string& pool, size_t n) {
    std::vector<caf::actor> taken;
    std::set<pid_t> pids;
    for (size_t i = 0; i < n; ++i) {
      auto m = app.take_member(self, pool, 20s);
      REQUIRE_MESSAGE(m, sys.render(m.error()));
      taken.push_back(*m);
      pids.insert(pid_of(*m));
    }
    for (auto& m : taken)
      app.return_member(pool, m);
    return pids;
  }

  caf::expected<std::string> in_session(const std::string& pool,
                                        const std::string& session,
                                        const std::string& cmd) {
    return app.execute_in_session<std::string>(
      self, pool, session, 20s,
      caf::make_message(process_call_atom::value, cmd, std::string{"null"}));
  }

  // True once the pool no longer lists `m`. Our own down message for a
  // member may arrive before the pool's: until the pool has processed its
  // own, it may still hand the dead member out (docs/reliability.md allows
  // that much).
  bool pool_forgets(const std::string& pool, const caf::actor& m) {
    return eventually([&] {
      auto stats = app.pool_stats(pool);
      REQUIRE(stats);
      for (auto& x : *stats)
        if (x.member == m)
          return false;
      return true;
    }, 20s);
  }

  // The stats record of `m` in `pool`; fails the test if there is none.
  pooler::member_info info_of(const std::string& pool, const caf::actor& m) {
    auto stats = app.pool_stats(pool);
    REQUIRE(stats);
    for (auto& x : *stats)
      if (x.member == m)
        return x;
    FAIL("no stats record for the member");
    return {};
  }
};

} // namespace

TEST_CASE_FIXTURE(process_fixture, "a pool of python workers answers requests") {
  REQUIRE(app.new_pool(python_pool("py", 2, 3)));
  CHECK(usage("py").free_count == 2);
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  CHECK(call(*m, "add", "[1, 2, 39]") == std::string{"42"});
  CHECK(call(*m, "echo", R"({"k": [1, "x"]})") == std::string{R"({"k":[1,"x"]})"});
  app.return_member("py", *m);
  REQUIRE(free_becomes("py", 2));
  CHECK(pids_of_members("py", 2).size() == 2);
}

TEST_CASE_FIXTURE(process_fixture, "a worker killed with SIGKILL is replaced "
                                   "and the next request succeeds") {
  REQUIRE(app.new_pool(python_pool("py", 1, 1)));
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  auto pid = pid_of(*m);
  app.return_member("py", *m);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto reason = wait_down(*m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason).find("SIGKILL") != std::string::npos);
  CHECK(eventually([&] { return gone(pid); }, 20s));
  REQUIRE(pool_forgets("py", *m));
  auto next = app.take_member(self, "py", 20s);
  REQUIRE_MESSAGE(next, sys.render(next.error()));
  CHECK(*next != *m);
  CHECK(call(*next, "add", "[2, 3]") == std::string{"5"});
  CHECK(pid_of(*next) != pid);
  app.return_member("py", *next);
}

TEST_CASE_FIXTURE(process_fixture, "rm_pool and app.stop leave no child "
                                   "process and no zombie") {
  REQUIRE(app.new_pool(python_pool("a", 3, 3)));
  REQUIRE(app.new_pool(python_pool("b", 2, 2)));
  auto a_pids = pids_of_members("a", 3);
  auto b_pids = pids_of_members("b", 2);
  REQUIRE(a_pids.size() == 3);
  REQUIRE(b_pids.size() == 2);
  for (auto pid : a_pids)
    CHECK(stat_of(pid).ppid == ::getpid());
  REQUIRE(app.rm_pool("a"));
  for (auto pid : a_pids)
    CHECK_MESSAGE(eventually([&] { return gone(pid); }, 20s),
                  "pid ", pid, " still there, state ", stat_of(pid).state);
  for (auto pid : b_pids)
    CHECK(!gone(pid)); // the other pool is untouched
  app.stop();
  for (auto pid : b_pids)
    CHECK_MESSAGE(eventually([&] { return gone(pid); }, 20s),
                  "pid ", pid, " still there, state ", stat_of(pid).state);
  // Nothing else of ours is left either: no orphan, no zombie.
  CHECK(eventually([] { return children().empty(); }, 20s));
}

TEST_CASE_FIXTURE(process_fixture, "a malformed reply line fails that request "
                                   "clearly and the worker keeps serving") {
  REQUIRE(app.new_pool(python_pool("py", 1, 1)));
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  auto bad = call(*m, "garbage");
  REQUIRE(!bad);
  CHECK(bad.error() == errc::bad_reply);
  CHECK(pooler::error_subject(bad.error()) == "garbage");
  CHECK(pooler::error_detail(bad.error()).find("not JSON") != std::string::npos);
  CHECK(call(*m, "add", "[1, 1]") == std::string{"2"});
  app.return_member("py", *m);
  REQUIRE(free_becomes("py", 1));
  // Still the same member: a bad line is not a broken worker.
  CHECK(app.take_member(self, "py", 20s) == *m);
  app.return_member("py", *m);
}

TEST_CASE_FIXTURE(process_fixture, "a hung worker fails its request with "
                                   "call_timeout and the pool replaces it") {
  REQUIRE(app.new_pool(python_pool("py", 1, 1)));
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  auto pid = pid_of(*m);
  caf::expected<std::string> hung = caf::sec::none;
  self
    ->request(*m, 20s, process_call_atom::value, std::string{"sleep"},
              std::string{"60"}, caf::timespan{300ms})
    .receive([&](std::string& r) { hung = std::move(r); },
             [&](caf::error& e) { hung = std::move(e); });
  REQUIRE(!hung);
  CHECK(hung.error() == errc::call_timeout);
  CHECK(pooler::error_subject(hung.error()) == "sleep");
  // process_spec::exit_on_timeout: the member leaves and stops the process.
  auto reason = wait_down(*m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason).find("timed out") != std::string::npos);
  app.return_member("py", *m, member_status::fail); // harmless: already gone
  CHECK(eventually([&] { return gone(pid); }, 20s));
  REQUIRE(pool_forgets("py", *m));
  auto next = app.take_member(self, "py", 20s);
  REQUIRE_MESSAGE(next, sys.render(next.error()));
  CHECK(*next != *m);
  CHECK(call(*next, "add", "[4, 5]") == std::string{"9"});
  app.return_member("py", *next);
}

TEST_CASE_FIXTURE(process_fixture, "a session keeps its worker while that "
                                   "worker is free") {
  auto cfg = python_pool("py", 3, 3);
  // fifo: a new session gets the worker idle the longest, so two sessions
  // used in turn do not take each other's worker.
  cfg.member_order = pooler::member_order::fifo;
  REQUIRE(app.new_pool(cfg));
  std::map<std::string, std::string> pid_of_session;
  for (int round = 1; round <= 3; ++round) {
    for (std::string session : {"alice", "bob"}) {
      auto counter = in_session("py", session, "incr");
      REQUIRE_MESSAGE(counter, sys.render(counter.error()));
      // The worker's own counter: the same process served every request.
      CHECK(*counter == std::to_string(round));
      auto pid = in_session("py", session, "pid");
      REQUIRE(pid);
      if (round == 1)
        pid_of_session[session] = *pid;
      CHECK(*pid == pid_of_session[session]);
    }
  }
  CHECK(pid_of_session["alice"] != pid_of_session["bob"]);
  // The event-based form with an affinity key finds the same worker.
  auto alice = app.take_member(self, "py", 20s, std::string{"alice"});
  REQUIRE(alice);
  CHECK(std::to_string(pid_of(*alice)) == pid_of_session["alice"]);
  CHECK(call(*alice, "incr") == std::string{"4"});
  app.return_member("py", *alice);
}

TEST_CASE_FIXTURE(process_fixture, "statistics count checkouts, requests, "
                                   "sessions and fail returns") {
  // The stop of the failed member waits at a gate, so that the test sees
  // its record while it is being stopped, however the threads interleave.
  auto stop_gate = std::make_shared<test::gate>();
  test::gate_guard guard{stop_gate};
  auto cfg = python_pool("py", 1, 1);
  cfg.stop = pooler::member_hook::function(
    [stop_gate](caf::actor_system&, const caf::actor& member)
      -> caf::expected<void> {
      stop_gate->pass();
      caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
      return caf::unit;
    });
  REQUIRE(app.new_pool(cfg));
  REQUIRE(in_session("py", "s1", "incr"));
  REQUIRE(in_session("py", "s1", "incr"));
  REQUIRE(in_session("py", "s2", "incr"));
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  auto before = info_of("py", *m);
  CHECK(before.status == pooler::member_state::in_use);
  CHECK(before.checkouts == 4);
  CHECK(before.requests_handled == 3);
  CHECK(before.sessions_served == 2);
  CHECK(before.session == "s2");
  CHECK(before.errors == 0);
  auto failed = call(*m, "fail", R"("disk full")");
  REQUIRE(!failed);
  CHECK(failed.error() == errc::call_failed);
  CHECK(pooler::error_detail(failed.error()) == "disk full");
  app.return_member("py", *m, member_status::fail);
  REQUIRE(eventually([&] { return stop_gate->entered() == 1; }));
  auto after = info_of("py", *m);
  CHECK(after.status == pooler::member_state::stopping);
  CHECK(after.errors == 1);
  CHECK(after.checkouts == 4);
  stop_gate->open();
  wait_down(*m);
  REQUIRE(free_becomes("py", 1));
  auto stats = app.pool_stats("py");
  REQUIRE(stats);
  REQUIRE(stats->size() == 1);
  CHECK(stats->front().member != *m);
  CHECK(stats->front().checkouts == 0);
  CHECK(stats->front().errors == 0);
}

TEST_CASE_FIXTURE(process_fixture, "a health check replaces a worker that "
                                   "stopped answering pings") {
  auto cfg = python_pool("py", 2, 2);
  cfg.health_check_interval = 500ms;
  cfg.health_check = pooler::process_ping_hook(500ms);
  REQUIRE(app.new_pool(cfg));
  auto m = app.take_member(self, "py", 20s);
  REQUIRE(m);
  auto pid = pid_of(*m);
  app.return_member("py", *m);
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  bool down = downs.wait_down(*m, 20s).has_value();
  // Cleanup first, so that a failed check leaves no stopped process behind.
  if (!gone(pid)) {
    ::kill(pid, SIGCONT);
    ::kill(pid, SIGKILL);
  }
  REQUIRE_MESSAGE(down, "the stopped worker was not replaced within 20 s");
  CHECK(eventually([&] { return gone(pid); }, 20s));
  REQUIRE(free_becomes("py", 2));
  for (auto other : pids_of_members("py", 2))
    CHECK(other != pid);
}

// -- a program that exits with busy pools ------------------------------------------

namespace {

/// A child process's role for the two tests below (`--child=busy-exit
/// <mode>`): starts a pool of three python workers, takes all three, puts
/// one to work on a 30 s request, prints the workers' pids and HOLDING, then
/// leaves without app::stop. Mode "return": returns, so the held members, the
/// app handle and the actor system go out of scope with everything busy.
/// Mode "wait": waits to be killed.
int busy_exit(const std::string& mode) {
  config cfg;
  caf::actor_system sys{cfg};
  auto app = pooler::app::start(sys, {});
  child_check(static_cast<bool>(app), "app::start");
  auto pool = app->new_pool(python_pool("x", 3, 3));
  child_check(static_cast<bool>(pool), "new_pool");
  caf::scoped_actor self{sys};
  std::vector<caf::actor> held;
  std::string pids;
  for (int i = 0; i < 3; ++i) {
    auto m = app->take_member(self, "x", 20s);
    child_check(static_cast<bool>(m), "take_member");
    held.push_back(*m);
    bool answered = false;
    self->request(*m, 20s, process_call_atom::value, std::string{"pid"},
                  std::string{"null"})
      .receive(
        [&](std::string& pid) {
          pids += " " + pid;
          answered = true;
        },
        [&](caf::error&) {});
    child_check(answered, "pid request");
  }
  // A request still running when the program ends.
  self->send(held[0], process_call_atom::value, std::string{"sleep"},
             std::string{"30"});
  std::cout << "PIDS" << pids << "\nHOLDING" << std::endl;
  if (mode == "wait") {
    std::this_thread::sleep_for(60s); // bounded, in case nobody kills it
    std::_Exit(1);
  }
  return 0;
}

TEST_CHILD_ROLE("busy-exit", busy_exit);

std::vector<pid_t> pids_in(const std::string& text) {
  std::vector<pid_t> pids;
  auto pos = text.find("PIDS");
  if (pos == std::string::npos)
    return pids;
  std::istringstream in{text.substr(pos + 4, text.find('\n', pos) - pos - 4)};
  pid_t pid = 0;
  while (in >> pid)
    pids.push_back(pid);
  return pids;
}

// Not running any more: reaped, or a zombie of whoever adopted it.
bool dead(pid_t pid) {
  auto st = stat_of(pid).state;
  return st == 0 || st == 'Z';
}

/// Waits until the exit child holds its members; the pids of its workers.
std::vector<pid_t> busy_workers(child_process& child) {
  auto text = child.read_until("HOLDING", 60s);
  REQUIRE(text);
  auto pids = pids_in(*text);
  REQUIRE(pids.size() == 3);
  return pids;
}

void check_all_dead(const std::vector<pid_t>& pids) {
  for (auto pid : pids)
    CHECK_MESSAGE(eventually([&] { return dead(pid); }, 10s), "pid ", pid,
                  " still running");
}

} // namespace

TEST_CASE("a program that ends with busy pools exits in bounded time and "
          "leaves no worker process") {
  child_process child{"busy-exit", "return", {"POOLER_QUIET=1"}};
  auto pids = busy_workers(child);
  auto t0 = clock::now();
  auto status = child.wait_exit(30s);
  REQUIRE_MESSAGE(status, "the program did not exit within 30 s");
  MESSAGE("exited " << ms_since(t0) << " ms after HOLDING");
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  check_all_dead(pids);
}

TEST_CASE("a program killed with busy pools leaves no worker process") {
  child_process child{"busy-exit", "wait", {"POOLER_QUIET=1"}};
  auto pids = busy_workers(child);
  child.signal(SIGKILL);
  REQUIRE(child.wait_exit(10s));
  // PR_SET_PDEATHSIG: the kernel signals each worker when its owner dies.
  check_all_dead(pids);
}
