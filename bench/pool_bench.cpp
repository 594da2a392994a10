// pool_bench: the performance scenarios of docs/benchmarks.md.
//
// Throughput scenarios (pairs/s = successful take+return pairs per second,
// latency = take, request to member in hand, 1 in 8 timed, p50/p99):
//  - C = 1, 10, 100, 1000 concurrent event-based consumers on a pool of 10
//    (init 10, max 10, queue_max 1000), every take with a timeout of 5 s (so
//    consumers queue once C > 10); the same with metrics on (a
//    `prometheus_sink` as `cfg.sink`) at C = 10 and 100;
//  - blocking consumers (`caf::scoped_actor` on std::threads,
//    `app.take_member(self, pool, 5 s)`) at C = 1 and 10 on the same pool;
//  - take+return of one member from one consumer, pool of 5 vs pool of 1000;
//  - the failure path: take without waiting (timeout 0) on an exhausted pool
//    (init 1, max 1, its member held), errors/s.
// Baselines, measured in the same run at the same C:
//  (a) raw CAF request/response round trips between C event-based clients and
//      one echo server (the ceiling: a pair costs at least one round trip
//      plus one send);
//  (b) a minimal pool actor with only a free list and a FIFO of waiters
//      (take -> reply a member or queue; return -> serve the oldest waiter or
//      push), driven like the pool (request take, send the member back);
//  (c) a mutex + condition-variable object pool of 10, used from the same
//      number of std::threads as the blocking consumers;
//  and, next to the blocking rows, CAF's own blocking round trip (a
//  scoped_actor's request to the echo server): a blocking take's floor.
// Lifecycle scenarios (times per phase):
//  - take all / return all: a pool of 500 (init 500, max 500), one
//    event-based actor takes all 500 at once, then returns them all (until
//    all are free again);
//  - growth: init 0, max 500; take 500 with timeout (one event-based actor
//    issues all 500 takes at once), return all (until all are free again),
//    cull (max_age 0, until no member is left);
//  - 10,000-member pool: start time (new_pool returns once the members
//    reported) and memory per idle member: the heap in use (glibc's
//    mallinfo2) grows by A over new_pool, and by B over spawning 10,000
//    bare member actors of the same kind; (A - B) / 10,000 is what the pool
//    keeps per member (pool, member supervisor and registry records), A /
//    10,000 the whole cost. Both sets are pinged once first, so every
//    actor has built its behavior.
//
// Each scenario runs `repetitions` times (3; 1 with --quick) after a short
// warmup; the median is reported. Baseline and pool runs are interleaved so
// that drift on a noisy machine affects both alike.
//
// Usage: pool_bench [--seconds=X] [--quick] [--only=groups] [CAF options, e.g.
//        --scheduler.policy=sharing --scheduler.max-threads=2]
// Prints tables (absolute numbers and ratios), then (last) one JSON document
// with every number. Exit code: 0, or 1 if a run saw unexpected take errors,
// a consumer did not report, or a lifecycle phase failed.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <malloc.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "pooler/pooler.hpp"

