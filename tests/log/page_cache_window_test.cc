// PartitionLog's page-cache window: as appends go on, the bytes more than the window behind the
// active segment's end are released (File::ReleaseCache), inline or on the flusher thread; the
// data stays intact, and with the POSIX Env the released pages really leave the page cache.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "log/flusher.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::TempDir;

struct Release {
  std::string path;
  uint64_t offset, length, size_then;
};

// Env::Default() with every ReleaseCache call recorded (and passed on).
class RecordingEnv : public Env {
 public:
  class RecordingFile : public File {
   public:
    RecordingFile(std::shared_ptr<File> base, RecordingEnv* env) : base_(std::move(base)), env_(env) {}
    Status Append(std::string_view data) override { return base_->Append(data); }
    Status Sync() override { return base_->Sync(); }
    Status Truncate(uint64_t size) override { return base_->Truncate(size); }
    Result<size_t> ReadAt(uint64_t offset, size_t n, char* scratch) const override {
      return base_->ReadAt(offset, n, scratch);
    }
    uint64_t Size() const override { return base_->Size(); }
    int fd() const override { return base_->fd(); }
    const std::string& path() const override { return base_->path(); }
    void ReleaseCache(uint64_t offset, uint64_t length) override {
      {
        std::lock_guard l(env_->mu);
        env_->releases.push_back({path(), offset, length, Size()});
      }
      base_->ReleaseCache(offset, length);
    }

   private:
    std::shared_ptr<File> base_;
    RecordingEnv* env_;
  };

  Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) override {
    EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, base_->OpenFile(path, create));
    return std::shared_ptr<File>(std::make_shared<RecordingFile>(std::move(f), this));
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RemoveDirAll(const std::string& dir) override { return base_->RemoveDirAll(dir); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  int64_t NowMs() override { return base_->NowMs(); }

  std::vector<Release> Releases() {
    std::lock_guard l(mu);
    return releases;
  }

  std::mutex mu;
  std::vector<Release> releases;

 private:
  Env* base_ = Env::Default();
};

constexpr uint64_t kWindow = 1 << 20;  // releases every max(window/16, 1 MiB) = 1 MiB

// A batch of `n` records of 1 KiB values "<i>xxx...".
std::string Batch(int n, int first) {
  RecordBatchBuilder b;
  for (int i = 0; i < n; ++i) {
    std::string v = std::to_string(first + i);
    v.resize(1024, 'x');
    b.Add(std::nullopt, v, 1000 + i);
  }
  return std::move(b.Build()).value();
}

// Appends `batches` batches of 64 records (~66 KiB each).
void AppendMany(PartitionLog& log, int batches) {
  for (int i = 0; i < batches; ++i) {
    AppendResult r = log.Append(Batch(64, i * 64), {Durability::kWritten});
    ASSERT_TRUE(r.ok()) << r.message;
  }
}

