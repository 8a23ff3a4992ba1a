// PipelineTxn and the durability of the pass's input: a pass reads up to the log end, which can
// be ahead of the durable end while ingest's fdatasync is in flight. A power loss (modelled by
// FaultInjectionEnv, which cuts every file back to what was synced) must never leave a committed
// position beyond the input that survived: records appended again at those offsets would be
// skipped by the pipeline.

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "log/fault_injection_env.h"
#include "log/group_offsets.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch_builder.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/pipeline_txn.h"
#include "server/topic_writer.h"

namespace ec::server {
namespace {

std::unique_ptr<log::LogManager> OpenLogs(const std::string& dir, log::Env* env, bool journal) {
  log::LogManagerOptions o;
  o.journal = journal;  // the commit journal (log/journal.h) or per-partition fdatasyncs
  o.data_dir = dir;
  o.env = env;
  o.maintenance_interval_ms = 0;
  o.flush_interval_ms = 600'000;  // nothing but an explicit sync makes a kWritten append durable
  o.preallocate_bytes = 0;        // a zero fill's fdatasync would cover the appended records too
  auto opened = log::LogManager::Open(o);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

class PipelineTxnInput : public ::testing::TestWithParam<bool> {};

TEST_P(PipelineTxnInput, CommittedPositionNeverOutlivesItsInputAfterAPowerLoss) {
  const bool journal = GetParam();
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_input_" + std::to_string(::getpid()) + (journal ? "_j" : ""))).string();
  std::filesystem::remove_all(dir);
  log::FaultInjectionEnv env(log::Env::Default());
  constexpr int kRecords = 5;
  {
    auto logs = OpenLogs(dir, &env, journal);
    ASSERT_NE(logs, nullptr);
    ASSERT_TRUE(logs->CreateTopic("api-logs", 1).ok());
    ASSERT_TRUE(logs->CreateTopic("events", 1).ok());
    auto input = logs->GetPartition("api-logs", 0);
    log::RecordBatchBuilder b;
    for (int i = 0; i < kRecords; ++i) b.Add(std::nullopt, "exchange " + std::to_string(i), 1'700'000'000'000);
    auto bytes = b.Build();
    ASSERT_TRUE(bytes.ok());
    // Written and readable, not yet synced: what a pass sees while ingest's group commit runs.
    ASSERT_TRUE(input->Append(std::move(bytes).value(), {log::Durability::kWritten}).ok());
    ASSERT_EQ(input->log_end_offset(), kRecords);
    ASSERT_EQ(input->durable_offset(), 0);

    ServerConfig config;
    TopicWriter writer(logs.get(), &config);
    PipelineTxn txn(logs.get(), &writer);
    pipeline::OutputRecord event;
    event.topic = "events";
    event.key = "k";
    event.value = "v";
    event.timestamp_ms = 1'700'000'000'000;
    std::vector<log::OffsetCommitEntry> positions = {
        log::OffsetCommitEntry{"api-logs", 0, {kRecords, -1, "", 0}}};
    ASSERT_TRUE(txn.CommitPass("g", positions, {event}).ok());
    EXPECT_GE(input->durable_offset(), kRecords) << "the decision was made over unsynced input";
    ASSERT_TRUE(txn.WaitMarkers().ok());
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  auto logs = OpenLogs(dir, &env, journal);
  ASSERT_NE(logs, nullptr);
  std::optional<log::CommittedOffset> committed = logs->group_offsets()->Fetch("g", "api-logs", 0);
  ASSERT_TRUE(committed.has_value()) << "the decision was synced before the crash";
  EXPECT_EQ(committed->offset, kRecords);
  EXPECT_GE(logs->GetPartition("api-logs", 0)->log_end_offset(), committed->offset);
  EXPECT_EQ(logs->GetPartition("events", 0)->log_end_offset(), 2) << "the event and its commit marker";
  logs.reset();
  std::filesystem::remove_all(dir);
}

TEST(PipelineTxnJournal, EachRoundIsOneJournalSync) {
  // With the commit journal a pass waits for two fdatasyncs: round A (its offset record and
  // every output batch) and round B (the decision). The offset record's append must not wake
  // the sync thread before the outputs are written (AppendOptions::defer_journal_sync): on a
  // slow disk its sync would cover the offset record only and the outputs a second one. A pass
  // without outputs (nothing but its offset record) must not wait for someone else's sync.
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_rounds_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  log::FaultInjectionEnv env(log::Env::Default());
  env.SetSyncDelayMicros(3000);
  {
    auto logs = OpenLogs(dir, &env, /*journal=*/true);
    ASSERT_NE(logs, nullptr);
    ASSERT_NE(logs->journal(), nullptr);
    ASSERT_TRUE(logs->CreateTopic("api-logs", 1).ok());
    std::vector<pipeline::OutputRecord> outputs;
    for (int t = 0; t < 8; ++t) {
      ASSERT_TRUE(logs->CreateTopic("out" + std::to_string(t), 1).ok());
      pipeline::OutputRecord r;
      r.topic = "out" + std::to_string(t);
      r.key = "k";
      r.value = std::string(2000, 'v');
      r.timestamp_ms = 1'700'000'000'000;
      outputs.push_back(r);
    }
    ServerConfig config;
    TopicWriter writer(logs.get(), &config);
    PipelineTxn txn(logs.get(), &writer);
    for (int pass = 1; pass <= 3; ++pass) {
      std::vector<log::OffsetCommitEntry> positions = {log::OffsetCommitEntry{"api-logs", 0, {pass, -1, "", 0}}};
      const uint64_t before = logs->journal()->sync_calls();
      ASSERT_TRUE(txn.CommitPass("g", positions, pass == 2 ? std::vector<pipeline::OutputRecord>{} : outputs).ok());
      EXPECT_EQ(logs->journal()->sync_calls() - before, 2u) << "pass " << pass;
      for (int t = 0; t < 8 && pass != 2; ++t) {
        auto p = logs->GetPartition("out" + std::to_string(t), 0);
        EXPECT_GE(p->durable_offset(), p->log_end_offset() - 1) << "all but the marker durable, pass " << pass;
      }
    }
    ASSERT_TRUE(txn.WaitMarkers().ok());
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Sync, PipelineTxnInput, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Journal" : "PerPartition"; });

}  // namespace
}  // namespace ec::server
