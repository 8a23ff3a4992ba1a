// LogManager: topics, partitions, configs (validated, persisted), group offsets durable across
// reopen, producer ids, maintenance.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "log/fault_injection_env.h"
#include "log/log_manager.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::MakeBatch;
using testing::TempDir;

std::unique_ptr<LogManager> OpenManager(const std::string& dir, Env* env = nullptr) {
  LogManagerOptions o;
  o.data_dir = dir;
  o.env = env;
  o.maintenance_interval_ms = 0;
  auto m = LogManager::Open(o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

TEST(LogManager, TopicLifecycleAndPersistence) {
  TempDir dir;
  {
    auto m = OpenManager(dir.path());
    ASSERT_TRUE(m->CreateTopic("orders", 3, {{"retention.ms", "60000"}, {"cleanup.policy", "compact"}}).ok());
    EXPECT_EQ(m->CreateTopic("orders", 1).code(), ErrorCode::kAlreadyExists);
    EXPECT_EQ(m->CreateTopic("bad name", 1).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(m->CreateTopic("..", 1).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(m->CreateTopic("x", 0).code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(m->CreateTopic("dry", 1, {}, /*validate_only=*/true).ok());
    EXPECT_FALSE(m->DescribeTopic("dry").has_value());
    Status unknown = m->CreateTopic("y", 1, {{"retention.msec", "5"}});
    EXPECT_EQ(unknown.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(unknown.message().find("retention.msec"), std::string::npos);
    EXPECT_NE(unknown.message().find("retention.ms"), std::string::npos) << unknown.message();
    Status bad_value = m->CreateTopic("y", 1, {{"cleanup.policy", "forever"}});
    EXPECT_NE(bad_value.message().find("\"forever\""), std::string::npos) << bad_value.message();
    ASSERT_TRUE(m->CreateTopic("events", 1).ok());
    auto p = m->GetPartition("orders", 2);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(m->GetPartition("orders", 3), nullptr);
    EXPECT_EQ(m->GetPartition("nope", 0), nullptr);
    ASSERT_TRUE(p->Append(MakeBatch(4), {Durability::kSync}).ok());
    ASSERT_TRUE(m->CreatePartitions("orders", 5).ok());
    EXPECT_EQ(m->CreatePartitions("orders", 5).code(), ErrorCode::kInvalidArgument);
    ASSERT_TRUE(m->AlterConfigs("orders", {{"retention.ms", ConfigChange::Op::kDelete, ""},
                                           {"segment.bytes", ConfigChange::Op::kSet, "100000"}},
                                false).ok());
    EXPECT_EQ(m->AlterConfigs("orders", {{"nonsense", ConfigChange::Op::kSet, "1"}}, false).code(),
              ErrorCode::kInvalidArgument);
    ASSERT_TRUE(m->DeleteTopic("events").ok());
    EXPECT_EQ(m->DeleteTopic("events").code(), ErrorCode::kNotFound);
    EXPECT_EQ(m->DeleteTopic(kOffsetsTopic).code(), ErrorCode::kInvalidArgument);
  }
  auto m = OpenManager(dir.path());
  auto topics = m->ListTopics();
  std::vector<std::string> names;
  for (auto& t : topics) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"__consumer_offsets", "orders"}));
  auto orders = m->DescribeTopic("orders");
  ASSERT_TRUE(orders);
  EXPECT_EQ(orders->partitions, 5);
  EXPECT_TRUE(orders->config->cleanup_compact);
  EXPECT_EQ(orders->config->segment_bytes, 100000);
  EXPECT_EQ(orders->config->retention_ms, TopicConfig().retention_ms);  // reverted to default
  bool found = false;
  for (auto& e : orders->config->Describe()) {
    if (e.name == "segment.bytes") {
      found = true;
      EXPECT_FALSE(e.is_default);
      EXPECT_EQ(e.value, "100000");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(m->GetPartition("orders", 2)->log_end_offset(), 4);
  EXPECT_FALSE(m->DescribeTopic("events").has_value());
  // A re-created topic starts empty.
  ASSERT_TRUE(m->CreateTopic("events", 1).ok());
  EXPECT_EQ(m->GetPartition("events", 0)->log_end_offset(), 0);
}

TEST(LogManager, GroupOffsetsSurviveReopen) {
  TempDir dir;
  {
    auto m = OpenManager(dir.path());
    GroupOffsets* g = m->group_offsets();
    ASSERT_TRUE(g->Commit("g1", {{"orders", 0, {42, 3, "meta", 1000}}, {"orders", 1, {7, -1, "", 1000}}}).ok());
    ASSERT_TRUE(g->Commit("g1", {{"orders", 0, {43, 3, "meta2", 2000}}}).ok());
    ASSERT_TRUE(g->Commit("g2", {{"events", 0, {5, -1, "", 1}}}).ok());
    ASSERT_TRUE(g->Commit("g3", {{"events", 0, {9, -1, "", 1}}}).ok());
    ASSERT_TRUE(g->DeleteGroup("g3").ok());
    ASSERT_TRUE(g->Commit("g4", {{"a", 0, {1, -1, "", 1}}, {"a", 1, {2, -1, "", 1}}}).ok());
    ASSERT_TRUE(g->DeleteOffsets("g4", {{"a", 0}}).ok());
    EXPECT_EQ(g->Fetch("g1", "orders", 0)->offset, 43);
    EXPECT_EQ(g->Commit("g5", {{"a", 0, {1, -1, std::string(5000, 'm'), 1}}}).code(),
              ErrorCode::kLimitExceeded);
  }
  auto m = OpenManager(dir.path());
  GroupOffsets* g = m->group_offsets();
  auto c = g->Fetch("g1", "orders", 0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->offset, 43);
  EXPECT_EQ(c->leader_epoch, 3);
  EXPECT_EQ(c->metadata, "meta2");
  EXPECT_EQ(c->commit_time_ms, 2000);
  EXPECT_EQ(g->Fetch("g1", "orders", 1)->offset, 7);
  EXPECT_FALSE(g->Fetch("g1", "orders", 2));
  EXPECT_EQ(g->FetchAll("g1").size(), 2u);
  EXPECT_EQ(g->ListGroups(), (std::vector<std::string>{"g1", "g2", "g4"}));
  EXPECT_FALSE(g->Fetch("g4", "a", 0));
  EXPECT_EQ(g->Fetch("g4", "a", 1)->offset, 2);
  // Deleting a topic forgets its offsets.
  ASSERT_TRUE(m->CreateTopic("events", 1).ok());
  ASSERT_TRUE(m->DeleteTopic("events").ok());
  EXPECT_FALSE(g->Fetch("g2", "events", 0));
}

TEST(LogManager, GroupOffsetsCommitAsyncFromManyThreads) {
  TempDir dir;
  auto m = OpenManager(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(m->group_offsets()->Commit("g", {{"t", t, {i, -1, "", 0}}}).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(m->group_offsets()->Fetch("g", "t", t)->offset, 49);
}

TEST(LogManager, ProducerIdsNeverRepeat) {
  TempDir dir;
  std::set<int64_t> seen;
  for (int round = 0; round < 3; ++round) {
    auto m = OpenManager(dir.path());
    for (int i = 0; i < 10; ++i) {
      auto id = m->AllocateProducerId();
      ASSERT_TRUE(id.ok());
      EXPECT_TRUE(seen.insert(*id).second) << *id;
    }
  }
}

TEST(LogManager, MaintenanceAppliesRetentionAndRollByAge) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  env.SetNowMs(1'000'000);
  auto m = OpenManager(dir.path(), &env);
  ASSERT_TRUE(m->CreateTopic("t", 1, {{"segment.ms", "1000"}, {"retention.ms", "5000"}}).ok());
  auto p = m->GetPartition("t", 0);
  ASSERT_TRUE(p->Append(MakeBatch(2, "v", 1'000'000), {}).ok());
  EXPECT_EQ(p->segment_count(), 1u);
  ASSERT_TRUE(m->RunMaintenance(1'002'000).ok());  // active older than segment.ms: rolled
  EXPECT_EQ(p->segment_count(), 2u);
  ASSERT_TRUE(p->Append(MakeBatch(2, "v", 1'002'000), {}).ok());
  ASSERT_TRUE(m->RunMaintenance(1'006'500).ok());  // first segment past retention.ms
  EXPECT_EQ(p->log_start_offset(), 2);
  EXPECT_EQ(p->log_end_offset(), 4);
}

// A topic's flush.ms bounds how long acks=1 data stays unsynced, independently of the
// manager's interval (here a minute, so only flush.ms can explain the sync).
TEST(LogManager, TopicFlushMsAppliesPerTopic) {
  TempDir dir;
  LogManagerOptions o;
  o.data_dir = dir.path();
  o.maintenance_interval_ms = 0;
  o.flush_interval_ms = 60'000;
  auto opened = LogManager::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto m = std::move(opened).value();
  ASSERT_TRUE(m->CreateTopic("fast", 1, {{"flush.ms", "20"}}).ok());
  ASSERT_TRUE(m->CreateTopic("slow", 1).ok());
  auto fast = m->GetPartition("fast", 0);
  auto slow = m->GetPartition("slow", 0);
  ASSERT_TRUE(fast->Append(MakeBatch(2), {}).ok());
  ASSERT_TRUE(slow->Append(MakeBatch(3), {}).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fast->durable_offset() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(fast->durable_offset(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // (With the commit journal, the fast topic's journal sync covers the slow one's append too:
  // every journal sync covers everything journaled before it.)
  if (m->journal() == nullptr) {
    EXPECT_EQ(slow->durable_offset(), 0) << "the 60 s manager interval applies to the other topic";
  }
  // flush.ms=0: synced as soon as the flusher gets to it.
  ASSERT_TRUE(m->AlterConfigs("slow", {{"flush.ms", ConfigChange::Op::kSet, "0"}}, false).ok());
  ASSERT_TRUE(slow->Append(MakeBatch(1), {}).ok());
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (slow->durable_offset() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(slow->durable_offset(), 4);
}

}  // namespace
}  // namespace ec::log
