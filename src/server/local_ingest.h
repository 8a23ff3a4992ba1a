#pragma once
// In-process ingest for the sources `serve` runs itself (syslog listener, capture proxy,
// Firehose endpoint, file tails): the same decode + redact as HTTP ingest (DecodeForIngest),
// a durable append of the canonical exchanges to the raw topic, and, since these sources have
// no client to answer, a dead letter (stage "decode") for every record that was rejected.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/ingest.h"

namespace ec::log {
class LogManager;
}
namespace ec::spec {
class CompiledSpecs;
}

namespace ec::server {

class MetricsRegistry;
class Counter;
class TopicWriter;
class DedupeIndex;

struct LocalIngestResult {
  size_t accepted = 0;     // exchanges appended to the raw topic
  size_t dead_letters = 0;  // records that could not be decoded (dead-lettered)
  size_t duplicates = 0;    // exchanges whose id was already ingested (not appended again)
};

class LocalIngest {
 public:
  // `source` labels the metrics (eventception_ingested_total{source=...}).
  LocalIngest(IngestOptions options, std::string dead_letter_topic, log::LogManager* logs,
              TopicWriter* writer, SpecsProvider specs,
              MetricsRegistry* metrics, std::string source);

  // Each text is one raw record (one JSON value) in `format` ("detect" or a decoder name).
  // Errors (kUnavailable/kIoError) only when the append failed: nothing was stored, retry.
  Result<LocalIngestResult> AppendTexts(std::span<const std::string> texts, std::string_view format);
  // The same for texts that live elsewhere (e.g. a packed batch of syslog messages).
  Result<LocalIngestResult> AppendViews(std::span<const std::string_view> texts, std::string_view format);
  // Already-parsed records; `texts[i]` is the raw text of records[i] (for dead letters).
  Result<LocalIngestResult> AppendRecords(const std::vector<RawRecord>& records,
                                          std::span<const std::string_view> texts,
                                          std::string_view format, Arena* arena);
  // A record that never became JSON (a malformed syslog line, say): dead-lettered as is.
  Status DeadLetter(std::string_view raw, const Status& why, std::string_view format);

  const IngestOptions& options() const { return options_; }

  // Idempotent ingest (docs/exactly-once.md): exchanges whose id `dedupe` knows are not
  // appended again (a shipper's retry, a file re-read). Null (the default) = no dedupe.
  // Not owned; set before the sources start.
  void SetDedupe(DedupeIndex* dedupe) { dedupe_ = dedupe; }

 private:
  Status AppendCanonical(IngestBatch& records);

  IngestOptions options_;
  std::string dead_letter_topic_;
  log::LogManager* logs_;
  TopicWriter* writer_;
  SpecsProvider specs_;
  MetricsRegistry* metrics_;
  std::string source_;
  Counter* ingested_;
  Counter* dead_lettered_;
  Counter* duplicates_;
  DedupeIndex* dedupe_ = nullptr;
  std::atomic<uint32_t> next_partition_{0};
};

}  // namespace ec::server
