// Chaos under load: hundreds of event-based consumers and a few plain
// threads take, hold and return members of several pools (most takes and
// every return completing in the consumer's own thread) while members crash, consumers crash,
// pool actors and a whole pool subtree are killed and a pool is
// reconfigured. A sampler checks the capacity invariant throughout; at the end every pool
// is back to init_count free members and no member actor is leaked.
//
// Seeded: POOLER_CHAOS_SEED=<n> replays the same random choices (the thread
// interleaving differs run to run); POOLER_CHAOS_SECONDS sets the length of
// the chaos phase (default 8). The seed and the figures are always printed.

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "pool_fixture.hpp"

using namespace test;
using pooler::errc;
using steady = std::chrono::steady_clock;

namespace {

// -- members that account for every spawn and every death ------------------------

std::atomic<int64_t> members_spawned{0};
std::atomic<int64_t> members_dead{0};

/// When each member actor (by id) ended; read by consumers to prove that the
/// pool never hands out a member that was dead before the take was sent.
std::mutex deaths_mtx;
std::unordered_map<caf::actor_id, steady::time_point> member_deaths;

struct chaos_member_state {
  caf::actor_id id = 0;
  chaos_member_state() {
    ++members_spawned;
  }
  ~chaos_member_state() {
    {
      std::lock_guard<std::mutex> guard{deaths_mtx};
      member_deaths[id] = steady::now();
    }
    ++members_dead;
  }
};

caf::behavior chaos_member(caf::stateful_actor<chaos_member_state>* self,
                           int64_t) {
  self->state.id = self->id();
  return {
    [self](ping_atom) { return self->id(); },
    [self](crash_atom) {
      self->quit(caf::make_error(caf::sec::runtime_error, "chaos crash"));
    },
  };
}

pooler::member_factory chaos_factory() {
  return pooler::member_factory::function(
    [](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn(chaos_member, int64_t{0});
    });
}

// -- the world the consumers share with the test -----------------------------------

struct figures {
  std::atomic<uint64_t> takes{0};
  std::atomic<uint64_t> take_errors{0};
  std::atomic<uint64_t> unexpected_errors{0};
  std::atomic<uint64_t> returns_ok{0};
  std::atomic<uint64_t> returns_fail{0};
  std::atomic<uint64_t> consumer_crashes{0};
  std::atomic<uint64_t> consumer_exits_holding{0};
  std::atomic<uint64_t> consumers_abandoning{0};
  std::atomic<uint64_t> dead_on_arrival{0};
  std::atomic<uint64_t> null_members{0};
};

struct world {
  explicit world(pooler::app a) : app(std::move(a)) {}
  pooler::app app;
  std::vector<std::string> pools;
  std::atomic<bool> stopping{false};
  std::atomic<int> live_consumers{0};
  figures fig;
  std::mutex mtx;
  std::vector<std::string> errors_seen; ///< unexpected take errors, rendered
  std::unordered_map<caf::actor_id, steady::time_point> consumer_deaths;
};

using next_atom = caf::atom_constant<caf::atom("c_next")>;
using release_atom = caf::atom_constant<caf::atom("c_release")>;
using abandon_atom = caf::atom_constant<caf::atom("c_abandon")>;

struct consumer_state {
  std::shared_ptr<world> w;
  std::minstd_rand rng;
  std::vector<std::pair<std::string, caf::actor>> held;
  bool waiting = false;
  caf::actor_id id = 0;

  ~consumer_state() {
    if (!w)
      return;
    std::lock_guard<std::mutex> guard{w->mtx};
    w->consumer_deaths[id] = steady::now();
    --w->live_consumers;
  }

