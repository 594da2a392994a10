// Pool configuration: durations, factories, validation, the
// INI and JSON readers, and the sample files in config/.

#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/sec.hpp>
#include <nlohmann/json.hpp>

#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"
#include "pooler/metrics.hpp"
#include "pooler/pool_config.hpp"

#include "invalid_config.hpp"

using namespace std::chrono_literals;
using pooler::errc;
using pooler::pool_config;
using test::invalid;

namespace {

template <class T>
std::string subject(const caf::expected<T>& res) {
  return res ? "<no error>" : pooler::error_subject(res.error());
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One pool p1 in caf-application.conf syntax, with `extra` keys appended.
std::string ini_pool(const std::string& extra = "") {
  return "[pooler]\npools=[{name=\"p1\", init-count=1, max-count=3, "
         "start=\"worker\""
         + (extra.empty() ? std::string{} : ", " + extra) + "}]\n";
}

caf::expected<pool_config> one_ini_pool(const std::string& extra) {
  auto pools = pooler::pools_from_ini(ini_pool(extra));
  if (!pools)
    return std::move(pools.error());
  REQUIRE(pools->size() == 1);
  return std::move(pools->front());
}

// One pool p1 as JSON, with `extra` members merged in.
caf::expected<pool_config> one_json_pool(const nlohmann::json& extra) {
  nlohmann::json j = {
    {"name", "p1"}, {"init-count", 1}, {"max-count", 3}, {"start", "worker"}};
  j.update(extra);
  return pooler::pool_from_json(j);
}

pool_config valid_config() {
  pool_config cfg;
  cfg.name = "p1";
  cfg.init_count = 1;
  cfg.max_count = 3;
  cfg.start = pooler::member_factory::actor_type("worker");
  return cfg;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string sample_path(const char* name) {
  return std::string{POOLER_SOURCE_DIR} + "/config/" + name;
}

caf::behavior worker(caf::event_based_actor*, std::string) {
  return {[](int64_t x) {
    return x;
  }};
}

} // namespace

// -- durations ----------------------------------------------------------------

TEST_CASE("durations parse every unit from text") {
  CHECK(*pooler::parse_duration("10ns") == 10ns);
  CHECK(*pooler::parse_duration("500us") == 500us);
  CHECK(*pooler::parse_duration("120000ms") == 120000ms);
  CHECK(*pooler::parse_duration("120s") == 120s);
  CHECK(*pooler::parse_duration("30sec") == 30s);
  CHECK(*pooler::parse_duration("2min") == 2min);
  CHECK(*pooler::parse_duration("1h") == 1h);
  CHECK(*pooler::parse_duration("0s") == 0s);
}

TEST_CASE("durations parse the pair form") {
  CHECK(*pooler::parse_duration(2, "min") == 2min);
  CHECK(*pooler::parse_duration(1500, "ms") == 1500ms);
  CHECK(*pooler::parse_duration(3, "sec") == 3s);
}

TEST_CASE("durations reject unknown units and name the key") {
  auto res = pooler::parse_duration("5days", "max_age");
  CHECK(invalid(res)
        == "max_age: unknown duration unit \"days\" (expected ns, us, ms, s, "
           "sec, min, h)");
  CHECK(contains(invalid(pooler::parse_duration(5, "m", "cull_interval")),
                 "cull_interval: unknown duration unit \"m\""));
}

TEST_CASE("durations take integers and a unit only") {
  CHECK(contains(invalid(pooler::parse_duration("30")), "missing unit"));
  CHECK(
    contains(invalid(pooler::parse_duration("1.5s")), "fractional duration"));
  for (auto text : {"", "s", "abc", " 5s", "5 s", "+5s", "--5s", "5s "})
    CHECK_MESSAGE(!pooler::parse_duration(text), text);
}

TEST_CASE("durations out of range are rejected") {
  CHECK(contains(invalid(pooler::parse_duration("9999999999999h")),
                 "out of range"));
  CHECK(contains(invalid(pooler::parse_duration("99999999999999999999ns")),
                 "out of range"));
  CHECK(
    contains(invalid(pooler::parse_duration(INT64_MAX, "s")), "out of range"));
  CHECK(*pooler::parse_duration("9223372036854775807ns")
        == caf::timespan{INT64_MAX});
}

TEST_CASE("negative durations parse, and validation rejects them") {
  CHECK(*pooler::parse_duration("-5s") == -5s);
}

TEST_CASE("format_duration uses the largest exact unit and round-trips") {
  CHECK(pooler::format_duration(2min) == "2min");
  CHECK(pooler::format_duration(1500ms) == "1500ms");
  CHECK(pooler::format_duration(3h) == "3h");
  CHECK(pooler::format_duration(0s) == "0s");
  CHECK(pooler::format_duration(-5s) == "-5s");
  CHECK(pooler::format_duration(1001ns) == "1001ns");
  for (auto x : {caf::timespan{1}, caf::timespan{61s}, caf::timespan{90min},
                 caf::timespan{INT64_MAX}, caf::timespan{250us}})
    CHECK(*pooler::parse_duration(pooler::format_duration(x)) == x);
}

// -- member factories and hooks -----------------------------------------------

TEST_CASE("member_factory describes itself and compares") {
  using pooler::member_factory;
  auto a
    = member_factory::actor_type("worker", caf::make_message("a", int64_t{1}));
  CHECK(a.type_name() == "worker");
  CHECK(a.describe() == "worker(\"a\", 1)");
  CHECK(a.same_as(
    member_factory::actor_type("worker", caf::make_message("a", int64_t{1}))));
  CHECK(!a.same_as(
    member_factory::actor_type("worker", caf::make_message("a", int64_t{2}))));
  CHECK(!a.same_as(member_factory::actor_type("other")));
  auto f = member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> {
      return caf::sec::invalid_argument;
    });
  CHECK(f.describe() == "<function>");
  CHECK(f.same_as(f));
  CHECK(!f.same_as(member_factory::function(
    [](caf::actor_system&) -> caf::expected<caf::actor> {
      return caf::sec::invalid_argument;
    })));
  CHECK(!f.same_as(a));
  CHECK(!member_factory{});
  CHECK(member_factory{}.describe() == "<unset>");
}

TEST_CASE("member_factory spawns registered types and reports failures") {
  caf::actor_system_config cfg;
  cfg.add_actor_type("worker", worker);
  caf::actor_system sys{cfg};
  using pooler::member_factory;
  auto ok = member_factory::actor_type("worker", caf::make_message("w"));
  CHECK(ok.spawn(sys));
  auto unknown = member_factory::actor_type("nope").spawn(sys);
  REQUIRE(!unknown);
  CHECK(unknown.error() == caf::sec::unknown_type);
  auto bad_args
    = member_factory::actor_type("worker", caf::make_message(int64_t{1}))
        .spawn(sys);
  REQUIRE(!bad_args);
  CHECK(bad_args.error() == caf::sec::cannot_spawn_actor_from_arguments);
  auto unset = member_factory{}.spawn(sys);
  REQUIRE(!unset);
  CHECK(unset.error() == errc::start_failed);
  auto throwing = member_factory::function([](caf::actor_system&)
                                             -> caf::expected<caf::actor> {
                    throw std::runtime_error("boom");
                  }).spawn(sys);
  REQUIRE(!throwing);
  CHECK(throwing.error() == errc::start_failed);
  CHECK(pooler::error_detail(throwing.error()) == "boom");
}

TEST_CASE("member_hook holds a message or a callable") {
  using pooler::member_hook;
  CHECK(!member_hook{});
  auto m = member_hook::message(caf::make_message(caf::atom("ping")));
  CHECK(m);
  CHECK(m.is_message());
  CHECK(m.fn() == nullptr);
  auto f = member_hook::function(
    [](caf::actor_system&, const caf::actor&) -> caf::expected<void> {
      return {};
    });
  CHECK(f);
  CHECK(!f.is_message());
  CHECK(f.fn() != nullptr);
}

TEST_CASE("member_order renders as lifo and fifo") {
  CHECK(pooler::to_string(pooler::member_order::lifo) == "lifo");
  CHECK(pooler::to_string(pooler::member_order::fifo) == "fifo");
}

// -- validate(pool_config) ----------------------------------------------------

TEST_CASE("validate accepts a valid config") {
  CHECK(pooler::validate(valid_config()));
}

TEST_CASE("validate rejects an empty name") {
  auto cfg = valid_config();
  cfg.name.clear();
  CHECK(invalid(pooler::validate(cfg)) == "name: must not be empty");
}

TEST_CASE("validate rejects a missing member factory") {
  auto cfg = valid_config();
  cfg.start = {};
  CHECK(invalid(pooler::validate(cfg))
        == "start: required (no member factory set)");
}

TEST_CASE("validate rejects max_count 0") {
  auto cfg = valid_config();
  cfg.init_count = 0;
  cfg.max_count = 0;
  CHECK(invalid(pooler::validate(cfg)) == "max_count: must be at least 1");
}

TEST_CASE("validate rejects init_count > max_count") {
  auto cfg = valid_config();
  cfg.init_count = 5;
  cfg.max_count = 3;
  auto res = pooler::validate(cfg);
  CHECK(invalid(res) == "max_count: init_count (5) > max_count (3)");
  CHECK(subject(res) == "p1");
  CHECK(pooler::render_error(res.error().code(), res.error().category(),
                             res.error().context())
        == "pooler_error(invalid_config, \"p1\": max_count: init_count (5) > "
           "max_count (3))");
}

TEST_CASE("validate rejects a non-positive member_start_timeout") {
  auto cfg = valid_config();
  cfg.member_start_timeout = 0s;
  CHECK(invalid(pooler::validate(cfg))
        == "member_start_timeout: must be positive, got 0s");
}

TEST_CASE("validate rejects negative durations") {
  auto cfg = valid_config();
  cfg.cull_interval = -1s;
  CHECK(invalid(pooler::validate(cfg))
        == "cull_interval: must not be negative, got -1s");
  cfg = valid_config();
  cfg.max_age = -1ms;
  CHECK(invalid(pooler::validate(cfg))
        == "max_age: must not be negative, got -1ms");
  cfg = valid_config();
  cfg.max_lifetime_jitter = -1ms;
  CHECK(contains(invalid(pooler::validate(cfg)), "max_lifetime_jitter: "));
}

TEST_CASE("validate accepts cull_interval 0 (culling off)") {
  auto cfg = valid_config();
  cfg.cull_interval = 0s;
  CHECK(pooler::validate(cfg));
}

TEST_CASE("validate rejects max_lifetime_jitter >= max_lifetime") {
  auto cfg = valid_config();
  cfg.max_lifetime = 10s;
  cfg.max_lifetime_jitter = 10s;
  CHECK(invalid(pooler::validate(cfg))
        == "max_lifetime_jitter: 10s must be less than max_lifetime (10s)");
  cfg.max_lifetime_jitter = 9s;
  CHECK(pooler::validate(cfg));
}

TEST_CASE("validate rejects max_lifetime_jitter without max_lifetime") {
  auto cfg = valid_config();
  cfg.max_lifetime_jitter = 1s;
  CHECK(invalid(pooler::validate(cfg))
        == "max_lifetime_jitter: requires max_lifetime");
}

TEST_CASE("validate rejects a non-positive max_lifetime") {
  auto cfg = valid_config();
  cfg.max_lifetime = 0s;
  CHECK(invalid(pooler::validate(cfg))
        == "max_lifetime: must be positive, got 0s");
}

TEST_CASE("validate rejects start_backoff initial > max or initial <= 0") {
  auto cfg = valid_config();
  cfg.start_backoff = {1min, 30s};
  CHECK(invalid(pooler::validate(cfg))
        == "start_backoff: initial (1min) > max (30s)");
  cfg.start_backoff = {0s, 30s};
  CHECK(invalid(pooler::validate(cfg))
        == "start_backoff: initial must be positive, got 0s");
}

TEST_CASE("validate rejects an invalid member_order value") {
  auto cfg = valid_config();
  cfg.member_order = static_cast<pooler::member_order>(7);
  CHECK(invalid(pooler::validate(cfg)) == "member_order: invalid value 7");
}

TEST_CASE("validate rejects a non-positive member_shutdown") {
  auto cfg = valid_config();
  cfg.member_shutdown = 0s;
  CHECK(contains(invalid(pooler::validate(cfg)),
                 "member_shutdown: must be positive, got 0s"));
}

TEST_CASE("validate rejects a health check without a valid interval") {
  auto cfg = valid_config();
  cfg.health_check = pooler::member_hook::message(caf::make_message(1));
  CHECK(invalid(pooler::validate(cfg))
        == "health_check: requires health_check_interval");
  cfg.health_check_interval = 0s;
  CHECK(invalid(pooler::validate(cfg))
        == "health_check_interval: must be positive, got 0s");
  cfg.health_check_interval = 5s;
  CHECK(pooler::validate(cfg));
}

TEST_CASE("validate with the system config rejects unknown types and sinks") {
  caf::actor_system_config sys_cfg;
  sys_cfg.add_actor_type("worker", worker);
  auto cfg = valid_config();
  CHECK(pooler::validate(cfg, sys_cfg));
  cfg.start = pooler::member_factory::actor_type("nope");
  CHECK(invalid(pooler::validate(cfg, sys_cfg))
        == "start: unknown actor type \"nope\" (not added with "
           "add_actor_type)");
  cfg = valid_config();
  cfg.metrics = "no_such_sink";
  CHECK(invalid(pooler::validate(cfg, sys_cfg))
        == "metrics: no sink registered as \"no_such_sink\"");
  pooler::register_metrics_sink("no_such_sink",
                                std::make_shared<pooler::memory_sink>());
  CHECK(pooler::validate(cfg, sys_cfg));
  pooler::register_metrics_sink("no_such_sink", nullptr);
  cfg.sink = std::make_shared<pooler::memory_sink>();
  CHECK(pooler::validate(cfg, sys_cfg));
}

// -- caf-application.conf (INI) -----------------------------------------------

TEST_CASE("the sample config file loads with every key") {
  auto pools
    = pooler::pools_from_ini(read_file(sample_path("pooler-sample.conf")));
  REQUIRE_MESSAGE(pools, invalid(pools));
  REQUIRE(pools->size() == 2);
  auto& a = (*pools)[0];
  CHECK(a.name == "rc8081");
  CHECK(a.init_count == 2);
  CHECK(a.max_count == 5);
  CHECK(a.start.describe() == "riak_client(\"localhost\", 8081)");
  CHECK(a.start.args().match_elements<std::string, int64_t>());
  CHECK(a.group == "riak");
  CHECK(a.cull_interval == 1min);
  CHECK(a.max_age == 30s);
  CHECK(a.member_start_timeout == 1min);
  CHECK(a.queue_max == 50);
  CHECK(a.auto_grow_threshold == size_t{1});
  REQUIRE(a.initialize.is_message());
  REQUIRE(a.initialize.msg().match_elements<caf::atom_value>());
  CHECK(a.initialize.msg().get_as<caf::atom_value>(0) == caf::atom("ping"));
  REQUIRE(a.stop.is_message());
  CHECK(a.stop.msg().get_as<caf::atom_value>(0) == caf::atom("stop"));
  CHECK(!a.member_shutdown);
  CHECK(a.max_lifetime == caf::timespan{1h});
  CHECK(a.max_lifetime_jitter == 5min);
  CHECK(a.member_order == pooler::member_order::lifo);
  CHECK(a.start_backoff.initial == 100ms);
  CHECK(a.start_backoff.max == 30s);
  CHECK(a.metrics == "prom");
  CHECK(a.health_check_interval == caf::timespan{10s});
  REQUIRE(a.health_check.is_message());
  CHECK(a.health_check.msg().get_as<caf::atom_value>(0) == caf::atom("ping"));
  auto& b = (*pools)[1];
  CHECK(b.name == "pg_db1");
  CHECK(b.init_count == 2);
  CHECK(b.max_count == 10);
  CHECK(b.start.describe() == "pg_conn(\"host=localhost dbname=base\")");
  CHECK(b.cull_interval == 2min);
  CHECK(b.max_age == 30s);
  CHECK(b.member_order == pooler::member_order::fifo);
  // defaults
  CHECK(b.group.empty());
  CHECK(b.member_start_timeout == 1min);
  CHECK(b.queue_max == 50);
  CHECK(!b.auto_grow_threshold);
  CHECK(!b.initialize);
  CHECK(!b.stop);
  CHECK(!b.member_shutdown);
  CHECK(!b.max_lifetime);
  CHECK(b.max_lifetime_jitter == 0s);
  CHECK(b.start_backoff.initial == 100ms);
  CHECK(b.start_backoff.max == 30s);
  CHECK(b.metrics.empty());
  CHECK(!b.health_check_interval);
  CHECK(!b.health_check);
}

TEST_CASE("the JSON sample holds the same pools as the INI sample") {
  auto ini
    = pooler::pools_from_ini(read_file(sample_path("pooler-sample.conf")));
  auto json = pooler::pools_from_json(
    std::string_view{read_file(sample_path("pools.json"))});
  REQUIRE_MESSAGE(ini, invalid(ini));
  REQUIRE_MESSAGE(json, invalid(json));
  REQUIRE(ini->size() == json->size());
  for (size_t i = 0; i < ini->size(); ++i) {
    auto& x = (*ini)[i];
    auto& y = (*json)[i];
    CAPTURE(x.name);
    CHECK(x.name == y.name);
    CHECK(x.init_count == y.init_count);
    CHECK(x.max_count == y.max_count);
    CHECK(x.start.same_as(y.start));
    CHECK(x.group == y.group);
    CHECK(x.cull_interval == y.cull_interval);
    CHECK(x.max_age == y.max_age);
    CHECK(x.member_start_timeout == y.member_start_timeout);
    CHECK(x.queue_max == y.queue_max);
    CHECK(x.auto_grow_threshold == y.auto_grow_threshold);
    CHECK(caf::to_string(x.initialize.msg())
          == caf::to_string(y.initialize.msg()));
    CHECK(caf::to_string(x.stop.msg()) == caf::to_string(y.stop.msg()));
    CHECK(x.member_shutdown == y.member_shutdown);
    CHECK(x.max_lifetime == y.max_lifetime);
    CHECK(x.max_lifetime_jitter == y.max_lifetime_jitter);
    CHECK(x.member_order == y.member_order);
    CHECK(x.start_backoff.initial == y.start_backoff.initial);
    CHECK(x.start_backoff.max == y.start_backoff.max);
    CHECK(x.metrics == y.metrics);
    CHECK(x.health_check_interval == y.health_check_interval);
    CHECK(caf::to_string(x.health_check.msg())
          == caf::to_string(y.health_check.msg()));
  }
}

TEST_CASE("no pooler.pools key means no pools") {
  for (auto text : {"", "[pooler]\n", "[caf]\nx=1\n", "[pool]\nx=1\n"}) {
    auto pools = pooler::pools_from_ini(text);
    REQUIRE(pools);
    CHECK(pools->empty());
  }
}

TEST_CASE("pooler.pools must be a list") {
  auto res = pooler::pools_from_ini("[pooler]\npools={name=\"p1\"}\n");
  CHECK(invalid(res)
        == "pooler.pools: expected a list of dictionaries, got a dictionary");
  CHECK(subject(res) == "pooler.pools");
  CHECK(contains(invalid(pooler::pools_from_ini("[pooler]\npools=5\n")),
                 "pooler.pools: expected a list"));
}

TEST_CASE("elements that are not dictionaries are rejected") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"p1\", init-count=1, max-count=1, "
    "start=\"w\"}, 5]\n");
  CHECK(invalid(res) == "pools[1]: expected a dictionary, got 5");
  CHECK(subject(res) == "pools[1]");
}

