// Preallocated segments (PartitionLog::SetPreallocateBytes): zeros written ahead of the active
// segment's end must never count as data. The log's sizes, offsets and reads stay those of the
// batches; a roll and a clean close cut the zeros off; recovery finds the end by the last valid
// batch, whether a kill left zeros, a torn batch followed by zeros, or a whole unsynced batch.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "log/fault_injection_env.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::MakeBatch;
using testing::ReadValues;
using testing::TempDir;

std::shared_ptr<const TopicConfig> Config(const std::string& segment_bytes) {
  return std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"segment.bytes", segment_bytes}, {"index.interval.bytes", "512"}}, {}).value());
}

std::string SegmentPath(const std::string& dir, int64_t base) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld.log", static_cast<long long>(base));
  return dir + "/" + name;
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// offset -> value of every record, read in small steps up to the high watermark; any bad
// batch (zeros read as data) fails the test.
std::map<int64_t, std::string> ReadAll(const PartitionLog& log) {
  std::map<int64_t, std::string> out = ReadValues(log, 700);
  ReadResult at_end = log.Read(log.log_end_offset(), 1 << 20);
  EXPECT_EQ(at_end.error, LogError::kNone);
  EXPECT_EQ(at_end.total_bytes, 0u) << "a read at the high watermark returned bytes";
  return out;
}

// Appends batches of 3 records "<tag><i>-<j>" until `count` batches; returns their total bytes.
uint64_t AppendBatches(PartitionLog* log, const std::string& tag, int count, Durability d,
                       std::map<int64_t, std::string>* model) {
  uint64_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    std::string b = MakeBatch(3, tag + std::to_string(i) + "-" + std::string(100, 'x'), 1000 + i);
    bytes += b.size();
    AppendResult r = log->Append(b, {d});
    EXPECT_TRUE(r.ok()) << r.message;
    for (int j = 0; j < 3; ++j) (*model)[r.base_offset + j] = tag + std::to_string(i) + "-" + std::string(100, 'x') + std::to_string(j);
  }
  return bytes;
}

TEST(Preallocate, SizesOffsetsReadsRollAndCloseIgnoreTheZeros) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t-0";
  std::map<int64_t, std::string> model;
  uint64_t first_segment_bytes = 0;
  {
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("20000"), nullptr).value();
    log->SetPreallocateBytes(1 << 20);
    uint64_t bytes = AppendBatches(log.get(), "a", 10, Durability::kSync, &model);
    ASSERT_EQ(log->segment_count(), 1u);
    EXPECT_EQ(log->size_bytes(), bytes);
    // Zeros ahead on disk, up to segment.bytes at most.
    EXPECT_GT(FileSize(SegmentPath(dir, 0)), bytes);
    EXPECT_LE(FileSize(SegmentPath(dir, 0)), 20000u);
    EXPECT_EQ(ReadAll(*log), model);
    // Roll by size: the sealed segment ends at its last batch.
    while (log->segment_count() < 2) {
      uint64_t before = log->size_bytes();
      AppendBatches(log.get(), "b", 1, Durability::kWritten, &model);
      if (log->segment_count() == 1) first_segment_bytes = log->size_bytes();
      (void)before;
    }
    EXPECT_EQ(FileSize(SegmentPath(dir, 0)), first_segment_bytes);
    const int64_t second_base = log->log_end_offset() - 3;
    EXPECT_GT(FileSize(SegmentPath(dir, second_base)), log->size_bytes() - first_segment_bytes)
        << "the new active segment is preallocated too";
    EXPECT_EQ(ReadAll(*log), model);
  }
  // A clean close cuts the zeros off the active segment as well.
  uint64_t total = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") total += e.file_size();
  }
  auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("20000"), nullptr).value();
  EXPECT_EQ(total, log->size_bytes());
  EXPECT_EQ(log->log_end_offset(), model.rbegin()->first + 1);
  EXPECT_EQ(ReadAll(*log), model);
}

