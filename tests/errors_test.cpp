#include <doctest/doctest.h>

#include "pooler/errors.hpp"

#include <caf/message.hpp>

TEST_CASE("errors render their code, subject and detail") {
  auto err = pooler::make_error(pooler::errc::no_members, "p1", "timeout");
  CHECK(err == pooler::errc::no_members);
  CHECK(err != pooler::errc::pool_not_found);
  CHECK(pooler::error_subject(err) == "p1");
  CHECK(pooler::error_detail(err) == "timeout");
  CHECK(pooler::render_error(err.code(), err.category(), err.context())
        == "pooler_error(no_members, \"p1\": timeout)");
}

TEST_CASE("errors without context render their code only") {
  auto err = pooler::make_error(pooler::errc::pool_exists);
  CHECK(pooler::error_subject(err).empty());
  CHECK(pooler::render_error(err.code(), err.category(), err.context())
        == "pooler_error(pool_exists)");
}

TEST_CASE("every error code has a name") {
  using pooler::errc;
  CHECK(pooler::to_string(errc::invalid_argument) == "invalid_argument");
  CHECK(pooler::to_string(errc::app_stopped) == "app_stopped");
  CHECK(pooler::to_string(errc::group_not_found) == "group_not_found");
  CHECK(pooler::to_string(errc::not_local) == "not_local");
  CHECK(pooler::to_string(errc::function_threw) == "function_threw");
}

TEST_CASE("a negative take timeout renders the pool and the argument") {
  auto err = pooler::make_error(pooler::errc::invalid_argument, "db",
                                "take timeout is negative (-5 ns)");
  CHECK(err == pooler::errc::invalid_argument);
  CHECK(pooler::render_error(err.code(), err.category(), err.context())
        == "pooler_error(invalid_argument, \"db\": take timeout is negative "
           "(-5 ns))");
}

TEST_CASE("app_stopped renders the pool it was asked about") {
  auto err = pooler::make_error(pooler::errc::app_stopped, "db",
                                "the pooler app is stopped or empty");
  CHECK(pooler::error_subject(err) == "db");
  CHECK(pooler::render_error(err.code(), err.category(), err.context())
        == "pooler_error(app_stopped, \"db\": the pooler app is stopped or "
           "empty)");
}
