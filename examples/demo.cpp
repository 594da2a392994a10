// The pooler demo: reads config/caf-application.conf, starts its
// pools, runs consumer actors that take, use and return members while some
// consumers and members crash on purpose, shows a live table of every pool,
// then a summary, and checks that nothing leaked.
//
//   build/examples/demo [--duration=10s] [--consumers=6]
//                       [--consumer-crash-rate=0.02] [--member-crash-rate=0.02]
//                       [--pools=workers,python] [--prometheus]
//                       [--config-file=config/caf-application.conf]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>

#include "demo_table.hpp"
#include "pooler/pooler.hpp"
#include "pooler/process_member.hpp"

namespace {

using namespace std::chrono_literals;

using work_atom = caf::atom_constant<caf::atom("work")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using next_atom = caf::atom_constant<caf::atom("next")>;

// -- what the demo counts ------------------------------------------------------

std::atomic<int> live_workers{0};

struct demo_counts {
  std::atomic<uint64_t> jobs{0};             ///< requests a member answered
  std::atomic<uint64_t> job_errors{0};       ///< requests that failed
  std::atomic<uint64_t> consumer_crashes{0}; ///< on purpose
  std::atomic<uint64_t> member_crashes{0};   ///< on purpose
};

demo_counts counts;

// -- the member type of the `workers` pool --------------------------------------

/// A member doing jobs of `work_ms` milliseconds each, without blocking its
/// thread: the reply is delivered by a timer.
struct worker_state {
  worker_state() {
    ++live_workers;
  }
  ~worker_state() {
    --live_workers;
  }
  uint64_t next_job = 0;
  std::map<uint64_t, caf::response_promise> jobs;
};

caf::behavior demo_worker(caf::stateful_actor<worker_state>* self,
                          int64_t work_ms) {
  return {
    [](caf::ping_atom) { return caf::ok_atom::value; },
    [self, work_ms](work_atom, int64_t x) {
      auto id = self->state.next_job++;
      self->state.jobs.emplace(id, self->make_response_promise());
      self->delayed_send(self, std::chrono::milliseconds(work_ms), done_atom::value,
                         id, x * x);
    },
    [self](done_atom, uint64_t id, int64_t result) {
      auto i = self->state.jobs.find(id);
      if (i != self->state.jobs.end()) {
        i->second.deliver(result);
        self->state.jobs.erase(i);
      }
    },
    [self](crash_atom) {
      self->quit(caf::make_error(caf::sec::runtime_error, "demo: member crash"));
    },
  };
}

// -- consumers ------------------------------------------------------------------------

struct demo_options {
  caf::timespan duration = 10s;
  size_t consumers = 6;
  double consumer_crash_rate = 0.02;
  double member_crash_rate = 0.02;
  std::string pools;
  bool prometheus = false;
};

struct consumer_state {
  std::optional<pooler::app> app;
  std::string pool;
  demo_options opts;
  std::minstd_rand rng{std::random_device{}()};