namespace {

using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;
using json = nlohmann::json;

using go_atom = caf::atom_constant<caf::atom("go")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using bt_take_atom = caf::atom_constant<caf::atom("bttake")>;
using bt_return_atom = caf::atom_constant<caf::atom("btreturn")>;
using take_all_atom = caf::atom_constant<caf::atom("takeall")>;
using return_all_atom = caf::atom_constant<caf::atom("returnall")>;
using grown_atom = caf::atom_constant<caf::atom("grown")>;

constexpr size_t pool_size = 10;
constexpr size_t queue_max = 1000; // >= every C, so no take is refused
constexpr caf::timespan take_timeout = std::chrono::seconds(5);
constexpr uint64_t sample_stride = 8; // every 8th take/round trip is timed
constexpr size_t growth_max = 500;
constexpr size_t big_pool_size = 10000;

// Pool names.
const char* const pool_name = "bench";          // pool of 10
const char* const metrics_pool_name = "bench_m"; // pool of 10, metrics on
const char* const small_pool_name = "p5";        // pool of 5
const char* const large_pool_name = "p1000";     // pool of 1000
const char* const exhausted_pool_name = "exhausted";
const char* const growth_pool_name = "grow";
const char* const full_pool_name = "p500"; // pool of 500, all free
const char* const big_pool_name = "big";

int64_t to_ns(clk::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

double to_ms(clk::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// -- actors ---------------------------------------------------------------------

// A trivial member. (Spawned with an argument: CAF 0.17 trips UBSan when a
// function-based actor is spawned without one.)
caf::behavior member(caf::event_based_actor*, int64_t) {
  return {[](int64_t x) { return x; }};
}

// Baseline (a) server: echoes every request.
caf::behavior echo_server(caf::event_based_actor*, int64_t) {
  return {[](int64_t x) { return x; }};
}

// Baseline (b): a minimal pool actor, a free list and a FIFO of waiters.
struct minimal_pool_state {
  std::vector<caf::actor> free;
  std::deque<caf::typed_response_promise<caf::actor>> waiters;
};

caf::behavior minimal_pool(caf::stateful_actor<minimal_pool_state>* self,
                           std::vector<caf::actor> members) {
  self->state.free = std::move(members);
  return {
    [self](bt_take_atom) -> caf::typed_response_promise<caf::actor> {
      auto& st = self->state;
      auto rp = self->make_response_promise<caf::actor>();
      if (!st.free.empty()) {
        auto m = std::move(st.free.back());
        st.free.pop_back();
        rp.deliver(std::move(m));
      } else {
        st.waiters.push_back(rp);
      }
      return rp;
    },
    [self](bt_return_atom, caf::actor& m) {
      auto& st = self->state;
      if (!st.waiters.empty()) {
        auto rp = std::move(st.waiters.front());
        st.waiters.pop_front();
        rp.deliver(std::move(m));
      } else {
        st.free.push_back(std::move(m));
      }
    },
  };
}

struct client_state {
  std::optional<pooler::app> app; // pool consumers only
  std::string pool;               // pool consumers only
  bool failure_path = false;      // takes with timeout 0 expected to fail
  bool in_take = false;           // inside app.take_member (sync callbacks)
  bool call_member = false;       // one request to the member per take
  caf::actor server;              // baseline clients only
  caf::actor coordinator;
  clk::time_point deadline;
  uint64_t attempts = 0;
  uint64_t ops = 0;    // successful pairs, round trips or expected errors
  uint64_t errors = 0; // unexpected outcomes
  std::string first_error;
  std::vector<int64_t> samples; // latencies in ns
};

using client = caf::stateful_actor<client_state>;

void finish(client* self) {
  auto& st = self->state;
  self->send(st.coordinator, done_atom::value, st.ops, st.errors,
             std::move(st.samples), std::move(st.first_error));
  self->quit();
}

bool is_no_members(const caf::error& err) {
  return err.category() == pooler::error_category
         && err.code() == static_cast<uint8_t>(pooler::errc::no_members);
}

void take_next(client* self);

// A member was taken (and, end to end, called): count it, give it back and
// go on until the deadline.
void used(client* self, const caf::actor& m, bool sample,
          clk::time_point t0) {
  auto& st = self->state;
  clk::time_point now;
  if (sample) {
    now = clk::now();
    st.samples.push_back(to_ns(now - t0));
  }
  if (st.failure_path) {
    if (st.errors++ == 0)
      st.first_error = "got a member from an exhausted pool";
  } else {
    ++st.ops;
  }
  st.app->return_member(self, st.pool, m);
  if (sample && now >= st.deadline)
    finish(self);
  else
    take_next(self);
}

// One take; on success the member goes straight back and the next take
// follows until the deadline. The deadline is checked on sampled takes only
// (they read the clock anyway) and after errors. On the failure path every
// take is expected to fail with `no_members`.
void take_next(client* self) {
  auto& st = self->state;
  bool sample = st.attempts++ % sample_stride == 0;
  auto t0 = sample ? clk::now() : clk::time_point{};
  auto timeout = st.failure_path ? caf::timespan{0} : take_timeout;
  st.in_take = true;
  st.app->take_member(
    self, st.pool, timeout,
    [self, sample, t0](caf::actor m) {
      auto& st = self->state;
      if (st.call_member) {
        // End to end: the pooled call itself, then the return.
        self->request(m, caf::infinite, int64_t{1})
          .then(
            [self, m, sample, t0](int64_t) { used(self, m, sample, t0); },
            [self, m](caf::error& err) {
              auto& st = self->state;
              if (st.errors++ == 0)
                st.first_error = self->system().render(err);
              st.app->return_member(self, st.pool, m);
              finish(self);
            });
        return;
      }
      used(self, m, sample, t0);
    },
    [self, sample, t0](caf::error err) {
      auto& st = self->state;
      auto now = clk::now();
      if (st.failure_path && is_no_members(err)) {
        if (sample)
          st.samples.push_back(to_ns(now - t0));
        ++st.ops;
      } else if (st.errors++ == 0) {
        st.first_error = self->system().render(err);
      }
      if (now >= st.deadline)
        finish(self);
      else if (st.in_take) // reported synchronously: retry via the mailbox
        self->send(self, retry_atom::value);
      else
        take_next(self);
    });
  st.in_take = false;
}

caf::behavior pool_consumer(client* self, pooler::app app, std::string pool,
                            bool failure_path, caf::actor coordinator,
                            bool call_member) {
  self->state.app = std::move(app);
  self->state.pool = std::move(pool);
  self->state.failure_path = failure_path;
  self->state.call_member = call_member;
  self->state.coordinator = std::move(coordinator);
  return {
    [self](go_atom, int64_t deadline_ns) {
      self->state.deadline = clk::time_point{std::chrono::nanoseconds{deadline_ns}};
      take_next(self);
    },
    [self](retry_atom) { take_next(self); },
  };
}

// Baseline (a): request/response round trips.
void request_next(client* self) {
  auto& st = self->state;
  bool sample = st.attempts++ % sample_stride == 0;
  auto t0 = sample ? clk::now() : clk::time_point{};
  self->request(st.server, caf::infinite, int64_t{1})
    .then(
      [self, sample, t0](int64_t) {
        auto& st = self->state;
        clk::time_point now;
        if (sample) {
          now = clk::now();
          st.samples.push_back(to_ns(now - t0));
        }
        ++st.ops;
        if (sample && now >= st.deadline)
          finish(self);
        else
          request_next(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        if (st.errors++ == 0)
          st.first_error = self->system().render(err);
        finish(self);
      });
}

caf::behavior rr_client(client* self, caf::actor server,
                        caf::actor coordinator) {
  self->state.server = std::move(server);
  self->state.coordinator = std::move(coordinator);
  return {
    [self](go_atom, int64_t deadline_ns) {
      self->state.deadline = clk::time_point{std::chrono::nanoseconds{deadline_ns}};
      request_next(self);
    },
  };
}

// Baseline (b): take by request, return by send, like a pool consumer.
void minimal_take_next(client* self) {
  auto& st = self->state;
  bool sample = st.attempts++ % sample_stride == 0;
  auto t0 = sample ? clk::now() : clk::time_point{};
  self->request(st.server, caf::infinite, bt_take_atom::value)
    .then(
      [self, sample, t0](caf::actor& m) {
        auto& st = self->state;
        clk::time_point now;
        if (sample) {
          now = clk::now();
          st.samples.push_back(to_ns(now - t0));
        }
        ++st.ops;
        self->send(st.server, bt_return_atom::value, std::move(m));
        if (sample && now >= st.deadline)
          finish(self);
        else
          minimal_take_next(self);
      },
      [self](caf::error& err) {
        auto& st = self->state;
        if (st.errors++ == 0)
          st.first_error = self->system().render(err);
        finish(self);
      });
}

caf::behavior minimal_pool_client(client* self, caf::actor server,
                                  caf::actor coordinator) {
  self->state.server = std::move(server);
  self->state.coordinator = std::move(coordinator);
  return {
    [self](go_atom, int64_t deadline_ns) {
      self->state.deadline = clk::time_point{std::chrono::nanoseconds{deadline_ns}};
      minimal_take_next(self);
    },
  };
}

// Growth: one actor issues `n` takes at once and holds every member until
// told to return them all.
struct grower_state {
  std::optional<pooler::app> app;
  std::string pool;
  caf::actor coordinator;
  std::vector<caf::actor> held;
  uint64_t answered = 0;
  uint64_t expected = 0;
  uint64_t errors = 0;
  std::string first_error;
};

using grower = caf::stateful_actor<grower_state>;

void grower_answered(grower* self) {
  auto& st = self->state;
  if (++st.answered == st.expected)
    self->send(st.coordinator, grown_atom::value,
               static_cast<uint64_t>(st.held.size()), st.errors,
               st.first_error);
}

caf::behavior grower_actor(grower* self, pooler::app app, std::string pool,
                           caf::actor coordinator) {
  self->state.app = std::move(app);
  self->state.pool = std::move(pool);
  self->state.coordinator = std::move(coordinator);
  return {
    [self](take_all_atom, uint64_t n) {
      auto& st = self->state;
      st.answered = 0;
      st.expected = n;
      st.errors = 0;
      st.first_error.clear();
      for (uint64_t i = 0; i < n; ++i)
        st.app->take_member(
          self, st.pool, take_timeout,
          [self](caf::actor m) {
            self->state.held.push_back(std::move(m));
            grower_answered(self);
          },
          [self](caf::error err) {
            auto& st = self->state;
            if (st.errors++ == 0)
              st.first_error = self->system().render(err);
            grower_answered(self);
          });
    },
    [self](return_all_atom) {
      auto& st = self->state;
      for (auto& m : st.held)
        st.app->return_member(self, st.pool, m);
      st.held.clear();
    },
  };
}

// Baseline (c): what a C++ user would write instead.
class cv_pool {
public:
  explicit cv_pool(size_t n) {
    for (size_t i = 0; i < n; ++i)
      free_.push_back(static_cast<int>(i));
  }
  int take() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return !free_.empty(); });
    int x = free_.back();
    free_.pop_back();
    return x;
  }
  void give(int x) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      free_.push_back(x);
    }
    cv_.notify_one();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<int> free_;
};

