#include "src/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace pooler {

void warn(std::string_view what) {
  static const bool quiet = std::getenv("POOLER_QUIET") != nullptr;
  if (quiet)
    return;
  std::string line = "pooler: ";
  line.append(what);
  line += '\n';
  // One fwrite per line, so that lines of concurrent pools do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace pooler
