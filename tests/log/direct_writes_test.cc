// File::EnableDirectWrites on the POSIX Env (the commit journal's files): appends are buffered
// in memory and written with O_DIRECT, the last partial block padded with zeros and rewritten
// whole by the next write. Whatever the write pattern (odd sizes, syncs in between, a sync
// thread racing the appender, preallocated zeros, a recycled file, a truncate, more unsynced
// bytes than the write-behind bound), the file must read back as exactly the appended bytes
// followed only by zeros or (recycled file) the old bytes, with or without the File object.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "log/env.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::TempDir;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// Opens `path` with direct writes, or skips the test where the filesystem refuses them
// (e.g. a tmpfs TMPDIR before Linux 6.6): the journal then writes through the page cache.
std::shared_ptr<File> OpenDirect(const std::string& path) {
  Result<std::shared_ptr<File>> f = Env::Default()->OpenFile(path, true);
  EXPECT_TRUE(f.ok()) << f.status().message();
  if (!f.ok()) return nullptr;
  if (!(*f)->EnableDirectWrites()) return nullptr;
  return *f;
}

// The file holds `data` and then only zeros (the padding of the last block, preallocation).
void ExpectDataThenZeros(const std::string& path, const std::string& data) {
  const std::string disk = ReadWholeFile(path);
  ASSERT_GE(disk.size(), data.size());
  EXPECT_TRUE(disk.compare(0, data.size(), data) == 0) << "the appended bytes differ";
  EXPECT_EQ(disk.find_first_not_of('\0', data.size()), std::string::npos) << "non-zero bytes after the data";
}

TEST(DirectWrites, OddSizedAppendsAndSyncsReadBackExactly) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  std::string expect;
  {
    std::shared_ptr<File> f = OpenDirect(path);
    if (f == nullptr) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
    std::mt19937 rng(7);
    for (int i = 0; i < 600; ++i) {
      // Sizes across block boundaries: 1 byte to ~3 blocks.
      const std::string piece = Pattern(1 + rng() % 12000, static_cast<uint32_t>(i));
      ASSERT_TRUE(f->Append(piece).ok());
      expect += piece;
      ASSERT_EQ(f->Size(), expect.size());
      if (rng() % 3 == 0) { ASSERT_TRUE(f->Sync().ok()); }
      if (i % 97 == 0) {
        // ReadAt sees buffered bytes too (they are written out first).
        std::string back(expect.size(), '\0');
        Result<size_t> n = f->ReadAt(0, back.size(), back.data());
        ASSERT_TRUE(n.ok());
        ASSERT_EQ(*n, expect.size());
        ASSERT_TRUE(back == expect) << "at append " << i;
      }
    }
    ASSERT_TRUE(f->Sync().ok());
    ExpectDataThenZeros(path, expect);
  }
  ExpectDataThenZeros(path, expect);
  // Reopened (buffered) and direct again: the last partial block is carried over.
  std::shared_ptr<File> f = OpenDirect(path);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Truncate(expect.size()).ok());
  const std::string more = Pattern(5000, 99);
  ASSERT_TRUE(f->Append(more).ok());
  ASSERT_TRUE(f->Sync().ok());
  expect += more;
  ExpectDataThenZeros(path, expect);
}