  double roll() {
    return std::uniform_real_distribution<double>{0, 1}(rng);
  }
};

using consumer_actor = caf::stateful_actor<consumer_state>;

void take_next(consumer_actor* self);

// After one job: crash (the consumer or the member) now and then, else
// return the member and take the next one after a short pause.
void finish(consumer_actor* self, const caf::actor& m, bool ok) {
  auto& st = self->state;
  auto r = st.roll();
  if (r < st.opts.consumer_crash_rate) {
    ++counts.consumer_crashes; // the pool replaces the member it held
    self->quit(caf::make_error(caf::sec::runtime_error, "demo: consumer crash"));
    return;
  }
  if (r < st.opts.consumer_crash_rate + st.opts.member_crash_rate) {
    ++counts.member_crashes; // the pool sees it die in use and replaces it
    if (st.pool == "python")
      self->request(m, 5s, pooler::process_call_atom::value,
                    std::string{"crash"}, std::string{"null"})
        .then([](const std::string&) {}, [](const caf::error&) {});
    else
      self->send(m, crash_atom::value);
  } else {
    st.app->return_member(self, st.pool, m,
                           ok ? pooler::member_status::ok
                              : pooler::member_status::fail);
  }
  self->delayed_send(self, std::chrono::milliseconds(st.rng() % 20),
                     next_atom::value);
}

// Holds the member a little longer than the job, so that pools fill up.
void hold_then_finish(consumer_actor* self, caf::actor m, bool ok) {
  auto hold = std::chrono::milliseconds(self->state.rng() % 60);
  self->delayed_send(self, hold, done_atom::value, std::move(m), ok);
}

void use(consumer_actor* self, caf::actor m) {
  auto on_error = [self, m](const caf::error&) {
    ++counts.job_errors;
    hold_then_finish(self, m, false);
  };
  if (self->state.pool == "python") {
    self->request(m, 5s, pooler::process_call_atom::value, std::string{"add"},
                  std::string{"[1, 2]"})
      .then(
        [self, m](const std::string&) {
          ++counts.jobs;
          hold_then_finish(self, m, true);
        },
        on_error);
  } else {
    self->request(m, 5s, work_atom::value, int64_t{7})
      .then(
        [self, m](int64_t) {
          ++counts.jobs;
          hold_then_finish(self, m, true);
        },
        on_error);
  }
}

void take_next(consumer_actor* self) {
  auto& st = self->state;
  st.app->take_member(
    self, st.pool, 300ms, [self](caf::actor m) { use(self, std::move(m)); },
    [self](caf::error) {
      // no_members (the pool says why in its metrics): try again soon
      self->delayed_send(self, 20ms, next_atom::value);
    });
}

caf::behavior consumer(consumer_actor* self, pooler::app app, std::string pool,
                       demo_options opts) {
  self->state.app = std::move(app);
  self->state.pool = std::move(pool);
  self->state.opts = std::move(opts);
  // Stopped by its supervisor at the end: exit normally, so that the pool
  // takes back what it holds as returned ok.
  self->set_exit_handler([self](caf::exit_msg&) { self->quit(); });
  self->send(self, next_atom::value);
  return {
    [self](next_atom) { take_next(self); },
    [self](done_atom, const caf::actor& m, bool ok) { finish(self, m, ok); },
  };
}

// -- metrics: one memory sink for the table, one Prometheus sink -----------------

/// Forwards every call to both sinks.
class tee_sink : public pooler::metrics_sink {
public:
  std::shared_ptr<pooler::memory_sink> memory
    = std::make_shared<pooler::memory_sink>();
  std::shared_ptr<pooler::prometheus_sink> prometheus
    = std::make_shared<pooler::prometheus_sink>();

  void counter(std::string_view name, std::string_view pool,
               pooler::metric_labels labels, double delta) override {
    memory->counter(name, pool, labels, delta);
    prometheus->counter(name, pool, labels, delta);
  }
  void gauge(std::string_view name, std::string_view pool,
             pooler::metric_labels labels, double value) override {
    memory->gauge(name, pool, labels, value);
    prometheus->gauge(name, pool, labels, value);
  }
  void histogram(std::string_view name, std::string_view pool,
                 pooler::metric_labels labels, double value) override {
    memory->histogram(name, pool, labels, value);
    prometheus->histogram(name, pool, labels, value);
  }
};

// -- configuration ---------------------------------------------------------------------

struct demo_config : caf::actor_system_config {
  demo_options opts;

  demo_config() {
    pooler::add_to(*this);
    add_actor_type("demo_worker", demo_worker);
    // `python_worker` members run `python3 <args...>` in the source tree.
    pooler::process_spec py;
    py.argv = {"python3"};
    py.working_dir = POOLER_SOURCE_DIR;
    py.shutdown_timeout = 2s;
    pooler::add_process_member_type(*this, "python_worker", py);
    opt_group{custom_options_, "global"}
      .add(opts.duration, "duration", "how long consumers run (default 10s)")
      .add(opts.consumers, "consumers", "consumer actors per pool (default 6)")
      .add(opts.consumer_crash_rate, "consumer-crash-rate",
           "chance a consumer crashes holding a member (default 0.02)")
      .add(opts.member_crash_rate, "member-crash-rate",
           "chance a consumer makes its member crash (default 0.02)")
      .add(opts.pools, "pools",
           "comma-separated pools of the config to run (default: all)")
      .add(opts.prometheus, "prometheus",
           "print the Prometheus text exposition at the end");
  }
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in{text};
  for (std::string x; std::getline(in, x, ',');)
    if (!x.empty())
      out.push_back(x);
  return out;
}

/// Child processes of this process that are still alive (Linux /proc).
size_t child_processes() {
  size_t n = 0;
  auto me = std::to_string(::getpid());
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{"/proc", ec}) {
    std::ifstream stat{entry.path() / "stat"};
    std::string line;
    if (!std::getline(stat, line))
      continue;
    // pid (comm) state ppid ...: comm may hold spaces, so skip past ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{line.substr(close + 1)};
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == me && state != "Z")
      ++n;
  }
  return n;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// -- the table and the summary ----------------------------------------------------------

