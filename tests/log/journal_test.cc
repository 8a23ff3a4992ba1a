// The commit journal (log/journal.h) under the FaultInjectionEnv power-loss model: random
// appends to several partitions with both durabilities, idempotent and transactional producers,
// checkpoints (explicit and by size) and rolls; a crash drops (or tears, with garbage) every
// unsynced write of every file, the journal included. After reopening: every acknowledged
// durable append is there with identical bytes and offsets, each partition is a prefix of what
// was appended, and producer state, open transactions and aborted transactions equal those of
// a log that got the same prefix without a crash. Short by default; EC_TEST_LONG=1 runs more.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "log/fault_injection_env.h"
#include "log/journal.h"
#include "log/journal_test_util.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch_builder.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::JournalOptions;
using testing::OpenOrFail;
using testing::TempDir;

int Rounds(int short_rounds, int long_rounds) {
  const char* l = std::getenv("EC_TEST_LONG");
  return l && std::string(l) == "1" ? long_rounds : short_rounds;
}

// Every batch of `log`, as stored, by base offset.
std::map<int64_t, std::string> RawBatches(const PartitionLog& log) {
  std::map<int64_t, std::string> out;
  int64_t offset = log.log_start_offset();
  while (offset < log.log_end_offset()) {
    ReadResult rr = log.Read(offset, 1 << 20);
    EXPECT_EQ(rr.error, LogError::kNone) << rr.message;
    if (rr.error != LogError::kNone || rr.total_bytes == 0) break;
    std::string bytes;
    EXPECT_TRUE(rr.CopyTo(&bytes).ok());
    Status s = ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
      out[b.base_offset()] = std::string(b.bytes());
      offset = b.last_offset() + 1;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << "torn or corrupt batch visible: " << s.ToString();
    if (!s.ok()) break;
  }
  return out;
}

// What one partition was given, in order, with the offsets the log assigned.
struct PartitionModel {
  std::vector<std::string> batches;  // bytes as stored (base offset and leader epoch set)
  std::vector<int64_t> bases;
  int64_t acked_end = 0;             // end of the last acknowledged durable append
  std::set<int64_t> pids;            // producers that wrote here
  int64_t txn_pid = -1;              // this round's transactional producer
  bool txn_open = false;
  int32_t next_seq = 0;              // of this round's idempotent producer
  int32_t txn_seq = 0;
};

constexpr int kPartitionsA = 3;
constexpr int kPartitionsB = 2;

std::vector<std::pair<std::string, int>> AllPartitions() {
  std::vector<std::pair<std::string, int>> out;
  for (int p = 0; p < kPartitionsA; ++p) out.emplace_back("a", p);
  for (int p = 0; p < kPartitionsB; ++p) out.emplace_back("b", p);
  return out;
}

void CreateTopics(LogManager* m) {
  // Small segments: rolls happen during the rounds (a roll syncs the old segment).
  ASSERT_TRUE(m->CreateTopic("a", kPartitionsA, {{"segment.bytes", "6000"}}).ok());
  ASSERT_TRUE(m->CreateTopic("b", kPartitionsB).ok());
}

