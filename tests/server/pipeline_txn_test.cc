// PipelineTxn and the durability of the pass's input: a pass reads up to the log end, which can
// be ahead of the durable end while ingest's fdatasync is in flight. A power loss (modelled by
// FaultInjectionEnv, which cuts every file back to what was synced) must never leave a committed
// position beyond the input that survived: records appended again at those offsets would be
// skipped by the pipeline.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "log/fault_injection_env.h"
#include "log/group_offsets.h"
#include "log/journal.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
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
    const pipeline::OutputRecord event("events", "k", "v", {}, 1'700'000'000'000);
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

void EachRoundIsOneJournalSync(bool syncs_here) {
  // With the commit journal a pass waits for two fdatasyncs: round A (its offset record and
  // every output batch) and round B (the decision). The offset record's append must not wake
  // the sync thread before the outputs are written (AppendOptions::defer_journal_sync): on a
  // slow disk its sync would cover the offset record only and the outputs a second one. A pass
  // without outputs (nothing but its offset record) must not wait for someone else's sync.
  // syncs_here: as on the pipeline's commit thread (Journal::RunSyncsOnThisThread), the rounds
  // run on this thread: still one each, and everything waited for is durable when they return.
  log::Journal::RunSyncsOnThisThread(syncs_here);
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_rounds_" + std::to_string(::getpid()) + (syncs_here ? "_here" : ""))).string();
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
      outputs.emplace_back("out" + std::to_string(t), "k", std::string(2000, 'v'),
                           std::span<const std::pair<std::string_view, std::string_view>>(), 1'700'000'000'000);
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
  log::Journal::RunSyncsOnThisThread(false);
  std::filesystem::remove_all(dir);
}

TEST(PipelineTxnJournal, EachRoundIsOneJournalSync) { EachRoundIsOneJournalSync(false); }
TEST(PipelineTxnJournal, EachRoundIsOneJournalSyncRunOnTheCommitThread) { EachRoundIsOneJournalSync(true); }

// Step 4 writes one commit marker per touched partition, each an in-place copy of one marker
// built for the pass: every partition's last batch must be that commit marker, byte for byte the
// batch MakeControlBatch gives (offset and leader epoch aside), at the offset after the pass's
// outputs, and a read_committed reader must then see the outputs.
TEST(PipelineTxnMarkers, EachTouchedPartitionEndsWithThePassCommitMarker) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_markers_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    auto logs = OpenLogs(dir, log::Env::Default(), /*journal=*/true);
    ASSERT_NE(logs, nullptr);
    ASSERT_TRUE(logs->CreateTopic("api-logs", 1).ok());
    ASSERT_TRUE(logs->CreateTopic("out", 3).ok());
    ASSERT_TRUE(logs->CreateTopic("other", 1).ok());
    ServerConfig config;
    TopicWriter writer(logs.get(), &config);
    PipelineTxn txn(logs.get(), &writer);
    for (int pass = 1; pass <= 3; ++pass) {
      std::vector<pipeline::OutputRecord> outputs;
      for (int i = 0; i < 12; ++i) {
        outputs.emplace_back(pass == 2 && i % 2 ? "other" : "out", "key-" + std::to_string(i * 7 + pass),
                             "value " + std::to_string(i), std::span<const std::pair<std::string_view, std::string_view>>(),
                             1'700'000'000'000 + i);
      }
      std::map<std::pair<std::string, int32_t>, int64_t> end_before;
      for (const auto& [t, n] : {std::pair<std::string, int>{"out", 3}, {"other", 1}}) {
        for (int32_t p = 0; p < n; ++p) end_before[{t, p}] = logs->GetPartition(t, p)->log_end_offset();
      }
      std::vector<log::OffsetCommitEntry> positions = {log::OffsetCommitEntry{"api-logs", 0, {pass, -1, "", 0}}};
      ASSERT_TRUE(txn.CommitPass("g", positions, outputs).ok());
      size_t touched = 0;
      for (const auto& [tp, before] : end_before) {
        auto pl = logs->GetPartition(tp.first, tp.second);
        const int64_t end = pl->log_end_offset();
        if (end == before) continue;
        ++touched;
        log::ReadResult r = pl->Read(end - 1, 1 << 20);
        ASSERT_EQ(r.error, log::LogError::kNone);
        std::string bytes;
        ASSERT_TRUE(r.CopyTo(&bytes).ok());
        auto v = log::RecordBatchView::Parse(bytes);
        ASSERT_TRUE(v.ok()) << v.status().ToString();
        EXPECT_TRUE(v->is_control()) << tp.first << "-" << tp.second << " pass " << pass;
        EXPECT_EQ(v->base_offset(), end - 1);
        EXPECT_EQ(v->producer_id(), txn.txn().producer_id);
        std::string expected = log::RecordBatchBuilder::MakeControlBatch(
            txn.txn().producer_id, txn.txn().epoch, log::ControlType::kCommit, 0, v->max_timestamp());
        ASSERT_EQ(bytes.size(), expected.size());
        EXPECT_EQ(bytes.substr(16), expected.substr(16)) << "not the commit marker (CRC included), pass " << pass;
        // The outputs before it are committed: a read_committed reader gets them all.
        log::ReadResult committed = pl->Read(before, 1 << 20, {.isolation = log::IsolationLevel::kReadCommitted});
        EXPECT_EQ(committed.last_stable_offset, end) << tp.first << "-" << tp.second << " pass " << pass;
      }
      EXPECT_GE(touched, 2u) << "pass " << pass;
    }
    ASSERT_TRUE(txn.WaitMarkers().ok());
  }
  std::filesystem::remove_all(dir);
}

