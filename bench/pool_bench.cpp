// pool_bench: contention benchmark of SPEC §10.
//
// For C = 1, 10 and 100 concurrent event-based consumers on a pool of 10
// members (init 10, max 10), every take with a timeout of 5 s (so consumers
// queue once C > 10), it measures successful take+return pairs per second and
// the take latency (request to member in hand, p50/p99, sampled). In the same
// run it measures baseline (a): event-based request/response round trips per
// second between C client actors and one echo server, the ceiling for a pool
// on CAF (one take+return costs at least one round trip plus one send).
//
// Each scenario runs `repetitions` times for a bounded duration after a short
// warmup; the median is reported. Baseline and pool runs are interleaved so
// that drift on a noisy machine affects both alike.
//
// Usage: pool_bench [--seconds=X] [--quick] [CAF options, e.g.
//        --scheduler.policy=sharing --scheduler.max-threads=2]
// Prints a table, then (last) one JSON document with every number.
// Exit code: 0, or 1 if a run saw take errors or a consumer did not report.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

constexpr size_t pool_size = 10;
constexpr size_t queue_max = 1000; // >= every C, so no take is refused
constexpr caf::timespan take_timeout = std::chrono::seconds(5);
constexpr uint64_t sample_stride = 8; // every 8th take/round trip is timed
const char* const pool_name = "bench";

