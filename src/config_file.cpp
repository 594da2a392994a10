// The public readers of pools from CAF's INI dialect: from an actor system's
// config, from parsed settings, and from text. The pool keys themselves are
// read in config_pool_keys.cpp.

#include "pooler/config_file.hpp"

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include "pooler/errors.hpp"
#include "src/config_keys.hpp"

namespace pooler {

// -- public API ---------------------------------------------------------------

caf::expected<std::vector<pool_config>>
pools_from_settings(const caf::settings& settings) {
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

namespace {

// Line `n` (1-based) of `text`, or "" if there is none.
std::string_view line_of(std::string_view text, int64_t n) {
  for (; n > 1; --n) {
    auto eol = text.find('\n');
    if (eol == std::string_view::npos)
      return {};
    text.remove_prefix(eol + 1);
  }
  return n == 1 ? text.substr(0, text.find('\n')) : std::string_view{};
}

bool starts_with_hash(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  return first != std::string_view::npos && line[first] == '#';
}

// CAF's parser error: code = caf::pec, context = ({line, column}).
std::string describe_parse_error(const caf::error& err, std::string_view text) {
  std::string out = "parse error";
  auto& ctx = err.context();
  int64_t line = 0;
  if (ctx.size() == 1 && ctx.match_element<caf::settings>(0)) {
    auto& pos = ctx.get_as<caf::settings>(0);
    line = caf::get_or(pos, "line", int64_t{0});
    out += " at line " + std::to_string(line) + ", column "
           + std::to_string(caf::get_or(pos, "column", int64_t{0}));
  }
  if (err.category() != caf::atom("parser"))
    return out + ": " + caf::actor_system_config::render(err);
  auto code = static_cast<caf::pec>(err.code());
  out += ": " + caf::to_string(code);
  if (code == caf::pec::fractional_timespan)
    out += " (durations take integers only, e.g. 1500ms)";
  // '#' is the comment sign users try first; CAF reports a bare
  // trailing_character for it.
  if (starts_with_hash(line_of(text, line)))
    out += " (comments start with ';', not '#')";
  return out;
}

} // namespace

caf::expected<std::vector<pool_config>> pools_from_ini(std::string_view text) {
  auto problem = detail::check_structure(text, detail::config_dialect::ini);
  if (!problem.empty())
    return detail::config_error("ini", "parse error: " + problem);
  std::istringstream in{std::string{text}};
  auto settings = caf::actor_system_config::parse_config(in);
  if (!settings)
    return detail::config_error("ini",
                                describe_parse_error(settings.error(), text));
  return pools_from_settings(*settings);
}

} // namespace pooler
