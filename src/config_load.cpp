// Config files on disk: reading one, and checking the one an application
// parses, so that its errors name the file, the line, the column and the key
// instead of CAF's bare position.

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <caf/actor_system_config.hpp>

#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"
#include "src/config_ini.hpp"
#include "src/config_keys.hpp"

namespace pooler {

namespace {

caf::error cannot_open(const std::string& path, std::string_view how) {
  auto why = errno != 0 ? std::strerror(errno) : "cannot be read";
  return detail::config_error(path, path + ": cannot open the config file"
                                      + std::string{how} + " (" + why + ")");
}

// The file's text, or `invalid_config` naming it and why it cannot be read.
caf::expected<std::string> read_config_file(const std::string& path,
                                            std::string_view how = "") {
  errno = 0;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    errno = EISDIR;
    return cannot_open(path, how);
  }
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return cannot_open(path, how);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace

caf::expected<std::vector<pool_config>>
pools_from_config_file(const std::string& path) {
  auto text = read_config_file(path);
  if (!text)
    return std::move(text.error());
  auto settings = detail::parse_ini(*text, path);
  if (!settings)
    return std::move(settings.error());
  auto pools = pools_from_settings(*settings);
  if (!pools)
    return detail::with_file_position(pools.error(), *text, path);
  return pools;
}

caf::error parse_config(caf::actor_system_config& cfg, int argc, char** argv,
                        const char* default_file) {
  // The file CAF will read: the first --config-file=, else `default_file`,
  // else the config's own default.
  std::string path = default_file != nullptr ? default_file
                                             : cfg.config_file_path;
  bool named = false;
  std::string_view option = "--config-file=";
  for (int i = 1; i < argc && !named; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, option.size()) == option) {
      path = std::string{arg.substr(option.size())};
      named = true;
    }
  }
  std::string text;
  bool have_file = !path.empty();
  if (have_file) {
    // CAF skips a missing file silently; one named on the command line is
    // the user's intent, so its absence is an error.
    auto content = read_config_file(path, named ? " named with --config-file"
                                                : "");
    if (content) {
      text = std::move(*content);
      if (auto settings = detail::parse_ini(text, path); !settings)
        return std::move(settings.error());
    } else if (named) {
      return std::move(content.error());
    } else {
      have_file = false;
    }
  }
  if (auto err = cfg.parse(argc, argv, default_file))
    return err;
  if (have_file)
    if (auto pools = pools_from_settings(caf::content(cfg)); !pools)
      return detail::with_file_position(pools.error(), text, path);
  return {};
}

} // namespace pooler
