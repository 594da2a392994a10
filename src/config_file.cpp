// The public readers of pools from CAF's INI dialect: from an actor system's
// config, from parsed settings, and from text; and the rules of the [pooler]
// section around the pools. The pool keys themselves are read in
// config_pool_keys.cpp, files in config_load.cpp.

#include "pooler/config_file.hpp"

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/settings.hpp>

#include "pooler/errors.hpp"
#include "src/config_ini.hpp"
#include "src/config_keys.hpp"

namespace pooler {

namespace {

// Every key of the [pooler] section. A key not listed here is a typo (`pool`
// for `pools`) that would otherwise be ignored without a word.
constexpr std::string_view section_keys[] = {"pools"};

std::string lower(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

caf::error unknown_section_key(const std::string& key) {
  std::string known;
  std::string_view close;
  for (auto k : section_keys) {
    known += (known.empty() ? "\"" : ", \"") + std::string{k} + "\"";
    if (close.empty() && detail::edit_distance(key, k) <= 2)
      close = k;
  }
  auto path = "pooler." + key;
  auto hint = close.empty() ? "[pooler] takes only " + known
                            : "did you mean " + detail::quote(close) + "?";
  return detail::config_error(path, path + ": unknown key (" + hint + ")");
}

// With no [pooler] section, a section named almost so that holds pools is a
// misspelling ([poolr], [Pooler]) whose pools would silently not start.
caf::error misspelled_section(const caf::settings& settings) {
  for (auto& [name, value] : settings) {
    auto dict = caf::get_if<caf::settings>(&value);
    if (dict == nullptr || dict->find("pools") == dict->end()
        || detail::edit_distance(lower(name), "pooler") > 2)
      continue;
    return detail::config_error(name, name
                                        + ": unknown section [" + name
                                        + "] holds pools, and there is no "
                                          "[pooler] section (did you mean "
                                          "[pooler]?)");
  }
  return {};
}

caf::error section_problem(const caf::settings& settings) {
  auto section = settings.find("pooler");
  if (section == settings.end())
    return misspelled_section(settings);
  auto dict = caf::get_if<caf::settings>(&section->second);
  if (dict == nullptr)
    return {};
  for (auto& entry : *dict) {
    auto& key = entry.first;
    bool known = false;
    for (auto k : section_keys)
      known = known || key == k;
    if (!known)
      return unknown_section_key(key);
  }
  return {};
}

} // namespace

// -- public API ---------------------------------------------------------------

caf::expected<std::vector<pool_config>>
pools_from_settings(const caf::settings& settings) {
  if (auto err = section_problem(settings))
    return err;
  auto value = caf::get_if(&settings, "pooler.pools");
  if (value == nullptr)
    return std::vector<pool_config>{};
  auto list = caf::get_if<caf::config_value::list>(value);
  if (list == nullptr)
    return detail::config_error("pooler.pools",
                                "pooler.pools: expected a list of "
                                "dictionaries, got "
                                  + detail::describe_value(*value));
  return detail::pools_from_list(*list, detail::config_dialect::ini);
}

caf::expected<std::vector<pool_config>>
pools_from_config(const caf::actor_system_config& cfg) {
  auto pools = pools_from_settings(caf::content(cfg));
  if (!pools)
    return pools;
  // Only here do we know the member types: the config holds the factories.
  for (size_t i = 0; i < pools->size(); ++i)
    if (auto p = detail::actor_type_problem((*pools)[i], cfg); !p.empty())
      return detail::config_error((*pools)[i].name,
                                  detail::element_name(i) + ": " + p);
  return pools;
}

caf::expected<pool_config>
pool_from_config_value(const caf::config_value& value, size_t index) {
  auto dict = caf::get_if<caf::config_value::dictionary>(&value);
  if (dict == nullptr) {
    auto where = detail::element_name(index);
    return detail::config_error(where, where + ": expected a dictionary, got "
                                         + detail::describe_value(value));
  }
  return detail::pool_from_dictionary(*dict, index,
                                      detail::config_dialect::ini);
}

caf::expected<std::vector<pool_config>> pools_from_ini(std::string_view text) {
  auto settings = detail::parse_ini(text, "");
  if (!settings)
    return std::move(settings.error());
  return pools_from_settings(*settings);
}

} // namespace pooler
