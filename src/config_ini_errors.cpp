// Errors of INI config text that a user can act on. CAF 0.17 reports a
// syntax error as `parser_error(code, {line, column})` alone; we add the
// file, the key the position falls in, and a hint for the mistakes users
// make most: `#` comments, fractional durations, misspelled duration units
// and text without quotes.

#include <cctype>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/pec.hpp>

#include "pooler/errors.hpp"
#include "src/config_ini.hpp"

namespace pooler::detail {

namespace {

size_t offset_of(std::string_view text, text_pos pos) {
  size_t offset = 0;
  for (size_t line = 1; line < pos.line && offset < text.size(); ++offset)
    if (text[offset] == '\n')
      ++line;
  offset += pos.column > 0 ? pos.column - 1 : 0;
  return std::min(offset, text.size());
}

std::string_view line_at(std::string_view text, size_t line) {
  auto begin = offset_of(text, {line, 1});
  auto rest = text.substr(begin);
  return rest.substr(0, rest.find('\n'));
}

// CAF reports a bad value at the end of a top-level line at the start of the
// next line; the mistake is at the end of the line before.
text_pos effective_position(std::string_view text, text_pos pos,
                            caf::pec code) {
  if (pos.column == 1 && pos.line > 1
      && (code == caf::pec::unexpected_newline
          || code == caf::pec::unexpected_eof))
    return {pos.line - 1, line_at(text, pos.line - 1).size() + 1};
  return pos;
}

// `file:4:21` for files, `line 4, column 21` for text from no file.
std::string position_text(const std::string& file, text_pos pos) {
  if (file.empty())
    return "parse error at " + at(pos);
  return file + ":" + std::to_string(pos.line) + ":"
         + std::to_string(pos.column) + ": parse error";
}

std::string place_text(std::string_view text, text_pos pos) {
  auto place = locate_in_ini(text, pos);
  std::string out;
  if (!place.path.empty())
    out += " in " + place.path;
  if (!place.pool_name.empty())
    out += " (pool " + quote(place.pool_name) + ")";
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'
         || c == '.';
}

// The bare word around `offset`, e.g. `30secs` for an error at its `e`, and
// the offset where it starts.
std::pair<std::string_view, size_t> token_at(std::string_view text,
                                             size_t offset) {
  auto begin = offset;
  while (begin > 0 && is_token_char(text[begin - 1]))
    --begin;
  auto end = offset;
  while (end < text.size() && is_token_char(text[end]))
    ++end;
  return {text.substr(begin, end - begin), begin};
}

bool is_caf_duration_unit(std::string_view unit) {
  for (auto u : {"ns", "us", "ms", "s", "min", "h"})
    if (unit == u)
      return true;
  return false;
}

std::string duration_hint(std::string_view token, caf::pec code) {
  size_t i = 0;
  while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i])))
    ++i;
  auto digits = i;
  bool fraction = i < token.size() && token[i] == '.';
  if (fraction)
    for (++i; i < token.size()
              && std::isdigit(static_cast<unsigned char>(token[i]));)
      ++i;
  auto unit = token.substr(i);
  bool letters = !unit.empty();
  for (char c : unit)
    letters = letters && std::isalpha(static_cast<unsigned char>(c)) != 0;
  if (code == caf::pec::fractional_timespan
      || (digits > 0 && fraction && letters))
    return "durations take whole numbers: write 1500ms, not 1.5s";
  if (digits > 0 && letters && !is_caf_duration_unit(unit))
    return std::string{"unknown duration unit "} + quote(unit) + " in "
           + std::string{token}
           + ": a duration is an integer and one of ns, us, ms, s, min, h, "
             "e.g. 30s";
  return {};
}

// A word where a value belongs is text without quotes.
std::string quote_hint(std::string_view text, std::string_view token,
                       size_t begin) {
  if (token.empty() || !std::isalpha(static_cast<unsigned char>(token[0]))
      || token == "true" || token == "false")
    return {};
  auto before = text.substr(0, begin);
  auto last = before.find_last_not_of(" \t");
  if (last == std::string_view::npos
      || (before[last] != '=' && before[last] != ',' && before[last] != '['))
    return {};
  std::string word{token};
  return "text needs quotes: \"" + word + "\" is a string, '" + word
         + "' an atom";
}

// A '#' outside quotes on the line, up to the error: CAF reports a '#'
// comment as a bare trailing_character, often a column or two later.
bool hash_comment(std::string_view line, size_t column) {
  char quote_char = 0;
  for (size_t i = 0; i < line.size() && i < column; ++i) {
    char c = line[i];
    if (quote_char != 0) {
      if (c == quote_char)
        quote_char = 0;
    } else if (c == '"' || c == '\'') {
      quote_char = c;
    } else if (c == ';') {
      return false;
    } else if (c == '#') {
      return true;
    }
  }
  return false;
}

