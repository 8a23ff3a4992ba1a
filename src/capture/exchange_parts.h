#pragma once
// Pieces of the canonical exchange (contract §1) shared by the capture proxy and the gateway
// decoders: headers, query strings, bodies and times turned into json::Values in an Arena.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "json/builder.h"
#include "json/value.h"
#include "base/url.h"

namespace ec::capture {

using HeaderPair = std::pair<std::string_view, std::string_view>;

// {"name": "value"} with names lower-cased; a repeated name's values are joined with ", "
// (RFC 9110 §5.3), in arrival order.
json::Value HeadersValue(std::span<const HeaderPair> headers, json::Builder& b);

// The query string (without '?') as an object: percent-decoded, '+' as space; a repeated key
// becomes a list of strings; a key without '=' gets "".
json::Value QueryValue(std::string_view query, json::Builder& b);

using ::ec::PercentDecode;  // base/url.h

// A body as the contract wants it: JSON content types parsed (text kept when it does not
// parse, e.g. a truncated capture), form bodies as objects, other text as a string, empty as
// null. Bytes that are not UTF-8 become a base64 string and `*base64` is set.
json::Value BodyValue(std::string_view bytes, std::string_view content_type, json::Builder& b,
                      bool* base64 = nullptr);

// True for application/json and any */*+json media type (parameters ignored).
bool IsJsonContentType(std::string_view content_type);

// "2026-11-27T10:15:30.123Z" for milliseconds since the Unix epoch.
std::string FormatRfc3339Millis(int64_t unix_ms);
// Milliseconds since the epoch from RFC 3339 / ISO 8601 text ("2026-11-27T10:15:30.123Z",
// "+01:00" offsets, "2026-11-27T10:15:30+0000"); false when it is not such a time.
bool ParseRfc3339Millis(std::string_view text, int64_t* unix_ms);

// Splits "/p/a?x=1#f" into path "/p/a" and query "x=1" (fragment dropped).
void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query);

// Builds an object from members (keys must outlive the arena use, e.g. literals).
json::Value ObjectOf(std::initializer_list<json::Member> members, json::Builder& b);

}  // namespace ec::capture
