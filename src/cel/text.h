#pragma once
// Text helpers for the CEL library: base64, UTF-8 code points, number formatting.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.h"

namespace ec::cel {

std::string Base64Encode(std::string_view bytes);
// Standard alphabet; padding optional. False on invalid input.
bool Base64Decode(std::string_view text, std::string* out);

bool IsValidUtf8(std::string_view s);
// Number of code points in valid UTF-8 `s`.
size_t CodePointCount(std::string_view s);
// Byte offset of code point `index` in `s` (s.size() when index == count).
size_t CodePointOffset(std::string_view s, size_t index);
// Decodes valid UTF-8 into code points.
std::vector<uint32_t> DecodeUtf8(std::string_view s);
using ::ec::AppendUtf8;

// A double as CEL's string() prints it (Go's strconv 'g', shortest): "1.5", "1e+21", "NaN".
std::string FormatDouble(double d);

}  // namespace ec::cel