// Appends at random until the round's budget is spent; returns when the crash should come.
void RandomAppends(LogManager* m, std::mt19937_64& rng, int round,
                   std::map<std::pair<std::string, int>, PartitionModel>* model) {
  const auto parts = AllPartitions();
  const int appends = 10 + static_cast<int>(rng() % 60);
  for (int a = 0; a < appends; ++a) {
    const auto& tp = parts[rng() % parts.size()];
    PartitionModel& pm = (*model)[tp];
    auto log = m->GetPartition(tp.first, tp.second);
    ASSERT_NE(log, nullptr);
    const int kind = static_cast<int>(rng() % 10);
    std::string batch;
    int64_t pid = -1;
    if (kind < 5) {
      BatchBuilderOptions o;
      o.compression = static_cast<Compression>(rng() % 3);
      RecordBatchBuilder b(o);
      const int n = 1 + static_cast<int>(rng() % 6);
      for (int i = 0; i < n; ++i)
        b.Add("k" + std::to_string(rng() % 7), "r" + std::to_string(round) + "-" + std::to_string(a) + "-" +
                                                    std::to_string(i) + std::string(rng() % 400, 'x'),
              1000 + a);
      batch = std::move(b.Build()).value();
    } else if (kind < 7) {
      // Idempotent producer (fresh per round and partition: the crash may have cut its tail).
      BatchBuilderOptions o;
      o.producer_id = pid = 1000 + round * 10 + tp.second + (tp.first == "b" ? 5 : 0);
      o.producer_epoch = 0;
      o.base_sequence = pm.next_seq;
      RecordBatchBuilder b(o);
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) b.Add("i", "idem" + std::to_string(i), 2000 + a);
      batch = std::move(b.Build()).value();
      pm.next_seq += n;
    } else if (kind < 9 || !pm.txn_open) {
      // A transactional batch (opens the transaction).
      BatchBuilderOptions o;
      o.producer_id = pid = 5000 + round * 10 + tp.second + (tp.first == "b" ? 5 : 0);
      o.producer_epoch = 0;
      o.base_sequence = pm.txn_seq;
      o.transactional = true;
      RecordBatchBuilder b(o);
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) b.Add("t", "txn" + std::to_string(i), 3000 + a);
      batch = std::move(b.Build()).value();
      pm.txn_seq += n;
      pm.txn_open = true;
      pm.txn_pid = pid;
    } else {
      // Its commit or abort marker.
      pid = pm.txn_pid;
      batch = RecordBatchBuilder::MakeControlBatch(pid, 0, rng() % 2 ? ControlType::kAbort : ControlType::kCommit, 0,
                                                   4000 + a);
      pm.txn_open = false;
    }
    const bool sync = rng() % 3 == 0;
    std::string stored = batch;
    AppendResult r = log->Append(std::move(batch), {sync ? Durability::kSync : Durability::kWritten});
    ASSERT_TRUE(r.ok()) << r.message;
    RecordBatchView::SetBaseOffset(stored.data(), r.base_offset);
    RecordBatchView::SetPartitionLeaderEpoch(stored.data(), 0);
    pm.batches.push_back(stored);
    pm.bases.push_back(r.base_offset);
    if (pid >= 0) pm.pids.insert(pid);
    if (sync) pm.acked_end = r.last_offset + 1;
    if (rng() % 25 == 0) { ASSERT_TRUE(m->journal()->Checkpoint().ok()); }
  }
}

// After a crash and reopen: prefixes with identical bytes, acknowledged appends kept, and the
// producer/transaction state of a log that got the same prefix without a crash. Cuts the
// model to what survived.
void CheckAgainstModel(LogManager* m, std::map<std::pair<std::string, int>, PartitionModel>* model,
                       const std::string& reference_dir, const std::string& what) {
  std::filesystem::remove_all(reference_dir);
  auto ref = OpenOrFail(JournalOptions(reference_dir, Env::Default(), /*journal=*/false));
  ASSERT_NE(ref, nullptr);
  CreateTopics(ref.get());
  for (auto& [tp, pm] : *model) {
    SCOPED_TRACE(what + " " + tp.first + "-" + std::to_string(tp.second));
    auto log = m->GetPartition(tp.first, tp.second);
    ASSERT_NE(log, nullptr);
    const int64_t end = log->log_end_offset();
    EXPECT_GE(end, pm.acked_end) << "an acknowledged durable append was lost";
    EXPECT_EQ(log->durable_offset(), end) << "everything recovered is durable";
    std::map<int64_t, std::string> got = RawBatches(*log);
    size_t kept = 0;
    while (kept < pm.bases.size() && pm.bases[kept] < end) ++kept;
    ASSERT_EQ(got.size(), kept) << "the log is not a prefix of what was appended";
    for (size_t i = 0; i < kept; ++i) {
      auto it = got.find(pm.bases[i]);
      ASSERT_NE(it, got.end()) << "no batch at offset " << pm.bases[i];
      ASSERT_EQ(it->second, pm.batches[i]) << "batch at offset " << pm.bases[i] << " differs";
    }
    pm.batches.resize(kept);
    pm.bases.resize(kept);
    // The same prefix, appended without a crash.
    auto rlog = ref->GetPartition(tp.first, tp.second);
    for (const std::string& b : pm.batches) ASSERT_TRUE(rlog->Append(b, {Durability::kWritten}).ok());
    ASSERT_EQ(rlog->log_end_offset(), end);
    EXPECT_EQ(log->last_stable_offset(), rlog->last_stable_offset());
    for (int64_t pid : pm.pids) {
      EXPECT_EQ(log->OpenTransactionStart(pid), rlog->OpenTransactionStart(pid)) << "producer " << pid;
      EXPECT_EQ(log->ProducerEpoch(pid), rlog->ProducerEpoch(pid)) << "producer " << pid;
      for (int32_t seq = 0; seq < 40; seq += 3) {
        SequenceCheck a = log->CheckSequence(pid, 0, seq, seq), b = rlog->CheckSequence(pid, 0, seq, seq);
        EXPECT_EQ(a.error, b.error) << "producer " << pid << " sequence " << seq;
        EXPECT_EQ(a.duplicate_of.has_value(), b.duplicate_of.has_value()) << "producer " << pid << " sequence " << seq;
      }
      for (int64_t off = 0; off < end; ++off)
        ASSERT_EQ(log->IsAborted(pid, off), rlog->IsAborted(pid, off)) << "producer " << pid << " offset " << off;
    }
    ReadResult rc = log->Read(0, 1 << 24, {IsolationLevel::kReadCommitted});
    ReadResult rrc = rlog->Read(0, 1 << 24, {IsolationLevel::kReadCommitted});
    ASSERT_EQ(rc.aborted_transactions.size(), rrc.aborted_transactions.size());
    for (size_t i = 0; i < rc.aborted_transactions.size(); ++i) {
      EXPECT_EQ(rc.aborted_transactions[i].producer_id, rrc.aborted_transactions[i].producer_id);
      EXPECT_EQ(rc.aborted_transactions[i].first_offset, rrc.aborted_transactions[i].first_offset);
    }
    pm.acked_end = end;
    pm.txn_open = false;
  }
  ref.reset();
  std::filesystem::remove_all(reference_dir);
}

