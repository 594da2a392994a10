// External-process members, driven through the public API with
// examples/python_worker.py. Every wait is on a reply, a down message, or a
// bounded poll of /proc with a deadline.

#include <doctest/doctest.h>

#include "pooler/errors.hpp"
#include "pooler/process_member.hpp"
#include "waiting.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <csignal>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/system_messages.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

using namespace std::chrono_literals;
using pooler::errc;

namespace {

// The library warns about ignored stdout lines; the tests count them instead.
[[maybe_unused]] const bool quiet = [] { return ::setenv("POOLER_QUIET", "1", 1) == 0; }();

std::string python() {
  // The real interpreter: a pyenv shim adds ~100 ms per start.
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                 : "python3";
}

pooler::process_spec worker_spec(std::vector<std::string> extra = {}) {
  pooler::process_spec spec;
  spec.argv = {python(), POOLER_SOURCE_DIR "/examples/python_worker.py"};
  spec.argv.insert(spec.argv.end(), extra.begin(), extra.end());
  spec.ping_timeout = 10s; // a loaded sanitizer build starts python slowly
  spec.shutdown_timeout = 2s;
  return spec;
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  caf::actor spawn(pooler::process_spec spec) {
    auto m = pooler::spawn_process_member(sys, std::move(spec));
    REQUIRE_MESSAGE(m, sys.render(m.error()));
    return *m;
  }

  caf::expected<std::string> call(const caf::actor& m, const std::string& cmd,
                                  const std::string& args = "null") {
    caf::expected<std::string> res = caf::sec::request_timeout;
    self->request(m, 20s, pooler::process_call_atom::value, cmd, args)
      .receive([&](std::string& r) { res = std::move(r); },
               [&](caf::error& e) { res = std::move(e); });
    return res;
  }

  caf::expected<std::string> call(const caf::actor& m, const std::string& cmd,
                                  const std::string& args,
                                  caf::timespan timeout) {
    caf::expected<std::string> res = caf::sec::request_timeout;
    self
      ->request(m, 20s, pooler::process_call_atom::value, cmd, args, timeout)
      .receive([&](std::string& r) { res = std::move(r); },
               [&](caf::error& e) { res = std::move(e); });
    return res;
  }

  caf::error ping(const caf::actor& m, caf::timespan timeout) {
    caf::error res;
    self->request(m, 20s, caf::ping_atom::value, timeout)
      .receive([](caf::ok_atom) {}, [&](caf::error& e) { res = std::move(e); });
    return res;
  }

  pooler::process_stats stats(const caf::actor& m) {
    pooler::process_stats res;
    self->request(m, 20s, pooler::process_stats_atom::value)
      .receive([&](pooler::process_stats& s) { res = s; },
               [&](caf::error& e) { FAIL(sys.render(e)); });
    return res;
  }

  pid_t pid_of(const caf::actor& m) {
    auto r = call(m, "pid");
    REQUIRE_MESSAGE(r, sys.render(r.error()));
    return static_cast<pid_t>(std::stol(*r));
  }

  // The exit reason of `m`, which must go down within 20 s.
  caf::error await_down(const caf::actor& m) {
    caf::error reason = caf::sec::request_timeout;
    bool down = false;
    self->receive(
      [&](caf::down_msg& d) {
        down = d.source == m.address();
        reason = d.reason;
      },
      caf::after(std::chrono::seconds(20)) >> [] {});
    REQUIRE_MESSAGE(down, "no down_msg from the member");
    return reason;
  }
};

// State letter of /proc/<pid>/stat ('Z' = zombie), or 0 when gone.
char proc_state(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  if (!std::getline(in, stat))
    return 0;
  auto pos = stat.rfind(')');
  return pos != std::string::npos && pos + 2 < stat.size() ? stat[pos + 2]
                                                            : '?';
}

// Polls until the process is gone (reaped: not even a zombie), up to 20 s.
bool gone_within_deadline(pid_t pid) {
  return test::eventually([&] { return proc_state(pid) == 0; }, 20s);
}

// True once no child of this process is a zombie (checked without reaping:
// a zombie that an owner thread is about to reap may be seen briefly).
bool no_zombie_children() {
  return test::eventually(
    [] {
      siginfo_t info{};
      auto res = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
      return res != 0 || info.si_pid == 0;
    },
    20s);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a missing executable fails the spawn clearly "
                           "and leaves no zombie") {
  pooler::process_spec spec;
  spec.argv = {"/nonexistent/pooler-worker"};
  auto m = pooler::spawn_process_member(sys, spec);
  REQUIRE(!m);
  CHECK(m.error() == errc::process_failed);
  CHECK(pooler::error_subject(m.error()) == "/nonexistent/pooler-worker");
  CHECK(pooler::error_detail(m.error())
        == "execve /nonexistent/pooler-worker: No such file or directory");
  spec.argv = {"no-such-pooler-worker"};
  m = pooler::spawn_process_member(sys, spec);
  REQUIRE(!m);
  CHECK(pooler::error_detail(m.error())
        == "no-such-pooler-worker: not found in PATH");
  spec.argv.clear();
  m = pooler::spawn_process_member(sys, spec);
  REQUIRE(!m);
  CHECK(m.error() == errc::process_failed);
  spec = worker_spec();
  spec.working_dir = "/nonexistent-dir";
  m = pooler::spawn_process_member(sys, spec);
  REQUIRE(!m);
  CHECK(pooler::error_detail(m.error())
        == "chdir /nonexistent-dir: No such file or directory");
  CHECK(no_zombie_children());
}

TEST_CASE_FIXTURE(fixture, "calls get the result of their own reply") {
  auto m = spawn(worker_spec());
  CHECK(call(m, "echo", R"({"a":[1,2]})") == std::string{R"({"a":[1,2]})"});
  CHECK(call(m, "add", "[1, 2, 39]") == std::string{"42"});
  CHECK(call(m, "ping", "") == std::string{R"("pong")"});
  CHECK(ping(m, 10s) == caf::error{});
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "replies answered out of order reach their own "
                           "requests") {
  auto m = spawn(worker_spec());
  // `delay` replies from a thread after its seconds, so the worker answers
  // these in the reverse order of the requests.
  auto r1 = self->request(m, 20s, pooler::process_call_atom::value,
                          std::string{"delay"}, std::string{"0.4"});
  auto r2 = self->request(m, 20s, pooler::process_call_atom::value,
                          std::string{"delay"}, std::string{"0.2"});
  auto r3 = self->request(m, 20s, pooler::process_call_atom::value,
                          std::string{"echo"}, std::string{R"("third")"});
  std::vector<std::string> got;
  auto collect = [&](auto& handle) {
    handle.receive([&](std::string& r) { got.push_back(r); },
                   [&](caf::error& e) { got.push_back(sys.render(e)); });
  };
  collect(r1);
  collect(r2);
  collect(r3);
  CHECK(got == std::vector<std::string>{"0.4", "0.2", R"("third")"});
  auto s = stats(m);
  CHECK(s.requests_handled == 3);
  CHECK(s.errors == 0);
  CHECK(s.ignored_lines == 0);
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "ok:false fails the call with the process's "
                           "error text") {
  auto m = spawn(worker_spec());
  auto r = call(m, "fail", R"("boom")");
  REQUIRE(!r);
  CHECK(r.error() == errc::call_failed);
  CHECK(pooler::error_subject(r.error()) == "fail");
  CHECK(pooler::error_detail(r.error()) == "boom");
  r = call(m, "nope");
  REQUIRE(!r);
  CHECK(pooler::error_detail(r.error()) == "unknown command: nope");
  CHECK(call(m, "add", "[1]") == std::string{"1"});
  CHECK(stats(m).errors == 2);
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "a malformed reply fails only its request") {
  auto m = spawn(worker_spec());
  auto r = call(m, "garbage");
  REQUIRE(!r);
  CHECK(r.error() == errc::bad_reply);
  CHECK(pooler::error_subject(r.error()) == "garbage");
  CHECK(pooler::error_detail(r.error()).rfind("not JSON: ", 0) == 0);
  CHECK(call(m, "echo", "1") == std::string{"1"});
  // A line without an id is ignored; the reply after it still counts.
  CHECK(call(m, "noise") == std::string{R"("ok")"});
  CHECK(stats(m).ignored_lines == 1);
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "a reply longer than max_line_length fails its "
                           "request only") {
  auto spec = worker_spec();
  spec.max_line_length = 1000;
  auto m = spawn(spec);
  auto r = call(m, "big", "5000");
  REQUIRE(!r);
  CHECK(r.error() == errc::bad_reply);
  CHECK(pooler::error_detail(r.error()) == "reply longer than 1000 bytes");
  CHECK(call(m, "big", "3") == std::string{R"("xxx")"});
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "arguments that are not JSON are rejected") {
  auto m = spawn(worker_spec());
  auto r = call(m, "echo", "{not json");
  REQUIRE(!r);
  CHECK(r.error() == errc::bad_request);
  CHECK(call(m, "echo", "") == std::string{"null"});
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "a process that never answers fails the ping "
                           "within its timeout") {
  auto spec = worker_spec();
  spec.argv = {"sleep", "100"};
  spec.ping_on_start = false;
  spec.exit_on_timeout = false;
  auto m = spawn(spec);
  auto pid = static_cast<pid_t>(stats(m).pid);
  auto start = std::chrono::steady_clock::now();
  auto err = ping(m, 300ms);
  CHECK(err == errc::call_timeout);
  CHECK(pooler::error_detail(err) == "no reply within 300ms");
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  self->send_exit(m, caf::exit_reason::kill);
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "a failed startup ping ends the member") {
  auto spec = worker_spec();
  spec.argv = {"sleep", "100"};
  spec.ping_timeout = 1s;
  auto m = spawn(spec);
  self->monitor(m);
  auto pid = static_cast<pid_t>(stats(m).pid);
  auto reason = await_down(m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason)
        == "startup ping failed: no reply within 1s");
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "a process that echoes requests gives bad "
                           "replies") {
  auto spec = worker_spec();
  spec.argv = {"cat"};
  spec.ping_on_start = false;
  auto m = spawn(spec);
  auto err = ping(m, 10s);
  CHECK(err == errc::bad_reply);
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "a timed-out call stops a hung process by "
                           "default") {
  auto m = spawn(worker_spec());
  self->monitor(m);
  auto pid = pid_of(m);
  auto r = call(m, "sleep", "60", 200ms);
  REQUIRE(!r);
  CHECK(r.error() == errc::call_timeout);
  auto reason = await_down(m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason) == "stopped after \"sleep\" timed out");
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "with exit_on_timeout off, a late reply is "
                           "ignored and the member goes on") {
  auto spec = worker_spec();
  spec.exit_on_timeout = false;
  auto m = spawn(spec);
  auto r = call(m, "delay", "0.5", 100ms);
  REQUIRE(!r);
  CHECK(r.error() == errc::call_timeout);
  CHECK(call(m, "echo", "2") == std::string{"2"});
  // The late reply arrives within 0.5 s and is counted as ignored.
  test::eventually([&] { return stats(m).ignored_lines != 0; }, 20s);
  CHECK(stats(m).ignored_lines == 1);
  CHECK(call(m, "echo", "3") == std::string{"3"});
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "a crashing process ends its member with its "
                           "exit status") {
  auto m = spawn(worker_spec());
  self->monitor(m);
  auto pid = pid_of(m);
  auto r = call(m, "crash");
  REQUIRE(!r);
  CHECK(r.error() == errc::process_failed);
  CHECK(pooler::error_detail(r.error()) == "exited with status 3");
  auto reason = await_down(m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason) == "exited with status 3");
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "SIGKILL of the process ends its member") {
  auto m = spawn(worker_spec());
  self->monitor(m);
  auto pid = pid_of(m);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto reason = await_down(m);
  CHECK(reason == errc::process_failed);
  CHECK(pooler::error_detail(reason) == "killed by signal 9 (SIGKILL)");
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "killing the member terminates and reaps its "
                           "process") {
  auto m = spawn(worker_spec());
  self->monitor(m);
  auto pid = pid_of(m);
  CHECK(proc_state(pid) != 0);
  auto pending = self->request(m, 30s, pooler::process_call_atom::value,
                               std::string{"delay"}, std::string{"60"});
  stats(m); // the member has taken the request
  self->send_exit(m, caf::exit_reason::kill);
  // The waiting caller is answered at once, not after its own timeout.
  caf::error err;
  pending.receive([](std::string&) {}, [&](caf::error& e) { err = e; });
  CHECK(err == errc::process_failed);
  CHECK(pooler::error_detail(err) == "member exited");
  CHECK(await_down(m) == caf::exit_reason::kill);
  CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "a member nobody references stops its process") {
  // Pending timers hold the member until they fire (CAF's delayed_send keeps
  // a strong reference), hence short timeouts and no startup ping here.
  auto spec = worker_spec();
  spec.ping_on_start = false;
  spec.request_timeout = 2s;
  std::vector<pid_t> pids;
  {
    std::vector<caf::actor> members;
    for (int i = 0; i < 4; ++i)
      members.push_back(spawn(spec));
    for (auto& m : members)
      pids.push_back(pid_of(m));
  }
  for (auto pid : pids)
    CHECK(gone_within_deadline(pid));
}

