// The log and state-store pieces of exactly-once processing: transactional offset commits,
// committed reads, compaction of aborted transactions, the state overlay and state-topic
// catch-up.
#include <gtest/gtest.h>

#include "../log/test_util.h"
#include "cdc/state_store.h"
#include "cdc/state_topic.h"
#include "cdc/txn_state_store.h"
#include "log/committed_reader.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"

namespace ec {
namespace {

using log::testing::TempDir;

constexpr int64_t kPid = int64_t{1} << 48;

std::unique_ptr<log::LogManager> OpenLogs(const std::string& dir) {
  log::LogManagerOptions o;
  o.data_dir = dir;
  o.maintenance_interval_ms = 0;
  return std::move(log::LogManager::Open(o)).value();
}

std::string TxnBatch(const std::vector<std::pair<std::string, std::string>>& kvs, int64_t ts = 1000) {
  log::BatchBuilderOptions o;
  o.producer_id = kPid;
  o.producer_epoch = 0;
  o.transactional = true;
  log::RecordBatchBuilder b(o);
  for (const auto& [k, v] : kvs) b.Add(k, v, ts);
  return std::move(b.Build()).value();
}

std::string Marker(bool commit) {
  return log::RecordBatchBuilder::MakeControlBatch(kPid, 0, commit ? log::ControlType::kCommit : log::ControlType::kAbort,
                                                   0, 1000);
}

std::vector<std::string> CommittedValues(const log::PartitionLog& pl) {
  std::vector<std::string> out;
  EXPECT_TRUE(log::ForEachCommittedRecord(pl, 0, INT64_MAX, [&](const log::RecordBatchView&, const log::Record& r) {
                out.emplace_back(r.value ? *r.value : "<null>");
                return Status::Ok();
              }).ok());
  return out;
}

TEST(EosLog, TransactionalOffsetsVisibleOnlyAfterCommitAndAfterReopen) {
  TempDir dir;
  {
    auto logs = OpenLogs(dir.path());
    log::GroupOffsets* g = logs->group_offsets();
    ASSERT_TRUE(g->Commit("grp", {{"t", 0, {5, -1, "", 1}}}).ok());
    ASSERT_TRUE(g->CommitTransactional("grp", {{"t", 0, {9, -1, "", 2}}}, kPid, 0, log::Durability::kSync).ok());
    EXPECT_TRUE(g->HasOpenTransaction(kPid));
    EXPECT_EQ(g->Fetch("grp", "t", 0)->offset, 5);  // not visible yet
    ASSERT_TRUE(g->EndTransaction(kPid, 0, true, log::Durability::kSync).ok());
    EXPECT_FALSE(g->HasOpenTransaction(kPid));
    EXPECT_EQ(g->Fetch("grp", "t", 0)->offset, 9);
    // An aborted one is dropped.
    ASSERT_TRUE(g->CommitTransactional("grp", {{"t", 0, {12, -1, "", 3}}}, kPid, 0, log::Durability::kSync).ok());
    ASSERT_TRUE(g->EndTransaction(kPid, 0, false, log::Durability::kSync).ok());
    EXPECT_EQ(g->Fetch("grp", "t", 0)->offset, 9);
    // One left open (a crash before the decision).
    ASSERT_TRUE(g->CommitTransactional("grp", {{"t", 0, {20, -1, "", 4}}}, kPid, 0, log::Durability::kSync).ok());
  }
  {
    auto logs = OpenLogs(dir.path());
    log::GroupOffsets* g = logs->group_offsets();
    EXPECT_EQ(g->Fetch("grp", "t", 0)->offset, 9);  // committed replayed, aborted and open not
    EXPECT_TRUE(g->HasOpenTransaction(kPid));
    ASSERT_TRUE(g->EndTransaction(kPid, 0, true, log::Durability::kSync).ok());
    EXPECT_EQ(g->Fetch("grp", "t", 0)->offset, 20);
  }
  auto logs = OpenLogs(dir.path());
  EXPECT_EQ(logs->group_offsets()->Fetch("grp", "t", 0)->offset, 20);
  EXPECT_FALSE(logs->group_offsets()->HasOpenTransaction(kPid));
}

TEST(EosLog, CommittedReaderSkipsAbortedAndStopsAtOpenTransaction) {
  TempDir dir;
  auto logs = OpenLogs(dir.path());
  ASSERT_TRUE(logs->CreateTopic("t", 1, {}).ok());
  auto pl = logs->GetPartition("t", 0);
  ASSERT_TRUE(pl->Append(TxnBatch({{"a", "1"}}), {}).ok());
  ASSERT_TRUE(pl->Append(Marker(true), {}).ok());
  ASSERT_TRUE(pl->Append(TxnBatch({{"a", "2"}, {"b", "2"}}), {}).ok());
  ASSERT_TRUE(pl->Append(Marker(false), {}).ok());
  ASSERT_TRUE(pl->Append(log::testing::MakeBatch(1, "plain"), {}).ok());
  ASSERT_TRUE(pl->Append(TxnBatch({{"c", "3"}}), {}).ok());
  EXPECT_EQ(pl->OpenTransactionStart(kPid), 6);
  EXPECT_EQ(pl->last_stable_offset(), 6);
  EXPECT_EQ(CommittedValues(*pl), (std::vector<std::string>{"1", "plain0"}));
  EXPECT_TRUE(pl->IsAborted(kPid, 2));
  EXPECT_FALSE(pl->IsAborted(kPid, 0));
  ASSERT_TRUE(pl->Append(Marker(true), {}).ok());
  EXPECT_FALSE(pl->OpenTransactionStart(kPid));
  EXPECT_EQ(CommittedValues(*pl), (std::vector<std::string>{"1", "plain0", "3"}));
}

TEST(EosLog, CompactionDropsAbortedRecordsAndKeepsTheCommittedValue) {
  TempDir dir;
  auto logs = OpenLogs(dir.path());
  ASSERT_TRUE(logs->CreateTopic("c", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "200"},
                                         {"min.compaction.lag.ms", "0"}}).ok());
  auto pl = logs->GetPartition("c", 0);
  ASSERT_TRUE(pl->Append(TxnBatch({{"k", "committed"}}), {}).ok());
  ASSERT_TRUE(pl->Append(Marker(true), {}).ok());
  ASSERT_TRUE(pl->Append(TxnBatch({{"k", "aborted"}}), {}).ok());
  ASSERT_TRUE(pl->Append(Marker(false), {}).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(pl->Append(log::testing::MakeBatch(1, "filler" + std::to_string(i)), {}).ok());
  ASSERT_GT(pl->segment_count(), 2u);
  ASSERT_TRUE(pl->Compact(INT64_MAX / 2).ok());
  // Read everything uncommitted: the aborted record is gone, the committed one stayed.
  std::vector<std::string> all;
  int64_t off = pl->log_start_offset();
  std::string bytes;
  log::ReadResult rr = pl->Read(off, 1 << 20);
  ASSERT_TRUE(rr.CopyTo(&bytes).ok());
  ASSERT_TRUE(log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& b) {
                if (b.is_control()) return Status::Ok();
                return b.ForEachRecord([&](const log::Record& r) {
                  if (r.key && *r.key == "k") all.emplace_back(*r.value);
                  return Status::Ok();
                });
              }).ok());
  EXPECT_EQ(all, (std::vector<std::string>{"committed"}));
}

