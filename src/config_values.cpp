// Reading single config values (counts, strings, durations, messages) into
// C++ types. Each reader returns the problem ("" on success); the caller
// prefixes element and key, e.g. `pools[1]: init-count: `.

#include "src/config_values.hpp"

#include <string>
#include <utility>
#include <vector>

#include <caf/message_builder.hpp>

namespace pooler::detail {

using caf::config_value;

std::string as_count(const config_value& v, size_t& out) {
  auto i = caf::get_if<config_value::integer>(&v);
  if (i == nullptr || *i < 0)
    return "expected a non-negative integer, got " + describe_value(v);
  out = static_cast<size_t>(*i);
  return {};
}

std::string as_string(const config_value& v, std::string& out,
                      bool allow_empty) {
  auto str = caf::get_if<std::string>(&v);
  if (str == nullptr) {
    // Atoms mangle '-' and stop at 10 characters: a silent rename waiting
    // to happen, so names must be real strings.
    if (caf::holds_alternative<caf::atom_value>(v))
      return "expected a string in double quotes, got " + describe_value(v);
    return "expected a string, got " + describe_value(v);
  }
  if (str->empty() && !allow_empty)
    return "must not be empty";
  out = *str;
  return {};
}

// A word such as "lifo", given as a string or an atom.
std::string as_word(const config_value& v, std::string& out) {
  if (auto a = caf::get_if<caf::atom_value>(&v)) {
    out = caf::to_string(*a);
    return {};
  }
  return as_string(v, out, true);
}

std::string as_duration(const config_value& v, config_dialect dialect,
                        caf::timespan& out) {
  if (auto t = caf::get_if<caf::timespan>(&v)) {
    out = *t;
    return {};
  }
  if (auto str = caf::get_if<std::string>(&v))
    return parse_duration_text(*str, out);
  bool json = dialect == config_dialect::json;
  if (auto i = caf::get_if<config_value::integer>(&v); i && json) {
    if (!scale_duration(*i, 1'000'000, out))
      return std::to_string(*i) + " ms is out of range";
    return {};
  }
  if (auto lst = caf::get_if<config_value::list>(&v); lst && lst->size() == 2) {
    auto amount = caf::get_if<config_value::integer>(&(*lst)[0]);
    std::string unit;
    if (amount != nullptr && as_word((*lst)[1], unit).empty())
      return duration_from_pair(*amount, unit, out);
  }
  return std::string{"expected a duration such as "}
         + (json ? "\"30s\", [30, \"s\"] or a number of milliseconds"
                 : "30s, \"30s\" or [30, \"s\"]")
         + ", got " + describe_value(v);
}

namespace {

// A homogeneous list becomes std::vector<T> inside a message.
template <class T>
bool append_vector(const config_value::list& lst, caf::message_builder& mb) {
  std::vector<T> xs;
  xs.reserve(lst.size());
  for (auto& x : lst) {
    auto ptr = caf::get_if<T>(&x);
    if (ptr == nullptr)
      return false;
    xs.push_back(*ptr);
  }
  mb.append(std::move(xs));
  return true;
}

bool append_scalar(const config_value& v, caf::message_builder& mb) {
  using caf::get_if;
  if (auto x = get_if<config_value::integer>(&v))
    mb.append(*x);
  else if (auto x = get_if<bool>(&v))
    mb.append(*x);
  else if (auto x = get_if<double>(&v))
    mb.append(*x);
  else if (auto x = get_if<caf::atom_value>(&v))
    mb.append(*x);
  else if (auto x = get_if<caf::timespan>(&v))
    mb.append(*x);
  else if (auto x = get_if<std::string>(&v))
    mb.append(*x);
  else
    return false;
  return true;
}

std::string append_element(const config_value& v, caf::message_builder& mb) {
  if (append_scalar(v, mb))
    return {};
  // An empty list has no element type to pick a std::vector<T> from.
  auto lst = caf::get_if<config_value::list>(&v);
  if (lst != nullptr && !lst->empty()
      && (append_vector<std::string>(*lst, mb)
          || append_vector<config_value::integer>(*lst, mb)
          || append_vector<double>(*lst, mb)))
    return {};
  return "unsupported value " + describe_value(v)
         + " (allowed: integer, real, bool, atom, duration, string, or a "
           "non-empty list of strings, integers or reals)";
}

} // namespace

std::string as_message(const config_value& v, caf::message& out) {
  caf::message_builder mb;
  if (auto lst = caf::get_if<config_value::list>(&v)) {
    if (lst->empty())
      return "expected a non-empty list of message elements";
    for (size_t i = 0; i < lst->size(); ++i)
      if (auto p = append_element((*lst)[i], mb); !p.empty())
        return "element " + std::to_string(i) + ": " + p;
  } else if (auto p = append_element(v, mb); !p.empty()) {
    return p;
  }
  out = mb.move_to_message();
  return {};
}

} // namespace pooler::detail