TEST_CASE("missing required keys are rejected") {
  auto text = [](const std::string& keys) {
    return "[pooler]\npools=[{" + keys + "}]\n";
  };
  auto res
    = pooler::pools_from_ini(text("init-count=1, max-count=1, start=\"w\""));
  CHECK(invalid(res) == "pools[0]: name: required key missing");
  CHECK(subject(res) == "pools[0]");
  res = pooler::pools_from_ini(text("name=\"p\", max-count=1, start=\"w\""));
  CHECK(invalid(res) == "pools[0]: init-count: required key missing");
  CHECK(subject(res) == "p");
  CHECK(invalid(
          pooler::pools_from_ini(text("name=\"p\", init-count=1, start=\"w\"")))
        == "pools[0]: max-count: required key missing");
  CHECK(invalid(
          pooler::pools_from_ini(text("name=\"p\", init-count=1, max-count=1")))
        == "pools[0]: start: required key missing");
}

TEST_CASE("unknown keys are rejected and named") {
  auto res = one_ini_pool("bogus=1");
  CHECK(invalid(res) == "pools[0]: unknown key \"bogus\"");
  CHECK(subject(res) == "p1");
  CHECK(invalid(one_ini_pool("queue_max=1"))
        == "pools[0]: unknown key \"queue_max\" (did you mean "
           "\"queue-max\"?)");
}