TEST(EosState, OverlayIsInvisibleToListUntilCommitAndCatchUpReplaysTheStateTopic) {
  TempDir dir;
  auto logs = OpenLogs(dir.path());
  ASSERT_TRUE(cdc::EnsureStateTopic(logs.get()).ok());
  auto state_log = logs->GetPartition(cdc::kStateTopic, 0);
  cdc::MemoryStateStore base;
  cdc::TxnStateStore txn(&base);
  ASSERT_TRUE(txn.Put("order", "o1", {false, 10, "{\"a\":1}"}).ok());
  EXPECT_EQ(txn.Get("order", "o1").value()->value, "{\"a\":1}");
  EXPECT_FALSE(base.Get("order", "o1").value().has_value());
  EXPECT_TRUE(txn.List("order", "", 10).value().empty());
  txn.Discard();
  EXPECT_FALSE(txn.Get("order", "o1").value().has_value());

  // Pass 1 committed to the log and to the store.
  ASSERT_TRUE(txn.Put("order", "o1", {false, 10, "{\"a\":1}"}).ok());
  std::vector<pipeline::OutputRecord> recs;
  cdc::StateRecords(txn.Pending(), &recs);
  ASSERT_EQ(recs.size(), 1u);
  log::BatchBuilderOptions o;
  o.producer_id = kPid;
  o.transactional = true;
  auto append = [&](bool commit) {
    log::RecordBatchBuilder b(o);
    for (const auto& r : recs) b.Add(*r.key(), *r.value(), r.timestamp_ms);
    ASSERT_TRUE(state_log->Append(std::move(b.Build()).value(), {}).ok());
    ASSERT_TRUE(state_log->Append(Marker(commit), {}).ok());
  };
  append(true);
  ASSERT_TRUE(txn.Commit(cdc::kStateCheckpoint, state_log->log_end_offset()).ok());
  EXPECT_EQ(base.List("order", "", 10).value(), std::vector<std::string>{"o1"});

  // Pass 2 aborted; pass 3 committed in the log but the process died before the store write.
  recs.clear();
  cdc::StateRecords({{cdc::EncodeKey("order", "o2"), {false, 20, "{\"x\":2}"}}}, &recs);
  append(false);
  recs.clear();
  cdc::StateRecords({{cdc::EncodeKey("order", "o1"), {true, 30, ""}}, {cdc::EncodeKey("order", "o3"), {false, 30, "3"}}},
                    &recs);
  append(true);
  auto applied = cdc::CatchUpStateStore(&base, *state_log);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_EQ(*applied, 2u);
  EXPECT_EQ(base.List("order", "", 10).value(), std::vector<std::string>{"o3"});
  EXPECT_TRUE(base.Get("order", "o1").value()->deleted);
  EXPECT_EQ(base.Get("order", "o1").value()->ts_ms, 30);
  EXPECT_FALSE(base.Get("order", "o2").value().has_value());
  EXPECT_EQ(base.Checkpoint(cdc::kStateCheckpoint).value(), state_log->log_end_offset());
  EXPECT_EQ(*cdc::CatchUpStateStore(&base, *state_log), 0u);  // idempotent
}

