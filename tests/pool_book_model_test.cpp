// A model-based test of the pool book: random sequences of operations (takes
// with and without timeout or affinity, returns ok and fail, consumers that
// exit or crash, members that start, fail to start or die, health results,
// time that passes, culls and reconfigures) run against a small reference
// model. After every step it checks that each effect is legal for the
// model, that no member is handed to two consumers, lost or duplicated, that
// the counts and the metric counters match the model, and that the book's
// own recount and capacity rule hold.
//
// A normal run does 20 seeds of 10,000 steps. A failure prints its seed and
// step; replay one seed with
//   POOLER_MODEL_SEED=<seed> ./test_pool_book_model
// and change the length with POOLER_MODEL_STEPS=<n>.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "book_harness.hpp"
#include "src/pool_book.hpp"

using namespace std::chrono_literals;
using namespace pooler;

namespace {

constexpr consumer_id consumers = 6;

/// What the pool must look like, kept from the effects and the operations
/// alone, never read back from the book.
struct model {
  std::set<member_id> free;
  std::map<member_id, consumer_id> held;
  std::set<member_id> checking;
  std::map<member_id, stop_cause> stopping;
  std::set<start_id> starting;
  std::set<start_id> abandoned;
  struct waiter {
    waiter_id id;
    consumer_id who;
  };
  std::deque<waiter> queue;
  std::set<consumer_id> watched;
  /// Consumers that held a member and have not died: watched until then.
  std::set<consumer_id> ever_held;
  // Metric counters the operations imply.
  double takes = 0;
  double checkins = 0;
  double failed_returns = 0;
  double start_failures = 0;

  size_t live() const {
    return free.size() + held.size() + checking.size() + stopping.size()
           + starting.size() + abandoned.size();
  }
};

struct run {
  uint64_t seed;
  std::mt19937_64 rng;
  pool_book book;
  model m;
  book_time now = book_time{} + 1h;
  test::armed_timers timers;
  std::map<std::string, double> counts;
  member_id next_member = 1000;
  std::string error;
  /// How often each kind of effect happened: a run that never reaches a
  /// rule proves nothing about it.
  std::map<std::string, size_t>& seen;
  static constexpr const char* kinds[] = {
    "start", "stop",  "check",  "hand",  "fail",    "arm",   "watch",
    "unwatch", "forget", "count", "count_reason", "observe", "warn", "ready",
    "reconfigured"};
  // The operation under way: what its effects may do.
  std::set<member_id> may_free; ///< members the operation released
  member_id dying = 0;          ///< the member whose down is delivered

  run(uint64_t s, pool_config cfg, std::map<std::string, size_t>& coverage)
    : seed(s), rng(s), book(std::move(cfg), s), seen(coverage) {
  }

  void fault(const std::string& what) {
    if (error.empty())
      error = what;
  }

  size_t pick(size_t n) {
    return std::uniform_int_distribution<size_t>{0, n - 1}(rng);
  }

  template <class C>
  auto any_of(const C& c) {
    auto i = c.begin();
    std::advance(i, static_cast<long>(pick(c.size())));
    return i;
  }

  // -- effects against the model ---------------------------------------------------

  void absorb(const effects& fxs) {
    for (auto& e : fxs) {
      std::visit([this](auto& x) { on(x); }, e);
      seen[kinds[e.index()]] += 1;
      if (auto x = std::get_if<fx::stop>(&e))
        seen[std::string{"stop:"} + to_string(x->cause)] += 1;
    }
  }