// Output records carry their bytes in the record layout (pipeline::OutputRecord::encoded) and
// the commit path copies them with RecordBatchBuilder::AddEncoded: the batch must be the one
// Add gives from the same fields, byte for byte (CRC included), for every length class of the
// varints (keys and values absent, empty, short, 64 bytes and up, 8 KiB and up), header counts
// around one varint byte's limit, and timestamps before the batch's first.
TEST(EncodedRecords, BatchIsTheBytesAddWrites) {
  std::vector<std::string> texts;
  for (size_t len : {0, 1, 63, 64, 200, 8191, 8192, 70000}) texts.push_back(std::string(len, static_cast<char>('a' + len % 26)));
  std::vector<std::pair<std::string_view, std::string_view>> many;
  for (int h = 0; h < 70; ++h) many.emplace_back(h % 2 ? "content-type" : "ce_id", texts[static_cast<size_t>(h) % 5]);
  for (bool transactional : {false, true}) {
    log::BatchBuilderOptions o;
    if (transactional) {
      o.producer_id = kPipelineProducerId;
      o.producer_epoch = 0;
      o.transactional = true;
    }
    log::RecordBatchBuilder by_fields(o), by_bytes(o);
    int64_t ts = 1'700'000'000'000;
    size_t n = 0;
    for (size_t k = 0; k <= texts.size(); ++k) {
      for (size_t v = 0; v <= texts.size(); ++v) {
        for (size_t headers : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{70}}) {
          const std::optional<std::string_view> key = k == texts.size() ? std::nullopt : std::optional<std::string_view>(texts[k]);
          const std::optional<std::string_view> value = v == texts.size() ? std::nullopt : std::optional<std::string_view>(texts[v]);
          const std::span<const std::pair<std::string_view, std::string_view>> hs(many.data(), headers);
          ts += (n++ % 3 == 0) ? -5000 : 70'000;  // deltas of every sign and size
          const pipeline::OutputRecord r("t", key, value, hs, ts);
          std::vector<log::RecordHeader> rh;
          for (const auto& [name, text] : hs) rh.push_back({name, text});
          by_fields.Add(key, value, ts, rh);
          by_bytes.AddEncoded(r.timestamp_ms, r.encoded());
        }
      }
    }
    auto a = by_fields.Build(), b = by_bytes.Build();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(*a == *b) << "transactional " << transactional << ": " << a->size() << " vs " << b->size() << " bytes";
    auto view = log::RecordBatchView::Parse(*b);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->record_count(), static_cast<int32_t>(n));
  }
}

