// Durations in config text: "2min", "120s", pooler's pair form (2, "min").

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "pooler/errors.hpp"
#include "pooler/pool_config.hpp"
#include "src/config_keys.hpp"

namespace pooler {

namespace {

struct duration_unit {
  std::string_view name;
  int64_t ns;
};

// Largest first, so that format_duration picks the largest exact unit; "sec"
// is an accepted alias that format_duration never prints.
constexpr duration_unit units[] = {
  {"h", 3'600'000'000'000},
  {"min", 60'000'000'000},
  {"s", 1'000'000'000},
  {"sec", 1'000'000'000},
  {"ms", 1'000'000},
  {"us", 1'000},
  {"ns", 1},
};

constexpr const char* unit_list = "ns, us, ms, s, sec, min, h";

const duration_unit* find_unit(std::string_view name) {
  for (auto& u : units)
    if (u.name == name)
      return &u;
  return nullptr;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

namespace detail {

bool scale_duration(int64_t amount, int64_t unit_ns, caf::timespan& out) {
  constexpr auto max = std::numeric_limits<int64_t>::max();
  if (amount > max / unit_ns || amount < -(max / unit_ns))
    return false;
  out = caf::timespan{amount * unit_ns};
  return true;
}

std::string duration_from_pair(int64_t amount, std::string_view unit,
                               caf::timespan& out) {
  auto u = find_unit(unit);
  if (u == nullptr)
    return "unknown duration unit " + quote(unit) + " (expected " + unit_list
           + ")";
  if (!scale_duration(amount, u->ns, out))
    return "duration " + std::to_string(amount) + std::string{u->name}
           + " is out of range";
  return {};
}

std::string parse_duration_text(std::string_view text, caf::timespan& out) {
  auto expected_form = [&] {
    return "expected an integer and a unit such as \"30s\", got " + quote(text);
  };
  size_t pos = 0;
  bool negative = !text.empty() && text[0] == '-';
  if (negative)
    ++pos;
  if (pos == text.size() || !is_digit(text[pos]))
    return expected_form();
  // Accumulate as a negative number so that the full int64 range fits.
  int64_t amount = 0;
  constexpr auto min = std::numeric_limits<int64_t>::min();
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    int digit = text[pos] - '0';
    if (amount < (min + digit) / 10)
      return "duration " + quote(text) + " is out of range";
    amount = amount * 10 - digit;
  }
  if (!negative) {
    if (amount == min)
      return "duration " + quote(text) + " is out of range";
    amount = -amount;
  }
  auto unit = text.substr(pos);
  if (unit.empty())
    return "missing unit in " + quote(text) + " (expected " + unit_list + ")";
  if (unit[0] == '.')
    return "fractional duration " + quote(text)
           + " (integers only, e.g. \"1500ms\")";
  return duration_from_pair(amount, unit, out);
}

} // namespace detail

caf::expected<caf::timespan> parse_duration(const std::string& text,
                                            const std::string& what) {
  caf::timespan result{0};
  auto problem = detail::parse_duration_text(text, result);
  if (!problem.empty())
    return detail::config_error("", what + ": " + problem);
  return result;
}

caf::expected<caf::timespan> parse_duration(int64_t amount,
                                            const std::string& unit,
                                            const std::string& what) {
  caf::timespan result{0};
  auto problem = detail::duration_from_pair(amount, unit, result);
  if (!problem.empty())
    return detail::config_error("", what + ": " + problem);
  return result;
}

std::string format_duration(caf::timespan x) {
  auto ns = x.count();
  if (ns == 0)
    return "0s";
  for (auto& u : units)
    if (u.name != "sec" && ns % u.ns == 0)
      return std::to_string(ns / u.ns) + std::string{u.name};
  return std::to_string(ns) + "ns"; // unreachable: every count divides by 1
}

} // namespace pooler
