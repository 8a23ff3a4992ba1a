#pragma once
// Percent-decoding and query-string lookup, shared by ingest, decoders, the proxy and the
// HTTP APIs (one implementation, one behaviour).

#include <string>
#include <string_view>

namespace ec {

// "%41+b" -> "A+b", or "A b" when `plus_is_space` (form/query decoding). Invalid escapes are
// kept literally.
std::string PercentDecode(std::string_view s, bool plus_is_space);

// The decoded value of the first `name` parameter in a raw query string ("a=1&b=x%20y"; '+'
// as space), "" when absent; `*found` (optional) says whether it was present.
std::string FindQueryParam(std::string_view query, std::string_view name, bool* found = nullptr);

}  // namespace ec