// What kill -9 leaves: the active segment's bytes as written (page cache survives), zeros after.
TEST(Preallocate, KillImageWithWholeBatchThenZerosKeepsTheBatch) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t-0";
  std::map<int64_t, std::string> model;
  std::string image;
  uint64_t data_bytes = 0;
  {
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("1048576"), nullptr).value();
    log->SetPreallocateBytes(256 << 10);
    data_bytes = AppendBatches(log.get(), "a", 5, Durability::kSync, &model);
    data_bytes += AppendBatches(log.get(), "u", 1, Durability::kWritten, &model);
    image = ReadFile(SegmentPath(dir, 0));
  }
  ASSERT_GT(image.size(), data_bytes);
  EXPECT_EQ(image.find_first_not_of('\0', data_bytes), std::string::npos) << "zeros after the data";
  WriteFile(SegmentPath(dir, 0), image);
  auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("1048576"), nullptr).value();
  EXPECT_EQ(log->log_end_offset(), 18);
  EXPECT_EQ(log->size_bytes(), data_bytes);
  EXPECT_EQ(FileSize(SegmentPath(dir, 0)), data_bytes) << "recovery cuts the zeros off";
  EXPECT_EQ(ReadAll(*log), model);
}

TEST(Preallocate, TornBatchFollowedByZerosEndsAtTheLastValidBatch) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/t-0";
  std::map<int64_t, std::string> model, unsynced;
  std::string image;
  uint64_t synced_bytes = 0, last_batch = 0;
  {
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("1048576"), nullptr).value();
    log->SetPreallocateBytes(256 << 10);
    synced_bytes = AppendBatches(log.get(), "a", 5, Durability::kSync, &model);
    last_batch = AppendBatches(log.get(), "u", 1, Durability::kWritten, &unsynced);
    image = ReadFile(SegmentPath(dir, 0));
  }
  ASSERT_GT(image.size(), synced_bytes + last_batch);
  // Every tear of the last batch: its first k bytes reached the disk, zeros after them.
  // (A batch ends with its last record's header count, 0: the last byte that can tear is the
  // one before it.)
  for (uint64_t k : {uint64_t{1}, uint64_t{11}, uint64_t{12}, uint64_t{61}, last_batch / 2, last_batch - 2}) {
    std::string torn = image;
    std::fill(torn.begin() + static_cast<std::ptrdiff_t>(synced_bytes + k), torn.end(), '\0');
    ASSERT_NE(torn, image) << "tear at " << k << " changed nothing";
    WriteFile(SegmentPath(dir, 0), torn);
    auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("1048576"), nullptr).value();
    EXPECT_EQ(log->log_end_offset(), 15) << "tear at " << k;
    EXPECT_EQ(log->size_bytes(), synced_bytes) << "tear at " << k;
    EXPECT_EQ(FileSize(SegmentPath(dir, 0)), synced_bytes) << "tear at " << k;
    EXPECT_EQ(ReadAll(*log), model) << "tear at " << k;
  }
  // And the next append goes right after the last valid batch.
  auto log = PartitionLog::Open(Env::Default(), dir, "t", 0, Config("1048576"), nullptr).value();
  log->SetPreallocateBytes(256 << 10);
  AppendBatches(log.get(), "n", 2, Durability::kSync, &model);
  EXPECT_EQ(ReadAll(*log), model);
}

