#pragma once

// Waiting for an actor's down message from a test's scoped actor. A wait
// ends only on the down message of the actor waited for: down messages of
// other actors stay in the mailbox for their own waits (or the test's own
// receive), so that a test never mistakes one actor's death for another's.

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include <caf/all.hpp>

namespace test {

class down_waiter {
public:
  explicit down_waiter(caf::scoped_actor& self) : self_(self) {
    // nop
  }

  /// Monitors `x` (once), so that a later `wait_down` sees its down message
  /// even if it dies before the wait starts.
  void watch(const caf::actor& x) {
    if (watched_.insert(x.address()).second)
      self_->monitor(x);
  }

  /// The exit reason of `x` (watched now if it was not yet), or nothing if
  /// its down message does not arrive within `timeout`.
  std::optional<caf::error> wait_down(const caf::actor& x,
                                      caf::timespan timeout) {
    watch(x);
    auto source = x.address();
    if (auto i = reasons_.find(source); i != reasons_.end())
      return i->second;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= caf::timespan{0})
        return std::nullopt;
      bool done = false;
      self_->receive(
        [&](caf::down_msg& dm) -> caf::result<void> {
          if (dm.source != source)
            return caf::skip;
          reasons_[source] = std::move(dm.reason);
          done = true;
          return caf::unit;
        },
        caf::after(std::chrono::duration_cast<caf::timespan>(left)) >>
          [] {});
      if (done)
        return reasons_[source];
    }
  }

private:
  caf::scoped_actor& self_;
  std::set<caf::actor_addr> watched_;
  std::map<caf::actor_addr, caf::error> reasons_;
};

} // namespace test