  void on(const fx::start& x) {
    if (!m.starting.insert(x.id).second)
      fault("start id reused");
  }
  void on(const fx::stop& x) {
    auto id = x.member;
    if (m.stopping.count(id))
      fault("stop of a stopping member");
    bool was = m.free.erase(id) + m.held.erase(id) + m.checking.erase(id) > 0
               || may_free.erase(id) > 0;
    if (!was && x.cause != stop_cause::start_timeout)
      fault("stop of a member that is not live");
    m.stopping[id] = x.cause;
  }
  void on(const fx::check& x) {
    if (m.free.erase(x.member) == 0)
      fault("health check of a member that is not free");
    m.checking.insert(x.member);
  }
  void on(const fx::hand& x) {
    // FIFO: the member goes to the oldest waiter still queued.
    if (m.queue.empty() || m.queue.front().id != x.waiter)
      fault("hand to a waiter that is not the oldest");
    if (m.held.count(x.member) || m.stopping.count(x.member))
      fault("member handed out twice");
    if (!m.queue.empty()) {
      m.held[x.member] = m.queue.front().who;
      m.ever_held.insert(m.queue.front().who);
      m.queue.pop_front();
    }
    m.free.erase(x.member);
    m.checking.erase(x.member);
    may_free.erase(x.member);
  }
  void on(const fx::fail& x) {
    auto i = std::find_if(m.queue.begin(), m.queue.end(),
                          [&](auto& w) { return w.id == x.waiter; });
    if (i == m.queue.end())
      fault("answer to a waiter that is not queued");
    else
      m.queue.erase(i);
  }
  void on(const fx::arm& x) { timers[x.kind] = x; }
  void on(const fx::watch& x) {
    if (!m.watched.insert(x.consumer).second)
      fault("consumer watched twice");
  }
  void on(const fx::unwatch& x) {
    if (m.watched.erase(x.consumer) == 0)
      fault("unwatch of a consumer not watched");
  }
  void on(const fx::forget& x) {
    if (x.member != dying)
      fault("forget of a member that did not die");
  }
  void on(const fx::count& x) {
    counts[std::string{metric_names[static_cast<size_t>(x.m)]}] += x.n;
  }
  void on(const fx::count_reason& x) {
    counts[std::string{metric_names[static_cast<size_t>(x.m)]} + "{"
           + x.reason + "}"] += 1;
  }
  void on(const fx::observe& x) {
    if (x.d.count() < 0)
      fault("negative duration observed");
  }
  void on(const fx::warn&) {}
  void on(const fx::ready&) {}
  void on(const fx::reconfigured&) {}

  /// Members a step released go back to the free set unless an effect
  /// placed them (handed or stopped).
  void settle() {
    for (auto id : may_free)
      m.free.insert(id);
    may_free.clear();
  }

  // -- operations ----------------------------------------------------------------------

  void take() {
    auto who = 1 + pick(consumers);
    std::optional<book_duration> timeout;
    switch (pick(4)) {
      case 0: timeout = book_duration{0}; break;
      case 1: timeout = book_duration{50ms}; break;
      case 2: timeout = book_duration{2s}; break;
      default: break; // without limit
    }
    const char* keys[] = {"", "", "k1", "k2"};
    std::string affinity = keys[pick(4)];
    bool had_free = false;
    for (auto id : m.free)
      had_free |= book.members().at(id).expires_at > now;
    ++m.takes;
    auto r = book.take(who, timeout, affinity, now);
    absorb(book.last_effects());
    if (r.member) {
      if (m.free.erase(*r.member) == 0)
        fault("take handed out a member that is not free");
      m.held[*r.member] = who;
      m.ever_held.insert(who);
    } else if (had_free) {
      fault("take answered without a member while one was free");
    }
    if (r.waiter)
      m.queue.push_back({*r.waiter, who});
    if (r.error && r.error->code != errc::no_members)
      fault("take failed with another error than no_members");
  }

  /// A take in a caller's thread (take_free): a member only when one is
  /// free and nobody waits; otherwise nothing, not even a count.
  void fast_take() {
    auto who = 1 + pick(consumers);
    const char* keys[] = {"", "", "k1", "k2"};
    std::string affinity = keys[pick(4)];
    bool had_free = false;
    for (auto id : m.free)
      had_free |= book.members().at(id).expires_at > now;
    bool queued = !m.queue.empty();
    auto got = book.take_free(who, affinity, now);
    absorb(book.last_effects());
    if (got) {
      ++m.takes;
      if (queued)
        fault("a fast take overtook a queued requestor");
      if (m.free.erase(*got) == 0)
        fault("a fast take handed out a member that is not free");
      m.held[*got] = who;
      m.ever_held.insert(who);
    } else if (had_free && !queued) {
      fault("a fast take found nothing while a member was free");
    }
  }

