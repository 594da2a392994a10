// A structural pre-check of config text (INI or JSON) before a real parser
// sees it: CAF 0.17.6 accepts truncated input and recurses once per bracket.

#include <string>
#include <utility>
#include <vector>

#include "src/config_keys.hpp"

namespace pooler::detail {

std::string at(text_pos p) {
  return "line " + std::to_string(p.line) + ", column "
         + std::to_string(p.column);
}

namespace {

// A small state machine that knows just enough of both syntaxes to find
// brackets: strings, INI atoms ('x'), INI comments (;) and INI URIs (<...>).
class structure_scanner {
public:
  explicit structure_scanner(config_dialect dialect) : dialect_(dialect) {}

  text_problem run(std::string_view text) {
    for (char c : text) {
      if (auto what = step(c); !what.empty())
        return {pos_, std::move(what)};
      advance(c);
    }
    if (state_ == state::quoted)
      return {quote_start_, "string is never closed (end of input)"};
    if (!open_.empty())
      return {open_.back().second, "'" + std::string(1, open_.back().first)
                                     + "' is never closed (end of input)"};
    return {};
  }

private:
  enum class state { normal, quoted, comment, uri };

  std::string step(char c) {
    if (c == '\0')
      return "NUL character";
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
        return "nesting deeper than " + std::to_string(max_nesting)
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
      return "unexpected '" + std::string(1, c) + "'";
    if (open_.back().first != want)
      return "'" + std::string(1, c) + "' does not close '"
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

text_problem find_structure_problem(std::string_view text,
                                    config_dialect dialect) {
  return structure_scanner{dialect}.run(text);
}

std::string check_structure(std::string_view text, config_dialect dialect) {
  auto problem = find_structure_problem(text, dialect);
  return problem ? at(problem.pos) + ": " + problem.what : std::string{};
}

} // namespace pooler::detail
