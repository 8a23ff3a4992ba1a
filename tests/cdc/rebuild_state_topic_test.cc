// A resource rebuild (`replay --resource`) rewrites that resource in the exactly-once state
// topic: a store restored from the topic (RocksDB lost, or a catch-up after a crash) gets the
// rebuilt states, not the ones the live run had before the rebuild, and keys the rebuild
// forgot stay forgotten; other resources' records are untouched.
#include <gtest/gtest.h>

#include <set>

#include "../log/test_util.h"
#include "cdc/state_store.h"
#include "cdc/state_topic.h"
#include "log/log_manager.h"
#include "server/config.h"
#include "server/replay.h"
#include "server/topic_writer.h"
#include "shop_traffic.h"
#include "spec/spec.h"

namespace ec {
namespace {

using log::testing::TempDir;

TEST(RebuildStateTopic, StoreRestoredFromTheTopicAgreesWithTheRebuiltStore) {
  TempDir dir;
  log::LogManagerOptions lo;
  lo.data_dir = dir.path();
  lo.maintenance_interval_ms = 0;
  std::unique_ptr<log::LogManager> logs = std::move(log::LogManager::Open(lo)).value();
  ASSERT_TRUE(cdc::EnsureStateTopic(logs.get()).ok());
  server::ServerConfig config;
  server::TopicWriter writer(logs.get(), &config);

  // History: shop traffic in the raw topic (creates, updates, merge patches, deletes).
  testing::ShopTraffic traffic(7);
  std::vector<pipeline::OutputRecord> raw;
  for (int i = 0; i < 600; ++i) {
    raw.emplace_back("api-logs", std::nullopt, traffic.Next());
  }
  ASSERT_TRUE(writer.Append(raw).ok());

  // What the live run left before the rebuild: states of an order the history has (stale),
  // of an order it never mentions, and of a customer; in the store and in the state topic.
  cdc::MemoryStateStore store;
  std::vector<cdc::StateWrite> live{
      {cdc::EncodeKey("order", "o-1000"), cdc::StoredState{false, 1, R"({"id":"o-1000","stale":true})"}},
      {cdc::EncodeKey("order", "o-ghost"), cdc::StoredState{false, 2, R"({"id":"o-ghost"})"}},
      {cdc::EncodeKey("customer", "c-keep"), cdc::StoredState{false, 3, R"({"id":"c-keep"})"}},
  };
  ASSERT_TRUE(store.Apply(live, cdc::kStateCheckpoint, 0).ok());
  std::vector<pipeline::OutputRecord> state_records;
  cdc::StateRecords(live, &state_records);
  ASSERT_TRUE(writer.Append(state_records).ok());

  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = spec::LoadSpecs(files);
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  server::ReplayRequest request;
  request.from = server::ParseReplayBound("earliest", "from").value();
  request.to.offset = INT64_MAX;
  request.resource = "order";
  server::ReplayEnv env;
  env.logs = logs.get();
  env.writer = &writer;
  env.specs = *specs;
  env.store = &store;
  env.max_read_bytes = 16 << 10;  // several chunks
  server::ReplayProgress progress;
  Status s = server::RunReplay(request, env, &progress);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(progress.written.load(), 0u);  // no changelog records: state only

  std::shared_ptr<log::PartitionLog> state_log = logs->GetPartition(cdc::kStateTopic, 0);
  ASSERT_NE(state_log, nullptr);
  cdc::MemoryStateStore restored;
  ASSERT_TRUE(cdc::CatchUpStateStore(&restored, *state_log).ok());

  // Every key either store has a state for (deleted ones included) agrees.
  Result<std::vector<std::string>> topic_keys = cdc::StateTopicKeys(*state_log, "order");
  ASSERT_TRUE(topic_keys.ok()) << topic_keys.status().message();
  std::set<std::string> keys(topic_keys->begin(), topic_keys->end());
  size_t deleted = 0, live_keys = 0;
  for (const std::string& k : keys) {
    cdc::StatePtr a = store.Lookup(k).value();
    cdc::StatePtr b = restored.Lookup(k).value();
    ASSERT_NE(a, nullptr) << k;
    ASSERT_NE(b, nullptr) << k;
    EXPECT_EQ(a->bytes(), b->bytes()) << k;
    (a->deleted() ? deleted : live_keys)++;
  }
  EXPECT_GT(live_keys, 20u);
  EXPECT_GT(deleted, 0u);
  EXPECT_EQ(store.List("order", "", 100000).value(), restored.List("order", "", 100000).value());
  EXPECT_EQ(store.List("order", "", 100000).value().size(), live_keys);

  // The stale state is gone from both; the forgotten key too; the customer is untouched.
  cdc::StatePtr o1000 = restored.Lookup(cdc::EncodeKey("order", "o-1000")).value();
  if (o1000 != nullptr) { EXPECT_EQ(o1000->value().find("stale"), std::string_view::npos); }
  EXPECT_EQ(keys.count(cdc::EncodeKey("order", "o-ghost")), 0u);
  EXPECT_EQ(store.Lookup(cdc::EncodeKey("order", "o-ghost")).value(), nullptr);
  EXPECT_EQ(restored.Lookup(cdc::EncodeKey("order", "o-ghost")).value(), nullptr);
  cdc::StatePtr customer = restored.Lookup(cdc::EncodeKey("customer", "c-keep")).value();
  ASSERT_NE(customer, nullptr);
  EXPECT_EQ(customer->value(), R"({"id":"c-keep"})");
}

}  // namespace
}  // namespace ec
