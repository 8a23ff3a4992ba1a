#pragma once
// UTF-8 encoding shared by the expression languages' lexers and string functions.

#include <cstdint>
#include <string>

namespace ec {

// Appends code point `cp` as UTF-8. Lone surrogates are written as 3-byte sequences (WTF-8),
// so JavaScript strings that hold them survive a round trip (json::AppendQuoted escapes them).
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace ec