  void give_back() {
    if (m.held.empty() || pick(20) == 0) {
      // A return of a member that is not in use changes nothing.
      auto before = book.usage();
      absorb(book.give_back(pick(2) ? next_member + 7 : 1, false, 0, now));
      if (book.usage().free_count != before.free_count)
        fault("a stray return changed the pool");
      return;
    }
    auto i = any_of(m.held);
    auto id = i->first;
    bool fail = pick(4) == 0;
    m.held.erase(i);
    ++m.checkins;
    if (fail)
      ++m.failed_returns;
    may_free.insert(id);
    absorb(book.give_back(id, fail, 1, now));
    if (fail && !m.stopping.count(id))
      fault("a failed return did not stop its member");
    settle();
  }

  void consumer_down() {
    auto who = 1 + pick(consumers);
    bool crashed = pick(2) == 0;
    for (auto i = m.held.begin(); i != m.held.end();) {
      if (i->second == who) {
        may_free.insert(i->first);
        i = m.held.erase(i);
      } else {
        ++i;
      }
    }
    auto released = may_free;
    // Its waiters leave the queue without an answer.
    m.queue.erase(std::remove_if(m.queue.begin(), m.queue.end(),
                                 [&](auto& w) { return w.who == who; }),
                  m.queue.end());
    m.ever_held.erase(who);
    absorb(book.consumer_down(who, crashed, now));
    for (auto id : released)
      if (crashed && !m.stopping.count(id))
        fault("a crashed consumer's member was not stopped");
    settle();
    if (m.watched.count(who))
      fault("a dead consumer is still watched");
  }

  void start_reported() {
    if (m.starting.empty() && m.abandoned.empty())
      return;
    bool from_abandoned = !m.abandoned.empty() && pick(3) == 0;
    auto& pool = from_abandoned ? m.abandoned : m.starting;
    if (pool.empty())
      return;
    auto sid = *any_of(pool);
    pool.erase(sid);
    if (pick(4) == 0) {
      ++m.start_failures;
      absorb(book.start_failed(sid, "boom", now));
      return;
    }
    auto id = next_member++;
    if (!book.member_started(sid, id, now))
      fault("a pending start was not recognised");
    may_free.insert(id);
    absorb(book.last_effects());
    if (from_abandoned && !m.stopping.count(id))
      fault("an abandoned start's member was not stopped");
    settle();
  }

  void member_dies() {
    std::vector<member_id> live;
    for (auto id : m.free)
      live.push_back(id);
    for (auto& kvp : m.held)
      live.push_back(kvp.first);
    for (auto id : m.checking)
      live.push_back(id);
    for (auto& kvp : m.stopping)
      live.push_back(kvp.first);
    if (live.empty())
      return;
    auto id = live[pick(live.size())];
    m.free.erase(id);
    m.held.erase(id);
    m.checking.erase(id);
    m.stopping.erase(id);
    dying = id;
    if (!book.member_down(id, now))
      fault("the book did not know a live member");
    absorb(book.last_effects());
    dying = 0;
  }

  void health_result() {
    if (m.checking.empty())
      return;
    auto id = *any_of(m.checking);
    m.checking.erase(id);
    may_free.insert(id);
    bool ok = pick(3) != 0;
    absorb(book.health_result(id, ok, now));
    if (!ok && !m.stopping.count(id))
      fault("a failed health check did not stop its member");
    settle();
  }