// A crash inside the preallocated region (FaultInjectionEnv: unsynced appends over synced zeros
// turn back into zeros, or a torn prefix of them), then restart, append, crash, restart.
TEST(Preallocate, CrashInsidePreallocatedRegionThenRestartAppendRestart) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    TempDir tmp;
    const std::string dir = tmp.path() + "/t-0";
    FaultInjectionEnv env(Env::Default());
    std::map<int64_t, std::string> synced;
    for (int cycle = 0; cycle < 3; ++cycle) {
      {
        auto opened = PartitionLog::Open(&env, dir, "t", 0, Config("1048576"), nullptr);
        ASSERT_TRUE(opened.ok()) << opened.status().ToString();
        auto log = std::move(opened).value();
        log->SetPreallocateBytes(128 << 10);
        // What survived the last crash is exactly the synced records (nothing torn, no zeros).
        std::map<int64_t, std::string> got = ReadAll(*log);
        for (auto& [off, v] : synced) {
          ASSERT_TRUE(got.count(off)) << "seed " << seed << " cycle " << cycle << ": lost " << off;
          ASSERT_EQ(got[off], v);
        }
        ASSERT_EQ(log->log_end_offset(), synced.empty() ? 0 : synced.rbegin()->first + 1)
            << "seed " << seed << " cycle " << cycle << ": unsynced records survived a crash that "
            << "dropped them, or the end is wrong";
        const std::string tag = "c" + std::to_string(cycle) + "s" + std::to_string(seed) + "-";
        std::map<int64_t, std::string> more;
        AppendBatches(log.get(), tag, 4, Durability::kSync, &more);
        synced.insert(more.begin(), more.end());
        std::map<int64_t, std::string> lost;
        AppendBatches(log.get(), tag + "u", 3, Durability::kWritten, &lost);
        EXPECT_GT(env.sync_count(), 0u);
        EXPECT_GT(FileSize(SegmentPath(dir, 0)), log->size_bytes()) << "the unsynced appends lie in preallocated space";
        CrashOptions c;
        c.tear_unsynced_tail = seed % 3 != 0;
        c.garbage_in_torn_tail = seed % 2 == 0;
        c.seed = seed * 31 + static_cast<uint64_t>(cycle);
        ASSERT_TRUE(env.SimulateCrash(c).ok());
      }
      env.Reset();
      // A torn tail may keep whole unsynced batches: the model learns them from the reopened log.
      auto log = PartitionLog::Open(&env, dir, "t", 0, Config("1048576"), nullptr).value();
      std::map<int64_t, std::string> got = ReadAll(*log);
      for (auto& [off, v] : synced) {
        ASSERT_TRUE(got.count(off)) << "seed " << seed << " cycle " << cycle << ": synced offset " << off << " lost";
        ASSERT_EQ(got[off], v) << "seed " << seed << " offset " << off;
      }
      for (auto& [off, v] : got) {
        if (!synced.count(off)) {
          ASSERT_NE(v.find("u"), std::string::npos) << "seed " << seed << ": offset " << off << " is " << v;
          synced[off] = v;  // survived whole; durable from now on (recovery synced it)
        }
      }
      EXPECT_EQ(FileSize(SegmentPath(dir, 0)), log->size_bytes()) << "recovery leaves no zeros behind";
    }
  }
}

// In the server the flusher threads write the zeros, off the append path.
TEST(Preallocate, LogManagerPreallocatesOnTheFlusher) {
  TempDir tmp;
  LogManagerOptions o;
  o.journal = false;  // segments are preallocated only without the commit journal
  o.data_dir = tmp.path();
  o.maintenance_interval_ms = 0;
  o.preallocate_bytes = 1 << 20;
  auto m = LogManager::Open(o).value();
  ASSERT_TRUE(m->CreateTopic("t", 1, {}).ok());
  std::shared_ptr<PartitionLog> log = m->GetPartition("t", 0);
  ASSERT_NE(log, nullptr);
  std::map<int64_t, std::string> model;
  uint64_t bytes = AppendBatches(log.get(), "a", 20, Durability::kSync, &model);
  const std::string path = SegmentPath(log->dir(), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (FileSize(path) <= bytes && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(FileSize(path), bytes);
  EXPECT_EQ(log->size_bytes(), bytes);
  EXPECT_EQ(ReadAll(*log), model);
}

}  // namespace
}  // namespace ec::log