void PowerLossLoop(bool tear, bool garbage, int rounds, uint64_t seed_base) {
  TempDir dir, ref_dir;
  const std::string data = dir.path() + "/data";
  FaultInjectionEnv env(Env::Default());
  std::map<std::pair<std::string, int>, PartitionModel> model;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::mt19937_64 rng(seed_base + static_cast<uint64_t>(round));
    LogManagerOptions o = JournalOptions(data, &env);
    // Some rounds checkpoint by size while appending (on the checkpoint thread), some
    // preallocate the journal.
    if (round % 3 == 1) o.journal_checkpoint_bytes = 8 * 1024;
    if (round % 2 == 1) o.preallocate_bytes = 64 * 1024;
    {
      auto m = OpenOrFail(o);
      ASSERT_NE(m, nullptr);
      ASSERT_NE(m->journal(), nullptr);
      if (round == 0) CreateTopics(m.get());
      if (round > 0) CheckAgainstModel(m.get(), &model, ref_dir.path() + "/ref", "after crash " + std::to_string(round));
      if (::testing::Test::HasFatalFailure()) return;
      RandomAppends(m.get(), rng, round, &model);
      if (::testing::Test::HasFatalFailure()) return;
      CrashOptions c;
      c.tear_unsynced_tail = tear;
      c.garbage_in_torn_tail = garbage;
      c.seed = seed_base * 31 + static_cast<uint64_t>(round);
      ASSERT_TRUE(env.SimulateCrash(c).ok());
    }
    env.Reset();
  }
  auto m = OpenOrFail(JournalOptions(data, &env));
  ASSERT_NE(m, nullptr);
  CheckAgainstModel(m.get(), &model, ref_dir.path() + "/ref", "final");
}

TEST(Journal, PowerLossDropUnsynced) { PowerLossLoop(false, false, Rounds(6, 60), 11); }
TEST(Journal, PowerLossTornTail) { PowerLossLoop(true, false, Rounds(6, 60), 23); }
TEST(Journal, PowerLossTornTailWithGarbage) { PowerLossLoop(true, true, Rounds(6, 60), 37); }

TEST(Journal, OneJournalSyncCoversEveryPartition) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("t", 8).ok());
  const uint64_t env_before = env.sync_count(), journal_before = m->journal()->sync_calls();
  for (int p = 0; p < 8; ++p)
    ASSERT_TRUE(m->GetPartition("t", p)->Append(testing::MakeBatch(3), {Durability::kWritten}).ok());
  for (int p = 0; p < 8; ++p) EXPECT_EQ(m->GetPartition("t", p)->durable_offset(), 0);
  // One durable append: its journal sync covers the other partitions' appends before it.
  ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(1), {Durability::kSync}).ok());
  for (int p = 0; p < 8; ++p) {
    auto log = m->GetPartition("t", p);
    EXPECT_EQ(log->durable_offset(), log->log_end_offset()) << "partition " << p;
  }
  EXPECT_EQ(m->journal()->sync_calls() - journal_before, 1u);
  EXPECT_EQ(env.sync_count() - env_before, 1u) << "no partition file was fdatasynced";
  // Flush of a partition with unsynced data is one more journal sync, no partition sync.
  ASSERT_TRUE(m->GetPartition("t", 3)->Append(testing::MakeBatch(2), {Durability::kWritten}).ok());
  ASSERT_TRUE(m->GetPartition("t", 3)->Flush().ok());
  EXPECT_EQ(m->GetPartition("t", 3)->durable_offset(), 5);
  EXPECT_EQ(env.sync_count() - env_before, 2u);
  // A checkpoint syncs the partitions written since the last one (each once) and rotates.
  ASSERT_TRUE(m->journal()->Checkpoint().ok());
  EXPECT_EQ(m->journal()->checkpoints(), 1u);
  EXPECT_EQ(m->journal()->current_bytes(), 0u);
}