int64_t to_ns(clk::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// -- actors ---------------------------------------------------------------------

// A trivial member. (Spawned with an argument: CAF 0.17 trips UBSan when a
// function-based actor is spawned without one.)
caf::behavior member(caf::event_based_actor*, int64_t) {
  return {[](int64_t x) { return x; }};
}

// Baseline server: echoes every request.
caf::behavior echo_server(caf::event_based_actor*, int64_t) {
  return {[](int64_t x) { return x; }};
}

struct client_state {
  std::optional<pooler::app> app; // pool consumers only
  caf::actor server;              // baseline clients only
  caf::actor coordinator;
  clk::time_point deadline;
  uint64_t attempts = 0;
  uint64_t ops = 0;    // successful pairs (pool) or round trips (baseline)
  uint64_t errors = 0; // failed takes
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

// One take; on success the member goes straight back and the next take
// follows until the deadline. The deadline is checked on sampled takes only
// (they read the clock anyway).
void take_next(client* self) {
  auto& st = self->state;
  bool sample = st.attempts++ % sample_stride == 0;
  auto t0 = sample ? clk::now() : clk::time_point{};
  st.app->take_member(
    self, pool_name, take_timeout,
    [self, sample, t0](caf::actor m) {
      auto& st = self->state;
      clk::time_point now;
      if (sample) {
        now = clk::now();
        st.samples.push_back(to_ns(now - t0));
      }
      ++st.ops;
      st.app->return_member(pool_name, m);
      if (sample && now >= st.deadline)
        finish(self);
      else
        take_next(self);
    },
    [self](caf::error err) {
      auto& st = self->state;
      if (st.errors++ == 0)
        st.first_error = self->system().render(err);
      // Retry through the mailbox: an error may be reported synchronously.
      if (clk::now() >= st.deadline)
        finish(self);
      else
        self->send(self, retry_atom::value);
    });
}

caf::behavior pool_consumer(client* self, pooler::app app,
                            caf::actor coordinator) {
  self->state.app = std::move(app);
  self->state.coordinator = std::move(coordinator);
  return {
    [self](go_atom, int64_t deadline_ns) {
      self->state.deadline = clk::time_point{std::chrono::nanoseconds{deadline_ns}};
      take_next(self);
    },
    [self](retry_atom) { take_next(self); },
  };
}

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
  auto deadline = t0 + std::chrono::duration_cast<clk::duration>(
                         std::chrono::duration<double>(seconds));
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
  r.elapsed_s = std::chrono::duration<double>(t1 - t0).count();
  r.rate = r.elapsed_s > 0 ? static_cast<double>(r.ops) / r.elapsed_s : 0;
  std::sort(all.begin(), all.end());
  r.samples = all.size();
  r.p50_us = percentile_us(all, 0.50);
  r.p99_us = percentile_us(all, 0.99);
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

// Waits until every member is back and nobody queues (returns are async).
bool pool_idle(pooler::app& app) {
  auto limit = clk::now() + 5s;
  while (clk::now() < limit) {
    auto u = app.pool_utilization(pool_name);
    if (u && u->free_count == pool_size && u->in_use_count == 0
        && u->queued_count == 0)
      return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

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
       "  CAF options are passed on, e.g. --scheduler.policy=sharing\n"
       "  --scheduler.max-threads=2\n";
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int repetitions = 3;
  bool quick = false;
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
  bool ok = true;
  {
    auto started = pooler::app::start(sys, {});
    if (!started) {
      std::cerr << "pool_bench: app::start: " << sys.render(started.error())
                << "\n";
      return 1;
    }
    auto app = std::move(*started);
    pooler::pool_config pc;
    pc.name = pool_name;
    pc.init_count = pool_size;
    pc.max_count = pool_size;
    pc.queue_max = queue_max;
    pc.start = pooler::member_factory::function(
      [](caf::actor_system& s) -> caf::expected<caf::actor> {
        return s.spawn(member, int64_t{0});
      });
    if (auto res = app.new_pool(pc); !res) {
      std::cerr << "pool_bench: new_pool: " << sys.render(res.error()) << "\n";
      app.stop();
      return 1;
    }
    caf::scoped_actor self{sys};
    auto server = sys.spawn(echo_server, int64_t{0});
    auto baseline_run = [&](size_t c, double secs) {
      return run_clients(self, c, secs, [&] {
        return sys.spawn(rr_client, server, caf::actor{self});
      });
    };
    auto pool_run = [&](size_t c, double secs) {
      if (!pool_idle(app)) {
        std::cerr << "pool_bench: pool not idle before a run\n";
        ok = false;
      }
      return run_clients(self, c, secs, [&] {
        return sys.spawn(pool_consumer, app, caf::actor{self});
      });
    };
    for (size_t c : {size_t{1}, size_t{10}, size_t{100}}) {
      scenario base{"caf_request_response", "CAF request/response (a)", c, {}};
      scenario pool{"pool_take_return", "pool take+return", c, {}};
      baseline_run(c, warmup);
      pool_run(c, warmup);
      for (int i = 0; i < repetitions; ++i) {
        base.runs.push_back(baseline_run(c, seconds));
        pool.runs.push_back(pool_run(c, seconds));
      }
      results.push_back(std::move(base));
      results.push_back(std::move(pool));
    }
    if (!pool_idle(app)) {
      std::cerr << "pool_bench: pool not idle after the last run\n";
      ok = false;
    }
    self->send_exit(server, caf::exit_reason::kill);
    app.stop();
  }

  // -- report -----------------------------------------------------------------------
  auto baseline_of = [&](size_t c) {
    for (auto& s : results)
      if (s.name == "caf_request_response" && s.c == c)
        return s.med(&run_result::rate);
    return 0.0;
  };
  std::printf("pool_bench: pool of %zu (init %zu, max %zu, queue_max %zu), "
              "take timeout 5 s; %d run(s) of %.2f s each, median; "
              "scheduler %s, %zu threads\n",
              pool_size, pool_size, pool_size, queue_max, repetitions, seconds,
              policy.c_str(), threads);
  std::printf("pairs/s = take+return pairs/s for the pool, round trips/s for "
              "the baseline; latency = take (or round trip), 1 in %llu "
              "timed\n\n",
              static_cast<unsigned long long>(sample_stride));
  std::printf("%-26s %5s %14s %8s %10s %10s\n", "scenario", "C", "pairs/s",
              "ratio", "p50 us", "p99 us");
  std::printf("%-26s %5s %14s %8s %10s %10s\n", "--------------------------",
              "-----", "--------------", "--------", "----------",
              "----------");
  json j_results = json::array();
  for (auto& s : results) {
    auto rate = s.med(&run_result::rate);
    auto base = baseline_of(s.c);
    auto ratio = base > 0 ? rate / base : 0.0;
    std::printf("%-26s %5zu %14.0f %8.3f %10.1f %10.1f\n", s.label.c_str(), s.c,
                rate, ratio, s.med(&run_result::p50_us),
                s.med(&run_result::p99_us));
    json runs = json::array();
    for (auto& r : s.runs)
      runs.push_back(to_json(r));
    json entry{{"scenario", s.name},
               {"c", s.c},
               {"rate_per_s", std::round(rate)},
               {"ratio_to_baseline_a", ratio},
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
      {"scheduler", {{"policy", policy}, {"threads", threads}}},
      {"hardware_concurrency", std::thread::hardware_concurrency()}}},
    {"ok", ok},
    {"results", std::move(j_results)}};
  std::cout << doc.dump(2) << std::endl;
  return ok ? 0 : 1;
}