TEST_CASE("counts must be non-negative integers") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"p0\", init-count=0, max-count=1, start=\"w\"},"
    "{name=\"p1\", init-count=\"x\", max-count=1, start=\"w\"}]\n");
  CHECK(invalid(res)
        == "pools[1]: init-count: expected a non-negative integer, got \"x\"");
  CHECK(subject(res) == "p1");
  for (auto key :
       {"init-count", "max-count", "queue-max", "auto-grow-threshold"}) {
    CAPTURE(key);
    auto text = "[pooler]\npools=[{name=\"p1\", init-count=1, max-count=3, "
                "start=\"w\", "
                + std::string{key} + "=";
    auto prefix = "pools[0]: " + std::string{key}
                  + ": expected a non-negative integer, got ";
    CHECK(invalid(pooler::pools_from_ini(text + "-1}]")) == prefix + "-1");
    CHECK(invalid(pooler::pools_from_ini(text + "1.5}]")) == prefix + "1.5");
    CHECK(invalid(pooler::pools_from_ini(text + "true}]")) == prefix + "true");
    CHECK(invalid(pooler::pools_from_ini(text + "[1]}]"))
          == prefix + "a list of 1 element(s)");
  }
}

TEST_CASE("max-count 0 is rejected") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"p1\", init-count=0, max-count=0, "
    "start=\"w\"}]\n");
  CHECK(invalid(res) == "pools[0]: max-count: must be at least 1");
}