// The journal on the real disk, written with direct I/O (the default where the filesystem has
// it), zero-filled ahead: the files read back by Replay hold every durable append, entry by
// entry, with the bytes the partitions hold (the head and the batches are written separately
// into the file's buffer, the CRC computed in two steps).
TEST(Journal, DirectWritesReplayEveryEntry) {
  TempDir dir;
  LogManagerOptions o = JournalOptions(dir.path(), Env::Default());
  o.journal_direct_io = true;
  o.preallocate_bytes = 1 << 20;
  auto m = OpenOrFail(o);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("t", 3).ok());
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    auto log = m->GetPartition("t", static_cast<int32_t>(rng() % 3));
    const std::string value(1 + rng() % 9000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(log->Append(testing::MakeBatch(1 + static_cast<int>(rng() % 4), value), {Durability::kSync}).ok());
  }
  // A copy of the journal as it is on disk now (every entry synced, nothing checkpointed).
  const std::string copy = dir.path() + "/copy";
  std::filesystem::create_directories(copy);
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/.journal")) {
    if (e.path().extension() == ".wal" && e.path().filename() != "recycle.wal")
      std::filesystem::copy_file(e.path(), copy + "/" + e.path().filename().string());
  }
  std::map<int32_t, std::string> replayed;
  Result<Journal::ReplayResult> r = Journal::Replay(
      Env::Default(), copy, [&](const std::string& topic, int32_t partition, std::string_view batches, const std::string&) {
        if (topic == "t") replayed[partition] += batches;
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (int32_t p = 0; p < 3; ++p) {
    std::string stored;
    for (const auto& [offset, batch] : RawBatches(*m->GetPartition("t", p))) stored += batch;
    EXPECT_FALSE(stored.empty());
    EXPECT_TRUE(replayed[p] == stored) << "partition " << p << ": " << replayed[p].size() << " bytes replayed, "
                                       << stored.size() << " stored";
  }
}

// An entry's CRC is derived from the CRCs its batches carry (only each batch's first 21 bytes
// are read): appends of several batches at once, compressed ones, batches whose CRC the log
// recomputed (LogAppendTime topics) and commit markers, with direct writes and without, must
// all replay, byte for byte what the partitions hold.
TEST(Journal, EntryCrcFromTheBatchCrcsReplaysEveryEntry) {
  for (bool direct : {false, true}) {
    TempDir dir;
    LogManagerOptions o = JournalOptions(dir.path(), Env::Default());
    o.journal_direct_io = direct;
    auto m = OpenOrFail(o);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("create", 1).ok());
    ASSERT_TRUE(m->CreateTopic("append", 1, {{"message.timestamp.type", "LogAppendTime"}}).ok());
    std::mt19937 rng(direct ? 17 : 18);
    for (int i = 0; i < 200; ++i) {
      auto log = m->GetPartition(i % 2 ? "append" : "create", 0);
      std::string batches;
      const int count = 1 + static_cast<int>(rng() % 3);
      for (int b = 0; b < count; ++b) {
        const std::string value(1 + rng() % 3000, static_cast<char>('a' + (i + b) % 26));
        batches += testing::MakeBatch(1 + static_cast<int>(rng() % 5), value, 1000 + i,
                                      rng() % 4 == 0 ? Compression::kGzip : Compression::kNone);
      }
      if (i % 7 == 3) {
        BatchBuilderOptions t;
        t.producer_id = 5;
        t.producer_epoch = 0;
        t.transactional = true;
        RecordBatchBuilder tb(t);
        tb.Add("k", std::string(1 + rng() % 500, 'x'), 1000 + i);
        ASSERT_TRUE(log->Append(std::move(tb.Build()).value(), {Durability::kSync}).ok());
        batches = RecordBatchBuilder::MakeControlBatch(5, 0, ControlType::kCommit, 0, 1000 + i);
      }
      ASSERT_TRUE(log->Append(std::move(batches), {Durability::kSync}).ok()) << i;
    }
    std::map<std::string, std::string> replayed;
    uint64_t entries = 0;
    Result<Journal::ReplayResult> r = Journal::Replay(
        Env::Default(), dir.path() + "/.journal",
        [&](const std::string& topic, int32_t, std::string_view batches, const std::string&) {
          replayed[topic] += batches;
          ++entries;
          return Status::Ok();
        });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GE(entries, 200u);
    for (const std::string topic : {"create", "append"}) {
      std::string stored;
      for (const auto& [offset, batch] : RawBatches(*m->GetPartition(topic, 0))) stored += batch;
      EXPECT_TRUE(replayed[topic] == stored) << (direct ? "direct " : "buffered ") << topic << ": "
                                             << replayed[topic].size() << " bytes replayed, " << stored.size() << " stored";
    }
  }
}