  void advance() {
    auto until = now + book_duration{std::chrono::milliseconds(pick(1500))};
    for (;;) {
      auto next = test::first_due(timers, until);
      if (next == timers.end())
        break;
      auto arm = next->second;
      timers.erase(next);
      now = std::max(now, arm.at);
      auto before_starting = m.starting;
      absorb(book.tick(arm.kind, arm.gen, now));
      if (arm.kind != book_timer::start)
        continue;
      for (auto sid : before_starting) {
        if (!book.starts().count(sid))
          fault("a start vanished on its timeout");
        else if (book.starts().at(sid).abandoned && m.starting.erase(sid))
          m.abandoned.insert(sid);
      }
    }
    now = until;
  }

  void reconfigure() {
    auto next = book.config();
    next.init_count = pick(4);
    next.max_count = std::max<size_t>(next.init_count, 1 + pick(6));
    next.queue_max = pick(4);
    next.max_age = book_duration{std::chrono::milliseconds(500 + pick(4000))};
    next.cull_interval = book_duration{std::chrono::seconds(pick(6))};
    if (pick(2))
      next.max_lifetime = book_duration{std::chrono::seconds(5 + pick(30))};
    else
      next.max_lifetime.reset();
    next.max_lifetime_jitter = next.max_lifetime ? 1s : 0s;
    auto r = book.reconfigure(next, now);
    absorb(book.last_effects());
    // Waiters beyond the new queue_max were answered queue_full (above).
    if (r.error && r.error->code != errc::not_enough_free_members
        && r.error->code != errc::unsupported_change)
      fault("reconfigure failed unexpectedly");
  }

  void cull() { absorb(book.cull(now)); }

  // -- after every step -----------------------------------------------------------------

  void compare() {
    if (auto broken = book.audit(); !broken.empty())
      fault("audit: " + broken);
    auto u = book.usage();
    auto expect = [&](const char* what, size_t got, size_t want) {
      if (got != want)
        fault(std::string{what} + " is " + std::to_string(got) + ", model "
              + std::to_string(want));
    };
    expect("free_count", u.free_count, m.free.size());
    expect("in_use_count", u.in_use_count, m.held.size());
    expect("checking_count", u.checking_count, m.checking.size());
    expect("starting_count", u.starting_count, m.starting.size());
    expect("stopping_count", u.stopping_count,
           m.stopping.size() + m.abandoned.size());
    expect("queued_count", u.queued_count, m.queue.size());
    if (m.live() > book.config().max_count)
      fault("more live members than max_count");
    // No member lost or duplicated: the book knows exactly the model's.
    expect("members", book.members().size(),
           m.free.size() + m.held.size() + m.checking.size()
             + m.stopping.size());
    for (auto& [id, who] : m.held) {
      auto i = book.members().find(id);
      if (i == book.members().end() || i->second.phase != member_phase::in_use
          || i->second.consumer != who)
        fault("member " + std::to_string(id) + " not held by its consumer");
    }
    for (auto id : m.free)
      if (!book.members().count(id)
          || book.members().at(id).phase != member_phase::free)
        fault("member " + std::to_string(id) + " should be free");
    // Consumers are watched exactly while they wait, or from their first
    // checkout until they die.
    for (consumer_id c = 1; c <= consumers; ++c) {
      bool busy = m.ever_held.count(c) > 0
                  || std::any_of(m.queue.begin(), m.queue.end(),
                                 [c](auto& w) { return w.who == c; });
      if (busy != (m.watched.count(c) > 0))
        fault("consumer " + std::to_string(c) + " watched: "
              + std::to_string(m.watched.count(c)) + ", busy: "
              + std::to_string(busy));
    }
    auto metric_is = [&](const std::string& name, double want) {
      if (counts[name] != want)
        fault("metric " + name + " is " + std::to_string(counts[name])
              + ", model " + std::to_string(want));
    };
    metric_is("take", m.takes);
    metric_is("checkin", m.checkins);
    metric_is("start_failed", m.start_failures);
    if (book.start_failures() != m.start_failures)
      fault("start_failures differs from the model");
  }
};

pool_config model_config() {
  pool_config cfg;
  cfg.name = "model";
  cfg.init_count = 2;
  cfg.max_count = 5;
  cfg.queue_max = 3;
  cfg.cull_interval = 3s;
  cfg.max_age = 2s;
  cfg.member_start_timeout = 2s;
  cfg.max_lifetime = 20s;
  cfg.max_lifetime_jitter = 2s;
  cfg.health_check_interval = 4s;
  cfg.start_backoff.initial = 100ms;
  cfg.start_backoff.max = 1s;
  cfg.auto_grow_threshold = 0;
  cfg.start = member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> { return caf::actor{}; });
  return cfg;
}

