// The table of pool keys, shared by the INI and the JSON reader: JSON is
// converted to config values and read by the same code, so both formats
// accept exactly the same keys.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/config_keys.hpp"
#include "src/config_values.hpp"

namespace pooler::detail {

namespace {

using caf::config_value;

// What one pool element has produced so far.
struct pool_builder {
  pool_config cfg;
  std::string start_type;
  caf::message args;
  config_dialect dialect;
};

using key_reader = std::string (*)(const config_value&, pool_builder&);

template <size_t pool_config::*Field>
std::string read_count(const config_value& v, pool_builder& b) {
  return as_count(v, b.cfg.*Field);
}

template <std::string pool_config::*Field, bool AllowEmpty>
std::string read_string(const config_value& v, pool_builder& b) {
  return as_string(v, b.cfg.*Field, AllowEmpty);
}

template <caf::timespan pool_config::*Field>
std::string read_duration(const config_value& v, pool_builder& b) {
  return as_duration(v, b.dialect, b.cfg.*Field);
}

template <std::optional<caf::timespan> pool_config::*Field>
std::string read_optional_duration(const config_value& v, pool_builder& b) {
  caf::timespan x{0};
  auto p = as_duration(v, b.dialect, x);
  if (p.empty())
    b.cfg.*Field = x;
  return p;
}

template <member_hook pool_config::*Field>
std::string read_hook(const config_value& v, pool_builder& b) {
  caf::message msg;
  auto p = as_message(v, msg);
  if (p.empty())
    b.cfg.*Field = member_hook::message(std::move(msg));
  return p;
}

std::string read_start(const config_value& v, pool_builder& b) {
  return as_string(v, b.start_type, false);
}

std::string read_args(const config_value& v, pool_builder& b) {
  // An empty list is fine here: a member type without arguments.
  if (auto lst = caf::get_if<config_value::list>(&v); lst && lst->empty())
    return {};
  return as_message(v, b.args);
}

std::string read_auto_grow(const config_value& v, pool_builder& b) {
  size_t x = 0;
  auto p = as_count(v, x);
  if (p.empty())
    b.cfg.auto_grow_threshold = x;
  return p;
}

std::string read_member_shutdown(const config_value& v, pool_builder& b) {
  if (auto str = caf::get_if<std::string>(&v); str && *str == "brutal_kill") {
    b.cfg.member_shutdown = std::nullopt;
    return {};
  }
  caf::timespan x{0};
  if (auto p = as_duration(v, b.dialect, x); !p.empty())
    return "expected \"brutal_kill\" or a duration; " + p;
  b.cfg.member_shutdown = x;
  return {};
}

std::string read_member_order(const config_value& v, pool_builder& b) {
  std::string word;
  if (as_word(v, word).empty()) {
    if (word == "lifo") {
      b.cfg.member_order = member_order::lifo;
      return {};
    }
    if (word == "fifo") {
      b.cfg.member_order = member_order::fifo;
      return {};
    }
  }
  return "expected \"lifo\" or \"fifo\", got " + describe_value(v);
}

std::string read_backoff_dict(const config_value::dictionary& d,
                              pool_builder& b) {
  auto& spec = b.cfg.start_backoff;
  for (auto& [key, value] : d) {
    caf::timespan* target = key == "initial" ? &spec.initial
                            : key == "max"   ? &spec.max
                                             : nullptr;
    if (target == nullptr)
      return "unknown key " + quote(key) + " (expected initial, max)";
    if (auto p = as_duration(value, b.dialect, *target); !p.empty())
      return key + ": " + p;
  }
  return {};
}

std::string read_start_backoff(const config_value& v, pool_builder& b) {
  if (auto d = caf::get_if<config_value::dictionary>(&v))
    return read_backoff_dict(*d, b);
  auto lst = caf::get_if<config_value::list>(&v);
  if (lst == nullptr || lst->size() != 2)
    return "expected [initial, max] or {initial=..., max=...}, got "
           + describe_value(v);
  auto& spec = b.cfg.start_backoff;
  if (auto p = as_duration((*lst)[0], b.dialect, spec.initial); !p.empty())
    return "initial: " + p;
  if (auto p = as_duration((*lst)[1], b.dialect, spec.max); !p.empty())
    return "max: " + p;
  return {};
}

struct key_entry {
  std::string_view key; // as in config files
  key_reader read;
  bool required;
};

// Every pool key (docs/configuration.md), spelled as in config files (C++ field names with
// dashes). The one table for both the INI and the JSON reader.
const key_entry pool_keys[] = {
  {"name", read_string<&pool_config::name, false>, true},
  {"init-count", read_count<&pool_config::init_count>, true},
  {"max-count", read_count<&pool_config::max_count>, true},
  {"start", read_start, true},
  {"args", read_args, false},
  {"group", read_string<&pool_config::group, true>, false},
  {"cull-interval", read_duration<&pool_config::cull_interval>, false},
  {"max-age", read_duration<&pool_config::max_age>, false},
  {"member-start-timeout", read_duration<&pool_config::member_start_timeout>,
   false},
  {"queue-max", read_count<&pool_config::queue_max>, false},
  {"min-ready", read_count<&pool_config::min_ready>, false},
  {"auto-grow-threshold", read_auto_grow, false},
  {"initialize", read_hook<&pool_config::initialize>, false},
  {"stop", read_hook<&pool_config::stop>, false},
  {"health-check", read_hook<&pool_config::health_check>, false},
  {"member-shutdown", read_member_shutdown, false},
  {"max-lifetime", read_optional_duration<&pool_config::max_lifetime>, false},
  {"max-lifetime-jitter", read_duration<&pool_config::max_lifetime_jitter>,
   false},
  {"member-order", read_member_order, false},
  {"start-backoff", read_start_backoff, false},
  {"metrics", read_string<&pool_config::metrics, true>, false},
  {"health-check-interval",
   read_optional_duration<&pool_config::health_check_interval>, false},
};

constexpr size_t num_keys = sizeof(pool_keys) / sizeof(pool_keys[0]);

std::string dashed(std::string_view key) {
  std::string out{key};
  for (auto& c : out)
    if (c == '_')
      c = '-';
  return out;
}

// The table index of `key`, or num_keys.
size_t find_key(std::string_view key) {
  for (size_t i = 0; i < num_keys; ++i)
    if (pool_keys[i].key == key)
      return i;
  return num_keys;
}

// The pool's name if it has a usable one, else `pools[i]`: the subject of
// every error about this element.
std::string subject_of(const config_value::dictionary& dict, size_t index) {
  if (auto i = dict.find("name"); i != dict.end())
    if (auto str = caf::get_if<std::string>(&i->second); str && !str->empty())
      return *str;
  return element_name(index);
}

std::string unknown_key(std::string_view key, config_dialect dialect) {
  auto problem = "unknown key " + quote(key);
  if (dialect == config_dialect::ini && find_key(dashed(key)) != num_keys)
    problem += " (did you mean " + quote(dashed(key)) + "?)";
  return problem;
}

} // namespace

caf::expected<pool_config>
pool_from_dictionary(const config_value::dictionary& dict, size_t index,
                     config_dialect dialect) {
  auto subject = subject_of(dict, index);
  auto fail = [&](const std::string& problem) {
    return config_error(subject, element_name(index) + ": " + problem);
  };
  pool_builder b{{}, {}, {}, dialect};
  std::vector<std::string_view> seen(num_keys);
  for (auto& [key, value] : dict) {
    auto k = find_key(dialect == config_dialect::json ? dashed(key) : key);
    if (k == num_keys)
      return fail(unknown_key(key, dialect));
    if (!seen[k].empty())
      return fail(key + ": duplicate key (also given as " + quote(seen[k])
                  + ")");
    seen[k] = key;
    if (auto p = pool_keys[k].read(value, b); !p.empty())
      return fail(key + ": " + p);
  }
  for (size_t k = 0; k < num_keys; ++k)
    if (pool_keys[k].required && seen[k].empty())
      return fail(std::string{pool_keys[k].key} + ": required key missing");
  b.cfg.start = member_factory::actor_type(b.start_type, std::move(b.args));
  if (auto p = validation_problem(b.cfg, true); !p.empty())
    return fail(p);
  return std::move(b.cfg);
}

caf::expected<std::vector<pool_config>>
pools_from_list(const config_value::list& list, config_dialect dialect) {
  std::vector<pool_config> result;
  result.reserve(list.size());
  std::map<std::string, size_t> first_index;
  for (size_t i = 0; i < list.size(); ++i) {
    auto dict = caf::get_if<config_value::dictionary>(&list[i]);
    if (dict == nullptr)
      return config_error(element_name(i), element_name(i)
                                             + ": expected a dictionary, got "
                                             + describe_value(list[i]));
    auto pool = pool_from_dictionary(*dict, i, dialect);
    if (!pool)
      return std::move(pool.error());
    auto [it, added] = first_index.emplace(pool->name, i);
    if (!added)
      return config_error(pool->name, element_name(i)
                                        + ": name: duplicate pool name "
                                        + quote(pool->name) + " (also "
                                        + element_name(it->second) + ")");
    result.push_back(std::move(*pool));
  }
  return result;
}

} // namespace pooler::detail
