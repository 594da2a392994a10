// Errors of config files as a user sees them: the file, line, column and key
// of each mistake, the hints for the common ones, the rules of the [pooler]
// section, and files named on the command line.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/pec.hpp>
#include <caf/sec.hpp>

#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"

#include "invalid_config.hpp"

using pooler::errc;
using test::invalid;

namespace {

bool contains_text(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

template <class T>
std::string subject(const caf::expected<T>& res) {
  return res ? "<no error>" : pooler::error_subject(res.error());
}

// A config file in a directory of its own, removed with the test.
class temp_config {
public:
  explicit temp_config(const std::string& text) {
    dir_ = std::filesystem::temp_directory_path()
           / ("pooler-config-test-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    std::ofstream{path()} << text;
  }

  ~temp_config() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string path() const {
    return (dir_ / "app.conf").string();
  }

  std::string dir() const {
    return dir_.string();
  }

private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

// argv for parse_config: the program name, then `args`.
class command_line {
public:
  explicit command_line(std::vector<std::string> args)
    : args_(std::move(args)) {
    args_.insert(args_.begin(), "prog");
    for (auto& a : args_)
      argv_.push_back(a.data());
  }

  int argc() const {
    return static_cast<int>(argv_.size());
  }

  char** argv() {
    return argv_.data();
  }

private:
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

const char* two_pools
  = "[pooler]\n"
    "pools=[\n"
    "  {name=\"a\", init-count=1, max-count=2, start=\"w\"},\n"
    "  {name=\"b\", init-count=\"x\", max-count=2, start=\"w\"}]\n";

} // namespace

// -- hints for the common mistakes --------------------------------------------

TEST_CASE("a '#' comment gets a hint") {
  CHECK(invalid(pooler::pools_from_ini("[pooler]\n# pools\npools=[]\n"))
        == "parse error at line 2, column 2 in pooler: trailing_character "
           "(comments start with ';', not '#')");
  // After a value CAF stops a column or two later; still a '#' comment.
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[] # none\n"))
        == "parse error at line 2, column 11 in pooler.pools: "
           "trailing_character (comments start with ';', not '#')");
  CHECK(invalid(pooler::pools_from_ini("[pooler] # pools\npools=[]\n"))
        == "parse error at line 1, column 10 in pooler: trailing_character "
           "(comments start with ';', not '#')");
}

TEST_CASE("a '#' inside a string is no comment") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"a#b\", max-age=30secs}]\n");
  CHECK(invalid(res).find("'#'") == std::string::npos);
}

TEST_CASE("a fractional duration gets a hint naming pool and key") {
  auto res = pooler::pools_from_ini(
    "[pooler]\npools=[{name=\"p1\",\n  max-age=1.5s}]\n");
  CHECK(invalid(res)
        == "parse error at line 3, column 15 in pooler.pools[0].max-age (pool "
           "\"p1\"): fractional_timespan (durations take whole numbers: write "
           "1500ms, not 1.5s)");
  CHECK(subject(res) == "ini");
}

TEST_CASE("a misspelled duration unit gets a hint naming pool and key") {
  CHECK(invalid(pooler::pools_from_ini(
          "[pooler]\npools=[{name=\"p1\", max-age=30secs}]\n"))
        == "parse error at line 2, column 32 in pooler.pools[0].max-age (pool "
           "\"p1\"): unexpected_character (unknown duration unit \"secs\" in "
           "30secs: a duration is an integer and one of ns, us, ms, s, min, "
           "h, e.g. 30s)");
  // In a nested dictionary, the whole key path.
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[{name=\"p1\", "
                                       "start-backoff={initial=5days}}]\n"))
        == "parse error at line 2, column 45 in "
           "pooler.pools[0].start-backoff.initial (pool \"p1\"): "
           "unexpected_character (unknown duration unit \"days\" in 5days: a "
           "duration is an integer and one of ns, us, ms, s, min, h, e.g. "
           "30s)");
}

TEST_CASE("a bad value at the end of a line is reported on that line") {
  // CAF reports it at the start of the next line.
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[]\nx=30secs\n"))
        == "parse error at line 3, column 9 in pooler.x: unexpected_newline "
           "(unknown duration unit \"secs\" in 30secs: a duration is an "
           "integer and one of ns, us, ms, s, min, h, e.g. 30s)");
}

TEST_CASE("text without quotes gets a hint") {
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[{name=p1}]\n"))
        == "parse error at line 2, column 15 in pooler.pools[0].name: "
           "unexpected_character (text needs quotes: \"p1\" is a string, 'p1' "
           "an atom)");
}

