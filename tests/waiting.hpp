#pragma once

// Bounded waiting for tests: poll a condition until it holds or a deadline
// passes, and time what took how long. No test sleeps and hopes.

#include <chrono>
#include <thread>

namespace test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

inline long ms_since(clock::time_point t0) {
  return static_cast<long>(
    std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0)
      .count());
}

/// Polls `pred` every millisecond until it holds (true) or `limit` passes
/// (false).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto deadline = clock::now() + limit;
  while (!pred()) {
    if (clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace test
