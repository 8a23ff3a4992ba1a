// The Env that runs RocksDB's flushes and compactions without perf counters
// (src/rocks/uncounted_jobs_env.h).
#include "rocks/uncounted_jobs_env.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ec::rocks {
namespace {

// The perf level of the thread each flush and compaction began on.
class PerfLevelRecorder final : public rocksdb::EventListener {
 public:
  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { Record(&flushes); }
  void OnCompactionBegin(rocksdb::DB*, const rocksdb::CompactionJobInfo&) override { Record(&compactions); }
  std::mutex mu;
  std::vector<rocksdb::PerfLevel> flushes, compactions;

 private:
  void Record(std::vector<rocksdb::PerfLevel>* to) {
    std::lock_guard lock(mu);
    to->push_back(rocksdb::GetPerfLevel());
  }
};

// Opens a DB in a fresh directory (with `env` unless null), writes and flushes four tables and
// compacts them, and returns what the listener saw.
std::shared_ptr<PerfLevelRecorder> FlushAndCompact(rocksdb::Env* env, const std::string& name) {
  const std::string dir = (std::filesystem::temp_directory_path() / (name + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  auto recorder = std::make_shared<PerfLevelRecorder>();
  rocksdb::Options options;
  options.create_if_missing = true;
  options.disable_auto_compactions = true;
  options.listeners.push_back(recorder);
  if (env != nullptr) options.env = env;
  rocksdb::DB* raw = nullptr;
  EXPECT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int table = 0; table < 4; ++table) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i), "value" + std::to_string(table)).ok());
    }
    EXPECT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  }
  EXPECT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  std::string value;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "key7", &value).ok());
  EXPECT_EQ(value, "value3");
  EXPECT_TRUE(db->Close().ok());
  db.reset();
  std::filesystem::remove_all(dir);
  return recorder;
}

TEST(UncountedJobsEnv, FlushesAndCompactionsRunWithPerfCountersOff) {
  std::unique_ptr<rocksdb::Env> env = NewUncountedJobsEnv(rocksdb::Env::Default());
  auto seen = FlushAndCompact(env.get(), "ec_uncounted_env_");
  std::lock_guard lock(seen->mu);
  ASSERT_EQ(seen->flushes.size(), 4u);
  ASSERT_FALSE(seen->compactions.empty());
  for (rocksdb::PerfLevel level : seen->flushes) EXPECT_EQ(level, rocksdb::PerfLevel::kDisable);
  for (rocksdb::PerfLevel level : seen->compactions) EXPECT_EQ(level, rocksdb::PerfLevel::kDisable);
}

// The assumption the Env is for: a new thread (as RocksDB's pool threads are) counts.
TEST(UncountedJobsEnv, NewThreadsCountByDefault) {
  rocksdb::PerfLevel level = rocksdb::PerfLevel::kUninitialized;
  std::thread([&] { level = rocksdb::GetPerfLevel(); }).join();
  EXPECT_EQ(level, rocksdb::PerfLevel::kEnableCount);
}

// A job taken off the queue before it ran (a DB closing) reaches RocksDB's own unschedule
// callback with RocksDB's argument, and never runs.
TEST(UncountedJobsEnv, UnscheduledJobsGetTheirOwnCallback) {
  std::unique_ptr<rocksdb::Env> env = NewUncountedJobsEnv(rocksdb::Env::Default());
  // Hold the pool's threads (the bottom pool: its own, one here) so that the job below stays queued.
  env->SetBackgroundThreads(1, rocksdb::Env::Priority::BOTTOM);
  struct Hold {
    std::shared_future<void> until;
    std::atomic<bool> done{false};
  } hold;
  std::promise<void> release;
  hold.until = release.get_future().share();
  env->Schedule(
      [](void* arg) {
        auto* h = static_cast<Hold*>(arg);
        h->until.wait();
        h->done.store(true);
      },
      &hold, rocksdb::Env::Priority::BOTTOM, nullptr, nullptr);
  struct Probe {
    bool ran = false;
    int unscheduled = 0;
  } probe;
  int tag = 0;
  env->Schedule([](void* arg) { static_cast<Probe*>(arg)->ran = true; }, &probe, rocksdb::Env::Priority::BOTTOM, &tag,
                [](void* arg) { ++static_cast<Probe*>(arg)->unscheduled; });
  EXPECT_EQ(env->UnSchedule(&tag, rocksdb::Env::Priority::BOTTOM), 1);
  release.set_value();
  while (!hold.done.load()) std::this_thread::yield();
  EXPECT_EQ(probe.unscheduled, 1);
  EXPECT_FALSE(probe.ran);
}

}  // namespace
}  // namespace ec::rocks
