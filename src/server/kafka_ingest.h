#pragma once
// Kafka-protocol ingest (contract §4): records produced to `api-logs` or `api-logs.*` are
// decoded (header `eventception-format`, or detected) and redacted before they reach disk; the
// stored records are canonical exchanges, as HTTP ingest writes them. A batch with a record no
// decoder accepts is refused whole with INVALID_RECORD (87) and the reason, so the producer
// sees the error and nothing is dropped silently.

#include <memory>
#include <string>
#include <vector>

#include "kafka/server/server.h"

namespace ec::spec {
class CompiledSpecs;
}

namespace ec::server {

class Counter;
class MetricsRegistry;

struct KafkaIngestOptions {
  std::string raw_topic = "api-logs";
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
};

// The interceptor to register with kafka::ServerOptions::interceptors.
kafka::ProduceInterceptor MakeKafkaIngestInterceptor(KafkaIngestOptions options,
                                                     std::shared_ptr<const spec::CompiledSpecs> specs,
                                                     MetricsRegistry* metrics);

// The decision for one produced batch (exposed for tests).
kafka::InterceptDecision DecodeProducedRecords(const std::vector<kafka::InterceptedRecord>& records,
                                               const KafkaIngestOptions& options,
                                               const spec::CompiledSpecs* specs);

}  // namespace ec::server
