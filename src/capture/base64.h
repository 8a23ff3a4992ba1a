#pragma once
// Base64 (RFC 4648, standard alphabet) for bodies that gateways ship base64-encoded.

#include <optional>
#include <string>
#include <string_view>

namespace ec::capture {

// Appends the padded base64 encoding of `bytes` to `*out`.
void AppendBase64(std::string_view bytes, std::string* out);

// The decoded bytes, or nullopt when `text` is not base64 (whitespace and missing padding are
// accepted, as AWS and Envoy producers differ there).
std::optional<std::string> DecodeBase64(std::string_view text);

// True when `bytes` is well-formed UTF-8 (so it can travel as a JSON string unchanged).
bool IsValidUtf8(std::string_view bytes);

}  // namespace ec::capture
