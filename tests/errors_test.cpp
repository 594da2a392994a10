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
