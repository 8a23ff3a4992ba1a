#include "json/error_locator.h"

#include <vector>

namespace ec::json {
namespace {

class Locator {
 public:
  explicit Locator(std::string_view t) : t_(t) {}

  ErrorLocation Run() {
    SkipSpace();
    if (!ParseValue()) return Fail();
    SkipSpace();
    if (i_ != t_.size()) { reason_ = "unexpected text after the JSON value"; return Fail(); }
    reason_ = "invalid JSON";  // simdjson disagreed (e.g. invalid UTF-8 we do not check)
    return Fail();
  }

 private:
  ErrorLocation Fail() {
    ErrorLocation loc;
    loc.offset = i_;
    for (size_t k = 0; k < i_ && k < t_.size(); ++k) {
      if (t_[k] == '\n') { ++loc.line; loc.column = 1; } else { ++loc.column; }
    }
    loc.reason = reason_;
    if (i_ < t_.size()) {
      loc.reason += " near '" + std::string(t_.substr(i_, 16)) + "'";
    } else {
      loc.reason += " at end of input";
    }
    return loc;
  }
  void SkipSpace() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool Expect(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) { reason_ = "unexpected token"; return false; }
    i_ += word.size();
    return true;
  }
  bool ParseString() {
    ++i_;  // opening quote
    while (i_ < t_.size()) {
      unsigned char c = t_[i_];
      if (c == '"') { ++i_; return true; }
      if (c < 0x20) { reason_ = "control character in string"; return false; }
      if (c == '\\') {
        ++i_;
        if (i_ >= t_.size()) break;
        char e = t_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (i_ + k >= t_.size() || !isxdigit(static_cast<unsigned char>(t_[i_ + k]))) {
              reason_ = "bad \\u escape"; return false;
            }
          }
          i_ += 4;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          reason_ = "bad escape"; return false;
        }
      }
      ++i_;
    }
    reason_ = "unterminated string";
    return false;
  }
  bool ParseNumber() {
    size_t start = i_;
    if (t_[i_] == '-') ++i_;
    size_t digits = i_;
    while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
    if (i_ == digits) { reason_ = "bad number"; return false; }
    if (t_[digits] == '0' && i_ - digits > 1) { i_ = start; reason_ = "leading zero in number"; return false; }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      size_t f = i_;
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
      if (i_ == f) { reason_ = "bad number"; return false; }
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      size_t f = i_;
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
      if (i_ == f) { reason_ = "bad number"; return false; }
    }
    return true;
  }
  // Iterative over containers so hostile nesting cannot overflow the stack.
  bool ParseValue() {
    std::vector<char> stack;  // '[' or '{'
    for (;;) {
      SkipSpace();
      if (i_ >= t_.size()) { reason_ = "unexpected end of input"; return false; }
      char c = t_[i_];
      if (c == '{' || c == '[') {
        stack.push_back(c);
        ++i_;
        SkipSpace();
        char close = c == '{' ? '}' : ']';
        if (i_ < t_.size() && t_[i_] == close) { ++i_; stack.pop_back(); }
        else {
          if (c == '{' && !ParseKey()) return false;
          continue;
        }
      } else if (c == '"') { if (!ParseString()) return false; }
      else if (c == 't') { if (!Expect("true")) return false; }
      else if (c == 'f') { if (!Expect("false")) return false; }
      else if (c == 'n') { if (!Expect("null")) return false; }
      else if (c == '-' || isdigit(static_cast<unsigned char>(c))) { if (!ParseNumber()) return false; }
      else { reason_ = "unexpected character"; return false; }
      // After a value: close containers or move to the next element.
      for (;;) {
        if (stack.empty()) return true;
        SkipSpace();
        if (i_ >= t_.size()) { reason_ = "unexpected end of input"; return false; }
        char close = stack.back() == '{' ? '}' : ']';
        if (t_[i_] == ',') {
          ++i_;
          if (stack.back() == '{' && !ParseKey()) return false;
          break;
        }
        if (t_[i_] == close) { ++i_; stack.pop_back(); continue; }
        reason_ = std::string("expected ',' or '") + close + "'";
        return false;
      }
    }
  }
  bool ParseKey() {
    SkipSpace();
    if (i_ >= t_.size() || t_[i_] != '"') { reason_ = "expected a quoted object key"; return false; }
    if (!ParseString()) return false;
    SkipSpace();
    if (i_ >= t_.size() || t_[i_] != ':') { reason_ = "expected ':' after object key"; return false; }
    ++i_;
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
  std::string reason_;
};

}  // namespace

ErrorLocation LocateJsonError(std::string_view text) { return Locator(text).Run(); }

}  // namespace ec::json
