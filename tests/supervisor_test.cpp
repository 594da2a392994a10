// The supervision framework, through its public API.

#include <doctest/doctest.h>

#include "pooler/supervisor.hpp"
#include "gate.hpp"
#include "test_support.hpp"

#include <atomic>
#include <future>

using namespace pooler;
using namespace std::chrono_literals;
using test::event_log;
using test::eventually;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

// How a test worker reacts to its supervisor.
enum class mode {
  plain,          // dies on any exit message
  stubborn,       // traps exits and ignores them: only a kill stops it
  slow,           // traps exits and quits normally 300 ms after one
  crash_on_start, // fails right after it started
};

struct worker_state {
  std::shared_ptr<event_log> log;
  std::string name;
  // Runs before the down messages go out, so "stop:x" is logged before the
  // supervisor learns that x is gone.
  ~worker_state() {
    if (log)
      log->add("stop:" + name);
  }
};

caf::behavior worker(caf::stateful_actor<worker_state>* self,
                     std::shared_ptr<event_log> log, std::string name, mode m) {
  self->state.log = std::move(log);
  self->state.name = std::move(name);
  if (m == mode::stubborn)
    self->set_exit_handler([](caf::exit_msg&) {});
  if (m == mode::slow)
    self->set_exit_handler([self](caf::exit_msg&) {
      self->delayed_send(self, 300ms, finish_atom::value);
    });
  if (m == mode::crash_on_start)
    self->send(self, crash_atom::value);
  return {
    [self](crash_atom) {
      self->quit(caf::make_error(caf::sec::runtime_error, "crash"));
    },
    [self](finish_atom) { self->quit(); },
  };
}

child_spec worker_spec(std::shared_ptr<event_log> log, std::string id,
                       restart_type restart = restart_type::permanent,
                       mode m = mode::plain) {
  child_spec spec;
  spec.id = id;
  spec.restart = restart;
  spec.start = [log, id, m](caf::actor_system& sys) -> caf::expected<caf::actor> {
    log->add("start:" + id);
    return sys.spawn(worker, log, id, m);
  };
  return spec;
}

sup_flags flags(strategy s, int intensity = 10) {
  sup_flags f;
  f.strategy = s;
  f.intensity = intensity;
  f.period = 5s;
  return f;
}

using strings = std::vector<std::string>;

// The running child of `id`, or a null handle.
caf::actor child_of(caf::scoped_actor& self, const caf::actor& sup,
                    const std::string& id) {
  auto children = which_children(self, sup);
  if (children)
    for (auto& c : *children)
      if (c.id == id)
        return c.child;
  return {};
}

// Waits until `id` runs under a handle other than `old`.
caf::actor wait_restarted(caf::scoped_actor& self, const caf::actor& sup,
                          const std::string& id, const caf::actor& old) {
  caf::actor now;
  eventually([&] {
    now = child_of(self, sup, id);
    return now && now != old;
  });
  return now;
}

struct started_sup : test::fixture {
  std::shared_ptr<event_log> log = std::make_shared<event_log>();
  caf::actor sup;

  void start(sup_flags f, std::vector<child_spec> specs) {
    auto res = start_supervisor(sys, std::move(f), std::move(specs));
    REQUIRE(res);
    sup = track(*res);
  }

  caf::actor child(const std::string& id) {
    return child_of(self, sup, id);
  }

  void crash(const caf::actor& x) {
    watch(x);
    caf::anon_send(x, crash_atom::value);
    REQUIRE(wait_down(x));
  }
};

} // namespace