TEST_CASE("without a hint, the error shows where CAF stopped") {
  CHECK(invalid(pooler::pools_from_ini("[pooler]\nx==1\n"))
        == "parse error at line 2, column 4 in pooler.x: unexpected_character "
           "at '1'");
}

// -- the [pooler] section -----------------------------------------------------

TEST_CASE("an unknown key in [pooler] is an error naming it") {
  auto res = pooler::pools_from_ini("[pooler]\npool=[]\n");
  CHECK(invalid(res) == "pooler.pool: unknown key (did you mean \"pools\"?)");
  CHECK(subject(res) == "pooler.pool");
  CHECK(invalid(pooler::pools_from_ini("[pooler]\npools=[]\nlog-level=1\n"))
        == "pooler.log-level: unknown key ([pooler] takes only \"pools\")");
}

TEST_CASE("a misspelled [pooler] section holding pools is an error") {
  auto res = pooler::pools_from_ini("[poolr]\npools=[]\n");
  CHECK(invalid(res)
        == "poolr: unknown section [poolr] holds pools, and there is no "
           "[pooler] section (did you mean [pooler]?)");
  CHECK(subject(res) == "poolr");
  CHECK(contains_text(invalid(pooler::pools_from_ini("[Pooler]\npools=[]\n")),
                      "did you mean [pooler]?"));
  // With a [pooler] section, or without pools, other sections are the
  // application's own.
  CHECK(pooler::pools_from_ini("[pooler]\npools=[]\n[poolr]\npools=[]\n"));
  CHECK(pooler::pools_from_ini("[poolr]\nx=1\n"));
  CHECK(pooler::pools_from_ini("[scheduler]\nmax-threads=2\n"));
}

// -- files --------------------------------------------------------------------

TEST_CASE("file parse errors start with file:line:column") {
  temp_config file{"[pooler]\npools=[{name=\"p1\", max-age=30secs}]\n"};
  auto res = pooler::pools_from_config_file(file.path());
  CHECK(invalid(res)
        == file.path()
             + ":2:32: parse error in pooler.pools[0].max-age (pool \"p1\"): "
               "unexpected_character (unknown duration unit \"secs\" in "
               "30secs: a duration is an integer and one of ns, us, ms, s, "
               "min, h, e.g. 30s)");
  CHECK(subject(res) == file.path());
  temp_config open{"[pooler]\npools=[{name=\"a\""};
  CHECK(invalid(pooler::pools_from_config_file(open.path()))
        == open.path()
             + ":2:8: parse error in pooler.pools[0]: '{' is never closed "
               "(end of input)");
}

TEST_CASE("file content errors carry the position of the key") {
  temp_config file{two_pools};
  auto res = pooler::pools_from_config_file(file.path());
  CHECK(invalid(res)
        == file.path()
             + ":4:14: pools[1]: init-count: expected a non-negative "
               "integer, got \"x\"");
  CHECK(subject(res) == "b");
  temp_config unknown{"[pooler]\npools=[{name=\"a\", init-count=1,\n"
                      "  max-count=2, start=\"w\", bogus=3}]\n"};
  CHECK(invalid(pooler::pools_from_config_file(unknown.path()))
        == unknown.path() + ":3:27: pools[0]: unknown key \"bogus\"");
  temp_config missing{"[pooler]\npools=[{name=\"a\"}, \n {name=\"b\"}]\n"};
  CHECK(invalid(pooler::pools_from_config_file(missing.path()))
        == missing.path() + ":2:8: pools[0]: init-count: required key missing");
  temp_config section{"[scheduler]\nmax-threads=1\n[pooler]\npool=[]\n"};
  CHECK(invalid(pooler::pools_from_config_file(section.path()))
        == section.path()
             + ":4:1: pooler.pool: unknown key (did you mean \"pools\"?)");
  temp_config poolr{"\n[poolr]\npools=[]\n"};
  CHECK(invalid(pooler::pools_from_config_file(poolr.path()))
        == poolr.path()
             + ":2:1: poolr: unknown section [poolr] holds pools, and there "
               "is no [pooler] section (did you mean [pooler]?)");
}

TEST_CASE("a file that cannot be read is an error naming it") {
  temp_config file{""};
  auto path = file.dir() + "/missing.conf";
  auto res = pooler::pools_from_config_file(path);
  CHECK(invalid(res)
        == path + ": cannot open the config file (No such file or directory)");
  CHECK(subject(res) == path);
  CHECK(invalid(pooler::pools_from_config_file(file.dir()))
        == file.dir() + ": cannot open the config file (Is a directory)");
}

// -- parse_config: the application's command line and file --------------------