TEST_CASE("init-count > max-count is rejected") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"p1\", init-count=5, max-count=3, "
    "start=\"w\"}]\n");
  CHECK(invalid(res) == "pools[0]: max-count: init-count (5) > max-count (3)");
  CHECK(subject(res) == "p1");
}

TEST_CASE("strings must be strings") {
  CHECK(invalid(one_ini_pool("group=1"))
        == "pools[0]: group: expected a string, got 1");
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name='p1', init-count=1, max-count=1, start=\"w\"}]\n");
  CHECK(invalid(res)
        == "pools[0]: name: expected a string in double quotes, got 'p1'");
  CHECK(subject(res) == "pools[0]");
  CHECK(invalid(pooler::pools_from_ini(
          "[pooler]\npools=[{name=\"\", init-count=1, max-count=1, "
          "start=\"w\"}]\n"))
        == "pools[0]: name: must not be empty");
  CHECK(invalid(pooler::pools_from_ini(
          "[pooler]\npools=[{name=\"p1\", init-count=1, max-count=1, "
          "start=\"\"}]\n"))
        == "pools[0]: start: must not be empty");
  CHECK(invalid(one_ini_pool("metrics=['m']"))
        == "pools[0]: metrics: expected a string, got a list of 1 element(s)");
}

TEST_CASE("INI durations accept every form") {
  for (auto value : {"30s", "\"30s\"", "\"30sec\"", "[30, \"s\"]", "[30, 's']",
                     "30000ms", "\"30000000us\""}) {
    CAPTURE(value);
    auto pool = one_ini_pool(std::string{"max-age="} + value);
    REQUIRE_MESSAGE(pool, invalid(pool));
    CHECK(pool->max_age == 30s);
  }
  auto pool = one_ini_pool("cull-interval=0s, member-start-timeout=250ms");
  REQUIRE(pool);
  CHECK(pool->cull_interval == 0s);
  CHECK(pool->member_start_timeout == 250ms);
}

