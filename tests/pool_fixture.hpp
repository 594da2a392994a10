#pragma once

// Shared set-up for the pool tests: an actor system with pooler added, a
// member type that counts its live instances, and bounded waiting helpers.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <doctest/doctest.h>

#include "pooler/pooler.hpp"
#include "down_waiter.hpp"
#include "waiting.hpp"

namespace test {

using namespace std::chrono_literals;

using ping_atom = caf::atom_constant<caf::atom("ping")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using hang_atom = caf::atom_constant<caf::atom("hang")>;

/// Live member actors of every test member type, for leak checks.
inline std::atomic<int> live_members{0};

struct member_state {
  member_state() {
    ++live_members;
  }
  ~member_state() {
    --live_members;
  }
};

/// A member: answers ping with its own id; crashes or stops on request.
inline caf::behavior member(caf::stateful_actor<member_state>* self, int64_t) {
  return {
    [self](ping_atom) { return self->id(); },
    [self](crash_atom) {
      self->quit(caf::make_error(caf::sec::runtime_error, "crash on request"));
    },
    [self](stop_atom) { self->quit(); },
  };
}

/// A member that ignores its stop message (it leaves only when killed).
inline caf::behavior stubborn_member(caf::stateful_actor<member_state>* self,
                                     int64_t) {
  return {
    [self](ping_atom) { return self->id(); },
    [](stop_atom) {},
  };
}

inline pooler::member_factory member_factory() {
  return pooler::member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(member, int64_t{0});
    });
}

inline pooler::pool_config pool(std::string name, size_t init, size_t max) {
  pooler::pool_config cfg;
  cfg.name = std::move(name);
  cfg.init_count = init;
  cfg.max_count = max;
  cfg.start = member_factory();
  return cfg;
}

/// `pool(...)` joined to `group`.
inline pooler::pool_config grouped(std::string name, size_t init, size_t max,
                                   std::string group) {
  auto cfg = pool(std::move(name), init, max);
  cfg.group = std::move(group);
  return cfg;
}

struct config : caf::actor_system_config {
  config() {
    pooler::add_to(*this);
    add_actor_type("test_member", member);
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// An actor system and a started pooler app; stops the app at the end and
/// checks that no member actor outlived it.
struct fixture {
  config cfg;
  caf::actor_system sys{cfg};
  pooler::app app = *pooler::app::start(sys, {});
  caf::scoped_actor self{sys};
  down_waiter downs{self};

  ~fixture() {
    app.stop();
    CHECK(eventually([] { return live_members.load() == 0; }));
  }

  pooler::utilization usage(const std::string& name) {
    auto u = app.pool_utilization(name);
    REQUIRE(u);
    // The capacity rule, checked wherever a test looks at a pool.
    CHECK(u->within_capacity());
    return *u;
  }

  bool free_becomes(const std::string& name, size_t n) {
    return eventually([&] { return usage(name).free_count == n; });
  }

  /// Live members of a pool, counted at its member supervisor.
  size_t live_in(const std::string& name) {
    auto sup = app.member_supervisor(name);
    REQUIRE(sup);
    auto counts = pooler::count_children(self, *sup);
    REQUIRE(counts);
    return counts->active;
  }

  /// Waits for `x`'s down message (and only its own); returns its exit
  /// reason. Fails the test if none arrives within 5 s.
  caf::error wait_down(const caf::actor& x) {
    auto reason = downs.wait_down(x, 5s);
    REQUIRE_MESSAGE(reason, "no down message within 5 s");
    return *reason;
  }
};

} // namespace test