// TopicWriter tells the log which of its batches have a key on every record (AppendOptions::
// all_keyed: the log then does not decode them to check): a record without a key is still
// refused on a compacted topic, alone or among keyed ones, and keyed records are stored.
TEST(EncodedRecords, CompactedTopicStillRefusesARecordWithoutAKey) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_keys_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    auto logs = OpenLogs(dir, log::Env::Default(), false);
    ASSERT_NE(logs, nullptr);
    ASSERT_TRUE(logs->CreateTopic("compacted", 1, {{"cleanup.policy", "compact"}}).ok());
    ServerConfig config;
    TopicWriter writer(logs.get(), &config);
    const pipeline::OutputRecord keyed("compacted", "k", "v"), keyless("compacted", std::nullopt, "v");
    EXPECT_FALSE(writer.Append({keyless}).ok());
    EXPECT_FALSE(writer.Append({keyed, keyless, keyed}).ok());
    EXPECT_EQ(logs->GetPartition("compacted", 0)->log_end_offset(), 0);
    EXPECT_TRUE(writer.Append({keyed, keyed}).ok());
    EXPECT_EQ(logs->GetPartition("compacted", 0)->log_end_offset(), 2);
  }
  std::filesystem::remove_all(dir);
}

// TopicWriter builds each call's batches in the buffers of the previous calls' batches (the
// largest to the largest batch, spares kept across calls that write to fewer partitions): every
// stored batch must still be the one a fresh builder makes from the same records, whatever the
// reused buffer held before (longer or shorter content, another partition's batch).
TEST(EncodedRecords, ReusedBatchBuffersStoreTheSameBytes) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ec_txn_reuse_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    auto logs = OpenLogs(dir, log::Env::Default(), /*journal=*/true);
    ASSERT_NE(logs, nullptr);
    ASSERT_TRUE(logs->CreateTopic("wide", 4).ok());
    ASSERT_TRUE(logs->CreateTopic("narrow", 1).ok());
    ServerConfig config;
    TopicWriter writer(logs.get(), &config);
    uint32_t seed = 99;
    auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
    // Calls of many records, then few, then one topic only, then many again (with other sizes).
    const std::vector<std::pair<int, size_t>> calls = {{300, 900}, {5, 4000}, {40, 20}, {1, 70000}, {500, 300}, {2, 1}};
    for (size_t c = 0; c < calls.size(); ++c) {
      const auto [count, value_bytes] = calls[c];
      std::vector<pipeline::OutputRecord> records;
      for (int i = 0; i < count; ++i) {
        const std::string topic = (c == 2 || next() % 3 == 0) ? "narrow" : "wide";
        const std::string key = "key-" + std::to_string(next() % 1000);
        std::string value(value_bytes + next() % 64, static_cast<char>('a' + c));
        records.emplace_back(topic, key, value, std::span<const std::pair<std::string_view, std::string_view>>(),
                             1'700'000'000'000 + i);
      }
      // What each partition must get: its records in order, in one batch from a fresh builder.
      std::map<std::pair<std::string, int32_t>, log::RecordBatchBuilder> expected;
      for (const pipeline::OutputRecord& r : records) {
        const int32_t p = PartitionForKey(*r.key(), r.topic == "wide" ? 4 : 1);
        expected[{r.topic, p}].AddEncoded(r.timestamp_ms, r.encoded());
      }
      std::map<std::pair<std::string, int32_t>, int64_t> start;
      for (const auto& [tp, b] : expected) start[tp] = logs->GetPartition(tp.first, tp.second)->log_end_offset();
      ASSERT_TRUE(writer.Append(records).ok()) << "call " << c;
      for (auto& [tp, b] : expected) {
        auto want = b.Build();
        ASSERT_TRUE(want.ok());
        std::string got;
        log::ReadResult rr = logs->GetPartition(tp.first, tp.second)->Read(start[tp], 1 << 30);
        ASSERT_EQ(rr.error, log::LogError::kNone);
        ASSERT_TRUE(rr.CopyTo(&got).ok());
        ASSERT_EQ(got.size(), want->size()) << "call " << c << " " << tp.first << "-" << tp.second;
        // The log sets the base offset and the partition leader epoch (not under the CRC).
        EXPECT_EQ(got.substr(8, 4), want->substr(8, 4));
        EXPECT_TRUE(got.substr(16) == want->substr(16)) << "call " << c << " " << tp.first << "-" << tp.second;
        EXPECT_EQ(log::RecordBatchView::Parse(got)->base_offset(), start[tp]);
      }
    }
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Sync, PipelineTxnInput, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Journal" : "PerPartition"; });

}  // namespace
}  // namespace ec::server