TEST_CASE("INI durations without a unit are rejected") {
  CHECK(invalid(one_ini_pool("max-age=30"))
        == "pools[0]: max-age: expected a duration such as 30s, \"30s\" or "
           "[30, \"s\"], got 30");
  CHECK(contains(invalid(one_ini_pool("max-age=\"30\"")),
                 "pools[0]: max-age: missing unit"));
  CHECK(contains(invalid(one_ini_pool("max-age=[30]")),
                 "pools[0]: max-age: expected a duration"));
}

TEST_CASE("unknown duration units are rejected") {
  CHECK(invalid(one_ini_pool("max-age=\"5days\""))
        == "pools[0]: max-age: unknown duration unit \"days\" (expected ns, "
           "us, ms, s, sec, min, h)");
  CHECK(contains(invalid(one_ini_pool("cull-interval=[5, \"days\"]")),
                 "pools[0]: cull-interval: unknown duration unit \"days\""));
}

TEST_CASE("fractional durations fail the whole INI parse with a hint") {
  auto res = pooler::pools_from_ini(ini_pool("max-age=1.5s"));
  CHECK(contains(invalid(res), "parse error at line 2"));
  CHECK(contains(invalid(res), "fractional_timespan"));
  CHECK(contains(invalid(res), "1500ms"));
  CHECK(subject(res) == "ini");
}

TEST_CASE("negative durations are rejected") {
  CHECK(invalid(one_ini_pool("cull-interval=\"-5s\""))
        == "pools[0]: cull-interval: must not be negative, got -5s");
  CHECK(contains(invalid(one_ini_pool("max-age=[-1, \"ms\"]")),
                 "pools[0]: max-age: must not be negative"));
}

TEST_CASE("member-start-timeout must be positive") {
  CHECK(invalid(one_ini_pool("member-start-timeout=0s"))
        == "pools[0]: member-start-timeout: must be positive, got 0s");
}

TEST_CASE("max-lifetime-jitter must be below max-lifetime") {
  auto pool = one_ini_pool("max-lifetime=10min, max-lifetime-jitter=1min");
  REQUIRE(pool);
  CHECK(pool->max_lifetime == caf::timespan{10min});
  CHECK(pool->max_lifetime_jitter == 1min);
  CHECK(invalid(one_ini_pool("max-lifetime=1min, max-lifetime-jitter=1min"))
        == "pools[0]: max-lifetime-jitter: 1min must be less than "
           "max-lifetime (1min)");
  CHECK(invalid(one_ini_pool("max-lifetime-jitter=1min"))
        == "pools[0]: max-lifetime-jitter: requires max-lifetime");
}

TEST_CASE("start-backoff accepts a list or a dictionary") {
  auto pool = one_ini_pool("start-backoff=[1s, 1min]");
  REQUIRE(pool);
  CHECK(pool->start_backoff.initial == 1s);
  CHECK(pool->start_backoff.max == 1min);
  pool = one_ini_pool("start-backoff={initial=[2, \"s\"], max=\"2min\"}");
  REQUIRE(pool);
  CHECK(pool->start_backoff.initial == 2s);
  CHECK(pool->start_backoff.max == 2min);
  pool = one_ini_pool("start-backoff={initial=200ms}");
  REQUIRE(pool);
  CHECK(pool->start_backoff.initial == 200ms);
  CHECK(pool->start_backoff.max == 30s);
}

