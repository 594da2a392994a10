#pragma once

// Pool configs from caf-application.conf (SPEC §7) and from JSON. Every
// element is validated; errors are `invalid_config` whose subject is the pool
// name (`pools[i]` if it has none) and whose detail names the element index
// and the key, e.g. rendered:
// `pooler_error(invalid_config, "pg_db1": pools[1]: init-count: expected a
// non-negative integer, got "x")`. Errors of the whole text have the subject
// "ini" or "json" and the position in the detail. Nothing here throws.

#include <string>
#include <string_view>
#include <vector>

#include <caf/config_value.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <nlohmann/json_fwd.hpp>

#include "pooler/pool_config.hpp"

namespace pooler {

/// The pools listed in `pooler.pools` of an actor system's config. No
/// `pooler.pools` key means no pools (an empty list). Keys are spelled with
/// dashes (`init-count`); `start` names an actor type, `args` its arguments.
caf::expected<std::vector<pool_config>>
pools_from_config(const caf::actor_system_config& cfg);

/// Same, from parsed settings (e.g. `actor_system_config::parse_config_file`).
caf::expected<std::vector<pool_config>>
pools_from_settings(const caf::settings& settings);

/// One element of the list: a dictionary. `index` only names it in errors.
caf::expected<pool_config> pool_from_config_value(const caf::config_value& value,
                                                  size_t index);

/// Parses INI text in CAF's dialect and reads its `[pooler]` pools. A parse
/// error becomes `invalid_config` with CAF's position.
caf::expected<std::vector<pool_config>> pools_from_ini(std::string_view text);

/// One pool from a JSON object with the same keys (dashes or underscores).
/// Durations: "30s", a number of milliseconds, or the pair form [2, "min"].
/// JSON has no atoms: a string in single quotes, "'ping'", is the atom ping
/// (in `args` and hooks).
caf::expected<pool_config> pool_from_json(const nlohmann::json& j,
                                          size_t index = 0);

/// Pools from a JSON document: `{"pools": [...]}` or a bare array.
caf::expected<std::vector<pool_config>> pools_from_json(const nlohmann::json& j);

/// Same, from JSON text; a syntax error becomes `invalid_config`.
caf::expected<std::vector<pool_config>> pools_from_json(std::string_view text);

} // namespace pooler