TEST_CASE_FIXTURE(fixture, "a process ignoring SIGTERM is killed after the "
                           "shutdown timeout") {
  auto spec = worker_spec({"--ignore-term"});
  spec.shutdown_timeout = 500ms;
  auto m = spawn(spec);
  self->monitor(m);
  REQUIRE(ping(m, 10s) == caf::error{}); // SIGTERM is ignored from now on
  auto pid = static_cast<pid_t>(stats(m).pid);
  // Hang the worker; the stats reply proves the request was written first.
  caf::anon_send(m, pooler::process_call_atom::value, std::string{"sleep"},
                 std::string{"60"});
  stats(m);
  auto start = std::chrono::steady_clock::now();
  self->send_exit(m, caf::exit_reason::kill);
  await_down(m);
  CHECK(gone_within_deadline(pid));
  CHECK(std::chrono::steady_clock::now() - start >= 450ms);
}

TEST_CASE_FIXTURE(fixture, "environment and working directory reach the "
                           "process") {
  auto spec = worker_spec();
  spec.env = {{"POOLER_TEST_VALUE", "forty-two"}};
  spec.working_dir = "/tmp";
  auto m = spawn(spec);
  CHECK(call(m, "env", R"("POOLER_TEST_VALUE")")
        == std::string{R"("forty-two")"});
  CHECK(call(m, "cwd") == std::string{R"("/tmp")"});
  self->send_exit(m, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "each process keeps its own session state") {
  auto a = spawn(worker_spec());
  auto b = spawn(worker_spec());
  CHECK(call(a, "incr") == std::string{"1"});
  CHECK(call(a, "incr") == std::string{"2"});
  CHECK(call(b, "incr") == std::string{"1"});
  auto s = stats(a);
  CHECK(s.pid == pid_of(a));
  CHECK(s.requests_handled == 2);
  CHECK(s.started_at <= s.last_activity);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send_exit(b, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "the factory spawns members and the ping hook "
                           "checks them") {
  auto factory = pooler::process_member_factory(worker_spec());
  auto m = factory.spawn(sys);
  REQUIRE_MESSAGE(m, sys.render(m.error()));
  auto hook = pooler::process_ping_hook(10s);
  REQUIRE(hook.is_message());
  bool ok = false;
  self->request(*m, 20s, hook.msg())
    .receive([&](caf::ok_atom) { ok = true; },
             [&](caf::error& e) { FAIL(sys.render(e)); });
  CHECK(ok);
  self->send_exit(*m, caf::exit_reason::user_shutdown);
}