// -- measurement ----------------------------------------------------------------------

struct run_result {
  double rate = 0; // ops per second
  uint64_t ops = 0;
  uint64_t errors = 0;
  size_t missing = 0; // consumers that did not report in time
  double elapsed_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  size_t samples = 0;
  std::string first_error;
};

// Nearest-rank percentile of sorted values, in µs.
double percentile_us(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  auto idx = std::min(sorted.size() - 1, rank == 0 ? size_t{0} : rank - 1);
  return static_cast<double>(sorted[idx]) / 1000.0;
}

void finish_result(run_result& r, clk::time_point t0, clk::time_point t1,
                   std::vector<int64_t>& all) {
  r.elapsed_s = std::chrono::duration<double>(t1 - t0).count();
  r.rate = r.elapsed_s > 0 ? static_cast<double>(r.ops) / r.elapsed_s : 0;
  std::sort(all.begin(), all.end());
  r.samples = all.size();
  r.p50_us = percentile_us(all, 0.50);
  r.p99_us = percentile_us(all, 0.99);
}

clk::duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<clk::duration>(
    std::chrono::duration<double>(seconds));
}

// Spawns n clients, starts them with one message, waits for every "done"
// (bounded) and sums up.
template <class Spawn>
run_result run_clients(caf::scoped_actor& self, size_t n, double seconds,
                       Spawn spawn_client) {
  std::vector<caf::actor> clients;
  clients.reserve(n);
  for (size_t i = 0; i < n; ++i)
    clients.push_back(spawn_client());
  auto t0 = clk::now();
  auto deadline = t0 + seconds_to_duration(seconds);
  for (auto& c : clients)
    self->send(c, go_atom::value, to_ns(deadline.time_since_epoch()));
  // Every client finishes its outstanding take (at most 5 s) after the
  // deadline; give up 15 s after it.
  auto hard_limit = deadline + 15s;
  run_result r;
  std::vector<int64_t> all;
  size_t received = 0;
  for (bool timed_out = false; received < n && !timed_out;) {
    auto left = std::max(clk::duration{0}, hard_limit - clk::now());
    self->receive(
      [&](done_atom, uint64_t ops, uint64_t errors, std::vector<int64_t>& xs,
          std::string& first_error) {
        ++received;
        r.ops += ops;
        r.errors += errors;
        if (r.first_error.empty())
          r.first_error = std::move(first_error);
        all.insert(all.end(), xs.begin(), xs.end());
      },
      caf::after(std::chrono::duration_cast<caf::timespan>(left)) >>
        [&] { timed_out = true; });
  }
  auto t1 = clk::now();
  r.missing = n - received;
  if (r.missing > 0)
    for (auto& c : clients)
      self->send_exit(c, caf::exit_reason::kill);
  finish_result(r, t0, t1, all);
  return r;
}

struct thread_tally {
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::string first_error;
  std::vector<int64_t> samples;
};

// Runs n std::threads; each builds its worker with `make_worker()` (on the
// thread) and calls `worker(sample, tally)` until the deadline.
template <class MakeWorker>
run_result run_threads(size_t n, double seconds, MakeWorker make_worker) {
  std::vector<thread_tally> tallies(n);
  std::vector<std::thread> threads;
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false};
  std::atomic<int64_t> deadline_ns{0};
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      auto worker = make_worker();
      ++ready;
      while (!go.load())
        std::this_thread::yield();
      auto deadline = clk::time_point{std::chrono::nanoseconds{deadline_ns.load()}};
      auto& t = tallies[i];
      for (uint64_t k = 0;; ++k) {
        bool sample = k % sample_stride == 0;
        if (sample && clk::now() >= deadline)
          break;
        worker(sample, t);
      }
    });
  while (ready.load() < n)
    std::this_thread::yield();
  auto t0 = clk::now();
  deadline_ns = to_ns((t0 + seconds_to_duration(seconds)).time_since_epoch());
  go = true;
  for (auto& th : threads)
    th.join();
  auto t1 = clk::now();
  run_result r;
  std::vector<int64_t> all;
  for (auto& t : tallies) {
    r.ops += t.ops;
    r.errors += t.errors;
    if (r.first_error.empty())
      r.first_error = t.first_error;
    all.insert(all.end(), t.samples.begin(), t.samples.end());
  }
  finish_result(r, t0, t1, all);
  return r;
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

struct scenario {
  std::string name;  // JSON key
  std::string label; // table
  size_t c = 0;
  std::vector<run_result> runs;

  double med(double run_result::*field) const {
    std::vector<double> xs;
    for (auto& r : runs)
      xs.push_back(r.*field);
    return median(std::move(xs));
  }
  uint64_t errors() const {
    uint64_t n = 0;
    for (auto& r : runs)
      n += r.errors;
    return n;
  }
  size_t missing() const {
    size_t n = 0;
    for (auto& r : runs)
      n += r.missing;
    return n;
  }
};

json to_json(const run_result& r) {
  return {{"rate_per_s", std::round(r.rate)},
          {"ops", r.ops},
          {"errors", r.errors},
          {"missing_reports", r.missing},
          {"elapsed_s", r.elapsed_s},
          {"p50_us", r.p50_us},
          {"p99_us", r.p99_us},
          {"latency_samples", r.samples}};
}

