// PartitionLog: append/read, offsets, indexes, roll, retention, compaction, timestamps,
// notifications, idempotent producers, reopen.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <limits>
#include <fstream>
#include <filesystem>
#include <thread>

#include "log/fault_injection_env.h"
#include "log/flusher.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "log/segment.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::MakeBatch;
using testing::TempDir;

struct Fixture {
  Fixture(std::initializer_list<std::pair<const std::string, std::string>> settings = {})
      : env(Env::Default()) {
    config = std::make_shared<const TopicConfig>(TopicConfig::FromMap(std::map<std::string, std::string>(settings), TopicConfig()).value());
  }
  std::unique_ptr<PartitionLog> Open(Flusher* flusher = nullptr) {
    auto r = PartitionLog::Open(env, dir.path() + "/t-0", "t", 0, config, flusher);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  Env* env;
  TempDir dir;
  std::shared_ptr<const TopicConfig> config;
};

// Every record (offset, key, value) readable from `offset`.
std::vector<std::tuple<int64_t, std::string, std::string>> ReadAll(const PartitionLog& log,
                                                                   int64_t offset = 0,
                                                                   IsolationLevel iso = IsolationLevel::kReadUncommitted) {
  std::vector<std::tuple<int64_t, std::string, std::string>> out;
  while (true) {
    ReadResult rr = log.Read(offset, 64 * 1024, {iso, true});
    EXPECT_EQ(rr.error, LogError::kNone) << rr.message;
    if (rr.total_bytes == 0) break;
    std::string bytes;
    EXPECT_TRUE(rr.CopyTo(&bytes).ok());
    Status s = ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
      EC_ASSIGN_OR_RETURN(RecordSet set, b.Records());
      for (const Record& r : set.records()) {
        if (r.offset < offset) continue;
        out.emplace_back(r.offset, r.key ? std::string(*r.key) : "<null>",
                         r.value ? std::string(*r.value) : "<null>");
      }
      offset = b.last_offset() + 1;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

TEST(PartitionLog, AppendAssignsOffsetsAndReadsBack) {
  Fixture f;
  auto log = f.Open();
  EXPECT_EQ(log->log_end_offset(), 0);
  AppendResult r1 = log->Append(MakeBatch(3, "a"), {});
  ASSERT_TRUE(r1.ok()) << r1.message;
  EXPECT_EQ(r1.base_offset, 0);
  EXPECT_EQ(r1.last_offset, 2);
  AppendResult r2 = log->Append(MakeBatch(2, "b") + MakeBatch(1, "c"), {});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.base_offset, 3);
  EXPECT_EQ(r2.last_offset, 5);
  EXPECT_EQ(log->log_end_offset(), 6);
  EXPECT_EQ(log->high_watermark(), 6);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0], std::make_tuple(int64_t{0}, std::string("k0"), std::string("a0")));
  EXPECT_EQ(all[4], std::make_tuple(int64_t{4}, std::string("k1"), std::string("b1")));
  EXPECT_EQ(all[5], std::make_tuple(int64_t{5}, std::string("k0"), std::string("c0")));
  // Reading from the middle of a batch returns that whole batch.
  ReadResult mid = log->Read(4, 1 << 20);
  std::string bytes;
  ASSERT_TRUE(mid.CopyTo(&bytes).ok());
  auto first = RecordBatchView::Parse(bytes);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->base_offset(), 3);
  // Out of range and at the end.
  EXPECT_EQ(log->Read(7, 100).error, LogError::kOffsetOutOfRange);
  EXPECT_EQ(log->Read(-1, 100).error, LogError::kOffsetOutOfRange);
  ReadResult end = log->Read(6, 100);
  EXPECT_EQ(end.error, LogError::kNone);
  EXPECT_EQ(end.total_bytes, 0u);
}