// Waits (bounded) until `done` holds; returns whether it did.
template <typename F>
bool WaitFor(F done, std::chrono::milliseconds limit = std::chrono::seconds(20));

// Direct writes keep unsynced entries in memory: lazy ones (kWritten, a flush interval of ten
// minutes here) are written and synced by the sync thread once 4 MiB are waiting, not held
// until the interval ends or written by the appending thread.
TEST(Journal, DirectWritesSyncManyLazyBytesEarly) {
  TempDir dir;
  LogManagerOptions o = JournalOptions(dir.path(), Env::Default());
  o.journal_direct_io = true;
  auto m = OpenOrFail(o);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("t", 1).ok());
  auto log = m->GetPartition("t", 0);
  const uint64_t before = m->journal()->sync_calls();
  const std::string value(60000, 'v');
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->Append(testing::MakeBatch(1, value), {Durability::kWritten}).ok());
  EXPECT_EQ(m->journal()->sync_calls(), before) << "1.2 MB of lazy entries synced already";
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(log->Append(testing::MakeBatch(1, value), {Durability::kWritten}).ok());
  EXPECT_TRUE(WaitFor([&] { return log->durable_offset() >= 60; })) << "durable " << log->durable_offset();
  EXPECT_GE(m->journal()->sync_calls(), before + 1);
}

// Waits (bounded) until `done` holds; returns whether it did.
template <typename F>
bool WaitFor(F done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST(Journal, OneCheckpointPerSizeTrigger) {
  // While a checkpoint by size creates the next file (step 1, without the journal's lock), an
  // append still goes to the old file, which is over checkpoint_bytes: it must not ask for a
  // second checkpoint that would run right after this one (ten more partition fdatasyncs for
  // a file of a few bytes, as the pass trace showed after every checkpoint by size).
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  LogManagerOptions o = JournalOptions(dir.path(), &env);
  o.journal_checkpoint_bytes = 4096;
  auto m = OpenOrFail(o);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("t", 1).ok());
  std::shared_ptr<PartitionLog> log = m->GetPartition("t", 0);
  std::atomic<int> created{0};
  std::atomic<bool> appended_during{false};
  m->journal()->SetCheckpointHookForTest([&](int at) {
    if (at != 1 || created.fetch_add(1) != 0) return;
    appended_during = log->Append(testing::MakeBatch(2, "during"), {Durability::kWritten}).ok();
  });
  ASSERT_TRUE(log->Append(testing::MakeBatch(8, std::string(1000, 'x')), {Durability::kSync}).ok());
  ASSERT_TRUE(WaitFor([&] { return m->journal()->checkpoints() >= 1; }));
  EXPECT_TRUE(appended_during.load());
  // A second checkpoint would start at once; give it ample time to show up.
  EXPECT_FALSE(WaitFor([&] { return created.load() > 1; }, std::chrono::milliseconds(300)));
  EXPECT_EQ(m->journal()->checkpoints(), 1u);
}