double killed(const pooler::memory_sink& m, const std::string& pool) {
  return m.counter_value("killed_free", pool)
         + m.counter_value("killed_in_use", pool);
}

std::vector<demo::pool_row> rows(pooler::app& app,
                                 const pooler::memory_sink& m) {
  std::vector<demo::pool_row> out;
  for (auto& name : app.pool_names()) {
    demo::pool_row r;
    r.name = name;
    if (auto u = app.pool_utilization(name)) {
      r.free = u->free_count;
      r.in_use = u->in_use_count;
      r.starting = u->starting_count;
      r.stopping = u->stopping_count;
      r.queued = u->queued_count;
      r.max = u->max_count;
    }
    r.takes = m.counter_value("take", name);
    r.no_members = m.counter_value("error_no_members", name);
    r.killed = killed(m, name);
    r.wait_p99_ms
      = 1000 * demo::percentile(m.histogram_values("checkout_wait_seconds", name),
                                0.99);
    out.push_back(std::move(r));
  }
  return out;
}

void print_summary(pooler::app& app, const pooler::memory_sink& m) {
  auto sum = [&](const char* name, std::initializer_list<const char*> reasons) {
    double total = 0;
    for (auto& pool : app.pool_names())
      for (auto reason : reasons)
        total += m.counter_value(name, pool, {{"reason", reason}});
    return total;
  };
  double started = 0, served = 0, wait_sum = 0, timeouts = 0,
         failed_starts = 0;
  // The sink keeps every count but only the last waits of each pool.
  std::vector<double> waits;
  for (auto& pool : app.pool_names()) {
    started += m.histogram_count("member_start_seconds", pool);
    served += m.histogram_count("checkout_wait_seconds", pool);
    wait_sum += m.histogram_sum("checkout_wait_seconds", pool);
    auto recent = m.histogram_values("checkout_wait_seconds", pool);
    waits.insert(waits.end(), recent.begin(), recent.end());
    timeouts += m.counter_value("take_timeout", pool);
    failed_starts += m.counter_value("start_failed", pool);
  }
  auto replaced = sum("killed_in_use", {"crashed", "failed", "max_lifetime"})
                  + sum("killed_free", {"crashed", "failed", "max_lifetime"});
  std::printf("\nsummary\n");
  std::printf("  members started  %6.0f  (%.0f failed starts)\n", started,
              failed_starts);
  std::printf("  replaced         %6.0f  crashed in use %.0f, crashed free %.0f, "
              "consumer crashed/failed %.0f, expired %.0f\n",
              replaced, sum("killed_in_use", {"crashed"}),
              sum("killed_free", {"crashed"}), sum("killed_in_use", {"failed"}),
              sum("killed_in_use", {"max_lifetime"})
                + sum("killed_free", {"max_lifetime"}));
  std::printf("  culled           %6.0f  (idle >= max-age)\n",
              sum("killed_free", {"max_age"}));
  std::printf("  takes served     %6.0f  jobs done %llu, job errors %llu\n",
              served, static_cast<unsigned long long>(counts.jobs.load()),
              static_cast<unsigned long long>(counts.job_errors.load()));
  std::printf("  waits            mean %.2f ms; p50 %.2f ms, p99 %.2f ms "
              "over the last %zu; %.0f timed out\n",
              served > 0 ? 1000 * wait_sum / served : 0.0,
              1000 * demo::percentile(waits, 0.5),
              1000 * demo::percentile(waits, 0.99), waits.size(), timeouts);
  std::printf("  errors           %6.0f  no_members: all_in_use %.0f, "
              "at_capacity %.0f, queue_full %.0f, timeout %.0f\n",
              sum("error_no_members",
                  {"all_in_use", "at_capacity", "queue_full", "timeout"}),
              sum("error_no_members", {"all_in_use"}),
              sum("error_no_members", {"at_capacity"}),
              sum("error_no_members", {"queue_full"}),
              sum("error_no_members", {"timeout"}));
  std::printf("  crashes on purpose: %llu consumers, %llu members\n",
              static_cast<unsigned long long>(counts.consumer_crashes.load()),
              static_cast<unsigned long long>(counts.member_crashes.load()));
}