// -- strategies ---------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "one_for_one restarts only the dead child") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  CHECK(log->since(0) == strings{"start:a", "start:b", "start:c"});
  auto a = child("a"), b = child("b"), c = child("c");
  auto mark = log->size();
  crash(b);
  auto b2 = wait_restarted(self, sup, "b", b);
  CHECK(b2);
  CHECK(child("a") == a);
  CHECK(child("c") == c);
  CHECK(log->since(mark) == strings{"stop:b", "start:b"});
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "all_for_one stops the others in reverse order "
                               "and restarts all in start order") {
  start(flags(strategy::all_for_one),
        {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto a = child("a"), b = child("b"), c = child("c");
  auto mark = log->size();
  crash(b);
  REQUIRE(eventually([&] { return log->size() == mark + 6; }));
  CHECK(log->since(mark)
        == strings{"stop:b", "stop:c", "stop:a", "start:a", "start:b",
                   "start:c"});
  auto a2 = child("a"), b2 = child("b"), c2 = child("c");
  CHECK((a2 && a2 != a));
  CHECK((b2 && b2 != b));
  CHECK((c2 && c2 != c));
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "rest_for_one restarts the dead child and "
                               "those started after it") {
  start(flags(strategy::rest_for_one),
        {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c"),
         worker_spec(log, "d")});
  auto a = child("a"), b = child("b"), c = child("c"), d = child("d");
  auto mark = log->size();
  crash(b);
  REQUIRE(eventually([&] { return log->size() == mark + 6; }));
  CHECK(log->since(mark)
        == strings{"stop:b", "stop:d", "stop:c", "start:b", "start:c",
                   "start:d"});
  CHECK(child("a") == a);
  for (auto& [id, old] : {std::pair{"b", b}, {"c", c}, {"d", d}}) {
    auto now = child(id);
    CHECK((now && now != old));
  }
  CHECK(shutdown(sup));
}

namespace {

// A template whose start function names the child after its first argument.
child_spec named_template(std::shared_ptr<event_log> log,
                          restart_type restart = restart_type::temporary) {
  child_spec spec;
  spec.id = "member";
  spec.restart = restart;
  spec.start = [log](caf::actor_system& sys, const caf::message& extra)
    -> caf::expected<caf::actor> {
    if (!extra.match_elements<std::string>())
      return caf::make_error(caf::sec::invalid_argument, "want one string");
    auto name = extra.get_as<std::string>(0);
    log->add("start:" + name);
    return sys.spawn(worker, log, name, mode::plain);
  };
  return spec;
}

} // namespace

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one starts children with the "
                               "start_child arguments") {
  start(flags(strategy::simple_one_for_one), {named_template(log)});
  CHECK(log->size() == 0);
  auto x1 = start_child(self, sup, caf::make_message(std::string{"x1"}));
  auto x2 = start_child(self, sup, caf::make_message(std::string{"x2"}));
  REQUIRE(x1);
  REQUIRE(x2);
  CHECK(log->since(0) == strings{"start:x1", "start:x2"});
  auto bad = start_child(self, sup, caf::make_message(42));
  REQUIRE(!bad);
  CHECK(bad.error() == caf::sec::invalid_argument);
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  CHECK((*children)[0].child == *x1);
  CHECK((*children)[0].id == "member");
  CHECK((*children)[1].child == *x2);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 1);
  CHECK(counts->active == 2);
  CHECK(counts->workers == 2);
  CHECK(counts->supervisors == 0);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one terminates a child by its "
                               "handle and forgets it") {
  start(flags(strategy::simple_one_for_one), {named_template(log)});
  auto x1 = start_child(self, sup, caf::make_message(std::string{"x1"}));
  auto x2 = start_child(self, sup, caf::make_message(std::string{"x2"}));
  REQUIRE(x1);
  REQUIRE(x2);
  watch(*x1);
  CHECK(terminate_child(self, sup, *x1));
  CHECK(wait_down(*x1) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(log->count("stop:x1") == 1);
  auto again = terminate_child(self, sup, *x1);
  REQUIRE(!again);
  CHECK(again.error() == errc::not_found);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->active == 1);
  CHECK(counts->workers == 1);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one children are independent "
                               "and restarted with their arguments") {
  start(flags(strategy::simple_one_for_one),
        {named_template(log, restart_type::permanent)});
  auto x1 = start_child(self, sup, caf::make_message(std::string{"x1"}));
  auto x2 = start_child(self, sup, caf::make_message(std::string{"x2"}));
  REQUIRE(x1);
  REQUIRE(x2);
  crash(*x1);
  REQUIRE(eventually([&] { return log->count("start:x1") == 2; }));
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 2);
  // x1 keeps its place in start order under a new handle; x2 is untouched.
  CHECK((*children)[0].child != *x1);
  CHECK((*children)[1].child == *x2);
  CHECK(log->count("start:x2") == 1);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one: a slow start does not "
                               "hold up other starts") {
  auto slow_gate = std::make_shared<test::gate>();
  test::gate_guard guard{slow_gate};
  child_spec spec = named_template(log);
  spec.start = [log = log, slow_gate](caf::actor_system& sys,
                                      const caf::message& extra)
    -> caf::expected<caf::actor> {
    auto name = extra.get_as<std::string>(0);
    if (name == "slow")
      slow_gate->pass();
    log->add("start:" + name);
    return sys.spawn(worker, log, name, mode::plain);
  };
  start(flags(strategy::simple_one_for_one), {spec});
  auto slow = self->request(sup, caf::infinite, start_child_atom::value,
                            caf::make_message(std::string{"slow"}));
  REQUIRE(eventually([&] { return slow_gate->entered() == 1; }));
  // The slow factory is still blocked: the fast start must not wait for it.
  auto fast = start_child(self, sup, caf::make_message(std::string{"fast"}));
  CHECK(fast);
  CHECK(log->since(0) == strings{"start:fast"});
  slow_gate->open();
  caf::actor slow_child;
  slow.receive([&](caf::actor& x) { slow_child = std::move(x); },
               [](caf::error&) {});
  CHECK(slow_child);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->active == 2);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one: a start that returns "
                               "after its supervisor is gone leaves no child") {
  auto slow_gate = std::make_shared<test::gate>();
  test::gate_guard guard{slow_gate};
  auto made = std::make_shared<std::promise<caf::actor>>();
  auto made_future = made->get_future();
  child_spec spec = named_template(log);
  spec.start = [log = log, slow_gate, made](caf::actor_system& sys,
                                            const caf::message&)
    -> caf::expected<caf::actor> {
    slow_gate->pass();
    auto x = sys.spawn(worker, log, std::string{"late"}, mode::plain);
    made->set_value(x);
    return x;
  };
  start(flags(strategy::simple_one_for_one), {spec});
  auto pending = self->request(sup, caf::infinite, start_child_atom::value,
                               caf::make_message(std::string{"late"}));
  REQUIRE(eventually([&] { return slow_gate->entered() == 1; }));
  CHECK(shutdown(sup));
  caf::error err;
  pending.receive([](caf::actor&) {}, [&](caf::error& e) { err = e; });
  CHECK(err == errc::start_failed);
  slow_gate->open();
  REQUIRE(made_future.wait_for(5s) == std::future_status::ready);
  auto late = made_future.get();
  watch(late);
  CHECK(wait_down(late).has_value());
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one: a child's graceful stop "
                               "does not hold up other requests") {
  child_spec spec = named_template(log);
  spec.start = [log = log](caf::actor_system& sys, const caf::message& extra)
    -> caf::expected<caf::actor> {
    auto name = extra.get_as<std::string>(0);
    return sys.spawn(worker, log, name,
                     name == "stubborn" ? mode::stubborn : mode::plain);
  };
  spec.shutdown = shutdown_spec::wait(60s);
  start(flags(strategy::simple_one_for_one), {spec});
  auto stubborn = start_child(self, sup,
                              caf::make_message(std::string{"stubborn"}));
  REQUIRE(stubborn);
  // Both requests come from one sender, so the terminate is handled first.
  auto term = self->request(sup, caf::infinite, terminate_child_atom::value,
                            *stubborn);
  auto other = start_child(self, sup, caf::make_message(std::string{"other"}));
  CHECK(other);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->active == 1); // the stubborn child is no longer listed
  // The terminate is answered once the child is gone.
  caf::anon_send_exit(*stubborn, caf::exit_reason::kill);
  bool terminated = false;
  term.receive([&] { terminated = true; }, [](caf::error&) {});
  CHECK(terminated);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "simple_one_for_one handles 10000 children "
                               "and stops them all at once") {
  child_spec spec;
  spec.id = "many";
  spec.restart = restart_type::temporary;
  // The supervisor's bookkeeping at scale, not 10,000 runner threads.
  spec.inline_start = true;
  spec.start = [](caf::actor_system& sys) -> caf::expected<caf::actor> {
    return sys.spawn(worker, nullptr, std::string{}, mode::plain);
  };
  start(flags(strategy::simple_one_for_one), {spec});
  constexpr size_t n = 10000;
  auto t0 = test::clock::now();
  // Many requests in flight at once, as starters of a pool would send them.
  using handle_t = decltype(self->request(sup, 10s, start_child_atom::value,
                                          caf::message{}));
  std::vector<handle_t> pending;
  pending.reserve(n);
  for (size_t i = 0; i < n; ++i)
    pending.push_back(
      self->request(sup, 30s, start_child_atom::value, caf::message{}));
  std::vector<caf::actor> kids;
  for (auto& h : pending)
    h.receive([&](caf::actor& x) { kids.push_back(std::move(x)); },
              [&](caf::error&) {});
  REQUIRE(kids.size() == n);
  MESSAGE("10000 start_child: " << test::ms_since(t0) << " ms");
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->active == n);
  auto last = kids.back();
  CHECK(terminate_child(self, sup, kids[n / 2]));
  counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->active == n - 1);
  watch(last);
  auto t1 = test::clock::now();
  CHECK(shutdown(sup) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(wait_down(last));
  MESSAGE("stopping 9999 children: " << test::ms_since(t1) << " ms");
  CHECK(test::ms_since(t0) < 15000);
}

