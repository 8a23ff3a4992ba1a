#include "server/config.h"

#include "log/log_manager.h"

#include <gtest/gtest.h>

namespace ec::server {
namespace {

TEST(ConfigTest, ReadsEveryOption) {
  ServerConfig c;
  Status s = LoadConfigText(R"(
listeners: {http: "0.0.0.0:0", http_threads: 2, kafka: "127.0.0.1:0", kafka_advertised: "kafka.local:9092"}
data_dir: /tmp/x
limits: {max_body_bytes: 2MiB, max_record_bytes: 4096, max_json_depth: 16, max_lag_records: 50, retry_after_seconds: 3}
ingest: {raw_topic: raw, default_format: kong, dead_letter_topic: dlq}
topic_defaults: {partitions: 2, retention_ms: 1000}
topics:
  shop.orders.placed: {cloudevents_mode: structured, partitions: 3}
)", "c.yaml", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.http_address, "0.0.0.0:0");
  EXPECT_EQ(c.http_threads, 2);
  EXPECT_EQ(c.kafka_advertised, "kafka.local:9092");
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.max_body_bytes, 2u << 20);
  EXPECT_EQ(c.max_record_bytes, 4096u);
  EXPECT_EQ(c.max_json_depth, 16u);
  EXPECT_EQ(c.max_lag_records, 50);
  EXPECT_EQ(c.retry_after_seconds, 3);
  EXPECT_EQ(c.raw_topic, "raw");
  EXPECT_EQ(c.default_format, "kong");
  EXPECT_EQ(c.dead_letter_topic, "dlq");
  const TopicOptions& t = c.OptionsFor("shop.orders.placed");
  EXPECT_EQ(t.cloudevents_mode, CloudEventsMode::kStructured);
  EXPECT_EQ(t.partitions, 3);
  EXPECT_EQ(t.retention_ms, 1000);  // inherited from topic_defaults
  EXPECT_EQ(c.OptionsFor("other").partitions, 2);
  EXPECT_EQ(c.OptionsFor("other").cloudevents_mode, CloudEventsMode::kBinary);
}

TEST(ConfigTest, EmptyFileKeepsDefaults) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfigText("", "empty.yaml", &c).ok());
  EXPECT_EQ(c.http_address, "127.0.0.1:8080");
  EXPECT_EQ(c.kafka_address, "127.0.0.1:9092");
  EXPECT_EQ(c.data_dir, "./eventception-data");
}

std::string Error(const std::string& text) {
  ServerConfig c;
  Status s = LoadConfigText(text, "c.yaml", &c);
  return s.ok() ? "ok" : s.message();
}

TEST(ConfigTest, ErrorsNameFileLineColumnAndQuote) {
  EXPECT_EQ(Error("limits:\n  max_body_bytes: lots\n"),
            "c.yaml:2:19: limits.max_body_bytes must be an integer (byte sizes may end in KiB, MiB or "
            "GiB), not 'lots'");
  EXPECT_EQ(Error("listeners:\n  htp: 1\n"),
            "c.yaml:2:3: unknown option 'htp' in listeners; known: http, http_threads, kafka, "
            "kafka_advertised");
  EXPECT_EQ(Error("topics:\n  t: {cloudevents_mode: json}\n"),
            "c.yaml:2:25: topics.t.cloudevents_mode is 'json'; write binary or structured");
  EXPECT_EQ(Error("listeners: {http: nowhere}\n"),
            "c.yaml:1:19: listeners.http 'nowhere' is not HOST:PORT; write e.g. 127.0.0.1:8080 (port 0 "
            "picks a free one)");
  EXPECT_EQ(Error("limits: {max_json_depth: 100000}"),
            "c.yaml:1:26: limits.max_json_depth is 100000; it must be between 4 and 1024");
  std::string bad = Error("limits: [1, 2\n");
  EXPECT_EQ(bad.rfind("c.yaml:", 0), 0u) << bad;
  EXPECT_NE(bad.find("invalid YAML"), std::string::npos) << bad;
}