// A memory store whose Apply fails on demand, to see the overlay kept for the next commit.
class FailingStore final : public cdc::StateStore {
 public:
  Status Apply(const std::vector<cdc::StateWrite>& writes, std::string_view checkpoint, int64_t offset) override {
    if (fail) return Status(ErrorCode::kIoError, "injected");
    applied += writes.size();
    return mem.Apply(writes, checkpoint, offset);
  }
  Result<std::optional<int64_t>> Checkpoint(std::string_view c) override { return mem.Checkpoint(c); }
  Result<cdc::StatePtr> Lookup(std::string_view k) override { return mem.Lookup(k); }
  Status Store(std::string_view k, cdc::StatePtr s) override { return mem.Store(k, std::move(s)); }
  Result<std::vector<std::string>> List(std::string_view r, std::string_view a, size_t l) override {
    return mem.List(r, a, l);
  }
  Status ClearResource(std::string_view r) override { return mem.ClearResource(r); }
  cdc::MemoryStateStore mem;
  bool fail = false;
  size_t applied = 0;
};

TEST(EosState, OverlayKeepsTheLatestStatePerKeyAndSurvivesAFailedCommit) {
  FailingStore base;
  cdc::TxnStateStore txn(&base);
  // Many keys, each written several times: one write per key, the latest, in first-write order.
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 200; ++k) {
      ASSERT_TRUE(txn.Put(k % 2 ? "order" : "customer", std::to_string(k), {false, round * 1000 + k, std::to_string(round)}).ok());
    }
  }
  std::vector<cdc::StateWrite> pending = txn.Pending();
  ASSERT_EQ(pending.size(), 200u);
  for (int k = 0; k < 200; ++k) {
    EXPECT_EQ(pending[k].encoded_key, cdc::EncodeKey(k % 2 ? "order" : "customer", std::to_string(k)));
    EXPECT_EQ(pending[k].state->ts_ms(), 2000 + k);
    EXPECT_EQ(txn.Get(k % 2 ? "order" : "customer", std::to_string(k)).value()->value, "2");
  }
  // Clearing a resource drops its keys from the overlay; the rest stays found.
  ASSERT_TRUE(txn.ClearResource("customer").ok());
  EXPECT_EQ(txn.Pending().size(), 100u);
  EXPECT_FALSE(txn.Get("customer", "0").value().has_value());
  EXPECT_EQ(txn.Get("order", "199").value()->ts_ms, 2199);
  ASSERT_TRUE(txn.Put("order", "199", {true, 3000, ""}).ok());
  EXPECT_EQ(txn.Pending().size(), 100u);
  // A failed commit keeps the overlay; the retry writes it.
  base.fail = true;
  EXPECT_FALSE(txn.Commit("cp", 7).ok());
  EXPECT_EQ(txn.Pending().size(), 100u);
  EXPECT_FALSE(base.Get("order", "1").value().has_value());
  base.fail = false;
  ASSERT_TRUE(txn.Commit("cp", 7).ok());
  EXPECT_EQ(base.applied, 100u);
  EXPECT_TRUE(txn.Pending().empty());
  EXPECT_EQ(base.Checkpoint("cp").value(), 7);
  EXPECT_TRUE(base.Get("order", "199").value()->deleted);
  EXPECT_EQ(base.List("order", "", 1000).value().size(), 99u);
  // After the commit the overlay starts empty: a new write is indexed afresh.
  ASSERT_TRUE(txn.Put("order", "1", {false, 4000, "4"}).ok());
  EXPECT_EQ(txn.Get("order", "1").value()->value, "4");
  EXPECT_EQ(base.Get("order", "1").value()->value, "2");
  txn.Discard();
  EXPECT_EQ(txn.Get("order", "1").value()->value, "2");
}

TEST(EosState, RocksStoreAppliesAtomicallyWithItsCheckpoint) {
  TempDir dir;
  {
    auto store = std::move(cdc::OpenRocksStateStore(dir.path() + "/rocks")).value();
    EXPECT_FALSE(store->Checkpoint("x").value().has_value());
    ASSERT_TRUE(store->Apply({{cdc::EncodeKey("r", "k"), {false, 5, "1"}}}, "x", 42).ok());
  }
  auto store = std::move(cdc::OpenRocksStateStore(dir.path() + "/rocks")).value();
  EXPECT_EQ(store->Checkpoint("x").value(), 42);
  EXPECT_EQ(store->Get("r", "k").value()->value, "1");
  EXPECT_EQ(store->List("r", "", 10).value(), std::vector<std::string>{"k"});
}

}  // namespace
}  // namespace ec