// -- restart types ------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "permanent children are restarted even after a "
                               "normal exit") {
  start(flags(strategy::one_for_one), {worker_spec(log, "p")});
  auto p = child("p");
  caf::anon_send(p, finish_atom::value);
  CHECK(wait_restarted(self, sup, "p", p));
  CHECK(log->count("start:p") == 2);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "transient children are restarted after an "
                               "error but not after normal or shutdown exits") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "t", restart_type::transient),
         worker_spec(log, "u", restart_type::transient)});
  // An error exit: restarted.
  auto t = child("t");
  crash(t);
  auto t2 = wait_restarted(self, sup, "t", t);
  REQUIRE(t2);
  CHECK(log->count("start:t") == 2);
  // A normal exit: the child stays terminated, its spec stays.
  caf::anon_send(t2, finish_atom::value);
  CHECK(eventually([&] { return !child("t") && log->count("stop:t") == 2; }));
  // A shutdown exit (OTP's `shutdown`): likewise.
  caf::anon_send_exit(child("u"), caf::exit_reason::user_shutdown);
  CHECK(eventually([&] { return !child("u") && log->count("stop:u") == 1; }));
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 2);
  CHECK(counts->active == 0);
  CHECK(log->count("start:t") == 2);
  CHECK(log->count("start:u") == 1);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "temporary children are never restarted and "
                               "their spec is dropped") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "keep"),
         worker_spec(log, "tmp", restart_type::temporary)});
  crash(child("tmp"));
  CHECK(eventually([&] {
    auto counts = count_children(self, sup);
    return counts && counts->specs == 1;
  }));
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().id == "keep");
  CHECK(log->count("start:tmp") == 1);
  CHECK(shutdown(sup));
}

