// Pool configs from JSON. A JSON pool is converted to CAF config values and
// read by the same key table as caf-application.conf (config_file.cpp), so
// both accept the same keys; JSON also accepts underscores in keys and a plain
// integer as milliseconds for durations.

#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <utility>

#include <caf/atom.hpp>
#include <nlohmann/json.hpp>

#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"
#include "src/config_keys.hpp"

namespace pooler {

namespace {

using caf::config_value;
using nlohmann::json;

// JSON has no atoms; a string in single quotes, "'ping'", stands for one
// (as 'ping' in caf-application.conf), so hooks can send atoms.
std::string string_to_value(const std::string& str, config_value& out) {
  if (str.size() >= 2 && str.front() == '\'' && str.back() == '\'') {
    auto inner = std::string_view{str}.substr(1, str.size() - 2);
    if (inner.size() > 10)
      return "atom " + detail::quote(str) + " is longer than 10 characters";
    out = config_value{caf::atom_from_string(inner)};
    return {};
  }
  out = config_value{str};
  return {};
}

std::string to_config_value(const json& j, size_t depth, config_value& out);

std::string array_to_value(const json& j, size_t depth, config_value& out) {
  config_value::list xs;
  xs.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    config_value x;
    if (auto p = to_config_value(j[i], depth + 1, x); !p.empty())
      return "[" + std::to_string(i) + "]: " + p;
    xs.push_back(std::move(x));
  }
  out = config_value{std::move(xs)};
  return {};
}

std::string object_to_value(const json& j, size_t depth, config_value& out) {
  config_value::dictionary xs;
  for (auto& [key, val] : j.items()) {
    config_value x;
    if (auto p = to_config_value(val, depth + 1, x); !p.empty())
      return detail::quote(key) + ": " + p;
    xs.emplace(key, std::move(x));
  }
  out = config_value{std::move(xs)};
  return {};
}

// Returns the problem, or "" and sets `out`. Depth-limited: the conversion
// recurses, and a JSON value built in C++ has no text pre-check.
std::string to_config_value(const json& j, size_t depth, config_value& out) {
  if (depth > detail::max_nesting)
    return "nested deeper than " + std::to_string(detail::max_nesting)
           + " levels";
  switch (j.type()) {
    case json::value_t::boolean: out = config_value{j.get<bool>()}; return {};
    case json::value_t::number_integer:
      out = config_value{j.get<int64_t>()};
      return {};
    case json::value_t::number_unsigned: {
      // Above int64_t: kept as a real, so that counts reject it by type.
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        out = config_value{static_cast<double>(u)};
      else
        out = config_value{static_cast<int64_t>(u)};
      return {};
    }
    case json::value_t::number_float:
      out = config_value{j.get<double>()};
      return {};
    case json::value_t::string:
      return string_to_value(j.get_ref<const std::string&>(), out);
    case json::value_t::array: return array_to_value(j, depth, out);
    case json::value_t::object: return object_to_value(j, depth, out);
    default: return std::string{"unsupported JSON value "} + j.type_name();
  }
}

// The name of a JSON pool object if usable, else `pools[i]`.
std::string subject_of(const json& j, size_t index) {
  if (auto i = j.find("name"); i != j.end() && i->is_string()
                               && !i->get_ref<const std::string&>().empty())
    return i->get<std::string>();
  return detail::element_name(index);
}

caf::expected<config_value> pool_to_value(const json& j, size_t index) {
  if (!j.is_object())
    return detail::config_error(detail::element_name(index),
                                detail::element_name(index)
                                  + ": expected an object, got "
                                  + j.type_name());
  config_value::dictionary dict;
  for (auto& [key, val] : j.items()) {
    config_value x;
    if (auto p = to_config_value(val, 3, x); !p.empty())
      return detail::config_error(subject_of(j, index),
                                  detail::element_name(index) + ": " + key
                                    + ": " + p);
    dict.emplace(key, std::move(x));
  }
  return config_value{std::move(dict)};
}

// The array of pools in a document: `{"pools": [...]}` or a bare array.
caf::expected<const json*> pools_array(const json& j) {
  if (j.is_array())
    return &j;
  if (!j.is_object())
    return detail::config_error("json", std::string{"expected an object with "
                                                    "\"pools\" or an array, "
                                                    "got "}
                                          + j.type_name());
  for (auto& [key, val] : j.items())
    if (key != "pools")
      return detail::config_error("json", "unknown key " + detail::quote(key)
                                            + " (expected \"pools\")");
  auto i = j.find("pools");
  if (i == j.end())
    return static_cast<const json*>(nullptr);
  if (!i->is_array())
    return detail::config_error("pools", std::string{"pools: expected an array "
                                                     "of objects, got "}
                                           + i->type_name());
  return &*i;
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string without_exception_id(const std::string& what) {
  if (what.rfind("[json.exception.", 0) == 0)
    if (auto end = what.find("] "); end != std::string::npos)
      return what.substr(end + 2);
  return what;
}

} // namespace

caf::expected<pool_config> pool_from_json(const json& j, size_t index) {
  auto value = pool_to_value(j, index);
  if (!value)
    return std::move(value.error());
  return detail::pool_from_dictionary(
    caf::get<config_value::dictionary>(*value), index,
    detail::config_dialect::json);
}

caf::expected<std::vector<pool_config>> pools_from_json(const json& j) {
  auto arr = pools_array(j);
  if (!arr)
    return std::move(arr.error());
  if (*arr == nullptr)
    return std::vector<pool_config>{};
  config_value::list list;
  list.reserve((*arr)->size());
  for (size_t i = 0; i < (*arr)->size(); ++i) {
    auto value = pool_to_value((**arr)[i], i);
    if (!value)
      return std::move(value.error());
    list.push_back(std::move(*value));
  }
  return detail::pools_from_list(list, detail::config_dialect::json);
}

caf::expected<std::vector<pool_config>> pools_from_json(std::string_view text) {
  auto problem = detail::check_structure(text, detail::config_dialect::json);
  if (!problem.empty())
    return detail::config_error("json", "parse error: " + problem);
  json doc;
  // nlohmann reports syntax errors by exception; ours are values.
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& ex) {
    return detail::config_error("json", without_exception_id(ex.what()));
  } catch (const std::exception& ex) {
    return detail::config_error("json",
                                std::string{"parse error: "} + ex.what());
  }
  return pools_from_json(doc);
}

} // namespace pooler