TEST_CASE("start-backoff rejects initial > max, initial <= 0, bad shapes") {
  CHECK(invalid(one_ini_pool("start-backoff=[1min, 1s]"))
        == "pools[0]: start-backoff: initial (1min) > max (1s)");
  CHECK(invalid(one_ini_pool("start-backoff=[0s, 1s]"))
        == "pools[0]: start-backoff: initial must be positive, got 0s");
  CHECK(contains(invalid(one_ini_pool("start-backoff=[1s]")),
                 "pools[0]: start-backoff: expected [initial, max]"));
  CHECK(contains(invalid(one_ini_pool("start-backoff=[2, \"min\"]")),
                 "pools[0]: start-backoff: initial: expected a duration"));
  CHECK(invalid(one_ini_pool("start-backoff={initial=1s, maximum=2s}"))
        == "pools[0]: start-backoff: unknown key \"maximum\" (expected "
           "initial, max)");
}

TEST_CASE("member-order is lifo or fifo") {
  auto fifo = one_ini_pool("member-order=\"fifo\"");
  REQUIRE(fifo);
  CHECK(fifo->member_order == pooler::member_order::fifo);
  auto lifo = one_ini_pool("member-order='lifo'");
  REQUIRE(lifo);
  CHECK(lifo->member_order == pooler::member_order::lifo);
  CHECK(invalid(one_ini_pool("member-order=\"random\""))
        == "pools[0]: member-order: expected \"lifo\" or \"fifo\", got "
           "\"random\"");
}

TEST_CASE("member-shutdown is brutal_kill or a positive duration") {
  auto pool = one_ini_pool("member-shutdown=\"brutal_kill\"");
  REQUIRE(pool);
  CHECK(!pool->member_shutdown);
  pool = one_ini_pool("member-shutdown=5s");
  REQUIRE(pool);
  CHECK(pool->member_shutdown == caf::timespan{5s});
  CHECK(contains(invalid(one_ini_pool("member-shutdown=\"infinity\"")),
                 "pools[0]: member-shutdown: expected \"brutal_kill\" or a "
                 "duration"));
  CHECK(contains(invalid(one_ini_pool("member-shutdown=0s")),
                 "pools[0]: member-shutdown: must be positive"));
}

TEST_CASE("hooks become messages") {
  auto pool = one_ini_pool("initialize=['ping', 1], stop='stop'");
  REQUIRE(pool);
  REQUIRE(pool->initialize.msg().match_elements<caf::atom_value, int64_t>());
  CHECK(pool->initialize.msg().get_as<caf::atom_value>(0) == caf::atom("ping"));
  CHECK(pool->initialize.msg().get_as<int64_t>(1) == 1);
  REQUIRE(pool->stop.msg().match_elements<caf::atom_value>());
  CHECK(pool->stop.msg().get_as<caf::atom_value>(0) == caf::atom("stop"));
  CHECK(invalid(one_ini_pool("initialize=[]"))
        == "pools[0]: initialize: expected a non-empty list of message "
           "elements");
  CHECK(contains(invalid(one_ini_pool("stop=[{a=1}]")),
                 "pools[0]: stop: element 0: unsupported value a dictionary"));
}

TEST_CASE("health-check needs health-check-interval") {
  auto pool = one_ini_pool("health-check-interval=5s, health-check=['ping']");
  REQUIRE(pool);
  CHECK(pool->health_check_interval == caf::timespan{5s});
  CHECK(invalid(one_ini_pool("health-check=['ping']"))
        == "pools[0]: health-check: requires health-check-interval");
  CHECK(invalid(one_ini_pool("health-check-interval=0s"))
        == "pools[0]: health-check-interval: must be positive, got 0s");
}

TEST_CASE("args convert element-wise into the message") {
  auto pool = one_ini_pool("args=[\"s\", 1, 2.5, true, 'atom', 5s, "
                           "[\"a\", \"b\"], [1, 2], [1.5]]");
  REQUIRE_MESSAGE(pool, invalid(pool));
  auto& args = pool->start.args();
  CHECK(args.match_elements<std::string, int64_t, double, bool, caf::atom_value,
                            caf::timespan, std::vector<std::string>,
                            std::vector<int64_t>, std::vector<double>>());
  CHECK(args.get_as<std::string>(0) == "s");
  CHECK(args.get_as<int64_t>(1) == 1);
  CHECK(args.get_as<double>(2) == 2.5);
  CHECK(args.get_as<caf::timespan>(5) == 5s);
  CHECK(args.get_as<std::vector<std::string>>(6)
        == std::vector<std::string>{"a", "b"});
  pool = one_ini_pool("args=\"single\"");
  REQUIRE(pool);
  CHECK(pool->start.args().match_elements<std::string>());
  pool = one_ini_pool("args=[]");
  REQUIRE(pool);
  CHECK(pool->start.args().empty());
}

TEST_CASE("args of unsupported types are rejected") {
  CHECK(contains(invalid(one_ini_pool("args=[{a=1}]")),
                 "pools[0]: args: element 0: unsupported value a dictionary"));
  CHECK(contains(invalid(one_ini_pool("args=[1, [1, \"a\"]]")),
                 "pools[0]: args: element 1: unsupported value a list"));
  CHECK(contains(invalid(one_ini_pool("args=[[]]")),
                 "pools[0]: args: element 0: unsupported value"));
}