// -- intensity ----------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "exceeding the restart intensity stops the "
                               "supervisor with user_shutdown and its parent "
                               "restarts it") {
  auto inner_flags = flags(strategy::one_for_one, 1);
  start(flags(strategy::one_for_one, 5),
        {supervisor_spec("inner", inner_flags, {worker_spec(log, "w")})});
  auto inner = child("inner");
  REQUIRE(inner);
  auto w = child_of(self, inner, "w");
  crash(w); // one restart within the period: allowed
  auto w2 = wait_restarted(self, inner, "w", w);
  REQUIRE(w2);
  watch(inner);
  crash(w2); // the second one is too many
  CHECK(wait_down(inner) == caf::error{caf::exit_reason::user_shutdown});
  auto inner2 = wait_restarted(self, sup, "inner", inner);
  REQUIRE(inner2);
  CHECK(child_of(self, inner2, "w"));
  CHECK(log->count("start:w") == 3);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->supervisors == 1);
  CHECK(counts->workers == 0);
  CHECK(shutdown(sup));
}

// -- shutdown -----------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "a supervisor stops its children in reverse "
                               "start order, then exits with the reason") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto mark = log->size();
  CHECK(shutdown(sup) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(log->since(mark) == strings{"stop:c", "stop:b", "stop:a"});
}

