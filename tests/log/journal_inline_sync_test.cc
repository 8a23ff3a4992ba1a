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

// Waits (up to a minute) until the journal's sync thread sleeps in its wait for work.
void WaitForSyncThreadAsleep(Journal* journal) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!journal->sync_thread_sleeping() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(journal->sync_thread_sleeping()) << "the sync thread never went to sleep";
}

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

// A marked requester that finds a round running on another thread waits for that round's end
// and runs the next round itself: its completion runs on it, and the sync thread is not woken
// (it was: woken to wait for the running round, then to run the next, then the requester was
// woken by the completion).
TEST(JournalInlineSync, RequesterWaitsForTheRunningRoundAndRunsTheNextOneItself) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  auto m = OpenOrFail(JournalOptions(dir.path(), &env));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("a", 1).ok());
  ASSERT_TRUE(m->CreateTopic("b", 1).ok());
  env.SetSyncDelayMicros(300'000);  // the first round is still running when the second is asked
  Journal* journal = m->journal();
  // Awake when the first round starts (its first loop on a loaded machine), the sync thread
  // would wait for that round's end, a wake-up this test does not count on.
  WaitForSyncThreadAsleep(journal);
  const uint64_t calls_before = journal->sync_calls();
  const uint64_t inline_before = journal->inline_sync_calls();
  const uint64_t wakeups_before = journal->sync_thread_wakeups();
  std::thread first([&] {
    SyncsHere here;
    EXPECT_TRUE(m->GetPartition("a", 0)->Append(testing::MakeBatch(1), {Durability::kSync}).ok());
  });
  while (journal->sync_calls() == calls_before) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  SyncsHere here;
  std::thread::id ran_on;
  AppendResult result;
  m->GetPartition("b", 0)->AppendAsync(testing::MakeBatch(2), {Durability::kSync}, [&](const AppendResult& r) {
    result = r;
    ran_on = std::this_thread::get_id();
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id()) << "completed on this thread, before AppendAsync returned";
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(m->GetPartition("b", 0)->durable_offset(), 2);
  first.join();
  EXPECT_EQ(m->GetPartition("a", 0)->durable_offset(), 1);
  EXPECT_EQ(journal->sync_calls() - calls_before, 2u);
  EXPECT_EQ(journal->inline_sync_calls() - inline_before, 2u);
  EXPECT_EQ(journal->sync_thread_wakeups(), wakeups_before) << "the sync thread was not involved";
  env.SetSyncDelayMicros(0);
}

// A pass's shape: a durable round run by its requester, then lazy entries (the commit markers,
// kWritten within the flush interval). The first lazy entry after each round used to wake the
// sync thread only for it to sleep again until that entry's deadline; now it is woken only for
// a deadline before the one it sleeps until.
TEST(JournalInlineSync, LazyEntriesAfterEachRoundDoNotWakeTheSleepingSyncThread) {
  TempDir dir;
  auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));  // flush interval: 10 minutes
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("out", 2).ok());
  Journal* journal = m->journal();
  SyncsHere here;
  WaitForSyncThreadAsleep(journal);
  const uint64_t wakeups_before = journal->sync_thread_wakeups();
  constexpr int kPasses = 40;
  for (int pass = 0; pass < kPasses; ++pass) {
    ASSERT_TRUE(m->GetPartition("out", 0)->Append(testing::MakeBatch(3), {Durability::kSync}).ok());
    ASSERT_TRUE(m->GetPartition("out", 1)->Append(testing::MakeBatch(1), {Durability::kWritten}).ok());
    // Time for a woken sync thread to get back to sleep, as between two passes.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Without the deadline test it is about one per pass (40). A few are allowed: on an
  // overloaded machine the woken thread may not be back asleep before the next round starts,
  // and then waits for that round's end.
  EXPECT_LT(journal->sync_thread_wakeups() - wakeups_before, 10u) << "about one wake-up per pass";
  EXPECT_EQ(m->GetPartition("out", 0)->durable_offset(), 3 * kPasses);
  // Every lazy entry but the last was covered by the round after it.
  EXPECT_EQ(m->GetPartition("out", 1)->durable_offset(), kPasses - 1);
}

// ...but an entry due before the deadline the sync thread sleeps until still wakes it: synced
// at its own deadline, not the later one.
TEST(JournalInlineSync, AnEarlierDeadlineStillWakesTheSleepingSyncThread) {
  TempDir dir;
  auto m = OpenOrFail(JournalOptions(dir.path(), Env::Default()));
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->CreateTopic("slow", 1, {{"flush.ms", "600000"}}).ok());
  ASSERT_TRUE(m->CreateTopic("fast", 1, {{"flush.ms", "20"}}).ok());
  auto slow = m->GetPartition("slow", 0);
  auto fast = m->GetPartition("fast", 0);
  ASSERT_TRUE(slow->Append(testing::MakeBatch(1), {Durability::kWritten}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // asleep until 10 minutes from now
  ASSERT_TRUE(fast->Append(testing::MakeBatch(2), {Durability::kWritten}).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (fast->durable_offset() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(fast->durable_offset(), 2) << "synced at flush.ms, not at the slow topic's deadline";
  EXPECT_EQ(slow->durable_offset(), 1) << "the same sync covers the entry before it";
}

}  // namespace
}  // namespace ec::log