// Waits until every member of `pool` is back and nobody queues (returns are
// async).
bool pool_idle(pooler::app& app, const std::string& pool, size_t size) {
  auto limit = clk::now() + 5s;
  while (clk::now() < limit) {
    auto u = app.pool_utilization(pool);
    if (u && u->free_count == size && u->in_use_count == 0
        && u->queued_count == 0)
      return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// Polls the pool's counts until `pred` holds (true) or `limit` passes.
template <class Pred>
bool wait_for(pooler::app& app, const std::string& pool, clk::duration limit,
              Pred pred) {
  auto until = clk::now() + limit;
  while (clk::now() < until) {
    auto u = app.pool_utilization(pool);
    if (u && pred(*u))
      return true;
    std::this_thread::sleep_for(200us);
  }
  return false;
}

// Heap bytes in use: glibc's count over all arenas, mmapped chunks included.
int64_t heap_bytes() {
  auto mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

// Sends every actor one message and waits for every answer: afterwards each
// has run its first activation (behavior built, mailbox in use).
void ping_all(caf::scoped_actor& self, const std::vector<caf::actor>& xs) {
  for (auto& x : xs)
    self->send(x, int64_t{1});
  size_t got = 0;
  self->receive_for(got, xs.size())(
    [](int64_t) {},
    caf::after(std::chrono::seconds(30)) >> [] {});
}

pooler::member_factory make_member_factory() {
  return pooler::member_factory::function(
    [](caf::actor_system& s) -> caf::expected<caf::actor> {
      return s.spawn(member, int64_t{0});
    });
}

pooler::pool_config fixed_pool(std::string name, size_t size) {
  pooler::pool_config pc;
  pc.name = std::move(name);
  pc.init_count = size;
  pc.max_count = size;
  pc.queue_max = queue_max;
  pc.start = make_member_factory();
  return pc;
}

// One lifecycle phase: times in ms per repetition.
struct phase {
  std::string name;
  std::string label;
  std::vector<double> ms;
};

struct config : caf::actor_system_config {
  config() {
    pooler::add_to(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

void usage() {
  std::cout
    << "usage: pool_bench [--seconds=X] [--quick] [CAF options]\n"
       "  --seconds=X  duration of each run (default 1; 3 runs per scenario)\n"
       "  --quick      0.2 s and one run per scenario (CI smoke run)\n"
       "  --only=G,..  scenario groups: event, size, blocking, failure,\n"
       "               takeall, growth, big (default: all)\n"
       "  CAF options are passed on, e.g. --scheduler.policy=sharing\n"
       "  --scheduler.max-threads=2\n";
}

std::string fmt_ratio(double x) {
  if (!(x > 0))
    return "-";
  char buf[32];
  // Small ratios (blocking vs the mutex pool) keep 3 significant digits.
  std::snprintf(buf, sizeof(buf), x >= 0.01 ? "%.3f" : "%.2e", x);
  return buf;
}

json json_ratio(double x) {
  return x > 0 ? json(x) : json(nullptr);
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int repetitions = 3;
  bool quick = false;
  std::string only; // comma-separated scenario groups; empty = all
  caf::actor_system_config::string_list caf_args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg.rfind("--seconds=", 0) == 0) {
      char* end = nullptr;
      auto text = arg.substr(10);
      seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(seconds > 0) || seconds > 600) {
        std::cerr << "pool_bench: bad --seconds value: " << text << "\n";
        return 2;
      }
    } else if (arg.rfind("--only=", 0) == 0) {
      only = "," + arg.substr(7) + ",";
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      caf_args.push_back(std::move(arg));
    }
  }
  if (quick) {
    seconds = 0.2;
    repetitions = 1;
  }
  double warmup = std::min(0.2, seconds / 4);
  auto want = [&](const char* group) {
    return only.empty() || only.find("," + std::string{group} + ",") != std::string::npos;
  };

  config cfg;
  if (auto err = cfg.parse(std::move(caf_args))) {
    std::cerr << "pool_bench: " << cfg.render(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;

  caf::actor_system sys{cfg};
  auto policy = caf::to_string(
    caf::get_or(sys.config(), "scheduler.policy", caf::atom("stealing")));
  auto threads = sys.scheduler().num_workers();
  std::vector<scenario> results;
  std::vector<phase> phases;
  json lifecycle = json::object();
  bool ok = true;
  auto fail = [&](const std::string& what) {
    std::cerr << "pool_bench: " << what << "\n";
    ok = false;
  };
  {
    auto started = pooler::app::start(sys, {});
    if (!started) {
      std::cerr << "pool_bench: app::start: " << sys.render(started.error())
                << "\n";
      return 1;
    }
    auto app = std::move(*started);
    auto metrics_sink = std::make_shared<pooler::prometheus_sink>();
    {
      auto metrics_pool = fixed_pool(metrics_pool_name, pool_size);
      metrics_pool.sink = metrics_sink;
      auto exhausted = fixed_pool(exhausted_pool_name, 1);
      for (auto pc : {fixed_pool(pool_name, pool_size), metrics_pool,
                      fixed_pool(small_pool_name, 5),
                      fixed_pool(large_pool_name, 1000), exhausted}) {
        if (auto res = app.new_pool(pc); !res) {
          std::cerr << "pool_bench: new_pool " << pc.name << ": "
                    << sys.render(res.error()) << "\n";
          app.stop();
          return 1;
        }
      }
    }
    caf::scoped_actor self{sys};
    // Exhaust the failure-path pool: hold its only member.
    auto held = app.take_member(self, exhausted_pool_name, take_timeout);
    if (!held) {
      std::cerr << "pool_bench: take from " << exhausted_pool_name << ": "
                << sys.render(held.error()) << "\n";
      app.stop();
      return 1;
    }
    auto server = sys.spawn(echo_server, int64_t{0});
    std::vector<caf::actor> minimal_members;
    for (size_t i = 0; i < pool_size; ++i)
      minimal_members.push_back(sys.spawn(member, int64_t{0}));
    auto min_pool = sys.spawn(minimal_pool, minimal_members);

    auto baseline_a = [&](size_t c, double secs) {
      return run_clients(self, c, secs, [&] {
        return sys.spawn(rr_client, server, caf::actor{self});
      });
    };
    auto baseline_b = [&](size_t c, double secs) {
      return run_clients(self, c, secs, [&] {
        return sys.spawn(minimal_pool_client, min_pool, caf::actor{self});
      });
    };
    auto pool_run = [&](const std::string& pool, size_t size, size_t c,
                        double secs) {
      if (!pool_idle(app, pool, size))
        fail("pool " + pool + " not idle before a run");
      return run_clients(self, c, secs, [&] {
        return sys.spawn(pool_consumer, app, pool, false, caf::actor{self},
                         false);
      });
    };
    auto e2e_run = [&](size_t c, double secs) {
      if (!pool_idle(app, pool_name, pool_size))
        fail("pool not idle before an end-to-end run");
      return run_clients(self, c, secs, [&] {
        return sys.spawn(pool_consumer, app, std::string{pool_name}, false,
                         caf::actor{self}, true);
      });
    };
    auto failure_run = [&](double secs) {
      return run_clients(self, 1, secs, [&] {
        return sys.spawn(pool_consumer, app, std::string{exhausted_pool_name},
                         true, caf::actor{self}, false);
      });
    };
    // Blocking consumers: take_member (or try_take_member) from a thread
    // with its own scoped_actor; end to end, one request to the member.
    enum class blocking_kind { take, try_take, call };
    auto blocking_run = [&](size_t c, double secs, blocking_kind kind) {
      if (!pool_idle(app, pool_name, pool_size))
        fail("pool not idle before a blocking run");
      return run_threads(c, secs, [&] {
        auto me = std::make_shared<caf::scoped_actor>(sys);
        return [&sys, a = app, me, kind](bool sample,
                                         thread_tally& t) mutable {
          auto t0 = sample ? clk::now() : clk::time_point{};
          auto m = kind == blocking_kind::try_take
                     ? a.try_take_member(*me, pool_name)
                     : a.take_member(*me, pool_name, take_timeout);
          if (!m) {
            // A try_take finds nothing while other threads hold every
            // member: not an error, the next try follows.
            if (kind != blocking_kind::try_take && t.errors++ == 0)
              t.first_error = sys.render(m.error());
            return;
          }
          if (kind == blocking_kind::call) {
            bool ok = false;
            (*me)
              ->request(*m, caf::infinite, int64_t{1})
              .receive([&](int64_t) { ok = true; },
                       [&](caf::error& err) {
                         if (t.errors++ == 0)
                           t.first_error = sys.render(err);
                       });
            if (!ok) {
              a.return_member(pool_name, *m);
              return;
            }
          }
          if (sample)
            t.samples.push_back(to_ns(clk::now() - t0));
          ++t.ops;
          a.return_member(pool_name, *m);
        };
      });
    };
    // CAF's own blocking round trip (scoped_actor to the echo server): what
    // one blocking take costs at the least.
    auto blocking_rr = [&](size_t c, double secs) {
      return run_threads(c, secs, [&] {
        auto me = std::make_shared<caf::scoped_actor>(sys);
        return [&sys, &server, me](bool sample, thread_tally& t) {
          auto t0 = sample ? clk::now() : clk::time_point{};
          bool ok = false;
          (*me)
            ->request(server, caf::infinite, int64_t{1})
            .receive([&](int64_t) { ok = true; },
                     [&](caf::error& err) {
                       if (t.errors++ == 0)
                         t.first_error = sys.render(err);
                     });
          if (!ok)
            return;
          if (sample)
            t.samples.push_back(to_ns(clk::now() - t0));
          ++t.ops;
        };
      });
    };
    cv_pool cvp{pool_size};
    auto baseline_c = [&](size_t c, double secs) {
      return run_threads(c, secs, [&] {
        return [&cvp](bool sample, thread_tally& t) {
          auto t0 = sample ? clk::now() : clk::time_point{};
          int x = cvp.take();
          if (sample)
            t.samples.push_back(to_ns(clk::now() - t0));
          ++t.ops;
          cvp.give(x);
        };
      });
    };

    // 1 + 2 + 6: event-based consumers, baselines (a) and (b), metrics on.
    for (size_t c : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}}) {
      if (!want("event"))
        break;
      bool with_metrics = c == 10 || c == 100;
      scenario a{"caf_request_response", "CAF request/response (a)", c, {}};
      scenario b{"minimal_pool", "minimal pool actor (b)", c, {}};
      scenario p{"pool_take_return", "pool take+return", c, {}};
      scenario m{"pool_take_return_metrics", "pool, metrics on", c, {}};
      baseline_a(c, warmup);
      baseline_b(c, warmup);
      pool_run(pool_name, pool_size, c, warmup);
      if (with_metrics)
        pool_run(metrics_pool_name, pool_size, c, warmup);
      for (int i = 0; i < repetitions; ++i) {
        a.runs.push_back(baseline_a(c, seconds));
        b.runs.push_back(baseline_b(c, seconds));
        p.runs.push_back(pool_run(pool_name, pool_size, c, seconds));
        if (with_metrics)
          m.runs.push_back(pool_run(metrics_pool_name, pool_size, c, seconds));
      }
      results.push_back(std::move(a));
      results.push_back(std::move(b));
      results.push_back(std::move(p));
      if (with_metrics)
        results.push_back(std::move(m));
    }

    // 3: one consumer, pool of 5 vs pool of 1000.
    if (want("size")) {
      scenario s5{"pool_size_5", "take+return, pool of 5", 1, {}};
      scenario s1000{"pool_size_1000", "take+return, pool of 1000", 1, {}};
      pool_run(small_pool_name, 5, 1, warmup);
      pool_run(large_pool_name, 1000, 1, warmup);
      for (int i = 0; i < repetitions; ++i) {
        s5.runs.push_back(pool_run(small_pool_name, 5, 1, seconds));
        s1000.runs.push_back(pool_run(large_pool_name, 1000, 1, seconds));
      }
      results.push_back(std::move(s5));
      results.push_back(std::move(s1000));
    }

    // 4: blocking consumers and baseline (c).
    for (size_t c : {size_t{1}, size_t{10}}) {
      if (!want("blocking"))
        break;
      scenario cb{"mutex_cv_pool", "mutex+cv pool (c)", c, {}};
      scenario rb{"caf_blocking_request_response",
                  "CAF blocking req/resp", c, {}};
      scenario pb{"pool_blocking", "pool, blocking consumers", c, {}};
      scenario tb{"pool_try_take", "pool, try_take from threads", c, {}};
      baseline_c(c, warmup);
      blocking_rr(c, warmup);
      blocking_run(c, warmup, blocking_kind::take);
      blocking_run(c, warmup, blocking_kind::try_take);
      for (int i = 0; i < repetitions; ++i) {
        cb.runs.push_back(baseline_c(c, seconds));
        rb.runs.push_back(blocking_rr(c, seconds));
        pb.runs.push_back(blocking_run(c, seconds, blocking_kind::take));
        tb.runs.push_back(blocking_run(c, seconds, blocking_kind::try_take));
      }
      results.push_back(std::move(cb));
      results.push_back(std::move(rb));
      results.push_back(std::move(pb));
      results.push_back(std::move(tb));
    }

    // End to end: take + one request to the member + return, event-based
    // and blocking (what a pooled call costs; no target).
    for (size_t c : {size_t{1}, size_t{10}}) {
      if (!want("e2e"))
        break;
      scenario ee{"pool_call_event", "take+call+return, event", c, {}};
      scenario eb{"pool_call_blocking", "take+call+return, blocking", c, {}};
      e2e_run(c, warmup);
      blocking_run(c, warmup, blocking_kind::call);
      for (int i = 0; i < repetitions; ++i) {
        ee.runs.push_back(e2e_run(c, seconds));
        eb.runs.push_back(blocking_run(c, seconds, blocking_kind::call));
      }
      results.push_back(std::move(ee));
      results.push_back(std::move(eb));
    }

    // 5: the failure path.
    if (want("failure")) {
      scenario f{"pool_exhausted_take", "take on exhausted pool", 1, {}};
      failure_run(warmup);
      for (int i = 0; i < repetitions; ++i)
        f.runs.push_back(failure_run(seconds));
      results.push_back(std::move(f));
    }
    app.return_member(exhausted_pool_name, *held);

    // Takes `n` members of `pool` at once through the grower `g`, then
    // returns them all and waits until all are free: the two times (ms), or
    // nothing after a failure.
    auto take_return_all = [&](const caf::actor& g, const std::string& pool,
                               size_t n)
      -> std::optional<std::pair<double, double>> {
      auto t0 = clk::now();
      self->send(g, take_all_atom::value, static_cast<uint64_t>(n));
      bool got = false;
      self->receive(
        [&](grown_atom, uint64_t k, uint64_t errors, std::string& first) {
          got = k == n && errors == 0;
          if (!got)
            fail(pool + ": took " + std::to_string(k) + " of "
                 + std::to_string(n) + ", " + std::to_string(errors)
                 + " error(s), first: " + first);
        },
        caf::after(std::chrono::seconds(30)) >> [&] {
          fail(pool + ": no answer to take " + std::to_string(n) + " within 30 s");
        });
      if (!got)
        return std::nullopt;
      auto t1 = clk::now();
      self->send(g, return_all_atom::value);
      if (!wait_for(app, pool, 30s, [n](const pooler::utilization& u) {
            return u.free_count == n && u.in_use_count == 0;
          })) {
        fail(pool + ": members not all free after return");
        return std::nullopt;
      }
      return std::make_pair(to_ms(t1 - t0), to_ms(clk::now() - t1));
    };

    // 7a: take all / return all on a pool of 500 that has them all free.
    if (want("takeall")) {
      phase take{"take_all_500_ms", "take all 500 (pool of 500)", {}};
      phase ret{"return_all_500_ms", "return all 500 (until all free)", {}};
      auto pc = fixed_pool(full_pool_name, growth_max);
      pc.cull_interval = caf::timespan{0};
      if (auto res = app.new_pool(pc); !res) {
        fail("new_pool " + pc.name + ": " + sys.render(res.error()));
      } else {
        auto g = sys.spawn(grower_actor, app, pc.name, caf::actor{self});
        for (int i = 0; i < repetitions && ok; ++i) {
          auto times = take_return_all(g, pc.name, growth_max);
          if (!times)
            break;
          take.ms.push_back(times->first);
          ret.ms.push_back(times->second);
        }
        self->send_exit(g, caf::exit_reason::kill);
        if (auto res = app.rm_pool(pc.name); !res)
          fail("rm_pool " + pc.name + ": " + sys.render(res.error()));
      }
      phases.push_back(std::move(take));
      phases.push_back(std::move(ret));
    }

    // 7b: growth 0 -> 500 -> 0.
    if (want("growth")) {
      auto pc = fixed_pool(growth_pool_name, 0);
      pc.max_count = growth_max;
      pc.cull_interval = caf::timespan{0}; // culled on demand only
      pc.max_age = caf::timespan{0};
      phase take{"growth_take_500_ms", "growth: take 500 (init 0, max 500)", {}};
      phase ret{"growth_return_500_ms", "growth: return 500 (until all free)", {}};
      phase cull{"growth_cull_500_ms", "growth: cull 500 (until none left)", {}};
      if (auto res = app.new_pool(pc); !res) {
        fail("new_pool grow: " + sys.render(res.error()));
      } else {
        auto g = sys.spawn(grower_actor, app, std::string{growth_pool_name},
                           caf::actor{self});
        for (int i = 0; i < repetitions && ok; ++i) {
          auto times = take_return_all(g, growth_pool_name, growth_max);
          if (!times)
            break;
          auto t2 = clk::now();
          if (auto res = app.cull_pool(growth_pool_name); !res)
            fail("growth: cull_pool: " + sys.render(res.error()));
          if (!wait_for(app, growth_pool_name, 30s,
                        [](const pooler::utilization& u) {
                          return u.free_count + u.in_use_count
                                   + u.starting_count + u.stopping_count
                                 == 0;
                        }))
            fail("growth: members left after cull");
          take.ms.push_back(times->first);
          ret.ms.push_back(times->second);
          cull.ms.push_back(to_ms(clk::now() - t2));
        }
        self->send_exit(g, caf::exit_reason::kill);
        if (auto res = app.rm_pool(growth_pool_name); !res)
          fail("rm_pool grow: " + sys.render(res.error()));
      }
      phases.push_back(std::move(take));
      phases.push_back(std::move(ret));
      phases.push_back(std::move(cull));
    }

    // 7c: a 10,000-member pool: start time and memory per idle member.
    if (want("big")) {
      phase start{"start_10000_ms", "start a pool of 10,000 (new_pool)", {}};
      phase stop{"rm_pool_10000_ms", "rm_pool of 10,000", {}};
      std::vector<double> bytes_per_member;
      std::vector<double> bookkeeping_per_member;
      auto n = static_cast<double>(big_pool_size);
      for (int i = 0; i < repetitions; ++i) {
        auto pc = fixed_pool(big_pool_name, big_pool_size);
        pc.cull_interval = caf::timespan{0};
        auto heap0 = heap_bytes();
        auto t0 = clk::now();
        auto res = app.new_pool(pc);
        auto t1 = clk::now();
        if (!res) {
          fail("new_pool big: " + sys.render(res.error()));
          break;
        }
        auto u = app.pool_utilization(big_pool_name);
        if (!u || u->free_count != big_pool_size)
          fail("big pool: not all 10,000 members free after new_pool");
        start.ms.push_back(to_ms(t1 - t0));
        std::vector<caf::actor> pooled;
        if (auto st = app.pool_stats(big_pool_name))
          for (auto& m : *st)
            pooled.push_back(m.member);
        ping_all(self, pooled);
        pooled.clear();
        auto pool_bytes = heap_bytes() - heap0;
        // The same number of bare member actors, for the actors' own share.
        std::vector<caf::actor> bare;
        bare.reserve(big_pool_size);
        auto heap2 = heap_bytes();
        for (size_t k = 0; k < big_pool_size; ++k)
          bare.push_back(sys.spawn(member, int64_t{0}));
        ping_all(self, bare);
        auto bare_bytes = heap_bytes() - heap2;
        for (auto& b : bare)
          self->send_exit(b, caf::exit_reason::kill);
        bare.clear();
        bytes_per_member.push_back(static_cast<double>(pool_bytes) / n);
        bookkeeping_per_member.push_back(
          static_cast<double>(pool_bytes - bare_bytes) / n);
        auto t2 = clk::now();
        if (auto rm = app.rm_pool(big_pool_name); !rm)
          fail("rm_pool big: " + sys.render(rm.error()));
        stop.ms.push_back(to_ms(clk::now() - t2));
      }
      lifecycle["big_pool"] = {
        {"members", big_pool_size},
        {"start_ms_median", median(start.ms)},
        {"start_ms_runs", start.ms},
        {"heap_bytes_per_idle_member_median", median(bytes_per_member)},
        {"heap_bytes_per_idle_member_runs", bytes_per_member},
        {"bookkeeping_bytes_per_idle_member_median",
         median(bookkeeping_per_member)},
        {"bookkeeping_bytes_per_idle_member_runs", bookkeeping_per_member},
        {"heap_note", "heap in use grows by A over new_pool and by B over "
                      "spawning as many bare member actors; per member: A/n "
                      "in all, (A-B)/n the pool's bookkeeping"}};
      if (!bytes_per_member.empty()) {
        lifecycle["big_pool_bytes_per_member"] = median(bytes_per_member);
        lifecycle["big_pool_bookkeeping_per_member"]
          = median(bookkeeping_per_member);
      }
      phases.push_back(std::move(start));
      phases.push_back(std::move(stop));
    }

    std::vector<std::pair<std::string, size_t>> pools{
      {pool_name, pool_size},
      {metrics_pool_name, pool_size},
      {small_pool_name, 5},
      {large_pool_name, 1000},
      {exhausted_pool_name, 1}};
    for (auto& [name, size] : pools)
      if (!pool_idle(app, name, size))
        fail("pool " + name + " not idle after the last run");
    self->send_exit(server, caf::exit_reason::kill);
    self->send_exit(min_pool, caf::exit_reason::kill);
    for (auto& m : minimal_members)
      self->send_exit(m, caf::exit_reason::kill);
    app.stop();
  }

  // -- report -----------------------------------------------------------------------
  auto rate_of = [&](const std::string& name, size_t c) {
    for (auto& s : results)
      if (s.name == name && s.c == c)
        return s.med(&run_result::rate);
    return 0.0;
  };
  auto ratio = [](double x, double base) { return base > 0 ? x / base : 0.0; };
  std::printf("pool_bench: pool of %zu (init %zu, max %zu, queue_max %zu), "
              "take timeout 5 s; %d run(s) of %.2f s each, median; "
              "scheduler policy %s, %zu threads, %u hardware threads\n",
              pool_size, pool_size, pool_size, queue_max, repetitions, seconds,
              policy.c_str(), threads, std::thread::hardware_concurrency());
  std::printf("rate/s = take+return pairs/s (pool, (b), (c)), round trips/s "
              "(a), no_members errors/s (exhausted pool); latency = take (or "
              "round trip), 1 in %llu timed; vs (x) = rate / rate of baseline "
              "(x) at the same C ((c): blocking rows only)\n\n",
              static_cast<unsigned long long>(sample_stride));
  std::printf("%-30s %5s %13s %8s %8s %8s %10s %10s\n", "scenario", "C",
              "rate/s", "vs (a)", "vs (b)", "vs (c)", "p50 us", "p99 us");
  std::printf("%-30s %5s %13s %8s %8s %8s %10s %10s\n",
              "------------------------------", "-----", "-------------",
              "--------", "--------", "--------", "----------", "----------");
  json j_results = json::array();
  for (auto& s : results) {
    auto rate = s.med(&run_result::rate);
    auto ra = ratio(rate, rate_of("caf_request_response", s.c));
    auto rb = ratio(rate, rate_of("minimal_pool", s.c));
    bool blocking = s.name == "pool_blocking" || s.name == "mutex_cv_pool"
                    || s.name == "pool_try_take" || s.name == "pool_call_blocking"
                    || s.name == "caf_blocking_request_response";
    auto rc = blocking ? ratio(rate, rate_of("mutex_cv_pool", s.c)) : 0.0;
    std::printf("%-30s %5zu %13.0f %8s %8s %8s %10.1f %10.1f\n",
                s.label.c_str(), s.c, rate, fmt_ratio(ra).c_str(),
                fmt_ratio(rb).c_str(), fmt_ratio(rc).c_str(),
                s.med(&run_result::p50_us), s.med(&run_result::p99_us));
    json runs = json::array();
    for (auto& r : s.runs)
      runs.push_back(to_json(r));
    json entry{{"scenario", s.name},
               {"c", s.c},
               {"rate_per_s", std::round(rate)},
               {"ratio_to_baseline_a", json_ratio(ra)},
               {"ratio_to_baseline_b", json_ratio(rb)},
               {"ratio_to_baseline_c", json_ratio(rc)},
               {"p50_us", s.med(&run_result::p50_us)},
               {"p99_us", s.med(&run_result::p99_us)},
               {"errors", s.errors()},
               {"missing_reports", s.missing()},
               {"runs", std::move(runs)}};
    for (auto& r : s.runs)
      if (!r.first_error.empty()) {
        entry["first_error"] = r.first_error;
        break;
      }
    if (s.errors() > 0 || s.missing() > 0) {
      ok = false;
      std::string first = entry.value("first_error", std::string{});
      std::printf("  ^ %llu failed take(s), %zu consumer(s) without report%s%s\n",
                  static_cast<unsigned long long>(s.errors()), s.missing(),
                  first.empty() ? "" : "; first error: ", first.c_str());
    }
    j_results.push_back(std::move(entry));
  }
  // Derived ratios.
  json derived = json::object();
  auto size_ratio = ratio(rate_of("pool_size_1000", 1), rate_of("pool_size_5", 1));
  derived["pool_1000_vs_pool_5"] = json_ratio(size_ratio);
  std::printf("\npool of 1000 / pool of 5 (take+return, 1 consumer): %s\n",
              fmt_ratio(size_ratio).c_str());
  for (size_t c : {size_t{10}, size_t{100}}) {
    auto x = ratio(rate_of("pool_take_return_metrics", c),
                   rate_of("pool_take_return", c));
    derived["metrics_on_vs_off_c" + std::to_string(c)] = json_ratio(x);
    std::printf("metrics on / off at C = %zu: %s\n", c, fmt_ratio(x).c_str());
  }
  for (size_t c : {size_t{1}, size_t{10}}) {
    auto x = ratio(rate_of("pool_blocking", c),
                   rate_of("caf_blocking_request_response", c));
    derived["blocking_vs_caf_blocking_round_trip_c" + std::to_string(c)]
      = json_ratio(x);
    std::printf("blocking take+return / CAF blocking round trip at C = %zu: "
                "%s\n",
                c, fmt_ratio(x).c_str());
  }
  for (size_t c : {size_t{1}, size_t{10}}) {
    auto x = ratio(rate_of("pool_blocking", c), rate_of("pool_take_return", c));
    derived["blocking_vs_event_based_c" + std::to_string(c)] = json_ratio(x);
    std::printf("blocking / event-based consumers at C = %zu: %s\n", c,
                fmt_ratio(x).c_str());
  }

  // The fast path's targets: ratios in this run.
  auto p99_of = [&](const std::string& name, size_t c) {
    for (auto& s : results)
      if (s.name == name && s.c == c)
        return s.med(&run_result::p99_us);
    return 0.0;
  };
  struct target {
    std::string what;
    double measured;
    double bound;
    bool at_most; ///< measured <= bound (else >=)
  };
  std::vector<target> targets;
  for (size_t c : {size_t{1}, size_t{10}, size_t{100}, size_t{1000}})
    targets.push_back({"event take+return / (b) at C = " + std::to_string(c),
                       ratio(rate_of("pool_take_return", c),
                             rate_of("minimal_pool", c)),
                       c <= 10 ? 1.5 : 0.9, false});
  for (size_t c : {size_t{1}, size_t{10}})
    targets.push_back({"blocking take+return / (c) at C = " + std::to_string(c),
                       ratio(rate_of("pool_blocking", c),
                             rate_of("mutex_cv_pool", c)),
                       0.10, false});
  targets.push_back({"try_take+return / (c) at C = 1",
                     ratio(rate_of("pool_try_take", 1),
                           rate_of("mutex_cv_pool", 1)),
                     0.25, false});
  for (size_t c : {size_t{10}, size_t{100}})
    targets.push_back({"metrics on / off at C = " + std::to_string(c),
                       ratio(rate_of("pool_take_return_metrics", c),
                             rate_of("pool_take_return", c)),
                       0.9, false});
  targets.push_back({"p99 take / (b)'s p99 at C = 100",
                     ratio(p99_of("pool_take_return", 100),
                           p99_of("minimal_pool", 100)),
                     1.0, true});
  std::printf("\n%-44s %10s %8s %s\n", "target", "measured", "bound",
              "met");
  json j_targets = json::array();
  for (auto& t : targets) {
    if (t.measured == 0)
      continue; // its group did not run
    bool met = t.at_most ? t.measured <= t.bound : t.measured >= t.bound;
    std::printf("%-44s %10s %2s %5.2f %s\n", t.what.c_str(),
                fmt_ratio(t.measured).c_str(), t.at_most ? "<=" : ">=",
                t.bound, met ? "yes" : "NO");
    j_targets.push_back({{"target", t.what},
                         {"measured", json_ratio(t.measured)},
                         {"bound", t.bound},
                         {"at_most", t.at_most},
                         {"met", met}});
  }
  derived["targets"] = std::move(j_targets);

  std::printf("\n%-40s %12s %s\n", "lifecycle phase", "median ms", "runs (ms)");
  std::printf("%-40s %12s %s\n", "----------------------------------------",
              "------------", "---------");
  json j_phases = json::array();
  for (auto& p : phases) {
    std::string runs;
    for (auto x : p.ms) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%s%.1f", runs.empty() ? "" : " ", x);
      runs += buf;
    }
    std::printf("%-40s %12.1f %s\n", p.label.c_str(), median(p.ms),
                runs.c_str());
    j_phases.push_back(
      {{"phase", p.name}, {"median_ms", median(p.ms)}, {"runs_ms", p.ms}});
    if (p.ms.empty())
      ok = false;
  }
  if (lifecycle.contains("big_pool_bytes_per_member")) {
    double b = lifecycle["big_pool_bytes_per_member"].get<double>();
    double k = lifecycle["big_pool_bookkeeping_per_member"].get<double>();
    std::printf("memory per idle member of a 10,000-member pool: %.0f bytes "
                "of pool bookkeeping, %.0f bytes with the member actor "
                "(heap, median)\n",
                k, b);
    lifecycle.erase("big_pool_bytes_per_member");
    lifecycle.erase("big_pool_bookkeeping_per_member");
  }
  std::printf("\n");
  json doc{
    {"bench", "pool_bench"},
    {"settings",
     {{"seconds_per_run", seconds},
      {"repetitions", repetitions},
      {"warmup_seconds", warmup},
      {"quick", quick},
      {"statistic", "median"},
      {"latency_sample_stride", sample_stride},
      {"take_timeout_ms", 5000},
      {"pool", {{"init_count", pool_size}, {"max_count", pool_size},
                {"queue_max", queue_max}, {"metrics", false}}},
      {"metrics_pool", {{"sink", "prometheus_sink"}}},
      {"scheduler", {{"policy", policy}, {"threads", threads}}},
      {"hardware_concurrency", std::thread::hardware_concurrency()}}},
    {"ok", ok},
    {"results", std::move(j_results)},
    {"derived", std::move(derived)},
    {"lifecycle", {{"phases", std::move(j_phases)},
                   {"big_pool", lifecycle.value("big_pool", json::object())}}}};
  std::cout << doc.dump(2) << std::endl;
  return ok ? 0 : 1;
}
