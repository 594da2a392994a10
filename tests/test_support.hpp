#pragma once

// Helpers for tests that run actors: an actor system per test, a thread-safe
// event log, bounded polling and waiting for down messages with a deadline.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "down_waiter.hpp"
#include "waiting.hpp"

namespace test {

/// Events of many actors in the order they happened ("start:a", "stop:a").
class event_log {
public:
  void add(std::string event) {
    std::lock_guard<std::mutex> guard{mtx_};
    events_.push_back(std::move(event));
    times_.push_back(clock::now());
  }

  size_t size() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return events_.size();
  }

  /// The events from index `from` on.
  std::vector<std::string> since(size_t from) const {
    std::lock_guard<std::mutex> guard{mtx_};
    if (from >= events_.size())
      return {};
    return {events_.begin() + static_cast<long>(from), events_.end()};
  }

  size_t count(const std::string& event) const {
    std::lock_guard<std::mutex> guard{mtx_};
    size_t n = 0;
    for (auto& e : events_)
      n += e == event ? 1 : 0;
    return n;
  }

  /// When each occurrence of `event` happened.
  std::vector<clock::time_point> times_of(const std::string& event) const {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<clock::time_point> out;
    for (size_t i = 0; i < events_.size(); ++i)
      if (events_[i] == event)
        out.push_back(times_[i]);
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::vector<std::string> events_;
  std::vector<clock::time_point> times_;
};

/// An actor system with two scheduler threads and a blocking actor that
/// drives the test. Actors registered with `track` are killed at the end, so
/// that a failed check never leaves ~actor_system waiting.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::vector<caf::actor> tracked;
  down_waiter downs{self};

  fixture() : sys(configured(cfg)), self(sys) {
    // nop
  }

  ~fixture() {
    for (auto& x : tracked)
      caf::anon_send_exit(x, caf::exit_reason::kill);
  }

  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  caf::actor track(caf::actor x) {
    tracked.push_back(x);
    return x;
  }

  /// Monitors `x`, so that `wait_down` sees it die even before the wait.
  void watch(const caf::actor& x) {
    downs.watch(x);
  }

  /// The exit reason of `x` (watched now if not yet), or nothing if it is
  /// still alive after `timeout`. Only `x`'s own down message counts.
  std::optional<caf::error> wait_down(const caf::actor& x,
                                      caf::timespan timeout = 5s) {
    return downs.wait_down(x, timeout);
  }

  /// Stops a supervisor as its parent would and waits until it is gone.
  std::optional<caf::error> shutdown(const caf::actor& sup) {
    watch(sup);
    self->send_exit(sup, caf::exit_reason::user_shutdown);
    return wait_down(sup, 10s);
  }
};

} // namespace test
