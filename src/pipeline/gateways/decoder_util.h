#pragma once
// Helpers shared by the gateway decoders in this folder (internal).

#include <cstdint>
#include <string>
#include <string_view>

#include "json/value.h"

namespace ec::pipeline::gateways {

// The member `key` of `obj`, or a null Value when absent (or `obj` is not an object).
const json::Value& Get(const json::Value& obj, std::string_view key);
// The first of `keys` present and not null.
const json::Value& GetAny(const json::Value& obj, std::initializer_list<std::string_view> keys);
// A string value treating gateway placeholders for "absent" ("-", "") as null.
json::Value Absent(const json::Value& v);
// A number from a number or a numeric string ("200", "12.5"); null when neither.
json::Value Numeric(const json::Value& v);
// Milliseconds since the epoch from a Common Log Format time "27/Nov/2026:01:39:28 +0000"
// (HAProxy %trg/%tr, API Gateway $context.requestTime), milliseconds optional after seconds.
bool ParseClfTime(std::string_view s, int64_t* unix_ms);
// A time as epoch milliseconds when it is RFC 3339 / ISO 8601 text (so every decoder writes
// the same "...Z" form), otherwise `v` unchanged for the pipeline to judge.
json::Value TimeValue(const json::Value& v);
// "10.0.0.7:51234" -> "10.0.0.7", "[::1]:80" -> "::1".
std::string_view HostOfAddress(std::string_view address);

}  // namespace ec::pipeline::gateways