// AppendInPlace writes from the caller's buffer before it returns: the buffer may be reused
// (a server's request buffer) and what was appended stays intact; a kSync append done later
// by the flusher does not read the buffer either.
TEST(PartitionLog, AppendInPlaceWritesBeforeReturningAndRewritesOffsetsInThatBuffer) {
  Fixture f;
  Flusher flusher(-1, 1);
  auto log = f.Open(&flusher);
  ASSERT_TRUE(log->Append(MakeBatch(2, "a"), {}).ok());
  std::string buf = MakeBatch(3, "b") + MakeBatch(1, "c");
  std::atomic<int> calls{0};
  AppendResult got;
  std::promise<void> done;
  log->AppendInPlace(buf.data(), buf.size(), {Durability::kSync}, [&](const AppendResult& r) {
    got = r;
    ++calls;
    done.set_value();
  });
  // The offsets were assigned in the caller's buffer (base offset of the first batch = 2).
  auto first = RecordBatchView::Parse(buf);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->base_offset(), 2);
  std::fill(buf.begin(), buf.end(), '\xff');  // the caller reuses its buffer at once
  done.get_future().wait();
  ASSERT_TRUE(got.ok()) << got.message;
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(got.base_offset, 2);
  EXPECT_EQ(got.last_offset, 5);
  EXPECT_GE(log->durable_offset(), 6);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[2], std::make_tuple(int64_t{2}, std::string("k0"), std::string("b0")));
  EXPECT_EQ(all[5], std::make_tuple(int64_t{5}, std::string("k0"), std::string("c0")));
  // A bad batch is refused whole, and nothing of it is written.
  std::string bad = MakeBatch(2, "d");
  bad[bad.size() - 1] ^= 1;  // CRC mismatch
  AppendResult br;
  log->AppendInPlace(bad.data(), bad.size(), {}, [&](const AppendResult& r) { br = r; });
  EXPECT_FALSE(br.ok());
  EXPECT_EQ(log->log_end_offset(), 6);
}

TEST(PartitionLog, MaxBytesAndMinOneBatch) {
  Fixture f;
  auto log = f.Open();
  std::string b = MakeBatch(5);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->Append(b, {}).ok());
  ReadResult two = log->Read(0, b.size() * 2 + 10);
  EXPECT_EQ(two.total_bytes, b.size() * 2);
  ReadResult one = log->Read(0, 10, {IsolationLevel::kReadUncommitted, true});
  EXPECT_EQ(one.total_bytes, b.size());
  ReadResult none = log->Read(0, 10, {IsolationLevel::kReadUncommitted, false});
  EXPECT_EQ(none.total_bytes, 0u);
  // Slices are file ranges (zero copy): the file descriptor is usable.
  ASSERT_EQ(two.slices.size(), 1u);
  EXPECT_GE(two.slices[0].file->fd(), 0);
}

TEST(PartitionLog, RejectsBadBatchesAllOrNothing) {
  Fixture f({{"max.message.bytes", "2000"}});
  auto log = f.Open();
  std::string good = MakeBatch(2);
  std::string bad = MakeBatch(2);
  bad[bad.size() - 1] ^= 0x55;
  AppendResult r = log->Append(good + bad, {});
  EXPECT_EQ(r.error, LogError::kCorruptMessage);
  EXPECT_EQ(log->log_end_offset(), 0);
  std::string big = MakeBatch(1, std::string(3000, 'x'));
  EXPECT_EQ(log->Append(big, {}).error, LogError::kMessageTooLarge);
  EXPECT_EQ(log->Append("", {}).error, LogError::kCorruptMessage);
  EXPECT_EQ(log->Append(good.substr(0, 30), {}).error, LogError::kCorruptMessage);
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_TRUE(log->Append(good, {}).ok());
}

