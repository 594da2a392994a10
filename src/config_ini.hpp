#pragma once

// Private helpers for config text in CAF's INI dialect: finding which key a
// position of the text belongs to, and turning CAF's bare parser errors
// (a code, a line and a column) into errors that name the file, the key and
// the likely mistake.

#include <map>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/settings.hpp>

#include "src/config_keys.hpp"

namespace pooler::detail {

/// Where a position of INI text falls.
struct ini_place {
  /// The key path in CAF's dotted notation with list indices, e.g.
  /// `pooler.pools[0].max-age`; the section alone before any key; "" before
  /// any section.
  std::string path;
  /// The `name` of the innermost dictionary, if given before the position.
  std::string pool_name;
};

/// Walks INI text up to `pos` (a position as CAF reports it) and says which
/// key it falls in.
ini_place locate_in_ini(std::string_view text, text_pos pos);

/// Where each key path of INI text starts (sections, keys, list elements
/// that are dictionaries), e.g. `pooler.pools[1].init-count` -> 4:21. A key
/// given twice maps to its last occurrence, the one CAF keeps.
std::map<std::string, text_pos> ini_key_positions(std::string_view text);

/// Parses INI text into settings. On error, `invalid_config` with the
/// subject `origin` and a detail that names the position, the key and a hint
/// for the common mistakes. `file` is the file's name, or "" for text that
/// came from no file (the position then reads `line 2, column 5`).
caf::expected<caf::settings> parse_ini(std::string_view text,
                                       const std::string& file);

/// A content error of `file` (e.g. `pools[1]: init-count: ...`) with the
/// position of the key it names in front: `app.conf:4:21: pools[1]: ...`.
/// Errors that name no key found in `text` get the file name alone.
caf::error with_file_position(const caf::error& err, std::string_view text,
                              const std::string& file);

} // namespace pooler::detail
