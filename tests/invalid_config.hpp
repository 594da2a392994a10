#pragma once

// The detail of an invalid_config error, for config tests to compare with the
// expected text; a marker that fails any such comparison otherwise.

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "pooler/errors.hpp"

namespace test {

inline std::string invalid(const caf::error& err) {
  if (!err)
    return "<no error>";
  if (err != pooler::errc::invalid_config)
    return "<other error: " + caf::to_string(err) + ">";
  return pooler::error_detail(err);
}

template <class T>
std::string invalid(const caf::expected<T>& res) {
  return res ? "<no error>" : invalid(res.error());
}

} // namespace test
