#pragma once

#include <string_view>

namespace pooler {

/// Writes one warning line to stderr ("pooler: ..."), unless the environment
/// variable POOLER_QUIET is set. Thread-safe; used for harmless misuse such
/// as returning an unknown member, where no reply can carry an error.
void warn(std::string_view what);

} // namespace pooler