TEST(ConfigTest, LogPreallocateBytes) {
  ServerConfig c;
  EXPECT_EQ(c.log_preallocate_bytes, 8u << 20);
  ASSERT_TRUE(LoadConfigText("log: {preallocate_bytes: 1MiB}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.log_preallocate_bytes, 1u << 20);
  ASSERT_TRUE(LoadConfigText("log: {preallocate_bytes: 0}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.log_preallocate_bytes, 0u);
  EXPECT_EQ(c.log_sync_threads, 16);
  ASSERT_TRUE(LoadConfigText("log: {sync_threads: 4}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.log_sync_threads, 4);
  EXPECT_EQ(Error("log: {preallocate: 1}\n"),
            "c.yaml:1:7: unknown option 'preallocate' in log; known: compaction_map_bytes, journal, journal_direct_io, journal_fill_on_start, preallocate_bytes, sync_threads");
  EXPECT_NE(DescribeConfigOptions().find("log.preallocate_bytes"), std::string::npos);
}

TEST(ConfigTest, LogCompactionMapBytes) {
  ServerConfig c;
  EXPECT_EQ(c.log_compaction_map_bytes, log::LogManagerOptions().compaction_map_bytes);
  ASSERT_TRUE(LoadConfigText("log: {compaction_map_bytes: 4MiB}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.log_compaction_map_bytes, 4u << 20);
  EXPECT_EQ(Error("log: {compaction_map_bytes: 100}\n"),
            "c.yaml:1:29: log.compaction_map_bytes is 100; it must be between 65536 and 2147483648");
  EXPECT_NE(DescribeConfigOptions().find("log.compaction_map_bytes"), std::string::npos);
}

TEST(ConfigTest, LogJournalFillOnStart) {
  ServerConfig c;
  EXPECT_TRUE(c.log_journal_fill_on_start);
  ASSERT_TRUE(LoadConfigText("log: {journal_fill_on_start: false}\n", "c.yaml", &c).ok());
  EXPECT_FALSE(c.log_journal_fill_on_start);
  EXPECT_NE(DescribeConfigOptions().find("log.journal_fill_on_start"), std::string::npos);
}

TEST(ConfigTest, LogJournal) {
  ServerConfig c;
  EXPECT_FALSE(c.log_journal_set);
  ASSERT_TRUE(LoadConfigText("log: {journal: true}\n", "c.yaml", &c).ok());
  EXPECT_TRUE(c.log_journal);
  EXPECT_TRUE(c.log_journal_set);
  ASSERT_TRUE(LoadConfigText("log: {journal: false}\n", "c.yaml", &c).ok());
  EXPECT_FALSE(c.log_journal);
  EXPECT_EQ(Error("log: {journal: yes please}\n"), "c.yaml:1:16: log.journal is 'yes please'; use true or false");
  EXPECT_NE(DescribeConfigOptions().find("log.journal"), std::string::npos);
}

TEST(ConfigTest, LogJournalDirectIo) {
  ServerConfig c;
  EXPECT_FALSE(c.log_journal_direct_io_set);
  ASSERT_TRUE(LoadConfigText("log: {journal_direct_io: false}\n", "c.yaml", &c).ok());
  EXPECT_FALSE(c.log_journal_direct_io);
  EXPECT_TRUE(c.log_journal_direct_io_set);
  ASSERT_TRUE(LoadConfigText("log: {journal_direct_io: true}\n", "c.yaml", &c).ok());
  EXPECT_TRUE(c.log_journal_direct_io);
  EXPECT_EQ(Error("log: {journal_direct_io: 1}\n"), "c.yaml:1:26: log.journal_direct_io is '1'; use true or false");
  EXPECT_EQ(Error("processing: {overlap_passes: no}\n"),
            "c.yaml:1:30: processing.overlap_passes is 'no'; use true or false");
  EXPECT_NE(DescribeConfigOptions().find("log.journal_direct_io"), std::string::npos);
}

TEST(ConfigTest, InputSyncHold) {
  ServerConfig c;
  EXPECT_EQ(c.input_sync_hold_us, 0);
  ASSERT_TRUE(LoadConfigText("processing: {input_sync_hold_us: 2000}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.input_sync_hold_us, 2000);
  EXPECT_NE(Error("processing: {input_sync_hold_us: -1}\n").find("processing.input_sync_hold_us"), std::string::npos);
  EXPECT_NE(DescribeConfigOptions().find("processing.input_sync_hold_us"), std::string::npos);
}

TEST(ConfigTest, BackgroundNice) {
  ServerConfig c;
  EXPECT_EQ(c.background_nice, 0);
  ASSERT_TRUE(LoadConfigText("processing: {background_nice: 10}\n", "c.yaml", &c).ok());
  EXPECT_EQ(c.background_nice, 10);
  EXPECT_NE(Error("processing: {background_nice: 20}\n").find("processing.background_nice"), std::string::npos);
  EXPECT_NE(Error("processing: {background_nice: -1}\n").find("processing.background_nice"), std::string::npos);
  EXPECT_NE(DescribeConfigOptions().find("processing.background_nice"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsIoError) {
  ServerConfig c;
  Status s = LoadConfigFile("/nonexistent/eventception.yaml", &c);
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.message().find("/nonexistent/eventception.yaml"), std::string::npos);
}

TEST(ConfigTest, DescribeListsEveryOption) {
  std::string d = DescribeConfigOptions();
  for (const char* key : {"listeners.http", "listeners.kafka", "data_dir", "limits.max_body_bytes",
                          "limits.max_lag_records", "topic_defaults.cloudevents_mode", "ingest.raw_topic"}) {
    EXPECT_NE(d.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace ec::server