TEST(Journal, GroupCommitUnderConcurrentDurableAppends) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  env.SetSyncDelayMicros(2000);  // a slow disk: appends pile up behind each sync
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("t", 8).ok());
  const uint64_t before = m->journal()->sync_calls();
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < 8; ++p) {
    threads.emplace_back([&, p] {
      auto log = m->GetPartition("t", p);
      for (int i = 0; i < kPerThread; ++i) {
        if (!log->Append(testing::MakeBatch(1), {Durability::kSync}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t syncs = m->journal()->sync_calls() - before;
  EXPECT_LT(syncs, 8u * kPerThread / 2) << "durable appends of different partitions share journal syncs";
  for (int p = 0; p < 8; ++p) EXPECT_EQ(m->GetPartition("t", p)->durable_offset(), kPerThread);
}

// SetSyncHold (the pipeline's input partitions): a durable append's journal sync waits for the
// next requested one and shares it, or runs at the hold's end; it completes only once synced.
TEST(Journal, HeldDurableAppendSharesTheNextRequestedSync) {
  TempDir dir;
  auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("in", 1).ok());
  ASSERT_TRUE(m->CreateTopic("out", 1).ok());
  auto in = m->GetPartition("in", 0);
  auto out = m->GetPartition("out", 0);
  // A hold longer than the test: only a requested sync can complete the append.
  in->SetSyncHold(std::chrono::minutes(10));
  const uint64_t before = m->journal()->sync_calls();
  std::promise<AppendResult> held;
  std::future<AppendResult> held_done = held.get_future();
  in->AppendAsync(testing::MakeBatch(3), {Durability::kSync}, [&](const AppendResult& r) { held.set_value(r); });
  EXPECT_EQ(m->journal()->sync_calls(), before) << "a held append requests no sync of its own";
  EXPECT_EQ(in->durable_offset(), 0);
  // Another writer's durable append (the pass's commit): one journal sync covers both.
  ASSERT_TRUE(out->Append(testing::MakeBatch(2), {Durability::kSync}).ok());
  ASSERT_TRUE(held_done.get().ok());
  EXPECT_EQ(in->durable_offset(), 3);
  EXPECT_EQ(m->journal()->sync_calls() - before, 1u);
  // An explicit Flush is not held.
  std::promise<AppendResult> flushed;
  std::future<AppendResult> flushed_done = flushed.get_future();
  in->AppendAsync(testing::MakeBatch(1), {Durability::kSync}, [&](const AppendResult& r) { flushed.set_value(r); });
  ASSERT_TRUE(in->Flush().ok());
  ASSERT_TRUE(flushed_done.get().ok());
  EXPECT_EQ(in->durable_offset(), 4);
  // With nobody else requesting a sync, the hold's end syncs it.
  in->SetSyncHold(std::chrono::milliseconds(5));
  const uint64_t alone = m->journal()->sync_calls();
  ASSERT_TRUE(in->Append(testing::MakeBatch(2), {Durability::kSync}).ok());
  EXPECT_EQ(in->durable_offset(), 6);
  EXPECT_EQ(m->journal()->sync_calls() - alone, 1u);
  // Hold off: a durable append syncs at once, as before.
  in->SetSyncHold(std::chrono::microseconds(0));
  ASSERT_TRUE(in->Append(testing::MakeBatch(1), {Durability::kSync}).ok());
  EXPECT_EQ(in->durable_offset(), 7);
}

// A crash at each step of a checkpoint (new file made, old synced, some partitions synced,
// old file about to go / gone): nothing acknowledged is lost and the journal keeps working.
TEST(Journal, CheckpointCrashedHalfWay) {
  for (int step : {1, 2, 3, 4, 100, 101}) {
    SCOPED_TRACE("crash at checkpoint step " + std::to_string(step));
    TempDir dir, ref_dir;
    FaultInjectionEnv env(Env::Default());
    std::map<std::pair<std::string, int>, PartitionModel> model;
    std::mt19937_64 rng(static_cast<uint64_t>(step));
    {
      auto m = OpenOrFail(JournalOptions(dir.path(), &env));
      ASSERT_NE(m, nullptr);
      CreateTopics(m.get());
      RandomAppends(m.get(), rng, 0, &model);
      if (HasFatalFailure()) return;
      // Every partition's acknowledged end, then a checkpoint that dies at `step`.
      for (const auto& tp : AllPartitions()) {
        auto log = m->GetPartition(tp.first, tp.second);
        std::string b = testing::MakeBatch(1, "last");
        AppendResult r = log->Append(b, {Durability::kSync});
        ASSERT_TRUE(r.ok()) << r.message;
        RecordBatchView::SetBaseOffset(b.data(), r.base_offset);
        RecordBatchView::SetPartitionLeaderEpoch(b.data(), 0);
        model[tp].batches.push_back(b);
        model[tp].bases.push_back(r.base_offset);
        model[tp].acked_end = r.last_offset + 1;
      }
      m->journal()->SetCheckpointHookForTest([&env, step](int at) {
        if (at == step) (void)env.SimulateCrash({.tear_unsynced_tail = true, .garbage_in_torn_tail = true, .seed = 5});
      });
      (void)m->journal()->Checkpoint();  // fails from the crash on (or succeeds after step 101)
      // Dead before the destructor could close anything cleanly.
      ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
    }
    env.Reset();
    {
      auto m = OpenOrFail(JournalOptions(dir.path(), &env));
      ASSERT_NE(m, nullptr);
      CheckAgainstModel(m.get(), &model, ref_dir.path() + "/ref", "after the checkpoint crash");
      // And it goes on: a durable append, a crash, everything there again.
      for (const auto& tp : AllPartitions()) {
        auto log = m->GetPartition(tp.first, tp.second);
        std::string b = testing::MakeBatch(2, "after");
        AppendResult r = log->Append(b, {Durability::kSync});
        ASSERT_TRUE(r.ok()) << r.message;
        RecordBatchView::SetBaseOffset(b.data(), r.base_offset);
        RecordBatchView::SetPartitionLeaderEpoch(b.data(), 0);
        model[tp].batches.push_back(b);
        model[tp].bases.push_back(r.base_offset);
        model[tp].acked_end = r.last_offset + 1;
      }
      ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
    }
    env.Reset();
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    CheckAgainstModel(m.get(), &model, ref_dir.path() + "/ref", "after the second crash");
  }
}

// A transaction left open by the crash is open again after the replay, and its abort (written
// after reopening, as exactly-once recovery does) is recorded like before the crash; an abort
// marker replayed from the journal gives its aborted.txn entry back.
TEST(Journal, TransactionsReplayed) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  constexpr int64_t kPid = 4242;
  auto txn_batch = [](int32_t seq) {
    BatchBuilderOptions o;
    o.producer_id = kPid;
    o.producer_epoch = 0;
    o.base_sequence = seq;
    o.transactional = true;
    RecordBatchBuilder b(o);
    b.Add("k", "in-txn", 1000);
    return std::move(b.Build()).value();
  };
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("t", 1).ok());
    auto log = m->GetPartition("t", 0);
    ASSERT_TRUE(log->Append(testing::MakeBatch(2), {Durability::kWritten}).ok());
    ASSERT_TRUE(log->Append(txn_batch(0), {Durability::kSync}).ok());
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    auto log = m->GetPartition("t", 0);
    ASSERT_EQ(log->log_end_offset(), 3);
    EXPECT_EQ(log->OpenTransactionStart(kPid), std::optional<int64_t>(2));
    EXPECT_EQ(log->last_stable_offset(), 2);
    ASSERT_TRUE(log->Append(RecordBatchBuilder::MakeControlBatch(kPid, 0, ControlType::kAbort, 0, 2000),
                            {Durability::kSync}).ok());
    EXPECT_TRUE(log->IsAborted(kPid, 2));
    ASSERT_TRUE(log->Append(txn_batch(1), {Durability::kSync}).ok());  // a second transaction, open
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  auto log = m->GetPartition("t", 0);
  ASSERT_EQ(log->log_end_offset(), 5);
  EXPECT_TRUE(log->IsAborted(kPid, 2)) << "the abort marker's aborted.txn entry was replayed";
  EXPECT_FALSE(log->IsAborted(kPid, 0));
  EXPECT_EQ(log->OpenTransactionStart(kPid), std::optional<int64_t>(4));
  EXPECT_EQ(log->last_stable_offset(), 4);
  ReadResult rc = log->Read(0, 1 << 20, {IsolationLevel::kReadCommitted});
  ASSERT_EQ(rc.aborted_transactions.size(), 1u);
  EXPECT_EQ(rc.aborted_transactions[0].first_offset, 2);
}

// Turning log.journal off after a crash: the journal still holds acknowledged appends the
// partition files lost, so opening without it must replay them first, then remove it.
TEST(Journal, OpeningWithoutTheJournalReplaysAndRemovesIt) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  std::map<int64_t, std::string> acknowledged;
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("t", 2).ok());
    ASSERT_TRUE(m->GetPartition("t", 1)->Append(testing::MakeBatch(4), {Durability::kWritten}).ok());
    ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(3), {Durability::kSync}).ok());
    acknowledged = RawBatches(*m->GetPartition("t", 1));
    ASSERT_EQ(acknowledged.size(), 1u);
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  const std::string journal_dir = dir.path() + "/.journal";
  ASSERT_TRUE(env.FileExists(journal_dir));
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env, /*journal=*/false));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->GetPartition("t", 0)->log_end_offset(), 3) << "the durable append came back from the journal";
    EXPECT_EQ(RawBatches(*m->GetPartition("t", 1)), acknowledged) << "so did the append its sync covered";
    EXPECT_FALSE(env.FileExists(journal_dir)) << "the drained journal is removed";
    // The replayed records are durable in the partition files themselves now.
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  auto m = OpenOrFail(JournalOptions(dir.path(), &env, /*journal=*/false));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->GetPartition("t", 0)->log_end_offset(), 3);
  EXPECT_EQ(RawBatches(*m->GetPartition("t", 1)), acknowledged);
}