TEST_CASE("duplicate pool names are rejected naming both indices") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"a\", init-count=0, max-count=1, start=\"w\"},"
    "{name=\"b\", init-count=0, max-count=1, start=\"w\"},"
    "{name=\"a\", init-count=0, max-count=1, start=\"w\"}]\n");
  CHECK(invalid(res)
        == "pools[2]: name: duplicate pool name \"a\" (also pools[0])");
  CHECK(subject(res) == "a");
}

TEST_CASE("INI parse errors carry the position") {
  auto res = pooler::pools_from_ini("[pooler]\nx==1\n");
  CHECK(contains(invalid(res), "parse error at line 2, column"));
  CHECK(subject(res) == "ini");
  CHECK(contains(invalid(pooler::pools_from_ini("[pooler]\n# comment\n")),
                 "comments start with ';', not '#'"));
}

TEST_CASE("truncated INI text is rejected") {
  // CAF 0.17.6 itself accepts these and returns an empty config.
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[{name=\"a\""))
        == "parse error at line 2, column 8 in pooler.pools[0]: '{' is never "
           "closed (end of input)");
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[{name=\"a"))
        == "parse error at line 2, column 14 in pooler.pools[0].name: string "
           "is never closed (end of input)");
  CHECK(contains(invalid(pooler::pools_from_ini("[pooler")), "never closed"));
  CHECK(contains(invalid(pooler::pools_from_ini("[pooler]\nx=[1}\n")),
                 "'}' does not close '['"));
  CHECK(contains(invalid(pooler::pools_from_ini(std::string{"x=1\0", 4})),
                 "NUL character"));
}

TEST_CASE("deeply nested INI text is rejected without crashing") {
  // 100k levels overflow the stack of CAF's recursive parser.
  std::string deep = "[pooler]\npools=" + std::string(100000, '[')
                     + std::string(100000, ']') + "\n";
  CHECK(contains(invalid(pooler::pools_from_ini(deep)),
                 "nesting deeper than 32 levels"));
}

TEST_CASE("pools_from_config reads an actor system's config") {
  caf::actor_system_config cfg;
  cfg.add_actor_type("worker", worker);
  std::istringstream ini{ini_pool("args=[\"w\"]")};
  REQUIRE(!cfg.parse(caf::actor_system_config::string_list{}, ini));
  auto pools = pooler::pools_from_config(cfg);
  REQUIRE_MESSAGE(pools, invalid(pools));
  REQUIRE(pools->size() == 1);
  caf::actor_system sys{cfg};
  CHECK((*pools)[0].start.spawn(sys));
}

TEST_CASE("pools_from_config rejects an unknown member type") {
  caf::actor_system_config cfg;
  std::istringstream ini{ini_pool()};
  REQUIRE(!cfg.parse(caf::actor_system_config::string_list{}, ini));
  auto res = pooler::pools_from_config(cfg);
  CHECK(invalid(res)
        == "pools[0]: start: unknown actor type \"worker\" (not added with "
           "add_actor_type)");
  CHECK(subject(res) == "p1");
}

TEST_CASE("pools_from_settings and pool_from_config_value read values") {
  std::istringstream ini{ini_pool()};
  auto settings = caf::actor_system_config::parse_config(ini);
  REQUIRE(settings);
  auto pools = pooler::pools_from_settings(*settings);
  REQUIRE(pools);
  CHECK(pools->size() == 1);
  caf::config_value::dictionary d;
  d.emplace("name", caf::config_value{"p9"});
  d.emplace("init-count", caf::config_value{int64_t{0}});
  d.emplace("max-count", caf::config_value{int64_t{2}});
  d.emplace("start", caf::config_value{"w"});
  auto pool = pooler::pool_from_config_value(caf::config_value{d}, 4);
  REQUIRE(pool);
  CHECK(pool->name == "p9");
  auto bad = pooler::pool_from_config_value(caf::config_value{int64_t{1}}, 4);
  CHECK(invalid(bad) == "pools[4]: expected a dictionary, got 1");
}

// -- JSON ---------------------------------------------------------------------

TEST_CASE("JSON accepts dashes and underscores in keys") {
  auto pool = one_json_pool({{"queue_max", 7}, {"auto-grow-threshold", 2}});
  REQUIRE_MESSAGE(pool, invalid(pool));
  CHECK(pool->queue_max == 7);
  CHECK(pool->auto_grow_threshold == size_t{2});
  CHECK(invalid(one_json_pool({{"queue_max", 7}, {"queue-max", 8}}))
        == "pools[0]: queue_max: duplicate key (also given as "
           "\"queue-max\")");
}

TEST_CASE("JSON durations: text, pair form, or integer milliseconds") {
  auto pool = one_json_pool(
    {{"max-age", 1500},
     {"cull_interval", "2min"},
     {"member-start-timeout", nlohmann::json::array({5, "s"})}});
  REQUIRE_MESSAGE(pool, invalid(pool));
  CHECK(pool->max_age == 1500ms);
  CHECK(pool->cull_interval == 2min);
  CHECK(pool->member_start_timeout == 5s);
  CHECK(contains(invalid(one_json_pool({{"max-age", 1.5}})),
                 "pools[0]: max-age: expected a duration such as \"30s\""));
  CHECK(contains(invalid(one_json_pool({{"max-age", INT64_MAX}})),
                 "pools[0]: max-age: 9223372036854775807 ms is out of range"));
  CHECK(contains(invalid(one_json_pool({{"max-age", "5 days"}})),
                 "pools[0]: max-age: unknown duration unit"));
}

