#include "jsonata/lexer.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ec::jsonata::internal {
namespace {

// The single-character operators, as a table: the lexer asks this for every character of every
// name, and strchr over the set was a tenth of compile time.
constexpr std::array<bool, 256> kOperatorChars = [] {
  std::array<bool, 256> t{};
  for (const char* p = ".[]{}(),@#;:?+-*/%|=<>^&!~"; *p; ++p) t[static_cast<unsigned char>(*p)] = true;
  return t;
}();
bool IsOperatorChar(char c) { return kOperatorChars[static_cast<unsigned char>(c)]; }

// Whether `a` `b` spell a two-character operator: .. := != >= <= ** ~> ?: ??
bool IsTwoCharOperator(char a, char b) {
  switch (a) {
    case '.': return b == '.';
    case ':': case '!': case '>': case '<': return b == '=';
    case '*': return b == '*';
    case '~': return b == '>';
    case '?': return b == ':' || b == '?';
    default: return false;
  }
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace


bool Lexer::Fail(Error* error, const char* code, const char* message, int64_t position, std::string token) {
  error->code = code;
  error->message = message;
  error->position = position;
  error->token = std::move(token);
  return false;
}

bool Lexer::Next(bool infix, Token* tok, Error* error) {
  *tok = Token();
  const size_t n = src_.size();
  for (;;) {
    while (pos_ < n && IsSpace(src_[pos_])) pos_++;
    if (pos_ + 1 < n && src_[pos_] == '/' && src_[pos_ + 1] == '*') {
      size_t start = pos_;
      size_t end = src_.find("*/", pos_ + 2);
      if (end == std::string_view::npos) {
        return Fail(error, "S0106", "Comment has no closing tag", static_cast<int64_t>(start));
      }
      pos_ = end + 2;
      continue;
    }
    break;
  }
  if (pos_ >= n) {
    tok->type = TT::kEnd;
    tok->position = static_cast<int64_t>(n);
    return true;
  }
  char c = src_[pos_];
  // Regex literal where an operand is expected.
  if (!infix && c == '/') {
    pos_++;
    size_t start = pos_;
    int depth = 0;
    while (pos_ < n) {
      char ch = src_[pos_];
      if (ch == '/' && depth == 0) {
        size_t bs = 0;
        while (pos_ >= bs + 1 && src_[pos_ - bs - 1] == '\\') bs++;
        if (bs % 2 == 0) {
          std::string_view pattern = src_.substr(start, pos_ - start);
          if (pattern.empty()) return Fail(error, "S0301", "Empty regular expressions are not allowed", pos_);
          pos_++;
          size_t fstart = pos_;
          while (pos_ < n && (src_[pos_] == 'i' || src_[pos_] == 'm')) pos_++;
          tok->type = TT::kRegex;
          tok->value = std::string(pattern);
          tok->flags = std::string(src_.substr(fstart, pos_ - fstart));
          tok->position = static_cast<int64_t>(pos_);
          return true;
        }
      }
      bool escaped = pos_ > 0 && src_[pos_ - 1] == '\\';
      if ((ch == '(' || ch == '[' || ch == '{') && !escaped) depth++;
      if ((ch == ')' || ch == ']' || ch == '}') && !escaped) depth--;
      pos_++;
    }
    return Fail(error, "S0302", "No terminating / in regular expression", pos_);
  }
  // Two-character operators.
  if (pos_ + 1 < n) {
    // "?." style lookahead is not part of JSONata; "??" and "?:" are operators in 2.x.
    if (IsTwoCharOperator(c, src_[pos_ + 1])) {
      tok->type = TT::kOperator;
      tok->value = std::string(src_.substr(pos_, 2));
      pos_ += 2;
      tok->position = static_cast<int64_t>(pos_);
      return true;
    }
  }
  if (IsOperatorChar(c)) {
    pos_++;
    tok->type = TT::kOperator;
    tok->value = std::string(1, c);
    tok->position = static_cast<int64_t>(pos_);
    return true;
  }
  // String literals.
  if (c == '"' || c == '\'') {
    char quote = c;
    pos_++;
    std::string s;
    while (pos_ < n) {
      char ch = src_[pos_];
      if (ch == '\\') {
        pos_++;
        if (pos_ >= n) break;
        char e = src_[pos_];
        switch (e) {
          case '"': s.push_back('"'); break;
          case '\\': s.push_back('\\'); break;
          case '/': s.push_back('/'); break;
          case 'b': s.push_back('\b'); break;
          case 'f': s.push_back('\f'); break;
          case 'n': s.push_back('\n'); break;
          case 'r': s.push_back('\r'); break;
          case 't': s.push_back('\t'); break;
          case 'u': {
            auto hex4 = [&](size_t at, uint32_t* out) {
              if (at + 4 > n) return false;
              uint32_t v = 0;
              for (size_t k = 0; k < 4; ++k) {
                int h = HexVal(src_[at + k]);
                if (h < 0) return false;
                v = v * 16 + static_cast<uint32_t>(h);
              }
              *out = v;
              return true;
            };
            uint32_t cp = 0;
            if (!hex4(pos_ + 1, &cp)) {
              return Fail(error, "S0104", "The escape sequence \\u must be followed by 4 hex digits", pos_);
            }
            pos_ += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 2 < n && src_[pos_ + 1] == '\\' && src_[pos_ + 2] == 'u') {
              uint32_t lo = 0;
              if (hex4(pos_ + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                pos_ += 6;
              }
            }
            AppendUtf8(cp, &s);
            break;
          }
          default:
            return Fail(error, "S0103", "Unsupported escape sequence", pos_, std::string(1, e));
        }
        pos_++;
        continue;
      }
      if (ch == quote) {
        pos_++;
        tok->type = TT::kString;
        tok->value = std::move(s);
        tok->position = static_cast<int64_t>(pos_);
        return true;
      }
      s.push_back(ch);
      pos_++;
    }
    return Fail(error, "S0101", "String literal must be terminated by a matching quote", pos_);
  }
  // Numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?
  if (c >= '0' && c <= '9') {
    size_t p = pos_;
    if (src_[p] == '0') {
      p++;
    } else {
      while (p < n && src_[p] >= '0' && src_[p] <= '9') p++;
    }
    if (p + 1 < n && src_[p] == '.' && src_[p + 1] >= '0' && src_[p + 1] <= '9') {
      p++;
      while (p < n && src_[p] >= '0' && src_[p] <= '9') p++;
    }
    if (p < n && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < n && (src_[q] == '+' || src_[q] == '-')) q++;
      if (q < n && src_[q] >= '0' && src_[q] <= '9') {
        while (q < n && src_[q] >= '0' && src_[q] <= '9') q++;
        p = q;
      }
    }
    std::string text(src_.substr(pos_, p - pos_));
    double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) {
      return Fail(error, "S0102", "Number out of range", pos_, text);
    }
    pos_ = p;
    tok->type = TT::kNumber;
    tok->num = d;
    tok->value = text;
    tok->position = static_cast<int64_t>(pos_);
    return true;
  }
  // Backtick-quoted names.
  if (c == '`') {
    pos_++;
    size_t end = src_.find('`', pos_);
    if (end == std::string_view::npos) {
      pos_ = n;
      return Fail(error, "S0105", "Quoted property name must be terminated with a backquote (`)", n);
    }
    tok->type = TT::kName;
    tok->value = std::string(src_.substr(pos_, end - pos_));
    pos_ = end + 1;
    tok->position = static_cast<int64_t>(pos_);
    return true;
  }
  // Names and variables.
  size_t p = pos_;
  while (p < n && !IsSpace(src_[p]) && !IsOperatorChar(src_[p]) && src_[p] != '"' && src_[p] != '\'' &&
         src_[p] != '`')
    p++;
  if (p == pos_) p++;  // a lone unexpected character
  std::string_view name = src_.substr(pos_, p - pos_);
  pos_ = p;
  tok->position = static_cast<int64_t>(pos_);
  if (name[0] == '$') {
    tok->type = TT::kVariable;
    tok->value = std::string(name.substr(1));
  } else if (name == "and" || name == "or" || name == "in") {
    tok->type = TT::kOperator;
    tok->value = std::string(name);
  } else if (name == "true" || name == "false" || name == "null") {
    tok->type = TT::kValue;
    tok->value = std::string(name);
  } else {
    tok->type = TT::kName;
    tok->value = std::string(name);
  }
  return true;
}

}  // namespace ec::jsonata::internal
