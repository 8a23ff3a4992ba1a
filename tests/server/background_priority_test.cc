// RocksDB's background threads (flushes: rocksdb:high, compactions: rocksdb:low) run at nice 19
// once LowerRocksDbBackgroundPriority was called (server/background_priority.h).

#include "server/background_priority.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "log/test_util.h"

namespace ec::server {
namespace {

// The nice value of each of this process's threads named `prefix`*, by thread id.
std::map<std::string, int> NiceOfThreads(const std::string& prefix) {
  std::map<std::string, int> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(prefix, 0) != 0) continue;
    std::ifstream stat(t.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 19; ++i) fields >> f;  // field 19: nice
    out[name + "/" + t.path().filename().string()] = std::stoi(f);
  }
  return out;
}

TEST(BackgroundPriority, RocksDbFlushAndCompactionThreadsRunAtNice19) {
  if (const char* e = std::getenv("EC_ROCKSDB_BACKGROUND_PRIORITY"); e && std::string(e) == "normal")
    GTEST_SKIP() << "EC_ROCKSDB_BACKGROUND_PRIORITY=normal";
  LowerRocksDbBackgroundPriority();
  log::testing::TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.path() + "/db", &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  // Two flushes (the high pool) and a compaction of their files (the low pool): a pool thread
  // takes the lowered priority before its next job.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->Put({}, "k" + std::to_string(i), "v" + std::to_string(round)).ok());
    ASSERT_TRUE(db->Flush({}).ok());
  }
  rocksdb::CompactRangeOptions cro;
  cro.exclusive_manual_compaction = true;
  ASSERT_TRUE(db->CompactRange(cro, nullptr, nullptr).ok());
  const std::map<std::string, int> threads = NiceOfThreads("rocksdb:");
  bool high = false, low = false;
  for (const auto& [name, nice] : threads) {
    EXPECT_EQ(nice, 19) << name;
    high |= name.rfind("rocksdb:high", 0) == 0;
    low |= name.rfind("rocksdb:low", 0) == 0;
  }
  EXPECT_TRUE(high) << "no flush thread seen";
  EXPECT_TRUE(low) << "no compaction thread seen";
}

}  // namespace
}  // namespace ec::server
