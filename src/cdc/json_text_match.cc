#include "cdc/json_text_match.h"

#include <cmath>
#include <cstring>
#include <string>

#include "json/writer.h"

namespace ec::cdc {
namespace {

bool IsNumberByte(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

class Matcher {
 public:
  explicit Matcher(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool Value(const json::Value& v) {
    if (v.has_known_text()) {  // exactly what AppendJson writes for it (json/value.h)
      const std::string_view t = v.known_text();
      if (static_cast<size_t>(end_ - p_) < t.size() || std::memcmp(p_, t.data(), t.size()) != 0) return false;
      p_ += t.size();
      return true;
    }
    switch (v.kind()) {
      case json::Kind::kNull: return Literal("null");
      case json::Kind::kBool: return Literal(v.bool_value() ? "true" : "false");
      case json::Kind::kNumber: return Number(v.number());
      case json::Kind::kString: return String(v.string());
      case json::Kind::kArray: {
        if (!Byte('[')) return false;
        bool first = true;
        for (const json::Value& e : v.array()) {
          if (!first && !Byte(',')) return false;
          first = false;
          if (!Value(e)) return false;
        }
        return Byte(']');
      }
      case json::Kind::kObject: {
        if (!Byte('{')) return false;
        bool first = true;
        for (const json::Member& m : v.object()) {
          if (!first && !Byte(',')) return false;
          first = false;
          if (!String(m.key) || !Byte(':') || !Value(m.value)) return false;
        }
        return Byte('}');
      }
    }
    return false;
  }

  bool AtEnd() const { return p_ == end_; }

 private:
  bool Byte(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  bool Literal(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() || std::string_view(p_, s.size()) != s) return false;
    p_ += s.size();
    return true;
  }

  // A string with a byte AppendQuoted escapes is written differently: no match here, so the
  // caller falls back to the full comparison.
  bool String(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() + 2 || *p_ != '"') return false;
    const char* t = p_ + 1;
    if (t[s.size()] != '"' || std::memcmp(t, s.data(), s.size()) != 0 || !json::QuotedAsIs(s)) return false;
    p_ = t + s.size() + 1;
    return true;
  }

  // The stored text is AppendJson output, whose number text is a function of the value:
  // writing `d` (cheap for integers and short decimals) and comparing bytes says whether the
  // text holds `d`, without parsing it. Text written some other way may not match: then the
  // caller's full comparison decides.
  bool Number(double d) {
    if (!std::isfinite(d)) return false;  // written as null: not worth a special case
    number_.clear();
    json::AppendJsNumber(d, &number_);
    if (static_cast<size_t>(end_ - p_) < number_.size() || std::memcmp(p_, number_.data(), number_.size()) != 0) {
      return false;
    }
    const char* q = p_ + number_.size();
    if (q != end_ && IsNumberByte(*q)) return false;  // the text's number goes on
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
  std::string number_;  // reused
};

}  // namespace

bool IsJsonTextOf(const json::Value& value, std::string_view text) {
  Matcher m(text);
  return m.Value(value) && m.AtEnd();
}

}  // namespace ec::cdc
