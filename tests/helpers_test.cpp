// The test helpers themselves: child-process roles started from `main`, and
// waiting for one actor's down message among several.

#include <doctest/doctest.h>

#include <iostream>
#include <string>

#include <caf/all.hpp>

#include "child_process.hpp"
#include "down_waiter.hpp"
#include "waiting.hpp"

using namespace std::chrono_literals;

namespace {

int echo(const std::string& argument) {
  std::cout << "ECHO " << argument << std::endl;
  return argument == "fail" ? 3 : 0;
}

TEST_CHILD_ROLE("echo", echo);

caf::behavior idle(caf::event_based_actor*) {
  return {[](int32_t x) { return x; }};
}

} // namespace

TEST_CASE("a child process plays its role and exits with its code") {
  test::child_process ok{"echo", "hello", {}};
  CHECK(ok.read_until("ECHO hello", 10s));
  auto status = ok.wait_exit(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  test::child_process failing{"echo", "fail", {}};
  status = failing.wait_exit(10s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 3);
  test::child_process unknown{"no-such-role", "", {}};
  status = unknown.wait_exit(10s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 2);
}

TEST_CASE("wait_down ends only on the down message of the actor waited for") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  test::down_waiter downs{self};
  auto a = sys.spawn(idle);
  auto b = sys.spawn(idle);
  downs.watch(a);
  downs.watch(b);
  self->send_exit(b, caf::exit_reason::kill);
  // b's down message is waiting before any wait for a starts.
  REQUIRE(test::eventually([&] { return self->mailbox().size() == 1; }));
  CHECK(!downs.wait_down(a, 20ms));
  self->send_exit(a, caf::exit_reason::user_shutdown);
  CHECK(downs.wait_down(a, 5s) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(downs.wait_down(b, 5s) == caf::error{caf::exit_reason::kill});
  // A second wait for the same actor answers from what was seen.
  CHECK(downs.wait_down(b, 0s) == caf::error{caf::exit_reason::kill});
}