// A topic deleted and created again: the old topic's journaled records are not replayed into it.
TEST(Journal, DeletedTopicIsNotReplayedIntoItsSuccessor) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("x", 1).ok());
    ASSERT_TRUE(m->GetPartition("x", 0)->Append(testing::MakeBatch(4, "old"), {Durability::kSync}).ok());
    ASSERT_TRUE(m->DeleteTopic("x").ok());
    ASSERT_TRUE(m->CreateTopic("x", 1).ok());
    ASSERT_TRUE(m->GetPartition("x", 0)->Append(testing::MakeBatch(1, "new"), {Durability::kSync}).ok());
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  auto values = testing::ReadValues(*m->GetPartition("x", 0));
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0], "new0");
}

// Checkpointed journal files are reused (File::Recycle) without zero-filling: the next file
// starts over an old one's entries. Those must never be replayed: here the stale entries are
// records of a topic deleted since and created again empty, which a replay would append to it.
TEST(Journal, RecycledFileStaleEntriesAreNotReplayed) {
  TempDir dir;
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("gone", 1).ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(m->GetPartition("gone", 0)->Append(testing::MakeBatch(2, "stale"), {Durability::kSync}).ok());
    ASSERT_TRUE(m->journal()->Checkpoint().ok());  // file 1 (gone's records) becomes the spare
    ASSERT_TRUE(m->DeleteTopic("gone").ok());      // its tombstone goes to file 2
    ASSERT_TRUE(m->journal()->Checkpoint().ok());  // file 3 reuses file 1's bytes
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/.journal/recycle.wal"));
    ASSERT_TRUE(m->CreateTopic("gone", 1).ok());
  }
  auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->GetPartition("gone", 0)->log_end_offset(), 0) << "stale journal entries were replayed";
}

