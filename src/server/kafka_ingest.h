#pragma once
// Kafka-protocol ingest (contract §4): records produced to `api-logs` or `api-logs.*` are
// decoded (header `eventception-format`, or detected) and redacted before they reach disk; the
// stored records are canonical exchanges, as HTTP ingest writes them. A batch with a record no
// decoder accepts is refused whole with INVALID_RECORD (87) and the reason, so the producer
// sees the error and nothing is dropped silently.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kafka/server/server.h"
#include "server/ingest.h"

namespace ec::spec {
class CompiledSpecs;
}

namespace ec::server {

class Counter;
class DedupeIndex;
class MetricsRegistry;

struct KafkaIngestOptions {
  std::string raw_topic = "api-logs";
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
  // Back-pressure: while lag() exceeds max_lag_records, produces are refused with the
  // retriable REQUEST_TIMED_OUT (7), so Kafka producers back off and retry by themselves.
  int64_t max_lag_records = 100000;
  std::function<int64_t()> lag;
  // Idempotent ingest (dedupe_index.h): records whose exchange id was ingested within the
  // window are dropped from the append (the produce still succeeds). Not owned; null = off.
  DedupeIndex* dedupe = nullptr;
};

// The interceptor to register with kafka::ServerOptions::interceptors.
// `specs` gives the spec set in force per produce (its redaction paths; see SpecsProvider).
kafka::ProduceInterceptor MakeKafkaIngestInterceptor(KafkaIngestOptions options, SpecsProvider specs,
                                                     MetricsRegistry* metrics);

// The decision for one produced batch (exposed for tests).
kafka::InterceptDecision DecodeProducedRecords(const std::vector<kafka::InterceptedRecord>& records,
                                               const KafkaIngestOptions& options,
                                               const spec::CompiledSpecs* specs);

}  // namespace ec::server
