// Which key a position of INI text belongs to. CAF 0.17's parser reports a
// code, a line and a column only; to name the key, and to put positions on
// errors found after parsing, we walk the text with a small state machine
// that knows sections, keys, lists, dictionaries, strings and comments.

#include <cctype>
#include <string>
#include <vector>

#include "src/config_ini.hpp"

namespace pooler::detail {

namespace {

bool is_word_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '-' || c == '.';
}

std::string join(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

class ini_walker {
public:
  explicit ini_walker(std::string_view text) : text_(text) {
  }

  // Walks the characters before `stop` (an offset).
  void walk(size_t stop) {
    for (size_t i = 0; i < stop && i < text_.size(); ++i) {
      step(text_[i]);
      if (text_[i] == '\n') {
        ++pos_.line;
        pos_.column = 1;
      } else {
        ++pos_.column;
      }
    }
  }

  // The key path at the point where the walk stopped.
  std::string path() const {
    auto out = section_;
    if (in_value_)
      out = join(out, top_key_);
    for (auto& f : frames_) {
      if (f.kind == '[')
        out += "[" + std::to_string(f.index) + "]";
      else if (!f.key.empty())
        out = join(out, f.key);
    }
    return out;
  }

  std::string pool_name() const {
    for (auto i = frames_.rbegin(); i != frames_.rend(); ++i)
      if (!i->name.empty())
        return i->name;
    return {};
  }

  std::map<std::string, text_pos>& positions() {
    return positions_;
  }

private:
  enum class state { normal, section, quoted, comment, uri };

  struct frame {
    char kind;       // '[' or '{'
    size_t index;    // lists: the element being read
    std::string key; // dictionaries: the key being read
    std::string name;
  };

  void step(char c) {
    if (c == '\n' && state_ != state::normal) {
      // Strings, comments and section headers end with their line.
      state_ = state::normal;
    }
    switch (state_) {
      case state::section:
        if (c == ']') {
          positions_[section_] = section_start_;
          state_ = state::normal;
        } else if (!std::isspace(static_cast<unsigned char>(c)))
          section_ += c;
        return;
      case state::quoted:
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
          return;
        } else if (c == quote_char_) {
          state_ = state::normal;
          return;
        }
        if (capture_ != nullptr)
          *capture_ += c;
        return;
      case state::comment: return;
      case state::uri:
        if (c == '>')
          state_ = state::normal;
        return;
      case state::normal: normal(c); return;
    }
  }

  void normal(char c) {
    if (is_word_char(c)) {
      if (word_.empty())
        word_start_ = pos_;
      word_ += c;
      return;
    }
    if (!word_.empty()) {
      last_word_ = std::move(word_);
      last_word_start_ = word_start_;
      word_.clear();
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\r': return;
      case '=': key(); break;
      case ',':
        if (!frames_.empty()) {
          if (frames_.back().kind == '[')
            ++frames_.back().index;
          else
            frames_.back().key.clear();
        }
        break;
      case '[':
        if (frames_.empty() && !in_value_) {
          section_.clear();
          section_start_ = pos_;
          state_ = state::section;
          return;
        }
        frames_.push_back({'[', 0, {}, {}});
        break;
      case '{':
        if (!frames_.empty() && frames_.back().kind == '[')
          positions_[path()] = pos_;
        frames_.push_back({'{', 0, {}, {}});
        break;
      case ']':
      case '}':
        if (!frames_.empty())
          frames_.pop_back();
        break;
      case '"':
      case '\'': quote(c); break;
      case ';': state_ = state::comment; break;
      case '<': state_ = state::uri; break;
      case '\n':
        if (frames_.empty()) {
          in_value_ = false;
          top_key_.clear();
        }
        break;
      default: break;
    }
    last_word_.clear();
  }

  void key() {
    if (last_word_.empty())
      return;
    if (frames_.empty()) {
      if (in_value_)
        return;
      top_key_ = last_word_;
      in_value_ = true;
    } else if (frames_.back().kind == '{') {
      frames_.back().key = last_word_;
    } else {
      return;
    }
    positions_[path()] = last_word_start_;
  }

  void quote(char c) {
    state_ = state::quoted;
    quote_char_ = c;
    capture_ = nullptr;
    // A pool's name helps find it among many: remember it.
    if (c == '"' && !frames_.empty() && frames_.back().kind == '{'
        && frames_.back().key == "name") {
      frames_.back().name.clear();
      capture_ = &frames_.back().name;
    }
  }

  std::string_view text_;
  text_pos pos_;
  state state_ = state::normal;
  std::string section_;
  text_pos section_start_;
  std::string top_key_;
  bool in_value_ = false;
  std::vector<frame> frames_;
  std::string word_;
  text_pos word_start_;
  std::string last_word_;
  text_pos last_word_start_;
  char quote_char_ = '"';
  bool escaped_ = false;
  std::string* capture_ = nullptr;
  std::map<std::string, text_pos> positions_;
};

} // namespace

ini_place locate_in_ini(std::string_view text, text_pos pos) {
  // The offset of `pos`, clamped to the text.
  size_t offset = 0;
  for (size_t line = 1; line < pos.line && offset < text.size(); ++offset)
    if (text[offset] == '\n')
      ++line;
  offset += pos.column > 0 ? pos.column - 1 : 0;
  ini_walker w{text};
  w.walk(offset);
  return {w.path(), w.pool_name()};
}

std::map<std::string, text_pos> ini_key_positions(std::string_view text) {
  ini_walker w{text};
  w.walk(text.size());
  return std::move(w.positions());
}

} // namespace pooler::detail
