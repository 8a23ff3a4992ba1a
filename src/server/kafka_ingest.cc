#include "server/kafka_ingest.h"

#include <chrono>

#include "server/dedupe_index.h"

#include "json/writer.h"
#include "pipeline/exchange.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "spec/spec.h"

namespace ec::server {

kafka::InterceptDecision DecodeProducedRecords(const std::vector<kafka::InterceptedRecord>& records,
                                               const KafkaIngestOptions& options,
                                               const spec::CompiledSpecs* specs) {
  kafka::InterceptDecision d;
  pipeline::DecodeOptions dopts;
  dopts.max_record_bytes = options.max_record_bytes;
  dopts.max_depth = options.max_json_depth;
  if (specs != nullptr) dopts.redact = specs->redact_paths();
  Arena arena(64 << 10);
  std::vector<json::Value> exchanges;
  for (size_t i = 0; i < records.size(); ++i) {
    const kafka::InterceptedRecord& in = records[i];
    std::string format = "detect";
    for (const auto& [k, v] : in.headers) {
      if (k == kFormatHeader && v) format = *v;
    }
    if (!in.value) {
      d.kafka_error = 87;  // INVALID_RECORD
      d.error_message = "record " + std::to_string(i) + ": a null value is not an exchange";
      d.records.clear();
      return d;
    }
    exchanges.clear();
    Status s = pipeline::DecodeBytes(*in.value, format, dopts, &arena, &exchanges);
    if (!s.ok()) {
      d.kafka_error = 87;
      d.error_message = "record " + std::to_string(i) + " (format " + format + "): " + s.message();
      d.records.clear();
      return d;
    }
    for (const json::Value& x : exchanges) {
      kafka::InterceptedRecord out;
      const json::Value* id = x.Find("id");
      if (id != nullptr && id->is_string()) out.key = std::string(id->string());
      out.value.emplace();
      json::AppendJson(x, &*out.value);
      out.headers.emplace_back(kDecodedHeader, std::string("1"));
      out.timestamp_ms = in.timestamp_ms;
      d.records.push_back(std::move(out));
    }
  }
  return d;
}

kafka::ProduceInterceptor MakeKafkaIngestInterceptor(KafkaIngestOptions options, SpecsProvider specs,
                                                     MetricsRegistry* metrics) {
  kafka::ProduceInterceptor p;
  p.topic_patterns = {options.raw_topic, options.raw_topic + ".*"};
  Counter* ingested = metrics->GetCounter("eventception_ingested_total",
                                          "Exchanges durably appended to the raw topic", {{"source", "kafka"}});
  Counter* rejected = metrics->GetCounter("eventception_rejected_total",
                                          "Records or requests rejected at ingest, by reason",
                                          {{"reason", "kafka_invalid_record"}});
  Counter* duplicates = metrics->GetCounter("eventception_ingest_duplicates_total",
                                            "Exchanges acknowledged without an append: their id was ingested "
                                            "within ingest.dedupe_window",
                                            {{"source", "kafka"}});
  p.fn = [options, specs, ingested, rejected, duplicates](const std::string&, int32_t,
                                              const std::vector<kafka::InterceptedRecord>& records) {
    int64_t lag = options.lag ? options.lag() : 0;
    if (lag > options.max_lag_records) {
      kafka::InterceptDecision busy;
      busy.kafka_error = 7;  // REQUEST_TIMED_OUT: retriable, the producer retries after its backoff
      busy.error_message = "the pipeline is " + std::to_string(lag) +
                           " records behind (limits.max_lag_records); retry later";
      rejected->Inc();
      return busy;
    }
    std::shared_ptr<const spec::CompiledSpecs> current = specs ? specs() : nullptr;
    kafka::InterceptDecision d = DecodeProducedRecords(records, options, current.get());
    if (d.kafka_error != 0) {
      rejected->Inc();
      return d;
    }
    if (options.dedupe != nullptr && !d.records.empty()) {
      // No completion reaches the interceptor, so the fresh ids count as stored at once; the
      // indexer forgets any it does not find in the log (DedupeOptions::unconfirmed_ms).
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      std::vector<std::string_view> ids;
      for (const kafka::InterceptedRecord& r : d.records) ids.push_back(r.key ? std::string_view(*r.key) : std::string_view());
      std::vector<bool> dup = options.dedupe->Claim(ids, now);
      std::vector<std::string> fresh_ids;
      std::vector<kafka::InterceptedRecord> fresh;
      for (size_t i = 0; i < d.records.size(); ++i) {
        if (dup[i]) continue;
        if (!ids[i].empty()) fresh_ids.emplace_back(ids[i]);
        fresh.push_back(std::move(d.records[i]));
      }
      duplicates->Inc(d.records.size() - fresh.size());
      d.records = std::move(fresh);
      std::vector<std::string_view> views(fresh_ids.begin(), fresh_ids.end());
      options.dedupe->Release(views, /*stored=*/true, now);
    }
    ingested->Inc(d.records.size());
    return d;
  };
  return p;
}

}  // namespace ec::server
