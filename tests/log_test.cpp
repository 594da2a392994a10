// pooler's log: levels, a user's log function, and repeated lines limited
// per key with a count of what was suppressed.

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pool_fixture.hpp"
#include "pooler/log.hpp"
#include "src/log.hpp"
#include "src/rate_limiter.hpp"

using namespace std::chrono_literals;
using pooler::log_level;
using pooler::rate_limiter;

namespace {

/// A clock that moves only when told.
struct manual_clock {
  rate_limiter::time_point now{};

  rate_limiter::clock_function function() {
    return [this] { return now; };
  }
};

std::vector<std::string> texts(const std::vector<rate_limiter::line>& lines) {
  std::vector<std::string> out;
  for (auto& l : lines)
    out.push_back(l.text + (l.suppressed > 0
                              ? " +" + std::to_string(l.suppressed)
                              : std::string{}));
  return out;
}

using strings = std::vector<std::string>;

/// Captures pooler's log lines for one test, then restores the defaults.
struct captured_log {
  std::mutex mtx;
  std::vector<std::pair<log_level, std::string>> lines;

  explicit captured_log(std::chrono::milliseconds rate_limit = 1h) {
    pooler::set_log_function([this](log_level level, std::string_view text) {
      std::lock_guard<std::mutex> guard{mtx};
      lines.emplace_back(level, std::string{text});
    });
    pooler::set_log_level(log_level::debug);
    pooler::set_log_rate_limit(rate_limit);
  }

  ~captured_log() {
    pooler::flush_log();
    pooler::set_log_function({});
    pooler::set_log_level(log_level::warning);
    pooler::set_log_rate_limit(1s);
  }

  strings texts() {
    std::lock_guard<std::mutex> guard{mtx};
    strings out;
    for (auto& l : lines)
      out.push_back(l.second);
    return out;
  }
};

} // namespace

// -- the rate limiter ----------------------------------------------------------------

TEST_CASE("the limiter passes the first line of a key and counts the next") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function()};
  CHECK(texts(limiter.admit(log_level::warning, "k", "a")) == strings{"a"});
  clock.now += 100ms;
  CHECK(limiter.admit(log_level::warning, "k", "b").empty());
  clock.now += 100ms;
  CHECK(limiter.admit(log_level::warning, "k", "c").empty());
  CHECK(limiter.keys() == 1);
  // The interval is over: the count of what was suppressed comes first (with
  // the last suppressed text), then the new line, which begins an interval.
  clock.now += 800ms;
  CHECK(texts(limiter.admit(log_level::warning, "k", "d"))
        == strings{"c +2", "d"});
  clock.now += 500ms;
  CHECK(limiter.admit(log_level::warning, "k", "e").empty());
  CHECK(texts(limiter.flush()) == strings{"e +1"});
  CHECK(limiter.keys() == 0);
}

TEST_CASE("the limiter limits each key on its own") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function()};
  CHECK(texts(limiter.admit(log_level::warning, "p1", "x")) == strings{"x"});
  CHECK(texts(limiter.admit(log_level::warning, "p2", "x")) == strings{"x"});
  CHECK(limiter.admit(log_level::warning, "p1", "x").empty());
  CHECK(limiter.admit(log_level::warning, "p2", "x").empty());
  CHECK(limiter.admit(log_level::warning, "p2", "x").empty());
  // A line of any key passes the counts of the intervals that ended.
  clock.now += 1s;
  auto out = texts(limiter.admit(log_level::warning, "p3", "y"));
  REQUIRE(out.size() == 3);
  std::sort(out.begin(), out.begin() + 2);
  CHECK(out == strings{"x +1", "x +2", "y"});
}

TEST_CASE("the limiter forgets a key whose interval ended without repeats") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function()};
  limiter.admit(log_level::warning, "k", "a");
  clock.now += 2s;
  CHECK(texts(limiter.admit(log_level::warning, "other", "b"))
        == strings{"b"});
  CHECK(limiter.keys() == 1);
  CHECK(texts(limiter.admit(log_level::warning, "k", "a")) == strings{"a"});
}

TEST_CASE("the limiter tracks a bounded number of keys") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function(), 2};
  limiter.admit(log_level::warning, "a", "a");
  limiter.admit(log_level::warning, "b", "b");
  // Keys beyond the bound are not tracked, hence not limited.
  CHECK(texts(limiter.admit(log_level::warning, "c", "c")) == strings{"c"});
  CHECK(texts(limiter.admit(log_level::warning, "c", "c")) == strings{"c"});
  CHECK(limiter.keys() == 2);
}