TEST_CASE("JSON strings in single quotes are atoms") {
  auto pool
    = one_json_pool({{"initialize", nlohmann::json::array({"'ping'", "text"})},
                     {"args", nlohmann::json::array({"'a'", 1, true, 2.5})}});
  REQUIRE_MESSAGE(pool, invalid(pool));
  REQUIRE(
    pool->initialize.msg().match_elements<caf::atom_value, std::string>());
  CHECK(pool->initialize.msg().get_as<caf::atom_value>(0) == caf::atom("ping"));
  CHECK(pool->start.args()
          .match_elements<caf::atom_value, int64_t, bool, double>());
  CHECK(contains(invalid(one_json_pool({{"stop", "'much_too_long'"}})),
                 "longer than 10 characters"));
}

TEST_CASE("JSON counts reject null, negatives, reals and huge numbers") {
  CHECK(invalid(one_json_pool({{"init-count", -1}}))
        == "pools[0]: init-count: expected a non-negative integer, got -1");
  CHECK(contains(invalid(one_json_pool({{"init-count", nullptr}})),
                 "pools[0]: init-count: unsupported JSON value null"));
  CHECK(contains(invalid(one_json_pool({{"max-count", 2.0}})),
                 "pools[0]: max-count: expected a non-negative integer"));
  CHECK(contains(invalid(one_json_pool({{"max-count", UINT64_MAX}})),
                 "pools[0]: max-count: expected a non-negative integer"));
  auto huge = pooler::pools_from_json(std::string_view{
    R"([{"name":"p","init-count":1e999,"max-count":1,"start":"w"}])"});
  CHECK_MESSAGE(contains(invalid(huge), "number overflow"), invalid(huge));
}

TEST_CASE("JSON unknown keys and non-objects are rejected") {
  CHECK(invalid(one_json_pool({{"bogus", 1}}))
        == "pools[0]: unknown key \"bogus\"");
  auto res = pooler::pools_from_json(nlohmann::json::parse(
    R"([{"name":"a","init-count":0,"max-count":1,"start":"w"}, 5])"));
  CHECK(invalid(res) == "pools[1]: expected an object, got number");
  CHECK(subject(res) == "pools[1]");
}

TEST_CASE("JSON documents: an array, or an object with pools") {
  auto pool_json = R"({"name":"a","init-count":0,"max-count":1,"start":"w"})";
  auto arr = pooler::pools_from_json(
    std::string_view{std::string{"["} + pool_json + "]"});
  REQUIRE(arr);
  CHECK(arr->size() == 1);
  auto obj = pooler::pools_from_json(
    std::string_view{std::string{"{\"pools\": ["} + pool_json + "]}"});
  REQUIRE(obj);
  CHECK(obj->size() == 1);
  auto empty = pooler::pools_from_json(std::string_view{"{}"});
  REQUIRE(empty);
  CHECK(empty->empty());
  CHECK(invalid(pooler::pools_from_json(std::string_view{R"({"pool": []})"}))
        == "unknown key \"pool\" (expected \"pools\")");
  CHECK(invalid(pooler::pools_from_json(std::string_view{R"({"pools": 1})"}))
        == "pools: expected an array of objects, got number");
  CHECK(contains(invalid(pooler::pools_from_json(std::string_view{"42"})),
                 "expected an object with \"pools\" or an array"));
}

TEST_CASE("JSON duplicate pool names are rejected") {
  auto res = pooler::pools_from_json(nlohmann::json::parse(
    R"([{"name":"a","init-count":0,"max-count":1,"start":"w"},
        {"name":"a","init_count":0,"max_count":1,"start":"w"}])"));
  CHECK(invalid(res)
        == "pools[1]: name: duplicate pool name \"a\" (also pools[0])");
}

TEST_CASE("JSON syntax errors carry the position") {
  auto res = pooler::pools_from_json(std::string_view{"{\"pools\": [1,}"});
  CHECK(contains(invalid(res), "parse error"));
  CHECK(contains(invalid(res), "line 1, column"));
  CHECK(subject(res) == "json");
  CHECK(contains(invalid(pooler::pools_from_json(std::string_view{""})),
                 "parse error"));
}

TEST_CASE("deeply nested JSON is rejected without crashing") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(contains(invalid(pooler::pools_from_json(std::string_view{deep})),
                 "nesting deeper than 32 levels"));
  // A deep value built in C++ has no text to pre-check.
  nlohmann::json nested = 1;
  for (int i = 0; i < 100; ++i)
    nested = nlohmann::json::array({nested});
  CHECK(contains(invalid(one_json_pool({{"args", nested}})),
                 "nested deeper than 32 levels"));
}

// -- robustness ---------------------------------------------------------------

TEST_CASE("mutated config text never crashes or throws") {
  // A smoke test of what a fuzzer will do: random edits of the samples.
  auto ini = read_file(sample_path("pooler-sample.conf"));
  auto json = read_file(sample_path("pools.json"));
  std::mt19937 rng{42};
  const std::string alphabet = "[]{}\"';=,-_.0123456789abcxyz \n\\#<>\xff";
  auto mutate = [&](std::string text) {
    auto edits = 1 + rng() % 8;
    for (size_t e = 0; e < edits && !text.empty(); ++e) {
      auto pos = rng() % text.size();
      switch (rng() % 4) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 16); break;
        case 2: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        default: text.resize(pos); break;
      }
    }
    return text;
  };
  size_t ok = 0;
  for (int i = 0; i < 1500; ++i) {
    auto a = mutate(ini);
    auto b = mutate(json);
    CHECK_NOTHROW(ok += pooler::pools_from_ini(a) ? 1 : 0);
    CHECK_NOTHROW(ok += pooler::pools_from_json(std::string_view{b}) ? 1 : 0);
  }
  MESSAGE("mutations that still parsed: " << ok);
}
