#pragma once
// Decoding raw input records into the canonical exchange (contract §1).
//
// Every source (HTTP ingest, the Kafka-protocol endpoint, files, `eventception test`) hands a
// raw record to the decoders listed in Decoders(); the result is a json::Value object in the
// caller's Arena, shaped as contract §1 says:
//   {id, time, latency_ms, request{method,url,path,query,headers,body},
//    response{status,headers,body}, client, gateway}
// with header names lower-cased, the query parsed (repeated keys -> list of strings), JSON and
// form bodies parsed, base64 bodies decoded, and the `redact` paths of the loaded specs applied
// (so nothing secret reaches disk). docs/decoders.md describes every decoder.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"

namespace ec::pipeline {

// Limits and ingest-time settings; every limit is explicit and configurable.
struct DecodeOptions {
  size_t max_record_bytes = 4 << 20;  // raw record text (DecodeBytes), kLimitExceeded beyond
  size_t max_body_bytes = 1 << 20;    // one decoded request/response body
  uint32_t max_depth = 64;            // JSON nesting of the record and of parsed bodies
  size_t max_entries = 10000;         // exchanges produced by one record (HAR files)
  // Dotted paths into the exchange whose values are replaced by kRedacted at ingest, e.g.
  // "request.headers.authorization" (header names compare case-insensitively). Usually
  // CompiledSpecs::redact_paths(). Not owned; must outlive the call.
  std::span<const std::string> redact;
  // Clock for `time` when a record has none: milliseconds since the Unix epoch; < 0 = now.
  int64_t now_ms = -1;
  // When set (both), each decoded exchange is also appended to *json_out as compact JSON text,
  // exactly json::AppendJson of the exchange, and that text's size to *json_sizes. Ingest
  // stores this text; for a record without an id it is written in the same walk as the
  // stable id's hash text, so the exchange is not serialised a second time. On error
  // DecodeRecords leaves both as they were. Not owned.
  std::string* json_out = nullptr;
  std::vector<size_t>* json_sizes = nullptr;
};

// What a redacted value is replaced with.
inline constexpr std::string_view kRedacted = "[REDACTED]";

// One entry of the decoder table: docs, `--help` and validation read it.
struct DecoderInfo {
  std::string_view name;         // the `format` name, e.g. "kong"
  std::string_view description;  // one line
  std::string_view example;      // a small raw record this decoder accepts (JSON text)
};

// Every decoder, in detection order. "detect" is not a decoder but picks one of these.
std::span<const DecoderInfo> Decoders();

// The decoder `format` would use for `raw` ("detect" = look at the record's shape), or
// kInvalidArgument naming the known formats / saying why nothing fits.
Result<std::string_view> DetectFormat(const json::Value& raw, std::string_view format);

// Decodes one raw record (parsed JSON) in `format` (a Decoders() name or "detect") into one or
// more canonical exchanges appended to `*out` (a HAR file gives one per entry). All new
// storage lives in `arena`; `raw` is only read, and may be referenced by the result.
// Errors: kInvalidArgument (unknown format, wrong shape or types; the message says which
// field and why), kLimitExceeded (body, depth or entry limits). Nothing is appended on error.
Status DecodeRecords(const json::Value& raw, std::string_view format, const DecodeOptions& options,
                     Arena* arena, std::vector<json::Value>* out);

// As DecodeRecords, for formats that give exactly one exchange; more than one is an error.
Result<json::Value> DecodeExchange(const json::Value& raw, std::string_view format,
                                   const DecodeOptions& options, Arena* arena);

// Parses JSON text (limits: max_record_bytes, max_depth) and decodes it as DecodeRecords does.
// Parse errors are kParseError with line:column.
Status DecodeBytes(std::string_view bytes, std::string_view format, const DecodeOptions& options,
                   Arena* arena, std::vector<json::Value>* out);

// The stable id of an exchange that has none: "x" + 32 lower-case hex digits of a SHA-256 over
// the record's canonical JSON (without `id`), so a retried delivery of the same record gets
// the same id. Exposed for tests and docs.
std::string StableExchangeId(const json::Value& exchange_without_id);

}  // namespace ec::pipeline