uint64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// log.journal_fill_on_start: the first file and a spare are zero-filled to a checkpoint's size
// at startup, so the first checkpoint's file is the spare (no zero fill while traffic runs).
// Without it the first file holds preallocate_bytes of zeros and there is no spare; a restart
// after a short run extends the replayed file (the new spare) and loses no record.
TEST(Journal, FillOnStartPreparesTheFirstFileAndASpare) {
  constexpr uint64_t kPrealloc = 1 << 20, kCheckpoint = 3 << 20, kFill = kPrealloc + kCheckpoint;
  for (const bool direct : {true, false}) {
    TempDir dir;
    const std::string j = dir.path() + "/.journal/";
    LogManagerOptions o = JournalOptions(dir.path(), Env::Default());
    o.journal_direct_io = direct;
    o.preallocate_bytes = kPrealloc;
    o.journal_checkpoint_bytes = kCheckpoint;
    // A first run without the fill: one file of preallocate_bytes, no spare.
    {
      auto m = OpenOrFail(o);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(FileBytes(j + Journal::FileName(1)), kPrealloc);
      EXPECT_FALSE(std::filesystem::exists(j + "recycle.wal"));
      ASSERT_TRUE(m->CreateTopic("t", 1).ok());
      for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(2, "v" + std::to_string(i)), {Durability::kSync}).ok());
      m->journal()->PauseCheckpoints(true);  // the file stays to be replayed at the restart
    }
    // A restart with it: the replayed file becomes the spare and is extended; a new first file.
    o.journal_fill_on_start = true;
    {
      auto m = OpenOrFail(o);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->GetPartition("t", 0)->log_end_offset(), 6);
      EXPECT_GE(FileBytes(j + Journal::FileName(2)), kFill) << "direct " << direct;
      EXPECT_GE(FileBytes(j + "recycle.wal"), kFill) << "direct " << direct;
      EXPECT_FALSE(std::filesystem::exists(j + Journal::FileName(1)));
      ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(2, "after"), {Durability::kSync}).ok());
      ASSERT_TRUE(m->journal()->Checkpoint().ok());
      // The checkpoint's new file is the spare: zero-filled as far, not only preallocate_bytes.
      EXPECT_GE(FileBytes(j + Journal::FileName(3)), kFill) << "direct " << direct;
      ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(1, "last"), {Durability::kSync}).ok());
      m->journal()->PauseCheckpoints(true);
    }
    auto m = OpenOrFail(o);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->GetPartition("t", 0)->log_end_offset(), 9) << "direct " << direct;
  }
}

// A partition that does not match its journal (here: a different batch at a journaled offset)
// is refused with an error naming the journal file, not silently mixed.
TEST(Journal, MismatchBetweenJournalAndPartitionIsCorruption) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  {
    auto m = OpenOrFail(JournalOptions(dir.path(), &env));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(m->CreateTopic("t", 1).ok());
    ASSERT_TRUE(m->GetPartition("t", 0)->Append(testing::MakeBatch(3, "journaled"), {Durability::kSync}).ok());
    ASSERT_TRUE(env.SimulateCrash({.tear_unsynced_tail = false, .garbage_in_torn_tail = false}).ok());
  }
  env.Reset();
  {
    // The partition (its unsynced records gone) gets other records at the same offsets.
    auto opened = PartitionLog::Open(&env, dir.path() + "/t-0", "t", 0, std::make_shared<const TopicConfig>(), nullptr);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_EQ((*opened)->log_end_offset(), 0);
    ASSERT_TRUE((*opened)->Append(testing::MakeBatch(3, "other"), {Durability::kSync}).ok());
  }
  auto m = LogManager::Open(JournalOptions(dir.path(), &env));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kCorruption) << m.status().ToString();
  EXPECT_NE(m.status().message().find(".journal/"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("differs"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace ec::log
