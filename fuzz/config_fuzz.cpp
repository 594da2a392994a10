// libFuzzer target for pooler's config readers: any text given
// to pools_from_ini and pools_from_json must come back as pools that pass
// validate(), or as an invalid_config error; never a crash, a hang, an
// exception or a sanitizer report. Built by scripts/fuzz (clang only).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"
#include "pooler/pool_config.hpp"

namespace {

template <class Expected>
void check(const char* reader, const Expected& res) {
  if (!res) {
    // Errors are values of one kind, and render without trouble.
    if (res.error() != pooler::errc::invalid_config) {
      std::fprintf(stderr, "%s: error of another kind: code %d\n", reader,
                   static_cast<int>(res.error().code()));
      std::abort();
    }
    auto where = pooler::error_subject(res.error());
    auto what = pooler::error_detail(res.error());
    if (what.empty()) {
      std::fprintf(stderr, "%s: invalid_config without a detail (%s)\n",
                   reader, where.c_str());
      std::abort();
    }
    return;
  }
  // What a reader accepts, validate() accepts too.
  for (auto& cfg : *res) {
    if (auto ok = pooler::validate(cfg); !ok) {
      std::fprintf(stderr, "%s: accepted a pool that validate() rejects: %s\n",
                   reader, pooler::error_detail(ok.error()).c_str());
      std::abort();
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  check("pools_from_ini", pooler::pools_from_ini(text));
  check("pools_from_json", pooler::pools_from_json(text));
  return 0;
}
