// Pool configs from CAF's INI dialect (SPEC §7), and the key table that the
// JSON reader (config_json.cpp) shares: JSON is converted to config values and
// read by the same code, so both formats accept exactly the same keys.

#include "pooler/config_file.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/message_builder.hpp>
#include <caf/pec.hpp>
#include <caf/settings.hpp>

#include "pooler/errors.hpp"
#include "src/config_keys.hpp"

namespace pooler {
namespace detail {

// -- helpers for error messages -----------------------------------------------

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

// -- structural pre-check of config text --------------------------------------

namespace {

struct text_pos {
  size_t line = 1;
  size_t column = 1;
};

std::string at(text_pos p) {
  return "line " + std::to_string(p.line) + ", column "
         + std::to_string(p.column);
}

// A small state machine that knows just enough of both syntaxes to find
// brackets: strings, INI atoms ('x'), INI comments (;) and INI URIs (<...>).
class structure_scanner {
public:
  explicit structure_scanner(config_dialect dialect) : dialect_(dialect) {}

  std::string run(std::string_view text) {
    for (char c : text) {
      if (auto problem = step(c); !problem.empty())
        return problem;
      advance(c);
    }
    if (state_ == state::quoted)
      return "end of input: string opened at " + at(quote_start_)
             + " is never closed";
    if (!open_.empty())
      return "end of input: '" + std::string(1, open_.back().first)
             + "' opened at " + at(open_.back().second) + " is never closed";
    return {};
  }

private:
  enum class state { normal, quoted, comment, uri };

  std::string step(char c) {
    if (c == '\0')
      return at(pos_) + ": NUL character";
    if (c == '\n') {
      // CAF strings cannot span lines; the real parser reports it.
      state_ = state::normal;
      return {};
    }
    switch (state_) {
      case state::quoted:
        if (escaped_)
          escaped_ = false;
        else if (c == '\\')
          escaped_ = true;
        else if (c == quote_char_)
          state_ = state::normal;
        return {};
      case state::comment: return {};
      case state::uri:
        if (c == '>')
          state_ = state::normal;
        return {};
      case state::normal: return normal(c);
    }
    return {};
  }

  std::string normal(char c) {
    bool ini = dialect_ == config_dialect::ini;
    if (c == '"' || (ini && c == '\'')) {
      state_ = state::quoted;
      quote_char_ = c;
      quote_start_ = pos_;
    } else if (ini && c == ';') {
      state_ = state::comment;
    } else if (ini && c == '<') {
      state_ = state::uri;
    } else if (c == '[' || c == '{') {
      if (open_.size() == max_nesting)
        return at(pos_) + ": nesting deeper than " + std::to_string(max_nesting)
               + " levels";
      open_.emplace_back(c, pos_);
    } else if (c == ']' || c == '}') {
      return close(c);
    }
    return {};
  }

  std::string close(char c) {
    char want = c == ']' ? '[' : '{';
    if (open_.empty())
      return at(pos_) + ": unexpected '" + std::string(1, c) + "'";
    if (open_.back().first != want)
      return at(pos_) + ": '" + std::string(1, c) + "' does not close '"
             + std::string(1, open_.back().first) + "' opened at "
             + at(open_.back().second);
    open_.pop_back();
    return {};
  }

  void advance(char c) {
    if (c == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else {
      ++pos_.column;
    }
  }

  config_dialect dialect_;
  state state_ = state::normal;
  char quote_char_ = '"';
  bool escaped_ = false;
  text_pos pos_;
  text_pos quote_start_;
  std::vector<std::pair<char, text_pos>> open_;
};

} // namespace

std::string check_structure(std::string_view text, config_dialect dialect) {
  return structure_scanner{dialect}.run(text);
}

// -- reading single values ----------------------------------------------------
// Each returns the problem ("" on success); the caller prefixes element and
// key, e.g. `pools[1]: init-count: `.

namespace {

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

// `args` and hook messages: a list is the message's elements, a single
// value a message of one element.
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

// -- the key table ------------------------------------------------------------

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

// Every key of SPEC §3, spelled as in config files (C++ field names with
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

} // namespace detail

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
