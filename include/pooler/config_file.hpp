#pragma once

// Pool configs from caf-application.conf and from JSON (see
// docs/configuration.md). Every element is validated; errors are
// `invalid_config` whose subject is the pool name (`pools[i]` if it has none)
// and whose detail names the element index and the key, e.g. rendered:
// `pooler_error(invalid_config, "pg_db1": pools[1]: init-count: expected a
// non-negative integer, got "x")`. Errors of the whole text have the subject
// "ini", "json" or the file's name and the position in the detail; errors
// read from a file start with `file:line:column:`. Nothing here throws.

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
/// error becomes `invalid_config` with the position, the key and a hint.
caf::expected<std::vector<pool_config>> pools_from_ini(std::string_view text);

/// Reads the pools of a config file in CAF's INI dialect. Errors name the
/// file, and where they can the line, column and key, e.g.
/// `app.conf:4:21: pools[1]: init-count: ...`; an unreadable file is
/// `invalid_config` naming it. Member types are not checked (no config).
caf::expected<std::vector<pool_config>>
pools_from_config_file(const std::string& path);

/// `cfg.parse(argc, argv, default_file)` with config-file errors that name
/// the file, line, column and key, with hints for common mistakes; then the
/// `[pooler]` section is checked as `app::start(sys)` does (except member
/// types). A file named with `--config-file=` that cannot be opened is
/// `invalid_config`; a missing default file is skipped, as CAF does.
/// Command-line mistakes come back as CAF's own errors.
caf::error parse_config(caf::actor_system_config& cfg, int argc, char** argv,
                        const char* default_file = nullptr);

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
