// How config errors read: the `invalid_config` layout, element names, and
// values quoted or summarised so that hostile input stays readable.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "pooler/errors.hpp"
#include "src/config_keys.hpp"

namespace pooler::detail {

std::string element_name(size_t index) {
  return "pools[" + std::to_string(index) + "]";
}

caf::error config_error(std::string subject, std::string detail) {
  return make_error(errc::invalid_config, std::move(subject),
                    std::move(detail));
}

std::string quote(std::string_view text, size_t max_len) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char c : text) {
    if (n++ == max_len) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string describe_value(const caf::config_value& value) {
  // Scalars in config syntax ("x" is a string, 'x' an atom); lists and
  // dictionaries summarised: rendering them is recursive and may be long.
  if (auto str = caf::get_if<std::string>(&value))
    return quote(*str);
  // deep_to_string renders some timespans wrongly in 0.17.6 (6h as "0d").
  if (auto t = caf::get_if<caf::timespan>(&value))
    return format_duration(*t);
  if (auto lst = caf::get_if<caf::config_value::list>(&value))
    return "a list of " + std::to_string(lst->size()) + " element(s)";
  if (caf::holds_alternative<caf::config_value::dictionary>(value))
    return "a dictionary";
  // CAF prints reals with six decimals (1.500000): say what the user wrote.
  if (auto x = caf::get_if<double>(&value)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", *x);
    if (std::strtod(buf, nullptr) != *x)
      std::snprintf(buf, sizeof(buf), "%.17g", *x);
    return buf;
  }
  return caf::to_string(value);
}
size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the Levenshtein table at a time.
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace pooler::detail
