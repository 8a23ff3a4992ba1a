#pragma once
// The tests' reference for json::AppendQuoted: JSON.stringify of a string, one byte at a time
// (control bytes as \u00XX, an encoded lone surrogate as \uDXXX, every other byte as it is).

#include <cstdio>
#include <string>
#include <string_view>

namespace ec::json::testing {

inline std::string ReferenceQuoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char esc[8];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else if (c == 0xED && i + 2 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0xA0) {
          unsigned cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                        (static_cast<unsigned char>(s[i + 2]) & 0x3F);
          std::snprintf(esc, sizeof esc, "\\u%04x", cp);
          out += esc;
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace ec::json::testing
