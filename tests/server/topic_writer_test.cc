// TopicWriter builds each pass's batches in one walk of the records, sized from the last pass
// (grown when short): the batches it writes must be the bytes RecordBatchBuilder::Add makes
// from the same records, partitioned as Kafka's default partitioner does, on passes whose
// sizes, topics and record sizes vary (batches larger and smaller than the last pass's).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/topic_writer.h"

namespace ec::server {
namespace {

struct TopicSpec {
  std::string name;
  int32_t partitions;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

TEST(TopicWriter, BatchesAreTheGeneralBuildersBytesOnManyPasses) {
  const auto dir = std::filesystem::temp_directory_path() / ("ec_topic_writer_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  // Removed also when an assertion ends the test early (declared before the log: destroyed after it).
  struct RemoveAtEnd {
    std::filesystem::path dir;
    ~RemoveAtEnd() { std::filesystem::remove_all(dir); }
  } remove_at_end{dir};
  // A name over 15 characters (a heap block of its own), a one-partition topic, several.
  const std::vector<TopicSpec> topics = {
      {"events", 3}, {"shop.orders.changelog-long-name", 2}, {"state", 1}, {"dlq", 4}};
  ServerConfig config;
  for (const TopicSpec& t : topics) config.topics[t.name].partitions = t.partitions;
  log::LogManagerOptions lo;
  lo.data_dir = dir.string();
  auto logs = std::move(log::LogManager::Open(lo)).value();
  TopicWriter writer(logs.get(), &config);

  std::mt19937_64 rng(17);
  // (topic, partition) -> the batches expected there, in order.
  std::map<std::pair<std::string, int32_t>, std::vector<std::string>> expected;
  uint32_t round_robin = 0;
  const size_t pass_sizes[] = {1, 3, 40, 400, 1200, 7, 900, 60, 1500, 2, 150};
  int64_t ts = 1795773600000;
  for (int pass = 0; pass < 60; ++pass) {
    const size_t n = pass_sizes[(pass * 7 + rng() % 3) % std::size(pass_sizes)];
    // Some passes write to one topic only, so the others' sizes go stale.
    const size_t topic_count = pass % 5 == 4 ? 1 : topics.size();
    std::vector<pipeline::OutputRecord> records;
    records.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const TopicSpec& t = topics[rng() % topic_count];
      std::optional<std::string> key;
      if (rng() % 5 != 0) key = "k" + std::to_string(rng() % 1000);
      std::optional<std::string> value;
      if (rng() % 20 != 0) {
        const size_t len = rng() % 300 == 0 ? 10000 + rng() % 30000 : rng() % 1500;
        value = RandomBytes(rng, len);
      }
      std::vector<std::pair<std::string, std::string>> header_store;
      for (size_t h = rng() % 4; h > 0; --h) header_store.emplace_back("ce_" + std::to_string(h), RandomBytes(rng, rng() % 40));
      std::vector<std::pair<std::string_view, std::string_view>> headers(header_store.begin(), header_store.end());
      ts += static_cast<int64_t>(rng() % 2000) - 500;  // now and then earlier than the last
      std::optional<std::string_view> key_view, value_view;
      if (key) key_view = *key;
      if (value) value_view = *value;
      records.emplace_back(t.name, key_view, value_view, headers, ts);
    }
    // The general path: each record's partition, then RecordBatchBuilder::Add per batch.
    std::vector<std::pair<std::pair<std::string, int32_t>, log::RecordBatchBuilder>> builders;
    for (const pipeline::OutputRecord& r : records) {
      int32_t partitions = 1;
      for (const TopicSpec& t : topics) {
        if (t.name == r.topic) partitions = t.partitions;
      }
      int32_t p = 0;
      if (r.key()) {
        p = PartitionForKey(*r.key(), partitions);
      } else if (partitions > 1) {
        p = static_cast<int32_t>(round_robin++ % static_cast<uint32_t>(partitions));
      }
      size_t b = 0;
      while (b < builders.size() && builders[b].first != std::make_pair(r.topic, p)) ++b;
      if (b == builders.size()) builders.emplace_back(std::make_pair(r.topic, p), log::RecordBatchBuilder());
      std::vector<log::RecordHeader> headers;
      for (const auto& [k, v] : r.headers()) headers.push_back({k, v});
      builders[b].second.Add(r.key(), r.value(), r.timestamp_ms, headers);
    }
    for (auto& [tp, builder] : builders) expected[tp].push_back(std::move(builder.Build()).value());
    const Status appended = writer.Append(records);
    ASSERT_TRUE(appended.ok()) << "pass " << pass << ": " << appended.ToString();
  }

  size_t compared = 0;
  for (const TopicSpec& t : topics) {
    for (int32_t p = 0; p < t.partitions; ++p) {
      std::shared_ptr<log::PartitionLog> log = logs->GetPartition(t.name, p);
      ASSERT_NE(log, nullptr);
      const std::vector<std::string>& want = expected[{t.name, p}];
      std::string stored;
      int64_t offset = 0;
      // Read batch by batch and compare (the log assigns base offsets: the bytes from
      // the magic byte on are compared, CRC included; the log sets the leader epoch too).
      std::vector<std::string> got;
      while (offset < log->log_end_offset()) {
        log::ReadResult rr = log->Read(offset, 1);
        stored.clear();
        ASSERT_TRUE(rr.CopyTo(&stored).ok());
        ASSERT_TRUE(log::ForEachBatch(stored, false, [&](const log::RecordBatchView& v) {
                      if (v.base_offset() >= offset) {
                        got.emplace_back(v.bytes());
                        offset = v.last_offset() + 1;
                      }
                      return Status::Ok();
                    }).ok());
      }
      ASSERT_EQ(got.size(), want.size()) << t.name << "/" << p;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].size(), want[i].size()) << t.name << "/" << p << " batch " << i;
        size_t diff = 16;
        while (diff < got[i].size() && got[i][diff] == want[i][diff]) ++diff;
        EXPECT_EQ(diff, got[i].size()) << t.name << "/" << p << " batch " << i << " differs at byte " << diff;
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 200u);
}

}  // namespace
}  // namespace ec::server