std::vector<std::string> hints(std::string_view text, text_pos pos,
                               caf::pec code) {
  std::vector<std::string> out;
  if (hash_comment(line_at(text, pos.line), pos.column))
    out.emplace_back("comments start with ';', not '#'");
  auto [token, begin] = token_at(text, offset_of(text, pos));
  if (auto h = duration_hint(token, code); !h.empty())
    out.push_back(std::move(h));
  else if (auto q = quote_hint(text, token, begin); !q.empty())
    out.push_back(std::move(q));
  return out;
}

std::string describe_parse_error(const caf::error& err, std::string_view text,
                                 const std::string& file) {
  text_pos pos{0, 0};
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<caf::settings>(0)) {
    auto& xs = ctx.get_as<caf::settings>(0);
    pos.line = static_cast<size_t>(caf::get_or(xs, "line", int64_t{0}));
    pos.column = static_cast<size_t>(caf::get_or(xs, "column", int64_t{0}));
  }
  if (err.category() != caf::atom("parser") || pos.line == 0) {
    auto where = file.empty() ? std::string{"parse error"} : file;
    return where + ": " + caf::actor_system_config::render(err);
  }
  auto code = static_cast<caf::pec>(err.code());
  pos = effective_position(text, pos, code);
  auto out = position_text(file, pos) + place_text(text, pos) + ": "
             + caf::to_string(code);
  auto hs = hints(text, pos, code);
  // Where CAF stopped helps when we have no better guess.
  auto offset = offset_of(text, pos);
  if (hs.empty() && offset < text.size() && text[offset] > ' '
      && text[offset] < 0x7f)
    out += " at '" + std::string(1, text[offset]) + "'";
  for (size_t i = 0; i < hs.size(); ++i)
    out += (i == 0 ? " (" : "; ") + hs[i];
  if (!hs.empty())
    out += ')';
  return out;
}

// The key path a content error names: `pools[1]: init-count: ...` ->
// `pooler.pools[1].init-count`, then `pooler.pools[1]`; `pooler.x: ...` ->
// `pooler.x`. Most specific first.
std::vector<std::string> paths_named_by(std::string_view detail) {
  auto word = [&](size_t from) {
    auto end = from;
    while (end < detail.size()
           && (is_token_char(detail[end]) || detail[end] == '-'))
      ++end;
    return end;
  };
  std::vector<std::string> out;
  std::string_view prefix = "pools[";
  if (detail.substr(0, prefix.size()) == prefix) {
    auto close = detail.find("]: ");
    if (close == std::string_view::npos)
      return out;
    auto element = "pooler." + std::string{detail.substr(0, close + 1)};
    auto rest = detail.substr(close + 3);
    std::string_view unknown = "unknown key \"";
    auto key_end = word(close + 3) - close - 3;
    if (rest.substr(0, unknown.size()) == unknown)
      out.push_back(element + "."
                    + std::string{rest.substr(unknown.size(),
                                              rest.find('"', unknown.size())
                                                - unknown.size())});
    else if (key_end > 0 && rest.substr(key_end, 1) == ":")
      out.push_back(element + "." + std::string{rest.substr(0, key_end)});
    out.push_back(element);
    return out;
  }
  auto end = word(0);
  if (end > 0 && detail.substr(end, 1) == ":")
    out.emplace_back(detail.substr(0, end));
  return out;
}

} // namespace

caf::expected<caf::settings> parse_ini(std::string_view text,
                                       const std::string& file) {
  auto origin = file.empty() ? std::string{"ini"} : file;
  if (auto problem = find_structure_problem(text, config_dialect::ini))
    return config_error(origin, position_text(file, problem.pos)
                                  + place_text(text, problem.pos) + ": "
                                  + problem.what);
  std::istringstream in{std::string{text}};
  auto settings = caf::actor_system_config::parse_config(in);
  if (!settings)
    return config_error(origin,
                        describe_parse_error(settings.error(), text, file));
  return std::move(*settings);
}

caf::error with_file_position(const caf::error& err, std::string_view text,
                              const std::string& file) {
  if (err.category() != error_category)
    return err;
  auto detail = error_detail(err);
  auto positions = ini_key_positions(text);
  auto prefix = file + ": ";
  for (auto& path : paths_named_by(detail)) {
    if (auto i = positions.find(path); i != positions.end()) {
      prefix = file + ":" + std::to_string(i->second.line) + ":"
               + std::to_string(i->second.column) + ": ";
      break;
    }
  }
  return make_error(static_cast<errc>(err.code()), error_subject(err),
                    prefix + detail);
}

} // namespace pooler::detail
