#include "cdc/json_text_match.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ec::cdc {
namespace {

// Bytes that AppendQuoted does not copy as they are (json/writer.cc): a string holding one is
// left to the full comparison.
constexpr bool Escaped(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c == 0xED; }

// Whether any byte of `s` is Escaped, eight bytes at a time (strings are most of a state's
// text): a word has a byte equal to b when (x ^ b*ones) has a zero byte, and one below 0x20
// when x - 0x20*ones borrows into a byte whose top bit was clear.
bool HasEscaped(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if (zero_byte(x ^ (kOnes * '"')) | zero_byte(x ^ (kOnes * '\\')) | zero_byte(x ^ (kOnes * 0xED)) |
        ((x - kOnes * 0x20) & ~x & kHigh)) {
      return true;  // or a false alarm: rare, and false only costs the full comparison
    }
  }
  for (; i < s.size(); ++i) {
    if (Escaped(static_cast<unsigned char>(s[i]))) return true;
  }
  return false;
}

bool IsNumberByte(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'; }

class Matcher {
 public:
  explicit Matcher(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool Value(const json::Value& v) {
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

  bool String(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() + 2 || *p_ != '"') return false;
    const char* t = p_ + 1;
    if (t[s.size()] != '"' || std::memcmp(t, s.data(), s.size()) != 0 || HasEscaped(s)) return false;
    p_ = t + s.size() + 1;
    return true;
  }

  bool Number(double d) {
    if (!std::isfinite(d)) return false;  // written as null: not worth a special case
    const char* q = p_;
    while (q != end_ && IsNumberByte(*q)) ++q;
    if (q == p_) return false;
    double parsed = 0;
    auto [ptr, ec] = std::from_chars(p_, q, parsed);
    if (ec != std::errc() || ptr != q || parsed != d) return false;
    p_ = q;
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

bool IsJsonTextOf(const json::Value& value, std::string_view text) {
  Matcher m(text);
  return m.Value(value) && m.AtEnd();
}

}  // namespace ec::cdc
