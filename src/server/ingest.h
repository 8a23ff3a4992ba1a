#pragma once
// HTTP ingest (contract §4): POST /v1/exchanges with a JSON object, a JSON array or NDJSON.
// Each record is decoded and redacted by the pipeline's decoders, the accepted exchanges are
// appended to the raw topic durably (kSync, group commit) and only then does the request get
// its 202. Canonical exchanges are what reaches disk, so the pipeline reads one format.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "server/http/http_types.h"

namespace ec::log {
class LogManager;
}
namespace ec::spec {
class CompiledSpecs;
}

namespace ec::server {

class MetricsRegistry;
class Counter;
class DedupeIndex;

// How a request body is cut into raw records.
enum class BodyShape { kObject, kArray, kNdjson };

struct RawRecord {
  size_t index = 0;     // position in the request (array element / NDJSON record), 0-based
  json::Value value;    // parsed record (valid when error.ok())
  Status error;         // a parse/size problem of this record alone
};

struct SplitOptions {
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
};

// Parses `body` into records in `arena`. A whole-body problem (not JSON, empty) is the returned
// Status (kParseError with line:column); problems of single NDJSON lines are per-record errors.
// `shape` receives what was found.
Status SplitBody(std::string_view body, std::string_view content_type, const SplitOptions& options,
                 Arena* arena, std::vector<RawRecord>* records, BodyShape* shape);

struct IngestOptions {
  std::string raw_topic = "api-logs";
  std::string default_format = "detect";
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
  size_t max_body_bytes = 16 << 20;
  int64_t max_lag_records = 100000;
  int retry_after_seconds = 1;
};

// One decoded, redacted exchange ready for the raw topic.
struct IngestRecord {
  std::string key;    // the exchange id
  std::string value;  // canonical exchange JSON
};

struct Rejection {
  size_t index;
  std::string reason;
  std::string_view code;  // ErrorCode name, also the metrics label
};

// Decodes `records` (format name or "detect") with redaction into canonical JSON.
void DecodeForIngest(const std::vector<RawRecord>& records, std::string_view format,
                     const spec::CompiledSpecs* specs, const IngestOptions& options, Arena* arena,
                     std::vector<IngestRecord>* accepted, std::vector<Rejection>* rejected);

// Makes RecordBatch v2 bytes (several batches when large) of `records`, each with `timestamp_ms`.
Result<std::string> BuildBatches(const std::vector<IngestRecord>& records, int64_t timestamp_ms);

class Ingest {
 public:
  // `lag` returns how many raw records the pipeline has not processed yet.
  Ingest(IngestOptions options, log::LogManager* logs,
         std::shared_ptr<const spec::CompiledSpecs> specs, MetricsRegistry* metrics,
         std::function<int64_t()> lag);

  // POST /v1/exchanges.
  HttpResponse Handle(HttpRequest& req);

  // Validates a format name ("detect" or a decoder). Errors: kInvalidArgument listing formats.
  static Status CheckFormat(std::string_view format);

  // Idempotent ingest (dedupe_index.h): exchanges whose id was ingested within the window are
  // acknowledged and counted as duplicates, not appended. Not owned; null = off.
  void SetDedupe(DedupeIndex* dedupe) { dedupe_ = dedupe; }

 private:
  DedupeIndex* dedupe_ = nullptr;
  Counter* duplicates_ = nullptr;
  IngestOptions options_;
  log::LogManager* logs_;
  std::shared_ptr<const spec::CompiledSpecs> specs_;
  MetricsRegistry* metrics_;
  std::function<int64_t()> lag_;
  Counter* ingested_;
  std::atomic<uint32_t> next_partition_{0};
};

}  // namespace ec::server
