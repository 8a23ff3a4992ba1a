// The ingest dedupe index: claims, duplicates, restart (catch-up from the raw topic) and expiry.
#include <gtest/gtest.h>

#include "../log/test_util.h"
#include "log/log_manager.h"
#include "server/dedupe_index.h"
#include "server/config.h"
#include "server/ingest.h"
#include "server/local_ingest.h"
#include "server/metrics.h"
#include "server/topic_writer.h"

namespace ec::server {
namespace {

using log::testing::TempDir;

std::unique_ptr<log::LogManager> OpenLogs(const std::string& dir) {
  log::LogManagerOptions o;
  o.data_dir = dir;
  o.maintenance_interval_ms = 0;
  auto logs = std::move(log::LogManager::Open(o)).value();
  if (!logs->DescribeTopic("api-logs")) EXPECT_TRUE(logs->CreateTopic("api-logs", 2, {}).ok());
  return logs;
}

void AppendRaw(log::LogManager* logs, int32_t partition, const std::vector<std::string>& ids, int64_t ts) {
  std::vector<IngestRecord> recs;
  for (const std::string& id : ids) recs.push_back({id, "{\"id\":\"" + id + "\"}"});
  auto batches = BuildBatches(recs, ts);
  ASSERT_TRUE(batches.ok());
  ASSERT_TRUE(logs->GetPartition("api-logs", partition)->Append(std::move(*batches), {}).ok());
}

DedupeOptions Options(const std::string& dir, int64_t window_ms = 3600000) {
  DedupeOptions o;
  o.dir = dir + "/dedupe";
  o.window_ms = window_ms;
  return o;
}

TEST(IngestDedupe, ClaimsDuplicatesAndReleases) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  const int64_t now = 1'800'000'000'000;
  // Within one call the second "a" is a duplicate of the first; empty ids never are.
  EXPECT_EQ(index->Claim({"a", "b", "a", "", ""}, now), (std::vector<bool>{false, false, true, false, false}));
  // In flight: a concurrent retry is a duplicate.
  EXPECT_EQ(index->Claim({"a"}, now), std::vector<bool>{true});
  index->Release({"a"}, /*stored=*/true, now);
  index->Release({"b"}, /*stored=*/false, now);  // the append failed: a retry is accepted
  EXPECT_EQ(index->Claim({"a", "b"}, now), (std::vector<bool>{true, false}));
}

TEST(IngestDedupe, KnowsEveryIdInTheRawTopicAfterARestart) {
  TempDir dir;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  {
    auto logs = OpenLogs(dir.path() + "/log");
    auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
    AppendRaw(logs.get(), 0, {"x1", "x2"}, now);
    ASSERT_TRUE(index->IndexTail(now).ok());
    EXPECT_EQ(index->indexed(), 2u);
    // Appended but never indexed (the process dies before the next round).
    AppendRaw(logs.get(), 1, {"y1"}, now);
  }
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  EXPECT_EQ(index->Claim({"x1", "x2", "y1", "z1"}, now), (std::vector<bool>{true, true, true, false}));
}

TEST(IngestDedupe, ForgetsIdsOlderThanTheWindow) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  const int64_t t0 = 1'800'000'000'000;
  auto index = std::move(DedupeIndex::Open(Options(dir.path(), /*window_ms=*/1000), logs.get())).value();
  AppendRaw(logs.get(), 0, {"old"}, t0);
  AppendRaw(logs.get(), 0, {"new"}, t0 + 5000);
  ASSERT_TRUE(index->IndexTail(t0 + 5000).ok());
  EXPECT_EQ(index->Claim({"old", "new"}, t0 + 5000), (std::vector<bool>{false, true}));
  index->Release({"old"}, false, t0 + 5000);
  // The expired entry is deleted from the index on the next round (bounded size).
  ASSERT_TRUE(index->IndexTail(t0 + 5500).ok());
  EXPECT_EQ(index->Claim({"new"}, t0 + 5500), std::vector<bool>{true});
  EXPECT_EQ(index->Claim({"new"}, t0 + 7000), std::vector<bool>{false});
}

// The in-process sources (syslog, proxy, Firehose, file tails) go through the index too: a
// record ingested again (a re-read file, a shipper's retry) is counted, not appended.
TEST(IngestDedupe, LocalSourcesDropKnownIds) {
  TempDir dir;
  auto logs = OpenLogs(dir.path() + "/log");
  auto index = std::move(DedupeIndex::Open(Options(dir.path()), logs.get())).value();
  ServerConfig config;
  MetricsRegistry metrics;
  TopicWriter writer(logs.get(), &config);
  IngestOptions io;
  LocalIngest ingest(io, "eventception.dead-letters", logs.get(), &writer, nullptr, &metrics, "capture");
  ingest.SetDedupe(index.get());
  auto line = [](std::string_view id) {
    return std::string(R"({"id":")") + std::string(id) +
           R"(","time":"2026-11-27T10:00:00.000Z","request":{"method":"GET","url":"https://a.example/x"},"response":{"status":200}})";
  };
  std::vector<std::string> first{line("s-1"), line("s-2")};
  auto r = ingest.AppendTexts(first, "canonical");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_EQ(r->duplicates, 0u);
  std::vector<std::string> again{line("s-2"), line("s-3"), line("s-3")};
  r = ingest.AppendTexts(again, "canonical");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->accepted, 1u);    // s-3 once
  EXPECT_EQ(r->duplicates, 2u);  // s-2 (known) and the second s-3
  int64_t records = 0;
  for (int32_t p = 0; p < 2; ++p) {
    auto pl = logs->GetPartition("api-logs", p);
    records += pl->log_end_offset() - pl->log_start_offset();
  }
  EXPECT_EQ(records, 3);
  // Without the index every record is appended.
  LocalIngest plain(io, "eventception.dead-letters", logs.get(), &writer, nullptr, &metrics, "capture2");
  r = plain.AppendTexts(again, "canonical");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 3u);
}

}  // namespace
}  // namespace ec::server