TEST_CASE("the limiter with a zero interval passes every line") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function()};
  limiter.admit(log_level::warning, "k", "a");
  limiter.admit(log_level::warning, "k", "a");
  limiter.set_interval(0s);
  // What was pending is passed on first.
  CHECK(texts(limiter.admit(log_level::warning, "k", "a"))
        == strings{"a +1", "a"});
  CHECK(texts(limiter.admit(log_level::warning, "k", "a")) == strings{"a"});
}

TEST_CASE("a summary keeps the level of its key's last line") {
  manual_clock clock;
  rate_limiter limiter{1s, clock.function()};
  limiter.admit(log_level::info, "k", "a");
  limiter.admit(log_level::error, "k", "b");
  auto out = limiter.flush();
  REQUIRE(out.size() == 1);
  CHECK(out[0].level == log_level::error);
  CHECK(out[0].suppressed == 1);
}

// -- the process-wide log -------------------------------------------------------------

TEST_CASE("log levels have names") {
  CHECK(pooler::to_string(log_level::debug) == "debug");
  CHECK(pooler::to_string(log_level::info) == "info");
  CHECK(pooler::to_string(log_level::warning) == "warning");
  CHECK(pooler::to_string(log_level::error) == "error");
  CHECK(pooler::to_string(log_level::off) == "off");
}

TEST_CASE("a user's log function receives the lines at or above the level") {
  captured_log log;
  pooler::set_log_level(log_level::warning);
  CHECK(pooler::get_log_level() == log_level::warning);
  pooler::log_line(log_level::debug, "d", "detail");
  pooler::log_line(log_level::info, "i", "news");
  pooler::log_line(log_level::error, "e", "broken");
  pooler::warn("odd");
  REQUIRE(log.lines.size() == 2);
  CHECK(log.lines[0] == std::make_pair(log_level::error, std::string{"broken"}));
  CHECK(log.lines[1] == std::make_pair(log_level::warning, std::string{"odd"}));
  pooler::set_log_level(log_level::off);
  pooler::log_line(log_level::error, "e2", "broken again");
  CHECK(log.lines.size() == 2);
}

TEST_CASE("repeated warnings pass once, then once with their count") {
  captured_log log;
  for (int i = 0; i < 50; ++i)
    pooler::warn("the same thing");
  pooler::warn("another thing");
  CHECK(log.texts() == strings{"the same thing", "another thing"});
  pooler::flush_log();
  CHECK(log.texts()
        == strings{"the same thing", "another thing",
                   "the same thing (49 more suppressed)"});
}

TEST_CASE("lines under one key with different details are limited together") {
  captured_log log;
  for (int pid = 100; pid < 110; ++pid)
    pooler::log_line(log_level::warning, "exited",
                     "worker " + std::to_string(pid) + " exited");
  pooler::flush_log();
  CHECK(log.texts()
        == strings{"worker 100 exited", "worker 109 exited (9 more suppressed)"});
}

TEST_CASE("without a rate limit every line passes") {
  captured_log log{0ms};
  for (int i = 0; i < 5; ++i)
    pooler::warn("again");
  CHECK(log.texts().size() == 5);
}

// -- through a pool --------------------------------------------------------------------

TEST_CASE_FIXTURE(test::fixture, "returns of unknown members under load give "
                                 "one line and a count, not one line each") {
  captured_log log;
  REQUIRE(app.new_pool(test::pool("p", 1, 1)));
  auto stranger = sys.spawn(test::member, int64_t{0});
  for (int i = 0; i < 200; ++i)
    app.return_member("p", stranger);
  // A line stands for itself; a summary for the lines it says were
  // suppressed.
  auto logged = [&] {
    pooler::flush_log();
    size_t n = 0;
    for (auto& t : log.texts()) {
      auto open = t.rfind(" (");
      n += open == std::string::npos ? 1 : std::stoul(t.substr(open + 2));
    }
    return n;
  };
  // The returns were enqueued before this request: once it is answered the
  // pool has handled (and logged) every one of them.
  REQUIRE(app.pool_utilization("p"));
  REQUIRE(logged() == 200);
  auto lines = log.texts();
  std::string line = "pool \"p\": ignored the return of an unknown member";
  CHECK(lines.front() == line);
  // The first line, then one summary of the 199 suppressed within the 1 h
  // interval.
  CHECK(lines.size() == 2);
  for (auto& t : lines)
    CHECK(t.rfind(line, 0) == 0);
  caf::anon_send_exit(stranger, caf::exit_reason::kill);
}
