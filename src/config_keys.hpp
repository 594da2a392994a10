#pragma once

// Private helpers shared by the INI and the JSON config parsers, durations
// and validation. Not installed: the public face is pool_config.hpp and
// config_file.hpp.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/config_value.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "pooler/pool_config.hpp"

namespace pooler::detail {

/// Where a pool dictionary came from. The dialects differ in key spelling
/// (JSON also accepts underscores) and durations (a JSON integer = ms).
enum class config_dialect { ini, json };

/// Deepest bracket nesting accepted in config text. CAF's INI parser recurses
/// per level and overflows the stack at ~100k levels; no sane config needs
/// more than a handful.
constexpr size_t max_nesting = 32;

/// A position in config text; both counts start at 1, as in CAF's errors.
struct text_pos {
  size_t line = 1;
  size_t column = 1;
};

/// `line 2, column 8`.
std::string at(text_pos p);

/// What is wrong with config text and where; empty `what` means nothing.
struct text_problem {
  text_pos pos;
  std::string what;

  explicit operator bool() const {
    return !what.empty();
  }
};

/// Cheap structural pre-check of config text before a real parser sees it:
/// rejects nesting deeper than `max_nesting`, NUL bytes, and unclosed
/// brackets or strings (CAF 0.17.6 silently accepts truncated input and
/// returns an empty config). An unclosed bracket is reported where it opens.
text_problem find_structure_problem(std::string_view text,
                                    config_dialect dialect);

/// The same problem as text, `line 2, column 8: ...`, or "".
std::string check_structure(std::string_view text, config_dialect dialect);

/// Parses "30s"-style text. Returns the problem, or "" and sets `out`.
std::string parse_duration_text(std::string_view text, caf::timespan& out);

/// Parses pooler's pair form (2, "min"). Returns the problem, or "".
std::string duration_from_pair(int64_t amount, std::string_view unit,
                               caf::timespan& out);

/// Multiplies with overflow check; false if the result does not fit.
bool scale_duration(int64_t amount, int64_t unit_ns, caf::timespan& out);

/// `text` in double quotes, escaped and cut to `max_len` characters, so that
/// hostile input stays readable in error messages.
std::string quote(std::string_view text, size_t max_len = 40);

/// A config value for "got ..." in error messages, e.g. `string "x"`.
std::string describe_value(const caf::config_value& value);

/// The rules of `validate`, naming keys as C++ fields (`max_count`) or as
/// config-file keys (`max-count`). Returns the detail of the first violation,
/// or "".
std::string validation_problem(const pool_config& cfg, bool file_keys);

/// One pool from a dictionary whose keys are config-file keys. `index` names
/// the element in errors (`pools[1]: ...`).
caf::expected<pool_config>
pool_from_dictionary(const caf::config_value::dictionary& dict, size_t index,
                     config_dialect dialect);

/// Every element of `pooler.pools` (or of the JSON array), validated, with
/// duplicate names rejected.
caf::expected<std::vector<pool_config>>
pools_from_list(const caf::config_value::list& list, config_dialect dialect);

/// `pools[i]`: how errors name the i-th element of a pool list.
std::string element_name(size_t index);

/// The problem of a `start` naming an actor type that `sys_cfg` does not
/// know (`start: unknown actor type ...`), or "".
std::string actor_type_problem(const pool_config& cfg,
                               const caf::actor_system_config& sys_cfg);

/// The number of single-character edits that turn `a` into `b`; typos of a
/// name are 1 or 2 away.
size_t edit_distance(std::string_view a, std::string_view b);

/// `invalid_config` with the pooler error layout.
caf::error config_error(std::string subject, std::string detail);

} // namespace pooler::detail