TEST(PartitionLog, IndexLookupsRollAndReopen) {
  Fixture f({{"segment.bytes", "4096"}, {"index.interval.bytes", "256"}});
  {
    auto log = f.Open();
    for (int i = 0; i < 200; ++i) {
      AppendResult r = log->Append(MakeBatch(2, "val" + std::to_string(i) + "-"), {});
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.base_offset, 2 * i);
    }
    EXPECT_GE(log->segment_count(), 4u);
    for (int64_t off : {0, 1, 57, 200, 399}) {
      ReadResult rr = log->Read(off, 1);
      std::string bytes;
      ASSERT_TRUE(rr.CopyTo(&bytes).ok());
      auto v = RecordBatchView::Parse(bytes);
      ASSERT_TRUE(v.ok()) << off;
      EXPECT_LE(v->base_offset(), off);
      EXPECT_GE(v->last_offset(), off);
    }
  }
  // Reopen: indexes load, end offset restored, all data there.
  auto log = f.Open();
  EXPECT_EQ(log->log_end_offset(), 400);
  auto all = ReadAll(*log);
  ASSERT_EQ(all.size(), 400u);
  for (int64_t i = 0; i < 400; ++i) ASSERT_EQ(std::get<0>(all[i]), i);
  EXPECT_EQ(std::get<2>(all[399]), "val199-1");
  ASSERT_TRUE(log->Append(MakeBatch(1), {}).ok());
  EXPECT_EQ(log->log_end_offset(), 401);
}

TEST(PartitionLog, CorruptIndexIsRebuilt) {
  Fixture f({{"segment.bytes", "2048"}, {"index.interval.bytes", "100"}});
  { auto log = f.Open(); for (int i = 0; i < 50; ++i) ASSERT_TRUE(log->Append(MakeBatch(3), {}).ok()); }
  // Scribble over the first segment's index and delete the second's time index.
  std::string dir = f.dir.path() + "/t-0";
  auto idx = f.env->OpenFile(dir + "/00000000000000000000.index", false);
  ASSERT_TRUE(idx.ok());
  ASSERT_TRUE((*idx)->Truncate(5).ok());
  auto log = f.Open();
  EXPECT_EQ(log->log_end_offset(), 150);
  auto all = ReadAll(*log, 0);
  EXPECT_EQ(all.size(), 150u);
  auto from = ReadAll(*log, 77);
  ASSERT_FALSE(from.empty());
  EXPECT_EQ(std::get<0>(from[0]), 77);
}

TEST(PartitionLog, TimestampLookup) {
  Fixture f({{"segment.bytes", "1024"}, {"index.interval.bytes", "64"}});
  auto log = f.Open();
  // Batch i holds timestamps 1000+10i .. 1000+10i+2 (offsets 3i .. 3i+2).
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(log->Append(MakeBatch(3, "v", 1000 + 10 * i), {}).ok());
  EXPECT_EQ(log->OffsetForTimestamp(0).offset, 0);
  EXPECT_EQ(log->OffsetForTimestamp(1000).offset, 0);
  EXPECT_EQ(log->OffsetForTimestamp(1001).offset, 1);
  EXPECT_EQ(log->OffsetForTimestamp(1003).offset, 3);  // next batch starts at 1010
  TimestampOffset t = log->OffsetForTimestamp(1252);
  EXPECT_EQ(t.offset, 3 * 25 + 2);
  EXPECT_EQ(t.timestamp, 1252);
  EXPECT_EQ(log->OffsetForTimestamp(1000 + 10 * 59 + 3).offset, -1);
  TimestampOffset max = log->MaxTimestamp();
  EXPECT_EQ(max.timestamp, 1000 + 590 + 2);
}

TEST(PartitionLog, LogAppendTime) {
  Fixture f({{"message.timestamp.type", "LogAppendTime"}});
  auto log = f.Open();
  AppendResult r = log->Append(MakeBatch(2, "v", 5), {});
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r.log_append_time_ms, 1'600'000'000'000);
  std::string bytes;
  ASSERT_TRUE(log->Read(0, 1000).CopyTo(&bytes).ok());
  auto v = RecordBatchView::Parse(bytes);  // CRC recomputed
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->timestamp_type(), TimestampType::kLogAppendTime);
  EXPECT_EQ(v->Records()->records()[1].timestamp, r.log_append_time_ms);
}