TEST_CASE_FIXTURE(started_sup, "a child that ignores user_shutdown is killed "
                               "after its shutdown timeout") {
  auto spec = worker_spec(log, "s", restart_type::permanent, mode::stubborn);
  spec.shutdown = shutdown_spec::wait(200ms);
  start(flags(strategy::one_for_one), {spec});
  auto s = child("s");
  watch(s);
  auto t0 = test::clock::now();
  CHECK(shutdown(sup));
  auto elapsed = test::ms_since(t0);
  CHECK(wait_down(s) == caf::error{caf::exit_reason::kill});
  CHECK(elapsed >= 200);
  CHECK(elapsed < 2000);
}

TEST_CASE_FIXTURE(started_sup, "an infinity shutdown waits for the child") {
  auto spec = worker_spec(log, "slow", restart_type::permanent, mode::slow);
  spec.shutdown = shutdown_spec::forever();
  start(flags(strategy::one_for_one), {spec});
  auto s = child("slow");
  watch(s);
  auto t0 = test::clock::now();
  CHECK(shutdown(sup));
  CHECK(test::ms_since(t0) >= 300);
  // The child ended on its own terms: not killed.
  CHECK(wait_down(s) == caf::error{});
}

TEST_CASE_FIXTURE(started_sup, "brutal_kill kills the child at once") {
  auto spec = worker_spec(log, "s", restart_type::permanent, mode::stubborn);
  spec.shutdown = shutdown_spec::kill();
  start(flags(strategy::one_for_one), {spec});
  auto s = child("s");
  watch(s);
  auto t0 = test::clock::now();
  CHECK(terminate_child(self, sup, "s"));
  CHECK(test::ms_since(t0) < 1000);
  CHECK(wait_down(s) == caf::error{caf::exit_reason::kill});
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "requests wait while a child is being stopped") {
  auto spec = worker_spec(log, "s", restart_type::permanent, mode::stubborn);
  spec.shutdown = shutdown_spec::wait(300ms);
  start(flags(strategy::one_for_one), {spec, worker_spec(log, "b")});
  auto t0 = test::clock::now();
  auto term = self->request(sup, 5s, terminate_child_atom::value, "s");
  auto which = self->request(sup, 5s, which_children_atom::value);
  bool terminated = false;
  term.receive([&] { terminated = true; }, [](caf::error&) {});
  CHECK(terminated);
  CHECK(test::ms_since(t0) >= 300);
  std::vector<child_info> children;
  which.receive([&](std::vector<child_info>& xs) { children = std::move(xs); },
                [](caf::error&) {});
  REQUIRE(children.size() == 2);
  CHECK(!children[0].child); // answered after the stop, not during it
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "killing a supervisor kills its children") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a", restart_type::permanent, mode::stubborn),
         supervisor_spec("inner", flags(strategy::one_for_one),
                         {worker_spec(log, "b")})});
  auto a = child("a");
  auto inner = child("inner");
  auto b = child_of(self, inner, "b");
  for (auto& x : {sup, a, inner, b})
    watch(x);
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  CHECK(wait_down(sup) == caf::error{caf::exit_reason::kill});
  CHECK(wait_down(a) == caf::error{caf::exit_reason::kill});
  CHECK(wait_down(inner) == caf::error{caf::exit_reason::kill});
  CHECK(wait_down(b) == caf::error{caf::exit_reason::kill});
}

