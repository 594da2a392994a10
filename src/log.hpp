#pragma once

#include <string_view>

#include "pooler/log.hpp"

namespace pooler {

/// Logs `what` at `level`, rate-limited under `key` (see pooler/log.hpp):
/// give lines that differ only in a detail (a pid, a count) the same key.
void log_line(log_level level, std::string_view key, std::string_view what);

/// Logs a warning keyed by its own text: for harmless misuse such as
/// returning an unknown member, where no reply can carry an error.
void warn(std::string_view what);

} // namespace pooler