TEST(PartitionLog, NotifyAndWait) {
  Fixture f;
  auto log = f.Open();
  std::atomic<int> fired{0};
  uint64_t id = log->NotifyWhenPast(0, [&] { ++fired; });
  uint64_t id2 = log->NotifyWhenPast(5, [&] { fired += 100; });
  EXPECT_EQ(fired, 0);
  ASSERT_TRUE(log->Append(MakeBatch(2), {}).ok());
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(log->CancelNotify(id));
  EXPECT_TRUE(log->CancelNotify(id2));
  ASSERT_TRUE(log->Append(MakeBatch(10), {}).ok());
  EXPECT_EQ(fired, 1);
  log->NotifyWhenPast(3, [&] { fired += 10; });  // already past: inline
  EXPECT_EQ(fired, 11);
  EXPECT_FALSE(log->WaitPast(12, std::chrono::milliseconds(20)));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    (void)log->Append(MakeBatch(1), {});
  });
  EXPECT_TRUE(log->WaitPast(12, std::chrono::seconds(10)));
  t.join();
}

TEST(PartitionLog, IdempotentProducerSequences) {
  Fixture f;
  auto make = [](int64_t pid, int16_t epoch, int32_t seq, int n) {
    BatchBuilderOptions o;
    o.producer_id = pid;
    o.producer_epoch = epoch;
    o.base_sequence = seq;
    RecordBatchBuilder b(o);
    for (int i = 0; i < n; ++i) b.Add("k", "v" + std::to_string(seq + i), 1);
    return std::move(b.Build()).value();
  };
  {
    auto log = f.Open();
    EXPECT_TRUE(log->Append(make(7, 0, 0, 3), {}).ok());   // 0..2
    EXPECT_TRUE(log->Append(make(7, 0, 3, 2), {}).ok());   // 3..4
    // A retry of the first batch is answered with its original offsets, nothing written.
    AppendResult dup = log->Append(make(7, 0, 0, 3), {});
    ASSERT_TRUE(dup.ok());
    EXPECT_TRUE(dup.duplicate);
    EXPECT_EQ(dup.base_offset, 0);
    EXPECT_EQ(dup.last_offset, 2);
    EXPECT_EQ(log->log_end_offset(), 5);
    EXPECT_EQ(log->Append(make(7, 0, 9, 1), {}).error, LogError::kOutOfOrderSequence);
    EXPECT_EQ(log->CheckSequence(7, 0, 5, 5).error, LogError::kNone);
    // New epoch must restart at 0; old epoch is then fenced.
    EXPECT_EQ(log->Append(make(7, 1, 5, 1), {}).error, LogError::kOutOfOrderSequence);
    EXPECT_TRUE(log->Append(make(7, 1, 0, 1), {}).ok());
    EXPECT_EQ(log->Append(make(7, 0, 5, 1), {}).error, LogError::kInvalidProducerEpoch);
    EXPECT_EQ(log->ProducerEpoch(7), 1);
    EXPECT_TRUE(log->Append(make(8, 0, 0, 1), {}).ok());
  }
  // Producer state survives reopen (snapshot on close).
  {
    auto log = f.Open();
    EXPECT_EQ(log->ProducerEpoch(7), 1);
    AppendResult dup = log->Append(make(7, 1, 0, 1), {});
    EXPECT_TRUE(dup.duplicate);
    EXPECT_EQ(dup.base_offset, 5);
    EXPECT_TRUE(log->Append(make(7, 1, 1, 1), {}).ok());
  }
  // And without the snapshot: rebuilt from the log itself.
  ASSERT_TRUE(f.env->RemoveFile(f.dir.path() + "/t-0/producer.snapshot").ok());
  auto log = f.Open();
  EXPECT_EQ(log->ProducerEpoch(7), 1);
  EXPECT_TRUE(log->Append(make(7, 1, 1, 1), {}).duplicate);
  EXPECT_EQ(log->Append(make(7, 1, 5, 1), {}).error, LogError::kOutOfOrderSequence);
  EXPECT_TRUE(log->Append(make(7, 1, 2, 1), {}).ok());
}