TEST_CASE("parse_config reads the default file and its pools") {
  temp_config file{"[scheduler]\nmax-threads=3\n[pooler]\npools=[{name=\"a\", "
                   "init-count=1, max-count=2, start=\"w\"}]\n"};
  caf::actor_system_config cfg;
  command_line cl{{}};
  REQUIRE(!pooler::parse_config(cfg, cl.argc(), cl.argv(),
                                file.path().c_str()));
  CHECK(caf::get_or(cfg, "scheduler.max-threads", size_t{0}) == 3);
  auto pools = pooler::pools_from_settings(caf::content(cfg));
  REQUIRE(pools);
  CHECK(pools->size() == 1);
}

TEST_CASE("parse_config: a missing default file is skipped, as CAF does") {
  temp_config file{""};
  caf::actor_system_config cfg;
  command_line cl{{}};
  auto path = file.dir() + "/missing.conf";
  CHECK(!pooler::parse_config(cfg, cl.argc(), cl.argv(), path.c_str()));
}

TEST_CASE("parse_config: a missing --config-file is an error naming it") {
  temp_config file{""};
  auto path = file.dir() + "/missing.conf";
  caf::actor_system_config cfg;
  command_line cl{{"--config-file=" + path}};
  CHECK(invalid(pooler::parse_config(cfg, cl.argc(), cl.argv(),
                                     file.path().c_str()))
        == path
             + ": cannot open the config file named with --config-file (No "
               "such file or directory)");
}

TEST_CASE("parse_config: --config-file wins over the default file") {
  temp_config good{"[pooler]\npools=[]\n"};
  temp_config bad{"[pooler]\n# no pools\n"};
  caf::actor_system_config cfg;
  command_line cl{{"--config-file=" + bad.path()}};
  CHECK(invalid(pooler::parse_config(cfg, cl.argc(), cl.argv(),
                                     good.path().c_str()))
        == bad.path()
             + ":2:2: parse error in pooler: trailing_character (comments "
               "start with ';', not '#')");
}

TEST_CASE("parse_config: errors of the [pooler] section carry positions") {
  temp_config file{two_pools};
  caf::actor_system_config cfg;
  command_line cl{{}};
  auto err = pooler::parse_config(cfg, cl.argc(), cl.argv(),
                                  file.path().c_str());
  CHECK(invalid(err)
        == file.path()
             + ":4:14: pools[1]: init-count: expected a non-negative "
               "integer, got \"x\"");
  CHECK(pooler::error_subject(err) == "b");
}

TEST_CASE("parse_config: command-line mistakes stay CAF's errors") {
  temp_config file{"[pooler]\npools=[]\n"};
  caf::actor_system_config cfg;
  command_line cl{{"--no-such-option=1"}};
  auto err = pooler::parse_config(cfg, cl.argc(), cl.argv(),
                                  file.path().c_str());
  CHECK(err == caf::pec::not_an_option);
}

TEST_CASE("pools_from_config (app::start) rejects unknown [pooler] keys") {
  // CAF keeps undeclared keys without a word; pooler must not.
  caf::actor_system_config cfg;
  std::istringstream ini{"[pooler]\npool=[]\n"};
  REQUIRE(!cfg.parse(caf::actor_system_config::string_list{}, ini));
  CHECK(invalid(pooler::pools_from_config(cfg))
        == "pooler.pool: unknown key (did you mean \"pools\"?)");
}

TEST_CASE("every error of a mutated config file starts with the file") {
  // Random edits of the sample: whatever goes wrong, the error is
  // invalid_config, names the file first, and nothing throws.
  std::ifstream in{std::string{POOLER_SOURCE_DIR}
                   + "/config/pooler-sample.conf"};
  REQUIRE(in.good());
  std::string sample{std::istreambuf_iterator<char>{in}, {}};
  std::mt19937 rng{7};
  const std::string alphabet = "[]{}\"';=,-_.0123456789abcxyz \n\\#<>";
  temp_config file{""};
  size_t failed = 0;
  for (int i = 0; i < 300; ++i) {
    auto text = sample;
    for (auto edits = 1 + rng() % 4; edits > 0 && !text.empty(); --edits) {
      auto pos = rng() % text.size();
      if (rng() % 2 == 0)
        text[pos] = alphabet[rng() % alphabet.size()];
      else
        text.erase(pos, 1 + rng() % 8);
    }
    std::ofstream{file.path(), std::ios::trunc} << text;
    caf::expected<std::vector<pooler::pool_config>> res{caf::none};
    CHECK_NOTHROW(res = pooler::pools_from_config_file(file.path()));
    if (res)
      continue;
    ++failed;
    auto detail = invalid(res);
    CAPTURE(text);
    CHECK(detail.rfind(file.path() + ":", 0) == 0);
  }
  MESSAGE("mutations rejected: " << failed);
}