TEST_CASE_FIXTURE(started_sup, "a normal exit message does not stop a "
                               "supervisor") {
  start(flags(strategy::one_for_one), {worker_spec(log, "a")});
  self->send_exit(sup, caf::exit_reason::normal);
  CHECK(which_children(self, sup)); // still answering
  CHECK(child("a"));
  CHECK(shutdown(sup));
}

// -- starting -----------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "a failing start makes start_supervisor fail "
                               "with that error and stops the started "
                               "children in reverse order") {
  auto handles = std::make_shared<std::vector<caf::actor>>();
  auto recorded = [&](std::string id) {
    child_spec spec;
    spec.id = id;
    spec.start = [log = log, handles, id](caf::actor_system& sys) {
      log->add("start:" + id);
      auto x = sys.spawn(worker, log, id, mode::plain);
      handles->push_back(x);
      return caf::expected<caf::actor>{x};
    };
    return spec;
  };
  child_spec failing;
  failing.id = "bad";
  failing.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, "no database");
  };
  auto res = start_supervisor(sys, flags(strategy::one_for_one),
                              {recorded("a"), recorded("b"), failing,
                               recorded("c")});
  REQUIRE(!res);
  CHECK(res.error() == caf::sec::runtime_error);
  CHECK(res.error().context().match_elements<std::string>());
  REQUIRE(handles->size() == 2);
  for (auto& x : *handles)
    watch(x);
  for (auto& x : *handles)
    CHECK(wait_down(x) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(log->since(0)
        == strings{"start:a", "start:b", "stop:b", "stop:a"});
}

TEST_CASE_FIXTURE(started_sup, "a start returning no actor fails with "
                               "start_failed naming the child") {
  child_spec nothing;
  nothing.id = "ghost";
  nothing.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::actor{};
  };
  auto res = start_supervisor(sys, flags(strategy::one_for_one), {nothing});
  REQUIRE(!res);
  CHECK(res.error() == errc::start_failed);
  CHECK(error_subject(res.error()) == "ghost");
}

TEST_CASE_FIXTURE(started_sup, "invalid flags and specs are rejected") {
  auto dup = start_supervisor(sys, flags(strategy::one_for_one),
                              {worker_spec(log, "a"), worker_spec(log, "a")});
  REQUIRE(!dup);
  CHECK(dup.error() == errc::invalid_config);
  auto sofo = start_supervisor(sys, flags(strategy::simple_one_for_one), {});
  REQUIRE(!sofo);
  CHECK(sofo.error() == errc::invalid_config);
  auto negative = flags(strategy::one_for_one, -1);
  auto neg = start_supervisor(sys, negative, {});
  REQUIRE(!neg);
  CHECK(neg.error() == errc::invalid_config);
  CHECK(log->size() == 0);
}