TEST(PartitionLog, RetentionByTimeAndBytesAndDeleteRecords) {
  Fixture f({{"segment.bytes", "1024"}, {"retention.ms", "1000"}});
  auto log = f.Open();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(log->Append(MakeBatch(3, "v", 10'000 + i * 100), {}).ok());
  size_t segs = log->segment_count();
  ASSERT_GE(segs, 3u);
  // now = 12'000: records with timestamps < 11'000 are past retention, per whole segment.
  ASSERT_TRUE(log->ApplyRetention(12'000).ok());
  EXPECT_LT(log->segment_count(), segs);
  int64_t start = log->log_start_offset();
  EXPECT_GT(start, 0);
  EXPECT_EQ(log->Read(0, 100).error, LogError::kOffsetOutOfRange);
  auto rest = ReadAll(*log, start);
  EXPECT_EQ(std::get<0>(rest.front()), start);
  EXPECT_EQ(std::get<0>(rest.back()), 119);
  // The surviving first record is not past retention; the dropped ones were.
  EXPECT_LE(log->OffsetForTimestamp(11'000).offset, start + 30);
  // Everything expired: the active segment is rolled and removed too; the end offset stays.
  ASSERT_TRUE(log->ApplyRetention(1'000'000).ok());
  EXPECT_EQ(log->log_start_offset(), 120);
  EXPECT_EQ(log->log_end_offset(), 120);
  EXPECT_TRUE(log->Append(MakeBatch(1), {}).ok());
  EXPECT_EQ(log->log_end_offset(), 121);

  Fixture g({{"segment.bytes", "1024"}, {"retention.bytes", "3000"}});
  auto log2 = g.Open();
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(log2->Append(MakeBatch(3), {}).ok());
  ASSERT_TRUE(log2->ApplyRetention(0).ok());
  EXPECT_LE(log2->size_bytes(), 3000u + 1024u);
  EXPECT_GT(log2->log_start_offset(), 0);
  EXPECT_EQ(log2->log_end_offset(), 180);
  // DeleteRecords moves the start inside a segment, and it persists.
  EXPECT_EQ(log2->DeleteRecordsBefore(175), LogError::kNone);
  EXPECT_EQ(log2->log_start_offset(), 175);
  EXPECT_EQ(log2->DeleteRecordsBefore(500), LogError::kOffsetOutOfRange);
  log2.reset();
  log2 = g.Open();
  EXPECT_EQ(log2->log_start_offset(), 175);
  EXPECT_EQ(std::get<0>(ReadAll(*log2, 175).front()), 175);
}

TEST(PartitionLog, CompactionKeepsLatestPerKeyAndExpiresTombstones) {
  Fixture f({{"cleanup.policy", "compact"}, {"segment.bytes", "600"},
             {"delete.retention.ms", "1000"}});
  auto log = f.Open();
  // A record without a key is refused on a compacted topic.
  {
    RecordBatchBuilder b;
    b.Add(std::nullopt, "x", 1);
    EXPECT_EQ(log->Append(std::move(b.Build()).value(), {}).error, LogError::kInvalidRecord);
  }
  // 10 rounds over keys a..e with values "<key><round>", some compressed; then a tombstone
  // for "c" at time 5000.
  for (int round = 0; round < 10; ++round) {
    BatchBuilderOptions o;
    o.compression = round % 2 ? Compression::kZstd : Compression::kNone;
    RecordBatchBuilder b(o);
    for (char k = 'a'; k <= 'e'; ++k) {
      std::string key(1, k);
      b.Add(key, key + std::to_string(round), 1000 + round);
    }
    ASSERT_TRUE(log->Append(std::move(b.Build()).value(), {}).ok());
  }
  {
    RecordBatchBuilder b;
    b.Add("c", std::nullopt, 5000);
    ASSERT_TRUE(log->Append(std::move(b.Build()).value(), {}).ok());
  }
  // Something after, so the tombstone's segment is closed.
  for (int i = 0; i < 10; ++i) {
    RecordBatchBuilder b;
    b.Add("z", "filler" + std::to_string(i), 5001);
    ASSERT_TRUE(log->Append(std::move(b.Build()).value(), {}).ok());
  }
  const int64_t end = log->log_end_offset();
  ASSERT_TRUE(log->Compact(5500).ok());
  auto after = ReadAll(*log);
  std::map<std::string, std::vector<std::string>> by_key;
  for (auto& [off, k, v] : after) by_key[k].push_back(v);
  EXPECT_EQ(by_key["a"], std::vector<std::string>{"a9"});
  EXPECT_EQ(by_key["e"], std::vector<std::string>{"e9"});
  EXPECT_EQ(by_key["c"], std::vector<std::string>{"<null>"});  // tombstone kept (young)
  EXPECT_EQ(log->log_end_offset(), end);
  // Offsets are preserved and increasing.
  for (size_t i = 1; i < after.size(); ++i) EXPECT_LT(std::get<0>(after[i - 1]), std::get<0>(after[i]));
  // Later: the tombstone is older than delete.retention.ms and goes.
  ASSERT_TRUE(log->Compact(7000).ok());
  auto later = ReadAll(*log);
  for (auto& [off, k, v] : later) EXPECT_NE(k, "c");
  // Reopen: compacted segments and rebuilt indexes are consistent.
  log.reset();
  log = f.Open();
  EXPECT_EQ(ReadAll(*log), later);
  EXPECT_EQ(log->log_end_offset(), end);
}

TEST(PartitionLog, TransactionsLastStableOffsetAndAborted) {
  Fixture f;
  auto log = f.Open();
  auto txn_batch = [](int64_t pid, int32_t seq, const std::string& v) {
    BatchBuilderOptions o;
    o.producer_id = pid;
    o.producer_epoch = 0;
    o.base_sequence = seq;
    o.transactional = true;
    RecordBatchBuilder b(o);
    b.Add("k", v, 1);
    return std::move(b.Build()).value();
  };
  ASSERT_TRUE(log->Append(MakeBatch(1), {}).ok());              // 0
  ASSERT_TRUE(log->Append(txn_batch(1, 0, "t1a"), {}).ok());    // 1 (txn of pid 1 opens)
  ASSERT_TRUE(log->Append(txn_batch(2, 0, "t2a"), {}).ok());    // 2 (txn of pid 2 opens)
  EXPECT_EQ(log->last_stable_offset(), 1);
  ReadResult rc = log->Read(0, 1 << 20, {IsolationLevel::kReadCommitted, true});
  EXPECT_EQ(rc.last_stable_offset, 1);
  std::string bytes;
  ASSERT_TRUE(rc.CopyTo(&bytes).ok());
  EXPECT_EQ(RecordBatchView::Parse(bytes)->last_offset(), 0);
  ASSERT_TRUE(log->Append(RecordBatchBuilder::MakeControlBatch(1, 0, ControlType::kAbort, 0, 2), {}).ok());  // 3
  EXPECT_EQ(log->last_stable_offset(), 2);
  ASSERT_TRUE(log->Append(RecordBatchBuilder::MakeControlBatch(2, 0, ControlType::kCommit, 0, 2), {}).ok());  // 4
  EXPECT_EQ(log->last_stable_offset(), 5);
  ReadResult all = log->Read(0, 1 << 20, {IsolationLevel::kReadCommitted, true});
  ASSERT_EQ(all.aborted_transactions.size(), 1u);
  EXPECT_EQ(all.aborted_transactions[0].producer_id, 1);
  EXPECT_EQ(all.aborted_transactions[0].first_offset, 1);
  log.reset();
  log = f.Open();
  ReadResult again = log->Read(0, 1 << 20, {IsolationLevel::kReadCommitted, true});
  ASSERT_EQ(again.aborted_transactions.size(), 1u);
  EXPECT_EQ(log->last_stable_offset(), 5);
}

TEST(PartitionLog, SyncAppendsShareFdatasyncs) {
  FaultInjectionEnv env(Env::Default());
  TempDir dir;
  auto config = std::make_shared<const TopicConfig>();
  Flusher flusher(0, /*sync_threads=*/1);  // one sync at a time: every other append must wait
  auto log = PartitionLog::Open(&env, dir.path() + "/p", "t", 0, config, &flusher).value();
  env.SetSyncDelayMicros(2000);  // a 2 ms fdatasync: appends arriving meanwhile must share the next
  const uint64_t syncs_before = env.sync_count();
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        AppendResult r = log->Append(MakeBatch(1), {Durability::kSync});
        if (r.ok() && log->durable_offset() > r.last_offset) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kThreads * kPerThread);
  EXPECT_EQ(log->durable_offset(), kThreads * kPerThread);
  // One fdatasync per flusher pass, never more than one per append.
  uint64_t syncs = env.sync_count() - syncs_before;
  EXPECT_EQ(syncs, flusher.sync_calls());
  EXPECT_GE(syncs, 1u);
  // 8 writers with a 2 ms sync: each sync covers several appends (one per sync would be 400).
  EXPECT_LE(syncs, static_cast<uint64_t>(kThreads * kPerThread / 2));
  std::printf("group commit: %d sync appends, %llu fdatasyncs\n", kThreads * kPerThread,
              static_cast<unsigned long long>(syncs));
  log.reset();
}

// The active segment's index entries are written in batches (Segment::Append keeps up to
// 16 KiB pending) and at the seal. A sealed segment's .index and .timeindex are what the next
// open reads (without checking that they cover the whole segment), so they must come out
// complete: the offset index equal to the one recovery rebuilds from the batches, the time
// index too plus the seal's final entry. Also shows the pending entries are bounded: the
// active segment's .index is written to long before the seal.
TEST(PartitionLogTest, SealedSegmentIndexesAreCompleteAndPendingEntriesAreBounded) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t-0";
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string stem = Segment::PathStem(dir, 0);
  std::string sealed_index, sealed_time;
  int64_t end = 0;
  auto config = std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"index.interval.bytes", "128"}}, TopicConfig()).value());
  {
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, config, nullptr).value();
    // ~2,500 index entries of 8 bytes and time entries of 12 (timestamps grow): past the
    // write-behind bound several times.
    for (int i = 0; i < 2500; ++i) {
      AppendResult r = log->Append(MakeBatch(1, "v" + std::to_string(i) + std::string(100, 'x'), 1000 + i),
                                   {Durability::kWritten});
      ASSERT_TRUE(r.ok()) << r.message;
    }
    EXPECT_GE(std::filesystem::file_size(stem + ".index"), 8u * 1000) << "index entries pile up in memory";
    end = log->log_end_offset();
    ASSERT_TRUE(log->MaybeRollByAge(std::numeric_limits<int64_t>::max() / 2).ok());
    ASSERT_TRUE(log->Append(MakeBatch(1, "after", 5000), {Durability::kWritten}).ok());
    ASSERT_EQ(log->segment_count(), 2u);
    sealed_index = read(stem + ".index");
    sealed_time = read(stem + ".timeindex");
  }
  ASSERT_EQ(sealed_index.size(), 8u * 2500) << "one entry per batch (each is more than 128 bytes)";
  // What recovery writes for the same batches: remove the sealed segment's indexes and reopen
  // (a closed segment without them is rebuilt by scanning).
  std::filesystem::remove(stem + ".index");
  std::filesystem::remove(stem + ".timeindex");
  {
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, config, nullptr).value();
    EXPECT_EQ(log->log_end_offset(), end + 1);
  }
  EXPECT_EQ(read(stem + ".index"), sealed_index);
  const std::string rebuilt_time = read(stem + ".timeindex");
  ASSERT_EQ(rebuilt_time.size(), 12u * 2500);
  EXPECT_EQ(sealed_time.substr(0, rebuilt_time.size()), rebuilt_time);
}

}  // namespace
}  // namespace ec::log
