#pragma once
// Helpers shared by the decoders (internal to src/pipeline).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/builder.h"
#include "json/value.h"
#include "pipeline/exchange.h"
#include "base/url.h"

namespace ec::pipeline::internal {

// One side of an exchange as a decoder found it, before normalisation.
struct MessageDraft {
  json::Value method;   // request: string
  json::Value status;   // response: number
  json::Value url;      // string or null
  json::Value path;     // string or null (derived from url when null)
  json::Value query;    // object or null (parsed from url when null)
  std::vector<json::Member> headers;  // names as given; values string or array of strings
  json::Value headers_object;         // the source's headers object, when it had one
  json::Value body;           // null, string (raw text) or an already-parsed JSON value
  bool body_base64 = false;   // body is a base64 string
  std::string_view mime_type; // fallback content type when there is no content-type header
};

struct ExchangeDraft {
  json::Value id;          // string or null
  json::Value time;        // RFC 3339 string, epoch-ms number, or null
  json::Value latency_ms;  // number or null
  MessageDraft request;
  MessageDraft response;
  json::Value client;   // object or null
  json::Value gateway;  // object or null
};

// Turns a draft into the canonical exchange (contract §1): normalises headers, query and
// bodies, assigns time and id, applies redaction. `where` prefixes error messages.
Result<json::Value> FinishExchange(ExchangeDraft& draft, const DecodeOptions& options,
                                   Arena* arena, std::string_view where);

// Base64 (standard or URL alphabet, padding optional). False on invalid input.
bool DecodeBase64(std::string_view in, std::string* out);
using ::ec::PercentDecode;  // base/url.h
// "a=1&b=2&a=3" -> {"a": ["1", "3"], "b": "2"} (repeated keys become lists).
json::Value ParseQueryString(std::string_view query, json::Builder& b);
// True when `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);
// ASCII lower case.
std::string ToLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// "request.method must be a string, got number" style messages.
Status WrongType(std::string_view where, std::string_view field, std::string_view want,
                 const json::Value& got);

// Applies the redaction `paths` to `exchange` (only the objects on those paths are rebuilt).
json::Value Redact(const json::Value& exchange, std::span<const std::string> paths, Arena* arena);

// A decoder: appends one or more exchanges to `out`.
using DecodeFn = Status (*)(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                            std::vector<json::Value>* out);
Status DecodeCanonical(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                       std::vector<json::Value>* out);
Status DecodeKong(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                  std::vector<json::Value>* out);
Status DecodeHar(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                 std::vector<json::Value>* out);

// Detection predicates (cheap shape checks).
bool LooksLikeHar(const json::Value& raw);
bool LooksLikeKong(const json::Value& raw);
bool LooksLikeCanonical(const json::Value& raw);

}  // namespace ec::pipeline::internal