TEST_CASE_FIXTURE(started_sup, "a failed restart is retried") {
  auto calls = std::make_shared<std::atomic<int>>(0);
  child_spec spec;
  spec.id = "flaky";
  spec.start = [log = log, calls](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    if (++*calls == 2)
      return caf::make_error(caf::sec::runtime_error, "second start fails");
    return sys.spawn(worker, log, std::string{"flaky"}, mode::plain);
  };
  start(flags(strategy::one_for_one, 5), {spec});
  auto old = child("flaky");
  crash(old);
  CHECK(wait_restarted(self, sup, "flaky", old));
  CHECK(calls->load() == 3);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "failed restarts count against the intensity") {
  auto calls = std::make_shared<std::atomic<int>>(0);
  child_spec spec;
  spec.id = "doomed";
  spec.start = [log = log, calls](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    if (++*calls > 1)
      return caf::make_error(caf::sec::runtime_error, "gone for good");
    return sys.spawn(worker, log, std::string{"doomed"}, mode::plain);
  };
  start(flags(strategy::one_for_one, 3), {spec});
  watch(sup);
  crash(child("doomed"));
  CHECK(wait_down(sup) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(calls->load() == 1 + 3); // the initial start and three restarts
}

TEST_CASE_FIXTURE(started_sup, "backoff spaces consecutive restarts") {
  auto f = flags(strategy::one_for_one, 100);
  f.backoff = backoff_spec{100ms, 1s, 2.0, 0.0};
  start(f, {worker_spec(log, "c", restart_type::permanent,
                        mode::crash_on_start)});
  REQUIRE(eventually([&] { return log->count("start:c") >= 4; }));
  auto t = log->times_of("start:c");
  auto gap = [&](size_t i) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t[i] - t[i - 1])
      .count();
  };
  CHECK(gap(1) >= 100);
  CHECK(gap(1) < 100 + 150);
  CHECK(gap(2) >= 200);
  CHECK(gap(2) < 200 + 150);
  CHECK(gap(3) >= 400);
  CHECK(gap(3) < 400 + 150);
  // Waiting for its restart, the child is listed without a handle.
  CHECK(eventually([&] { return !child("c"); }));
  CHECK(shutdown(sup));
}

// -- operations ---------------------------------------------------------------

