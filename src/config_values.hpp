#pragma once

// Readers of single config values, shared by the pool key table. Each returns
// the problem ("" on success) and leaves `out` alone on failure; the caller
// prefixes element and key.

#include <cstddef>
#include <string>

#include <caf/config_value.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "src/config_keys.hpp"

namespace pooler::detail {

/// A non-negative integer.
std::string as_count(const caf::config_value& v, size_t& out);

/// A string in double quotes (an atom is refused: it would rename silently).
std::string as_string(const caf::config_value& v, std::string& out,
                      bool allow_empty);

/// A word such as "lifo", given as a string or an atom.
std::string as_word(const caf::config_value& v, std::string& out);

/// A duration in any form the dialect accepts: a duration value, "30s",
/// [30, "s"], and in JSON an integer number of milliseconds.
std::string as_duration(const caf::config_value& v, config_dialect dialect,
                        caf::timespan& out);

/// `args` and hook messages: a list is the message's elements, a single
/// value a message of one element.
std::string as_message(const caf::config_value& v, caf::message& out);

} // namespace pooler::detail