  int roll(int n) {
    return std::uniform_int_distribution<int>{0, n - 1}(rng);
  }
};

using consumer_ptr = caf::stateful_actor<consumer_state>*;

void take_next(consumer_ptr self);

void release_all(consumer_ptr self) {
  auto& st = self->state;
  for (auto& [pool, m] : st.held) {
    bool fail = st.roll(100) < 15;
    (fail ? st.w->fig.returns_fail : st.w->fig.returns_ok)++;
    st.w->app.return_member(pool, m, fail ? pooler::member_status::fail
                                          : pooler::member_status::ok);
  }
  st.held.clear();
}

void on_member(consumer_ptr self, const std::string& pool, caf::actor m,
               steady::time_point sent) {
  auto& st = self->state;
  auto& fig = st.w->fig;
  st.waiting = false;
  ++fig.takes;
  if (!m) {
    ++fig.null_members;
    return;
  }
  {
    // Dead before the take was even sent: its down message was in the pool's
    // mailbox ahead of the take, so the pool must not have handed it out.
    // The second of slack covers the moment between the member's state
    // going and its down message being sent.
    std::lock_guard<std::mutex> guard{deaths_mtx};
    if (auto i = member_deaths.find(m.id());
        i != member_deaths.end() && i->second + std::chrono::seconds(1) < sent)
      ++fig.dead_on_arrival;
  }
  st.held.emplace_back(pool, std::move(m));
  auto dice = st.roll(100);
  if (dice < 4) {
    ++fig.consumer_crashes; // members held by a crashed consumer are replaced
    self->quit(caf::make_error(caf::sec::runtime_error, "consumer crash"));
  } else if (dice < 7) {
    ++fig.consumer_exits_holding; // ... and given back on a normal exit
    self->quit();
  } else if (dice < 20 && st.held.size() < 2) {
    take_next(self); // hold several at once
  } else {
    self->delayed_send(self, std::chrono::milliseconds(st.roll(15)),
                       release_atom::value);
  }
}

void take_next(consumer_ptr self) {
  auto& st = self->state;
  if (st.w->stopping) {
    release_all(self);
    self->quit();
    return;
  }
  auto pool = st.w->pools[static_cast<size_t>(
    st.roll(static_cast<int>(st.w->pools.size())))];
  auto dice = st.roll(100);
  caf::timespan timeout{0};
  if (dice >= 40)
    timeout = std::chrono::milliseconds(5 + st.roll(75));
  if (dice >= 95)
    timeout = std::chrono::milliseconds(300);
  if (timeout.count() > 0 && st.roll(100) < 3) {
    // Dies while it waits in the queue.
    self->delayed_send(self, std::chrono::milliseconds(st.roll(10)),
                       abandon_atom::value);
  }
  st.waiting = true;
  auto sent = steady::now();
  st.w->app.take_member(
    self, pool, timeout,
    [self, pool, sent](caf::actor m) { on_member(self, pool, std::move(m), sent); },
    [self](caf::error err) {
      auto& st = self->state;
      st.waiting = false;
      ++st.w->fig.take_errors;
      if (err != errc::no_members && err != errc::pool_not_found) {
        ++st.w->fig.unexpected_errors;
        std::lock_guard<std::mutex> guard{st.w->mtx};
        st.w->errors_seen.push_back(self->system().render(err));
      }
      if (!st.held.empty())
        release_all(self);
      self->delayed_send(self, std::chrono::milliseconds(1 + st.roll(5)),
                         next_atom::value);
    });
}

caf::behavior consumer(consumer_ptr self, std::shared_ptr<world> w,
                       uint32_t seed) {
  auto& st = self->state;
  st.w = std::move(w);
  st.rng.seed(seed);
  st.id = self->id();
  self->send(self, next_atom::value);
  return {
    [self](next_atom) { take_next(self); },
    [self](release_atom) {
      release_all(self);
      take_next(self);
    },
    [self](abandon_atom) {
      if (!self->state.waiting)
        return;
      ++self->state.w->fig.consumers_abandoning;
      self->quit(caf::make_error(caf::sec::runtime_error, "gave up waiting"));
    },
  };
}

// -- consumers on plain threads: the caller's-thread path ---------------------------

/// Takes from a thread (try_take_member, or take_member with a short
/// timeout: both complete in this thread when a member is free), holds
/// for a moment, returns ok or fail. Now and then its scoped actor ends
/// while holding a member: a normal exit, so the member must come back.
void thread_consumer(std::shared_ptr<world> w, uint32_t seed) {
  std::minstd_rand rng{seed};
  auto roll = [&rng](int n) {
    return std::uniform_int_distribution<int>{0, n - 1}(rng);
  };
  auto& fig = w->fig;
  while (!w->stopping) {
    caf::scoped_actor self{w->app.system()};
    for (int i = 0; i < 50 && !w->stopping; ++i) {
      auto& pool = w->pools[static_cast<size_t>(
        roll(static_cast<int>(w->pools.size())))];
      auto sent = steady::now();
      auto m = roll(2) == 0
                 ? w->app.try_take_member(self, pool)
                 : w->app.take_member(self, pool,
                                      std::chrono::milliseconds(roll(20)));
      if (!m) {
        ++fig.take_errors;
        if (m.error() != errc::no_members
            && m.error() != errc::pool_not_found) {
          ++fig.unexpected_errors;
          std::lock_guard<std::mutex> guard{w->mtx};
          w->errors_seen.push_back(w->app.system().render(m.error()));
        }
        continue;
      }
      ++fig.takes;
      if (!*m) {
        ++fig.null_members;
        continue;
      }
      {
        std::lock_guard<std::mutex> guard{deaths_mtx};
        if (auto d = member_deaths.find(m->id());
            d != member_deaths.end()
            && d->second + std::chrono::seconds(1) < sent)
          ++fig.dead_on_arrival;
      }
      if (roll(100) < 3) {
        ++fig.consumer_exits_holding; // the scoped actor ends holding it
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(roll(500)));
      bool fail = roll(100) < 15;
      (fail ? fig.returns_fail : fig.returns_ok)++;
      w->app.return_member(pool, *m,
                           fail ? pooler::member_status::fail
                                : pooler::member_status::ok);
    }
  }
}

// -- the test's own driver ---------------------------------------------------------

uint64_t chaos_seed() {
  if (auto s = std::getenv("POOLER_CHAOS_SEED"))
    return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

std::chrono::milliseconds chaos_length() {
  if (auto s = std::getenv("POOLER_CHAOS_SECONDS"))
    return std::chrono::milliseconds(
      static_cast<int64_t>(std::strtod(s, nullptr) * 1000));
  return std::chrono::seconds(8);
}

pooler::pool_config chaos_pool(std::string name, size_t init, size_t max) {
  auto cfg = pool(std::move(name), init, max);
  cfg.start = chaos_factory();
  return cfg;
}

std::vector<pooler::pool_config> chaos_pools() {
  std::vector<pooler::pool_config> xs;
  auto p0 = chaos_pool("p0", 2, 4);
  p0.cull_interval = 100ms;
  p0.max_age = 100ms;
  xs.push_back(p0);
  auto p1 = chaos_pool("p1", 3, 8); // the one reconfigured
  p1.cull_interval = 200ms;
  p1.max_age = 150ms;
  p1.member_order = pooler::member_order::fifo;
  xs.push_back(p1);
  xs.push_back(chaos_pool("p2", 4, 4)); // fixed size: never culled
  auto p3 = chaos_pool("p3", 1, 10);
  p3.cull_interval = 150ms;
  p3.max_age = 50ms;
  p3.queue_max = 20;
  p3.max_lifetime = 3s;
  p3.max_lifetime_jitter = 500ms;
  xs.push_back(p3);
  auto p4 = chaos_pool("p4", 0, 3); // grows from nothing, shrinks to nothing
  p4.cull_interval = 100ms;
  p4.max_age = 50ms;
  p4.auto_grow_threshold = 0;
  xs.push_back(p4);
  return xs;
}

struct sample_counts {
  uint64_t samples = 0;
  uint64_t over_capacity = 0;       ///< utilization breaks the capacity invariant
  uint64_t too_many_live = 0;       ///< member supervisor holds > max_count
  uint64_t stale_consumers = 0;     ///< in use by a consumer dead for long
  uint64_t unavailable = 0;         ///< pool restarting: no answer this time
};

/// One look at a pool: the capacity rule on the pool's own counts and on the
/// live member actors, and no member recorded for a long-dead consumer.
void sample(world& w, caf::scoped_actor& self, const std::string& name,
            sample_counts& n) {
  auto u = w.app.pool_utilization(name);
  auto sup = w.app.member_supervisor(name);
  if (!u || !sup) {
    ++n.unavailable;
    return;
  }
  ++n.samples;
  if (!u->within_capacity())
    ++n.over_capacity;
  if (auto counts = pooler::count_children(self, *sup)) {
    if (counts->active > u->max_count)
      ++n.too_many_live;
  } else {
    ++n.unavailable;
  }
  auto stats = w.app.pool_stats(name);
  if (!stats)
    return;
  auto now = steady::now();
  std::lock_guard<std::mutex> guard{w.mtx};
  for (auto& x : *stats) {
    if (x.status != pooler::member_state::in_use)
      continue;
    // Down messages take microseconds; five seconds means it was lost.
    if (auto i = w.consumer_deaths.find(x.consumer.id());
        i != w.consumer_deaths.end() && now - i->second > 5s)
      ++n.stale_consumers;
  }
}

/// Every pool holds exactly init_count free members and nothing else, its
/// member supervisor exactly those, and no member actor lives outside a pool.
bool settled(world& w, caf::scoped_actor& self, std::string& why) {
  int64_t in_pools = 0;
  for (auto& name : w.pools) {
    auto cfg = w.app.pool_config_of(name);
    auto u = w.app.pool_utilization(name);
    auto sup = w.app.member_supervisor(name);
    if (!cfg || !u || !sup) {
      why = name + ": unavailable";
      return false;
    }
    auto counts = pooler::count_children(self, *sup);
    if (!counts) {
      why = name + ": member supervisor unavailable";
      return false;
    }
    if (u->free_count != cfg->init_count || u->in_use_count != 0
        || u->starting_count != 0 || u->stopping_count != 0
        || u->queued_count != 0 || counts->active != cfg->init_count) {
      why = name + ": free " + std::to_string(u->free_count) + "/"
            + std::to_string(cfg->init_count) + ", in use "
            + std::to_string(u->in_use_count) + ", starting "
            + std::to_string(u->starting_count) + ", stopping "
            + std::to_string(u->stopping_count) + ", queued "
            + std::to_string(u->queued_count) + ", live "
            + std::to_string(counts->active);
      return false;
    }
    in_pools += static_cast<int64_t>(counts->active);
  }
  auto spawned = members_spawned.load();
  auto dead = members_dead.load();
  if (spawned != in_pools + dead) {
    why = "spawned " + std::to_string(spawned) + " != in pools "
          + std::to_string(in_pools) + " + dead " + std::to_string(dead);
    return false;
  }
  return true;
}

/// Raises or lowers p1; a lowering may be refused while members are busy.
bool reconfigure_p1(world& w, bool up) {
  auto cfg = w.app.pool_config_of("p1");
  if (!cfg)
    return false;
  cfg->init_count = up ? 4 : 3;
  cfg->max_count = up ? 10 : 8;
  cfg->queue_max = up ? 30 : 50;
  auto res = w.app.pool_reconfigure("p1", *cfg);
  if (!res) {
    // Refusals are part of the contract; anything else is a failure.
    CHECK((res.error() == errc::not_enough_free_members
           || res.error() == errc::unsupported_change
           || res.error() == caf::sec::request_receiver_down));
  }
  return static_cast<bool>(res);
}

void kill(caf::expected<caf::actor> x) {
  if (x)
    caf::anon_send_exit(*x, caf::exit_reason::kill);
}

} // namespace

TEST_CASE("chaos: pools keep their invariants and return to init_count") {
  auto seed = chaos_seed();
  std::printf("chaos: POOLER_CHAOS_SEED=%" PRIu64 "\n", seed);
  std::fflush(stdout);
  setenv("POOLER_QUIET", "1", 0); // garbage returns are part of the chaos
  std::mt19937_64 rng{seed};
  auto roll = [&rng](int n) {
    return std::uniform_int_distribution<int>{0, n - 1}(rng);
  };
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto app = pooler::app::start(sys, chaos_pools());
  REQUIRE(app);
  auto w = std::make_shared<world>(*app);
  w->pools = {"p0", "p1", "p2", "p3", "p4"};
  const int consumers = 200;
  auto spawn_consumer = [&] {
    ++w->live_consumers;
    sys.spawn(consumer, w, static_cast<uint32_t>(rng()));
  };
  for (int i = 0; i < consumers; ++i)
    spawn_consumer();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back(thread_consumer, w, static_cast<uint32_t>(rng()));
  sample_counts n;
  uint64_t member_crashes = 0, member_kills = 0, pool_kills = 0,
           pool_sup_kills = 0, reconfigures = 0, consumers_spawned = consumers;
  auto length = chaos_length();
  auto t0 = steady::now();
  // Events at fixed points of the run, each on its own pool, so that no
  // supervisor exceeds its restart intensity (5 in 60 s).
  bool killed_pool_a = false, killed_pool_b = false, killed_sup = false,
       raised = false, lowered = false;
  for (;;) {
    auto elapsed = steady::now() - t0;
    if (elapsed >= length)
      break;
    auto at = [&](double fraction) { return elapsed >= length * fraction; };
    for (auto& name : w->pools)
      sample(*w, self, name, n);
    // Members crash at random: a crash (error exit) or a kill.
    if (roll(100) < 40) {
      auto& name = w->pools[static_cast<size_t>(roll(5))];
      if (auto stats = w->app.pool_stats(name); stats && !stats->empty()) {
        auto& victim = stats->at(static_cast<size_t>(
                                   roll(static_cast<int>(stats->size()))))
                         .member;
        if (victim && roll(2) == 0) {
          caf::anon_send(victim, crash_atom::value);
          ++member_crashes;
        } else if (victim) {
          caf::anon_send_exit(victim, caf::exit_reason::kill);
          ++member_kills;
        }
      }
    }
    if (!killed_pool_a && at(0.2)) {
      killed_pool_a = true;
      kill(w->app.pool_actor("p0"));
      ++pool_kills;
    }
    if (!killed_sup && at(0.35)) {
      killed_sup = true;
      kill(w->app.pool_supervisor("p2"));
      ++pool_sup_kills;
    }
    if (!raised && at(0.45)) {
      raised = reconfigure_p1(*w, true);
      reconfigures += raised ? 1 : 0;
    }
    if (!killed_pool_b && at(0.6)) {
      killed_pool_b = true;
      kill(w->app.pool_actor("p3"));
      ++pool_kills;
    }
    if (raised && !lowered && at(0.75)) {
      lowered = reconfigure_p1(*w, false);
      reconfigures += lowered ? 1 : 0;
    }
    // Crashed consumers are replaced, so the load stays the same.
    while (w->live_consumers.load() < consumers) {
      spawn_consumer();
      ++consumers_spawned;
    }
    std::this_thread::sleep_for(2ms);
  }
  w->stopping = true;
  for (auto& t : threads)
    t.join();
  CHECK(eventually([&] { return w->live_consumers.load() == 0; }, 10s));
  if (raised && !lowered) {
    // Refused while the pool was busy; with every member free it must apply.
    CHECK(eventually([&] { return reconfigure_p1(*w, false); }, 5s));
    ++reconfigures;
  }
  std::string why;
  auto settle_start = steady::now();
  bool ok = eventually([&] { return settled(*w, self, why); }, 10s);
  auto settle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     steady::now() - settle_start)
                     .count();
  INFO("not settled: " << why);
  CHECK(ok);
  auto& fig = w->fig;
  std::printf(
    "chaos: %lld ms of chaos, %d consumers (%" PRIu64 " spawned in all)\n"
    "chaos: operations: %" PRIu64 " takes served, %" PRIu64
    " take errors, %" PRIu64 " returns ok, %" PRIu64 " returns fail\n"
    "chaos: injected: %" PRIu64 " member crashes, %" PRIu64
    " member kills, %" PRIu64 " consumer crashes holding, %" PRIu64
    " normal exits holding, %" PRIu64 " deaths while queued, %" PRIu64
    " pool actor kills, %" PRIu64 " pool supervisor kills, %" PRIu64
    " reconfigures\n"
    "chaos: invariant samples: %" PRIu64 " (%" PRIu64
    " skipped while a pool restarted); settled in %lld ms; member actors "
    "spawned %lld, dead %lld\n",
    static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(length).count()),
    consumers, consumers_spawned, fig.takes.load(), fig.take_errors.load(),
    fig.returns_ok.load(), fig.returns_fail.load(), member_crashes,
    member_kills, fig.consumer_crashes.load(), fig.consumer_exits_holding.load(),
    fig.consumers_abandoning.load(), pool_kills, pool_sup_kills, reconfigures,
    n.samples, n.unavailable, static_cast<long long>(settle_ms),
    static_cast<long long>(members_spawned.load()),
    static_cast<long long>(members_dead.load()));
  std::fflush(stdout);
  CHECK(n.samples > 0);
  CHECK(n.over_capacity == 0);
  CHECK(n.too_many_live == 0);
  CHECK(n.stale_consumers == 0);
  CHECK(fig.dead_on_arrival == 0);
  CHECK(fig.null_members == 0);
  for (auto& e : w->errors_seen)
    std::printf("chaos: unexpected take error: %s\n", e.c_str());
  CHECK(fig.unexpected_errors == 0);
  CHECK(fig.takes > 0);
  CHECK(reconfigures >= 2);
  w->app.stop();
  CHECK(eventually([] { return members_spawned == members_dead; }));
}