TEST_CASE_FIXTURE(started_sup, "start_child adds a child or reports "
                               "already_started and already_present") {
  start(flags(strategy::one_for_one), {worker_spec(log, "a")});
  auto b = start_child(self, sup, worker_spec(log, "b"));
  REQUIRE(b);
  CHECK(child("b") == *b);
  auto dup = start_child(self, sup, worker_spec(log, "b"));
  REQUIRE(!dup);
  CHECK(dup.error() == errc::already_started);
  CHECK(error_subject(dup.error()) == "b");
  REQUIRE(terminate_child(self, sup, "b"));
  auto present = start_child(self, sup, worker_spec(log, "b"));
  REQUIRE(!present);
  CHECK(present.error() == errc::already_present);
  child_spec failing;
  failing.id = "bad";
  failing.start = [](caf::actor_system&) -> caf::expected<caf::actor> {
    return caf::make_error(caf::sec::runtime_error, "nope");
  };
  auto bad = start_child(self, sup, failing);
  REQUIRE(!bad);
  CHECK(bad.error() == caf::sec::runtime_error);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 2); // the failed spec is not kept
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "terminate_child stops a child and keeps its "
                               "spec, unless temporary") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a"), worker_spec(log, "t", restart_type::temporary)});
  auto a = child("a");
  watch(a);
  REQUIRE(terminate_child(self, sup, "a"));
  CHECK(wait_down(a) == caf::error{caf::exit_reason::user_shutdown});
  CHECK(!child("a"));
  CHECK(terminate_child(self, sup, "a")); // already terminated: fine
  REQUIRE(terminate_child(self, sup, "t"));
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().id == "a");
  auto unknown = terminate_child(self, sup, "nope");
  REQUIRE(!unknown);
  CHECK(unknown.error() == errc::not_found);
  CHECK(log->count("start:a") == 1); // a terminated child is not restarted
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "restart_child restarts a terminated child") {
  start(flags(strategy::one_for_one), {worker_spec(log, "a")});
  auto running = restart_child(self, sup, "a");
  REQUIRE(!running);
  CHECK(running.error() == errc::running);
  REQUIRE(terminate_child(self, sup, "a"));
  auto a = restart_child(self, sup, "a");
  REQUIRE(a);
  CHECK(child("a") == *a);
  CHECK(log->count("start:a") == 2);
  auto unknown = restart_child(self, sup, "nope");
  REQUIRE(!unknown);
  CHECK(unknown.error() == errc::not_found);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "delete_child removes a terminated child's "
                               "spec") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a"), worker_spec(log, "b")});
  auto running = delete_child(self, sup, "a");
  REQUIRE(!running);
  CHECK(running.error() == errc::running);
  REQUIRE(terminate_child(self, sup, "a"));
  CHECK(delete_child(self, sup, "a"));
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().id == "b");
  auto gone = delete_child(self, sup, "a");
  REQUIRE(!gone);
  CHECK(gone.error() == errc::not_found);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "id-based operations on simple_one_for_one "
                               "answer simple_one_for_one") {
  start(flags(strategy::simple_one_for_one), {named_template(log)});
  auto expect_sofo = [](const caf::error& err) {
    CHECK(err == errc::simple_one_for_one);
  };
  expect_sofo(terminate_child(self, sup, "member").error());
  expect_sofo(restart_child(self, sup, "member").error());
  expect_sofo(delete_child(self, sup, "member").error());
  expect_sofo(start_child(self, sup, worker_spec(log, "x")).error());
  auto unknown = terminate_child(self, sup, caf::actor{});
  REQUIRE(!unknown);
  CHECK(unknown.error() == errc::not_found);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "start_child with arguments needs "
                               "simple_one_for_one") {
  start(flags(strategy::one_for_one), {worker_spec(log, "a")});
  auto res = start_child(self, sup, caf::make_message(std::string{"x"}));
  REQUIRE(!res);
  CHECK(res.error() == errc::simple_one_for_one);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "which_children and count_children describe "
                               "the children in start order") {
  start(flags(strategy::one_for_one),
        {worker_spec(log, "a"),
         supervisor_spec("s", flags(strategy::one_for_one), {}),
         worker_spec(log, "b")});
  REQUIRE(terminate_child(self, sup, "b"));
  auto children = which_children(self, sup);
  REQUIRE(children);
  REQUIRE(children->size() == 3);
  CHECK((*children)[0].id == "a");
  CHECK((*children)[0].type == child_type::worker);
  CHECK((*children)[0].child);
  CHECK((*children)[1].id == "s");
  CHECK((*children)[1].type == child_type::supervisor);
  CHECK((*children)[1].child);
  CHECK((*children)[2].id == "b");
  CHECK(!(*children)[2].child);
  auto counts = count_children(self, sup);
  REQUIRE(counts);
  CHECK(counts->specs == 3);
  CHECK(counts->active == 2);
  CHECK(counts->supervisors == 1);
  CHECK(counts->workers == 2);
  CHECK(shutdown(sup));
}

TEST_CASE_FIXTURE(started_sup, "an unknown request is answered with an error "
                               "and the supervisor keeps working") {
  start(flags(strategy::one_for_one), {worker_spec(log, "a")});
  caf::error err;
  self->request(sup, 5s, std::string{"hello"})
    .receive([](std::string&) {}, [&](caf::error& e) { err = std::move(e); });
  CHECK(err == caf::sec::unexpected_message);
  self->send(sup, 42); // not a request: dropped silently
  CHECK(child("a"));
  CHECK(shutdown(sup));
}

TEST_CASE("child specs default their shutdown by type") {
  child_spec w;
  CHECK(w.effective_shutdown().kind == shutdown_spec::timeout);
  CHECK(w.effective_shutdown().after == caf::timespan{5s});
  child_spec s = supervisor_spec("s", sup_flags{}, {});
  CHECK(s.type == child_type::supervisor);
  CHECK(s.restart == restart_type::permanent);
  CHECK(s.effective_shutdown().kind == shutdown_spec::infinity);
  w.shutdown = shutdown_spec::kill();
  CHECK(w.effective_shutdown().kind == shutdown_spec::brutal_kill);
  CHECK(to_string(strategy::rest_for_one) == "rest_for_one");
  CHECK(to_string(restart_type::transient) == "transient");
  CHECK(to_string(child_type::supervisor) == "supervisor");
}
