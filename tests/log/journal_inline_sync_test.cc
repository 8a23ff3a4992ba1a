// Journal::RunSyncsOnThisThread: a thread that waits for each journal sync it requests (the
// pipeline's commit thread) runs the sync round itself in RequestSync, completions included,
// instead of waking the sync thread and being woken by it. What must hold: the round and its
// completions ran on the requester before RequestSync returned; it still covers every entry
// written before it (other partitions', held ones); rounds stay one at a time, so marked and
// unmarked threads together still share syncs and all complete; a failed sync fails every
// waiter and the journal, as on the sync thread.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "log/fault_injection_env.h"
#include "log/journal.h"
#include "log/journal_test_util.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::JournalOptions;
using testing::OpenOrFail;
using testing::TempDir;

// Marks the calling thread for its scope.
struct SyncsHere {
  SyncsHere() { Journal::RunSyncsOnThisThread(true); }
  ~SyncsHere() { Journal::RunSyncsOnThisThread(false); }
};

TEST(JournalInlineSync, RequesterRunsTheRoundAndItsCompletions) {
  TempDir dir;
  auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("in", 1).ok());
  ASSERT_TRUE(m->CreateTopic("out", 2).ok());
  auto in = m->GetPartition("in", 0);
  // Ingest's held append (another thread's, before the pass's commit): covered by the round.
  in->SetSyncHold(std::chrono::minutes(10));
  std::atomic<bool> held_done{false};
  std::thread::id held_on;
  in->AppendAsync(testing::MakeBatch(3), {Durability::kSync}, [&](const AppendResult& r) {
    EXPECT_TRUE(r.ok()) << r.message;
    held_on = std::this_thread::get_id();
    held_done = true;
  });
  ASSERT_FALSE(held_done.load());
  ASSERT_TRUE(m->GetPartition("out", 1)->Append(testing::MakeBatch(2), {Durability::kWritten}).ok());

  SyncsHere here;
  const uint64_t before = m->journal()->sync_calls();
  // Round A's shape: deferred durable appends, then one RequestSync.
  std::vector<std::thread::id> ran_on;
  for (int p = 0; p < 2; ++p) {
    m->GetPartition("out", p)->AppendAsync(testing::MakeBatch(4), {.durability = Durability::kSync, .defer_journal_sync = true},
                                           [&](const AppendResult& r) {
                                             EXPECT_TRUE(r.ok()) << r.message;
                                             ran_on.push_back(std::this_thread::get_id());
                                           });
  }
  EXPECT_TRUE(ran_on.empty()) << "deferred appends wait for the requested sync";
  ASSERT_TRUE(m->journal()->RequestSync().ok());
  // No waiting: the round and every completion ran on this thread before RequestSync returned.
  ASSERT_EQ(ran_on.size(), 2u);
  for (const std::thread::id& id : ran_on) EXPECT_EQ(id, std::this_thread::get_id());
  ASSERT_TRUE(held_done.load());
  EXPECT_EQ(held_on, std::this_thread::get_id());
  EXPECT_EQ(in->durable_offset(), 3);
  EXPECT_EQ(m->GetPartition("out", 0)->durable_offset(), 4);
  EXPECT_EQ(m->GetPartition("out", 1)->durable_offset(), 6) << "a kWritten append before the round is covered";
  EXPECT_EQ(m->journal()->sync_calls() - before, 1u);
  // Round B's shape: an urgent durable append (its own RequestSync), and a Flush.
  std::thread::id b_on;
  m->GetPartition("out", 0)->AppendAsync(testing::MakeBatch(1), {Durability::kSync},
                                         [&](const AppendResult& r) {
                                           EXPECT_TRUE(r.ok()) << r.message;
                                           b_on = std::this_thread::get_id();
                                         });
  EXPECT_EQ(b_on, std::this_thread::get_id());
  EXPECT_EQ(m->GetPartition("out", 0)->durable_offset(), 5);
  ASSERT_TRUE(m->GetPartition("out", 1)->Append(testing::MakeBatch(2), {Durability::kWritten}).ok());
  ASSERT_TRUE(m->GetPartition("out", 1)->Flush().ok());
  EXPECT_EQ(m->GetPartition("out", 1)->durable_offset(), 8);
  EXPECT_EQ(m->journal()->sync_calls() - before, 3u);
  // Nothing new to sync: no round.
  ASSERT_TRUE(m->journal()->RequestSync().ok());
  EXPECT_EQ(m->journal()->sync_calls() - before, 3u);
}

TEST(JournalInlineSync, MarkedAndUnmarkedThreadsShareRoundsAndAllComplete) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  env.SetSyncDelayMicros(1000);  // a slow disk: requests pile up behind each round
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  constexpr int kThreads = 8, kPerThread = 30;
  ASSERT_TRUE(m->CreateTopic("t", kThreads).ok());
  const uint64_t before = m->journal()->sync_calls();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kThreads; ++p) {
    threads.emplace_back([&, p] {
      Journal::RunSyncsOnThisThread(p % 2 == 0);
      auto log = m->GetPartition("t", p);
      for (int i = 0; i < kPerThread; ++i) {
        if (i % 5 == 4) {
          if (!log->Append(testing::MakeBatch(1), {Durability::kWritten}).ok() || !log->Flush().ok()) ++failures;
        } else if (!log->Append(testing::MakeBatch(1), {Durability::kSync}).ok()) {
          ++failures;
        }
        if (log->durable_offset() < i + 1) ++failures;  // acknowledged means synced
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int p = 0; p < kThreads; ++p) EXPECT_EQ(m->GetPartition("t", p)->durable_offset(), kPerThread);
  const uint64_t syncs = m->journal()->sync_calls() - before;
  EXPECT_LT(syncs, uint64_t{kThreads} * kPerThread / 2) << "requests coalesce behind the round running";
  // The sync thread still serves unmarked requesters after all that.
  ASSERT_TRUE(m->GetPartition("t", 1)->Append(testing::MakeBatch(1), {Durability::kSync}).ok());
  EXPECT_EQ(m->GetPartition("t", 1)->durable_offset(), kPerThread + 1);
}

TEST(JournalInlineSync, FailedRoundFailsEveryWaiterAndTheJournal) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("in", 1).ok());
  ASSERT_TRUE(m->CreateTopic("out", 1).ok());
  auto in = m->GetPartition("in", 0);
  auto out = m->GetPartition("out", 0);
  in->SetSyncHold(std::chrono::minutes(10));
  std::promise<AppendResult> held;
  std::future<AppendResult> held_done = held.get_future();
  in->AppendAsync(testing::MakeBatch(2), {Durability::kSync}, [&](const AppendResult& r) { held.set_value(r); });
  CrashOptions c;
  c.tear_unsynced_tail = false;
  c.garbage_in_torn_tail = false;
  ASSERT_TRUE(env.SimulateCrash(c).ok());  // every File fails from now on
  {
    SyncsHere here;
    AppendResult r = out->Append(testing::MakeBatch(1), {Durability::kSync});
    EXPECT_FALSE(r.ok()) << "a durable append whose sync failed is not acknowledged";
    EXPECT_FALSE(m->journal()->RequestSync().ok()) << "the journal is failed";
  }
  ASSERT_EQ(held_done.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the held waiter is failed too";
  EXPECT_FALSE(held_done.get().ok());
  EXPECT_EQ(in->durable_offset(), 0);
  EXPECT_EQ(out->durable_offset(), 0);
  in.reset();
  out.reset();
  m.reset();  // the sync thread ended on the failure; shutting down still works
  env.Reset();
}

}  // namespace
}  // namespace ec::log
