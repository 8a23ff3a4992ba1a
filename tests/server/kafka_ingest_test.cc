#include "server/kafka_ingest.h"

#include <gtest/gtest.h>

#include "server/metrics.h"
#include "server/pipeline_runner.h"

namespace ec::server {
namespace {

kafka::InterceptedRecord Rec(std::string value, std::string format = "") {
  kafka::InterceptedRecord r;
  r.value = std::move(value);
  r.timestamp_ms = 1795774530123;
  if (!format.empty()) r.headers.emplace_back(kFormatHeader, format);
  return r;
}

constexpr char kKong[] =
    R"({"started_at":1795774530123,"client_ip":"10.0.0.7","request":{"method":"POST","uri":"/api/orders","url":"https://shop.example.com:443/api/orders","querystring":{},"headers":{"host":"shop.example.com","Authorization":"Bearer x"},"size":120},"response":{"status":201,"headers":{"content-type":"application/json"},"size":300},"latencies":{"request":12,"kong":2,"proxy":10},"route":{"name":"orders"},"service":{"name":"orders-svc"}})";

TEST(KafkaIngestTest, ProducedRecordsBecomeCanonicalExchanges) {
  KafkaIngestOptions o;
  kafka::InterceptDecision d = DecodeProducedRecords({Rec(kKong), Rec(kKong, "kong")}, o, nullptr);
  ASSERT_EQ(d.kafka_error, 0) << d.error_message;
  ASSERT_EQ(d.records.size(), 2u);
  for (const auto& r : d.records) {
    ASSERT_TRUE(r.value.has_value());
    EXPECT_NE(r.value->find("\"request\":{\"method\":\"POST\""), std::string::npos) << *r.value;
    EXPECT_NE(r.value->find("\"path\":\"/api/orders\""), std::string::npos) << *r.value;
    ASSERT_TRUE(r.key.has_value());  // the exchange id
    EXPECT_EQ(r.value->find("\"id\":\"" + *r.key + "\""), 1u) << *r.value;
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, kDecodedHeader);
    EXPECT_EQ(r.timestamp_ms, 1795774530123);
  }
  // The same record gives the same id (stable ids make retries idempotent downstream).
  EXPECT_EQ(*d.records[0].key, *d.records[1].key);
}

TEST(KafkaIngestTest, UndecodableRecordRefusesTheBatchWithAReason) {
  KafkaIngestOptions o;
  kafka::InterceptDecision d = DecodeProducedRecords({Rec(kKong), Rec("{not json")}, o, nullptr);
  EXPECT_EQ(d.kafka_error, 87);
  EXPECT_TRUE(d.records.empty());
  EXPECT_NE(d.error_message.find("record 1"), std::string::npos) << d.error_message;
  d = DecodeProducedRecords({Rec(kKong, "nosuchformat")}, o, nullptr);
  EXPECT_EQ(d.kafka_error, 87);
  EXPECT_NE(d.error_message.find("nosuchformat"), std::string::npos) << d.error_message;
  kafka::InterceptedRecord tomb;
  d = DecodeProducedRecords({tomb}, o, nullptr);
  EXPECT_EQ(d.kafka_error, 87);
}

TEST(KafkaIngestTest, LaggingPipelineRefusesProducesWithARetriableError) {
  MetricsRegistry metrics;
  KafkaIngestOptions o;
  int64_t lag = 500;
  o.max_lag_records = 100;
  o.lag = [&lag] { return lag; };
  kafka::ProduceInterceptor p = MakeKafkaIngestInterceptor(o, nullptr, &metrics);
  ASSERT_EQ(p.topic_patterns.size(), 2u);
  EXPECT_EQ(p.topic_patterns[1], "api-logs.*");
  kafka::InterceptDecision d = p.fn("api-logs", 0, {Rec(kKong)});
  EXPECT_EQ(d.kafka_error, 7);
  EXPECT_NE(d.error_message.find("500 records behind"), std::string::npos) << d.error_message;
  lag = 0;
  d = p.fn("api-logs", 0, {Rec(kKong)});
  EXPECT_EQ(d.kafka_error, 0);
  EXPECT_EQ(d.records.size(), 1u);
  EXPECT_NE(metrics.RenderPrometheus().find("eventception_ingested_total{source=\"kafka\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace ec::server