TEST_CASE("app::stop with busy pools finishes in bounded time and leaks nothing") {
  config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto p = chaos_pool("busy_p", 2, 4);
  auto q = chaos_pool("busy_q", 3, 3);
  auto app = pooler::app::start(sys, {p, q});
  REQUIRE(app);
  // Consumers that hold what they get forever, and more that queue.
  std::mutex mtx;
  std::vector<caf::error> answers;
  std::vector<caf::actor> consumers;
  for (int i = 0; i < 30; ++i) {
    auto name = i % 2 == 0 ? "busy_p" : "busy_q";
    // Spawned with an argument: CAF 0.17 binds a null reference for
    // argument-less function actors (notes/caf-0.17.md, pitfall 16).
    consumers.push_back(sys.spawn([a = *app, &mtx, &answers](
                                    caf::event_based_actor* c,
                                    std::string name) mutable {
      a.take_member(
        c, name, 30s, [](caf::actor) {},
        [&mtx, &answers](caf::error err) {
          std::lock_guard<std::mutex> guard{mtx};
          answers.push_back(std::move(err));
        });
      // Stays alive (holding) until killed at the end of the test.
      return caf::behavior{[](ping_atom) {}};
    }, std::string{name}));
  }
  auto busy = [&](const char* name, size_t max) {
    auto u = app->pool_utilization(name);
    // All 15 consumers of the pool placed: holding or queued.
    return u && u->in_use_count == max && u->in_use_count + u->queued_count == 15;
  };
  auto ok = eventually([&] { return busy("busy_p", 4) && busy("busy_q", 3); });
  for (std::string name : {"busy_p", "busy_q"}) {
    auto u = app->pool_utilization(name);
    INFO(name << ": in use " << u->in_use_count << ", free " << u->free_count
              << ", queued " << u->queued_count);
    REQUIRE(ok);
  }
  auto queued = app->pool_utilization("busy_p")->queued_count
                + app->pool_utilization("busy_q")->queued_count;
  auto t0 = steady::now();
  app->stop();
  auto took = steady::now() - t0;
  std::printf("shutdown: app.stop() with 7 members held and %zu queued took "
              "%lld ms\n",
              queued,
              static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(took)
                  .count()));
  CHECK(took < 5s);
  // stop() returns once the tree is gone: every member with it.
  CHECK(members_spawned.load() == members_dead.load());
  // Waiting requestors were answered by the stopping pools, not by their
  // own 30 s timeouts.
  CHECK(eventually([&] {
    std::lock_guard<std::mutex> guard{mtx};
    return answers.size() == queued;
  }));
  {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& err : answers)
      CHECK(err == errc::pool_not_found);
  }
  for (auto& c : consumers)
    self->send_exit(c, caf::exit_reason::kill);
}