std::string config_path(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--config-file=", 0) == 0)
      return arg.substr(14);
  }
  return POOLER_DEMO_CONFIG;
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h")
      std::printf(
        "pooler demo: starts the pools of a caf-application.conf, runs consumer\n"
        "actors against them while some consumers and members crash on purpose,\n"
        "shows a live table of every pool, then a summary; exits 0 when no\n"
        "member actor or process outlived app.stop(). Options:\n"
        "  --config-file=FILE  the config (default %s)\n\n",
        POOLER_DEMO_CONFIG);
  }
  auto path = config_path(argc, argv);
  if (!std::filesystem::exists(path)) {
    // CAF silently skips a missing config file; the demo needs it.
    std::fprintf(stderr, "demo: no config file %s\n", path.c_str());
    return 2;
  }
  demo_config cfg;
  if (auto err = cfg.parse(argc, argv, path.c_str())) {
    std::fprintf(stderr, "demo: %s\n", cfg.render(err).c_str());
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  auto& opts = cfg.opts;
  auto sink = std::make_shared<tee_sink>();
  pooler::register_metrics_sink("demo", sink);
  int rc = 0;
  {
    caf::actor_system sys{cfg};
    auto pools = pooler::pools_from_config(cfg);
    if (!pools) {
      std::fprintf(stderr, "demo: %s\n", sys.render(pools.error()).c_str());
      return 2;
    }
    if (!opts.pools.empty()) {
      auto wanted = split(opts.pools);
      std::vector<pooler::pool_config> chosen;
      for (auto& p : *pools)
        if (std::find(wanted.begin(), wanted.end(), p.name) != wanted.end())
          chosen.push_back(p);
      pools->swap(chosen);
    }
    auto app = pooler::app::start(sys, *pools);
    if (!app) {
      std::fprintf(stderr, "demo: %s\n", sys.render(app.error()).c_str());
      return 2;
    }
    auto seconds = std::chrono::duration<double>(opts.duration).count();
    std::printf("pooler demo: %s, %zu pools, %zu consumers each, %.0f s, "
                "crash rates: consumers %.2f, members %.2f\n\n",
                path.c_str(), app->pool_names().size(), opts.consumers, seconds,
                opts.consumer_crash_rate, opts.member_crash_rate);
    // Consumers under a supervisor of their own: a crashed one is restarted.
    std::vector<pooler::child_spec> specs;
    for (auto& pool : app->pool_names())
      for (size_t i = 0; i < opts.consumers; ++i) {
        pooler::child_spec spec;
        spec.id = pool + "/" + std::to_string(i);
        spec.start = [a = *app, pool, o = opts](caf::actor_system& s) {
          return caf::expected<caf::actor>{s.spawn(consumer, a, pool, o)};
        };
        specs.push_back(std::move(spec));
      }
    pooler::sup_flags flags;
    flags.intensity = 1000000; // crashes are the point here
    flags.period = 1s;
    auto consumers = pooler::start_supervisor(sys, flags, std::move(specs));
    if (!consumers) {
      std::fprintf(stderr, "demo: %s\n", sys.render(consumers.error()).c_str());
      return 2;
    }
    demo::live_table table{::isatty(STDOUT_FILENO) == 1};
    auto t0 = std::chrono::steady_clock::now();
    auto end = t0 + opts.duration;
    for (int tick = 1;; ++tick) {
      auto next = std::min(end, t0 + tick * std::chrono::seconds(1));
      std::this_thread::sleep_until(next);
      auto elapsed = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
      char title[64];
      std::snprintf(title, sizeof(title), "t = %4.1f s", elapsed);
      table.show(demo::format_table(title, rows(*app, *sink->memory)));
      if (next >= end)
        break;
    }
    // Consumers first (they exit normally: their members go back ok).
    {
      caf::scoped_actor self{sys};
      self->monitor(*consumers);
      self->send_exit(*consumers, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {});
    }
    print_summary(*app, *sink->memory);
    app->stop();
    auto workers_gone = eventually([] { return live_workers.load() == 0; }, 10s);
    auto processes_gone = eventually([] { return child_processes() == 0; }, 10s);
    std::printf("  leaks: %s (member actors alive: %d, worker processes alive: "
                "%zu)\n",
                workers_gone && processes_gone ? "none" : "FOUND",
                live_workers.load(), child_processes());
    if (!workers_gone || !processes_gone)
      rc = 1;
    if (opts.prometheus)
      std::printf("\n%s", sink->prometheus->render().c_str());
  }
  pooler::register_metrics_sink("demo", nullptr);
  return rc;
}