/// Runs one seed; "" on success, else where and why it failed.
std::string run_seed(uint64_t seed, size_t steps,
                     std::map<std::string, size_t>& seen) {
  auto cfg = model_config();
  if (seed % 2 == 1)
    cfg.member_order = member_order::fifo;
  run r{seed, cfg, seen};
  r.absorb(r.book.open(r.now));
  r.compare();
  for (size_t step = 0; step < steps && r.error.empty(); ++step) {
    const char* op = "";
    switch (r.pick(20)) {
      case 0: case 1: case 2:
        op = "take"; r.take(); break;
      case 3: case 4:
        // The caller's-thread path, interleaved with the actor's: under the
        // shared book's lock they are one sequence of operations.
        op = "fast take"; r.fast_take(); break;
      case 5: case 6: case 7: case 8:
        op = "return"; r.give_back(); break;
      case 9:
        op = "consumer down"; r.consumer_down(); break;
      case 10: case 11: case 12:
        op = "start reported"; r.start_reported(); break;
      case 13:
        op = "member dies"; r.member_dies(); break;
      case 14:
        op = "health result"; r.health_result(); break;
      case 15: case 16: case 17:
        op = "advance"; r.advance(); break;
      case 18:
        op = r.pick(10) == 0 ? "reconfigure" : "cull";
        if (op[0] == 'r')
          r.reconfigure();
        else
          r.cull();
        break;
      default:
        op = "stop completes";
        if (!r.m.stopping.empty()) {
          auto id = r.any_of(r.m.stopping)->first;
          r.m.stopping.erase(id);
          r.dying = id;
          r.book.member_down(id, r.now);
          r.absorb(r.book.last_effects());
          r.dying = 0;
        }
        break;
    }
    r.compare();
    if (!r.error.empty()) {
      std::ostringstream out;
      out << "seed " << seed << ", step " << step << " (" << op
          << "): " << r.error << " -- replay with POOLER_MODEL_SEED=" << seed;
      return out.str();
    }
  }
  return {};
}

size_t env_size(const char* name, size_t fallback) {
  auto text = std::getenv(name);
  return text ? std::strtoull(text, nullptr, 10) : fallback;
}

} // namespace

TEST_CASE("model: the pool book agrees with the reference model") {
  auto steps = env_size("POOLER_MODEL_STEPS", 10'000);
  std::vector<uint64_t> seeds;
  if (std::getenv("POOLER_MODEL_SEED"))
    seeds.push_back(env_size("POOLER_MODEL_SEED", 0));
  else
    for (uint64_t s = 1; s <= 20; ++s)
      seeds.push_back(s);
  std::map<std::string, size_t> seen;
  for (auto seed : seeds) {
    auto failure = run_seed(seed, steps, seen);
    CHECK_MESSAGE(failure.empty(), failure);
  }
  if (steps < 10'000)
    return;
  // Every rule was reached, across the seeds.
  for (auto kind : {"start", "stop", "check", "hand", "fail", "watch",
                    "unwatch", "forget", "ready", "reconfigured",
                    "stop:failed", "stop:max_lifetime", "stop:consumer_crashed",
                    "stop:health_failed", "stop:start_timeout", "stop:max_age",
                    "stop:reconfigured"}) {
    INFO(kind);
    CHECK(seen[kind] > 0);
  }
  if (std::getenv("POOLER_MODEL_VERBOSE"))
    for (auto& [kind, n] : seen)
      MESSAGE(kind << ": " << n);
}