// A closed file's buffers (huge pages, kept for the next direct-write file) still hold its
// bytes: the next files must write only their own, padded with zeros, whichever buffer they get
// (larger than they need, or grown past it).
TEST(DirectWrites, BuffersOfAClosedFileLeaveNoBytesInTheNext) {
  TempDir dir;
  const std::string first = Pattern(5 << 20, 1);  // grows both buffers past their 2 MiB
  {
    std::shared_ptr<File> f = OpenDirect(dir.path() + "/a");
    if (f == nullptr) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
    for (size_t at = 0; at < first.size(); at += 700'001) {
      ASSERT_TRUE(f->Append(std::string_view(first).substr(at, 700'001)).ok());
      if (at % 3 == 0) ASSERT_TRUE(f->Sync().ok());
    }
    ASSERT_TRUE(f->Sync().ok());
  }
  ExpectDataThenZeros(dir.path() + "/a", first);
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir.path() + "/b" + std::to_string(i);
    const std::string data = Pattern(i == 2 ? (3 << 20) + 5 : 100 + i, 2 + i);
    {
      std::shared_ptr<File> f = OpenDirect(path);
      ASSERT_NE(f, nullptr);
      // In three writes: the second and third go from the other buffer, which held the closed
      // file's bytes.
      for (size_t at = 0; at < data.size(); at += data.size() / 3 + 1) {
        ASSERT_TRUE(f->Append(std::string_view(data).substr(at, data.size() / 3 + 1)).ok());
        ASSERT_TRUE(f->Sync().ok());
      }
    }
    ExpectDataThenZeros(path, data);
  }
}

TEST(DirectWrites, ASyncThreadRacingTheAppenderLosesNothing) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  std::shared_ptr<File> f = OpenDirect(path);
  if (f == nullptr) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
  ASSERT_TRUE(f->Preallocate(256 << 10).ok());
  std::atomic<bool> done{false};
  std::atomic<int> syncs{0};
  std::thread syncer([&] {
    while (!done.load()) {
      EXPECT_TRUE(f->Sync().ok());
      ++syncs;
    }
  });
  std::string expect;
  for (int i = 0; i < 3000; ++i) {
    const std::string piece = Pattern(1 + static_cast<size_t>(i * 37) % 3000, static_cast<uint32_t>(i));
    ASSERT_TRUE(f->Append(piece).ok());
    expect += piece;
    // The zero fill runs ahead of the appends concurrently, as on the journal's checkpoint thread.
    if (i % 500 == 0) { ASSERT_TRUE(f->Preallocate(f->Size() + (1 << 20)).ok()); }
  }
  done = true;
  syncer.join();
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_GT(syncs.load(), 0);
  ExpectDataThenZeros(path, expect);
  EXPECT_GE(f->AllocatedSize(), f->Size());
}

TEST(DirectWrites, PreallocatedZerosAreOverwrittenNotAppendedAfter) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  std::shared_ptr<File> f = OpenDirect(path);
  if (f == nullptr) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
  Result<uint64_t> zeroed = f->Preallocate(1 << 20);
  ASSERT_TRUE(zeroed.ok());
  EXPECT_GE(*zeroed, uint64_t{1} << 20);
  EXPECT_EQ(f->Size(), 0u);
  const std::string data = Pattern(10000, 3);
  ASSERT_TRUE(f->Append(data).ok());
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(f->Size(), data.size());
  EXPECT_EQ(std::filesystem::file_size(path), *zeroed) << "the appends went past the zeros";
  ExpectDataThenZeros(path, data);
}

TEST(DirectWrites, RecycledFileKeepsOldBytesOnlyPastTheNewData) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  const std::string old(100000, 'x');
  {
    std::shared_ptr<File> f = Env::Default()->OpenFile(path, true).value();
    ASSERT_TRUE(f->Append(old).ok());
    ASSERT_TRUE(f->Sync().ok());
  }
  std::shared_ptr<File> f = Env::Default()->OpenFile(path, false).value();
  ASSERT_TRUE(f->Recycle().ok());
  if (!f->EnableDirectWrites()) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
  const std::string data = Pattern(5000, 5);
  ASSERT_TRUE(f->Append(data).ok());
  ASSERT_TRUE(f->Sync().ok());
  const std::string disk = ReadWholeFile(path);
  ASSERT_EQ(disk.size(), old.size());
  EXPECT_TRUE(disk.compare(0, data.size(), data) == 0);
  // The rest of the last written block is zeros, then the old file's bytes.
  EXPECT_EQ(disk.find_first_not_of('\0', data.size()), size_t{8192});
  EXPECT_EQ(disk.find_first_not_of('x', 8192), std::string::npos);
}

TEST(DirectWrites, UnsyncedBytesAreWrittenBehindPastTheBound) {
  TempDir dir;
  const std::string path = dir.path() + "/f";
  std::shared_ptr<File> f = OpenDirect(path);
  if (f == nullptr) GTEST_SKIP() << "no O_DIRECT on " << dir.path();
  // Never synced (acks=1 traffic within the flush interval): memory must not hold all of it.
  const std::string piece = Pattern(64 << 10, 11);
  for (int i = 0; i < 320; ++i) ASSERT_TRUE(f->Append(piece).ok());  // 20 MiB
  EXPECT_GE(std::filesystem::file_size(path), uint64_t{16} << 20);
}

}  // namespace
}  // namespace ec::log
