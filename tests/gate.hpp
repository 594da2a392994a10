#pragma once

// A gate that user code under test blocks on until the test opens it; the
// test learns through `entered` that the code has reached it. A test holds
// a `gate_guard`, so that a failed check never leaves a thread stuck (and
// ~actor_system waiting for it).

#include <condition_variable>
#include <memory>
#include <mutex>

namespace test {

class gate {
public:
  /// Blocks until the gate is open.
  void pass() {
    std::unique_lock<std::mutex> guard{mtx_};
    ++entered_;
    cv_.notify_all();
    cv_.wait(guard, [this] { return open_; });
  }

  void open() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = true;
    cv_.notify_all();
  }

  /// How many callers have reached the gate.
  int entered() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return entered_;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
};

/// Opens the gate when the test's scope ends, however it ends.
struct gate_guard {
  std::shared_ptr<gate> g;
  ~gate_guard() {
    g->open();
  }
};

} // namespace test
