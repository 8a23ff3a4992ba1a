#pragma once
// HTTP ingest (contract §4): POST /v1/exchanges with a JSON object, a JSON array or NDJSON.
// Each record is decoded and redacted by the pipeline's decoders, the accepted exchanges are
// appended to the raw topic durably (kSync, group commit) and only then does the request get
// its 202. Canonical exchanges are what reaches disk, so the pipeline reads one format.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "server/dedupe_key.h"
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
class Histogram;
class DedupeIndex;

// How a request body is cut into raw records.
enum class BodyShape { kObject, kArray, kNdjson };

struct RawRecord {
  size_t index = 0;     // position in the request (array element / NDJSON record), 0-based
  json::Value value;    // parsed record (valid when error.ok() and parsed)
  Status error;         // a parse/size problem of this record alone
  // A record not parsed yet (an NDJSON line split with SplitOptions::defer_parse, a local
  // source's record): `text` is its JSON text, `line` its 1-based line number (0: none, parse
  // errors then name no line). DecodeForIngest parses it only when the canonical fast path
  // (pipeline/canonical_text.h) declines it.
  bool parsed = true;
  std::string_view text;
  size_t line = 0;
};

struct SplitOptions {
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
  // NDJSON lines are left unparsed (RawRecord::parsed = false) for DecodeForIngest.
  bool defer_parse = false;
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

// The decoded, redacted exchanges of one request, written back to back into one buffer as the
// raw topic's records (RecordBatch v2 record framing, each with the decoded header; a batch
// header's room every kMaxBatchBytes): Seal fills in the batch headers and CRCs in place, so an
// exchange's bytes are written once, where the log reads them, and not copied again into a
// record batch builder. No string per record, and the buffer's capacity is kept when the batch
// is reused.
class IngestBatch {
 public:
  // Batches stay well below the default max.message.bytes (1 MiB) of the raw topic: a batch
  // ends after the record that takes it to this many bytes.
  static constexpr size_t kMaxBatchBytes = 512 << 10;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::string_view key(size_t i) const { return {bytes_.data() + entries_[i].key_at, entries_[i].key_size}; }
  std::string_view value(size_t i) const {
    return {bytes_.data() + entries_[i].value_at, entries_[i].value_size};
  }
  // Appends `exchange` as canonical JSON, keyed by its id; returns the JSON's size.
  size_t Add(const json::Value& exchange);
  // Appends the exchange JSON `json` keyed by `id`; returns the JSON's size.
  size_t Add(std::string_view id, std::string_view json);
  // As Add, with the exchange's JSON already written (`json` = json::AppendJson of it).
  size_t Add(const json::Value& exchange, std::string_view json);
  // For a JSON written straight into the batch (no copy): BeginWritten reserves the record's
  // framing and returns where the JSON starts; the JSON is appended to write_buffer(); then
  // AddWritten with where its id lies in the buffer (the key is that span of the JSON), or
  // DropWritten to discard it (its framing too). The framing's size is a guess until
  // AddWritten, which moves the JSON when the guess was wrong (rare: the last record's size).
  size_t BeginWritten();
  std::string* write_buffer() { return &bytes_; }
  size_t AddWritten(size_t value_at, size_t id_at, size_t id_size);
  void DropWritten(size_t value_at);
  // Writes the 32 hex digits of entry i's stable id ('x' and the digits) where its key and its
  // value's "id" (the value's first member) have them: both were added with '0's in their place
  // (CanonicalTextDecoder::Decode with hash_later), before the batch is sealed.
  void WriteStableIdDigits(size_t i, const char* digits);
  // Drops the entries from `n` on (their bytes too).
  void Truncate(size_t n);
  // Drops every entry i with drop[i] (the bytes stay until Clear; Seal then copies the others).
  void Drop(const std::vector<bool>& drop);
  // Empties the batch; keeps the buffer unless it grew beyond `keep_bytes`.
  void Clear(size_t keep_bytes = 8 << 20);
  // The entries as record batches (each record with `timestamp_ms` and the decoded header):
  // the bytes BuildBatches makes of them. Written in place, unless Drop removed entries (then
  // a copy). The span is writable (the log sets base offsets in place) and valid until the
  // batch next changes. Fails when the batch is empty.
  Result<std::span<char>> Seal(int64_t timestamp_ms);