// Every value in order: the releases must never change what is read.
void ExpectAllRecords(const PartitionLog& log, int count) {
  int64_t offset = 0;
  int seen = 0;
  while (offset < log.high_watermark()) {
    ReadResult rr = log.Read(offset, 1 << 20);
    ASSERT_EQ(rr.error, LogError::kNone) << rr.message;
    std::string bytes;
    ASSERT_TRUE(rr.CopyTo(&bytes).ok());
    Status s = ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
      return b.ForEachRecord([&](const Record& r) {
        EXPECT_EQ(r.offset, seen);
        EXPECT_EQ(std::string(r.value->substr(0, r.value->find('x'))), std::to_string(seen));
        ++seen;
        offset = r.offset + 1;
        return Status::Ok();
      });
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(seen, count);
}

TEST(PageCacheWindow, ReleasesOnlyBytesBehindTheWindow) {
  RecordingEnv env;
  TempDir dir;
  auto log = PartitionLog::Open(&env, dir.path() + "/t-0", "t", 0,
                                std::make_shared<const TopicConfig>(), nullptr).value();
  log->SetPageCacheWindow(kWindow);
  AppendMany(*log, 160);  // ~10.4 MiB
  std::vector<Release> rel = env.Releases();
  // One release per MiB appended once the segment is past the window: 9 or 10.
  ASSERT_GE(rel.size(), 8u);
  ASSERT_LE(rel.size(), 11u);
  for (const Release& r : rel) {
    EXPECT_TRUE(r.path.ends_with(".log")) << r.path;
    EXPECT_GT(r.size_then, kWindow);
    // Up to the window's start, never into it, and at most two windows back.
    EXPECT_EQ(r.offset + r.length, r.size_then - kWindow);
    EXPECT_LE(r.length, 2 * kWindow);
  }
  ExpectAllRecords(*log, 160 * 64);
}

TEST(PageCacheWindow, ZeroWindowReleasesNothing) {
  RecordingEnv env;
  TempDir dir;
  auto log = PartitionLog::Open(&env, dir.path() + "/t-0", "t", 0,
                                std::make_shared<const TopicConfig>(), nullptr).value();
  AppendMany(*log, 64);
  EXPECT_TRUE(env.Releases().empty());
}

TEST(PageCacheWindow, FlusherThreadReleases) {
  RecordingEnv env;
  TempDir dir;
  Flusher flusher(1000, 2);
  auto log = PartitionLog::Open(&env, dir.path() + "/t-0", "t", 0,
                                std::make_shared<const TopicConfig>(), &flusher).value();
  log->SetPageCacheWindow(kWindow);
  AppendMany(*log, 64);  // ~4.2 MiB: at least one release requested
  // The release runs on a sync thread: wait for it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (env.Releases().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::vector<Release> rel = env.Releases();
  ASSERT_FALSE(rel.empty());
  for (const Release& r : rel) EXPECT_LE(r.offset + r.length, r.size_then - kWindow);
  ExpectAllRecords(*log, 64 * 64);
  log.reset();  // Forget() waits for a release in progress
}

// With the real file system, synced bytes behind the window leave the page cache.
TEST(PageCacheWindow, SyncedBytesBehindTheWindowLeaveThePageCache) {
  TempDir dir;
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.path().c_str(), &fs), 0);
  constexpr long kTmpfsMagic = 0x01021994;
  if (fs.f_type == kTmpfsMagic) GTEST_SKIP() << "tmpfs has no writeback: nothing to release";
  auto log = PartitionLog::Open(Env::Default(), dir.path() + "/t-0", "t", 0,
                                std::make_shared<const TopicConfig>(), nullptr).value();
  log->SetPageCacheWindow(kWindow);
  AppendMany(*log, 96);  // ~6.3 MiB
  ASSERT_TRUE(log->Flush().ok());  // clean pages: the next release drops them at once
  log->ReleaseCache();
  ReadResult rr = log->Read(0, 1);
  ASSERT_EQ(rr.slices.size(), 1u);
  const int fd = rr.slices[0].file->fd();
  const uint64_t size = log->size_bytes();
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  std::vector<unsigned char> resident((size + page - 1) / page);
  ASSERT_EQ(::mincore(map, size, resident.data()), 0);
  ::munmap(map, size);
  // Released: [size - 3 windows, size - window); kept: the last window.
  size_t released_lo = (size - 3 * kWindow) / page + 1, released_hi = (size - kWindow) / page;
  size_t still_cached = 0;
  std::string which;
  for (size_t i = released_lo; i < released_hi; ++i) {
    if (resident[i] & 1) which += " " + std::to_string(i);
    still_cached += resident[i] & 1;
  }
  // The kernel skips a page it finds busy at that moment (seen once: 1 of 511), so allow 2%.
  EXPECT_LE(still_cached, (released_hi - released_lo) / 50)
      << "of " << released_hi - released_lo << " released pages:" << which
                              << " (lo " << released_lo << ", hi " << released_hi << ")";
  size_t tail_cached = 0;
  for (size_t i = released_hi + 1; i < resident.size(); ++i) tail_cached += resident[i] & 1;
  EXPECT_EQ(tail_cached, resident.size() - released_hi - 1);
  ExpectAllRecords(*log, 96 * 64);
}

}  // namespace
}  // namespace ec::log
