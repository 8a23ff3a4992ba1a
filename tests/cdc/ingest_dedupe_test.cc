// The ingest dedupe index: claims, duplicates, restart (catch-up from the raw topic) and expiry.
#include <gtest/gtest.h>

#include "../log/test_util.h"
#include "log/log_manager.h"
#include "server/dedupe_index.h"
#include "server/ingest.h"

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

}  // namespace
}  // namespace ec::server