 private:
  struct Entry {
    size_t frame_at;  // where its bytes start (its batch's header when it opened one)
    size_t key_at, key_size, value_at, value_size;
  };
  struct Batch {
    size_t at;     // its header's position in bytes_
    size_t first;  // its first entry
  };
  // Starts a record (and a batch when due); reserves `framing` bytes for its framing; returns
  // where its value starts.
  size_t Open(size_t framing);
  // Writes the framing of the record opened at open_at_ whose value is [value_at, end of
  // bytes_) with `key` (copied first: it may lie in the value), the tail after it, and adds it.
  size_t Close(size_t value_at, std::string_view key);
  void AbandonOpen();
  std::string bytes_;
  std::vector<Entry> entries_;
  std::vector<Batch> batches_;
  static constexpr size_t kNone = ~size_t{0};
  size_t open_frame_at_ = kNone;  // the record Open began: its frame_at,
  size_t open_record_at_ = 0;     // where its framing starts,
  size_t open_framing_ = 0;       // and the room reserved for it
  size_t framing_guess_ = 41;     // the last record's framing size (a shop record's, at first)
  bool dropped_ = false;          // Drop removed entries: the framing's offsets are stale
  std::string head_;              // scratch: one record's framing
  std::string sealed_;            // Seal's copy after a Drop
};

struct Rejection {
  size_t index;
  std::string reason;
  std::string_view code;  // ErrorCode name, also the metrics label
};

// The spec set in force; ingest applies its redaction paths. Called once per request (or
// produce), so a spec reload changes redaction from the next request on. Empty = no specs.
using SpecsProvider = std::function<std::shared_ptr<const spec::CompiledSpecs>()>;

// Decodes `records` (format name or "detect") with redaction into canonical JSON, appended to
// `*accepted` (one request's records are accepted whole or rejected).
void DecodeForIngest(const std::vector<RawRecord>& records, std::string_view format,
                     const spec::CompiledSpecs* specs, const IngestOptions& options, Arena* arena,
                     IngestBatch* accepted, std::vector<Rejection>* rejected);

// Idempotent ingest by exchange id: drops from `*batch` the exchanges `dedupe` has already seen
// and claims the others until their append's outcome is known (a concurrent retry of the same
// id then counts as a duplicate). Their ids, views into `*batch`, go to `*claimed` for
// DedupeIndex::Release; `claimed_keys` (optional) receives the keys of the claimed non-empty
// ids, in batch order (for Release and DedupeIndex::Appended without making them again).
// Returns how many were dropped as duplicates.
size_t ClaimNewExchanges(DedupeIndex& dedupe, int64_t now_ms, IngestBatch* batch,
                         std::vector<std::string_view>* claimed,
                         std::vector<DedupeKey>* claimed_keys = nullptr);

// Makes RecordBatch v2 bytes (several batches when large) of `records`, each with `timestamp_ms`
// and the decoded header (kDecodedHeader).
Result<std::string> BuildBatches(const std::vector<IngestRecord>& records, int64_t timestamp_ms);
Result<std::string> BuildBatches(const IngestBatch& records, int64_t timestamp_ms);

// Makes glibc keep freed memory for reuse instead of returning it to the kernel at once: a
// fixed 32 MiB mmap threshold (no fresh mapping per large buffer) and a 128 MiB trim threshold.
// Without it every ingest request and pipeline pass page-faulted its megabytes of arena and
// batch buffers in afresh (in bench_pipeline's BM_IngestBody, 8x the CPU of the work itself).
// Resident memory stays bounded by the peak the process reached. Call once at startup.
void KeepFreedMemoryForReuse();

class Ingest {
 public:
  // `lag` returns how many raw records the pipeline has not processed yet.
  Ingest(IngestOptions options, log::LogManager* logs, SpecsProvider specs, MetricsRegistry* metrics,
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
  SpecsProvider specs_;
  MetricsRegistry* metrics_;
  std::function<int64_t()> lag_;
  Counter* ingested_;
  Histogram* append_seconds_;  // the durable append (the group commit's fdatasync included)
  std::atomic<uint32_t> next_partition_{0};
};

}  // namespace ec::server
