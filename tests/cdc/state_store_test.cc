// Both StateStores: get/put, deleted markers, paged key listing; RocksDB survives a reopen.
#include "cdc/state_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace ec::cdc {
namespace {

void Exercise(StateStore* s) {
  EXPECT_FALSE(s->Get("order", "o-1")->has_value());
  ASSERT_TRUE(s->Put("order", "o-2", {false, 20, R"({"id":"o-2"})"}).ok());
  ASSERT_TRUE(s->Put("order", "o-1", {false, 10, R"({"id":"o-1"})"}).ok());
  ASSERT_TRUE(s->Put("order", "o-3", {true, 30, ""}).ok());
  ASSERT_TRUE(s->Put("order", "o-4", {false, 40, "{}"}).ok());
  ASSERT_TRUE(s->Put("orderx", "a", {false, 1, "{}"}).ok());  // a resource sharing the prefix
  ASSERT_TRUE(s->Put("customer", "c-1", {false, 5, "{}"}).ok());
  auto got = s->Get("order", "o-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->ts_ms, 10);
  EXPECT_EQ((*got)->value, R"({"id":"o-1"})");
  EXPECT_TRUE(s->Get("order", "o-3").value()->deleted);
  EXPECT_EQ(s->List("order", "", 10).value(), (std::vector<std::string>{"o-1", "o-2", "o-4"}));
  EXPECT_EQ(s->List("order", "", 2).value(), (std::vector<std::string>{"o-1", "o-2"}));
  EXPECT_EQ(s->List("order", "o-2", 2).value(), (std::vector<std::string>{"o-4"}));
  EXPECT_EQ(s->List("customer", "", 10).value(), (std::vector<std::string>{"c-1"}));
  EXPECT_TRUE(s->List("nothing", "", 10).value().empty());
}

TEST(StateStore, Memory) {
  MemoryStateStore s;
  Exercise(&s);
}

TEST(StateStore, RocksDbSurvivesReopen) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto s = OpenRocksStateStore(dir.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    Exercise(s->get());
  }
  {
    auto s = OpenRocksStateStore(dir.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    auto got = (*s)->Get("order", "o-2");
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->ts_ms, 20);
    EXPECT_EQ((*s)->List("order", "", 10).value(), (std::vector<std::string>{"o-1", "o-2", "o-4"}));
  }
  std::filesystem::remove_all(dir);
}

// A store larger than its block cache, in table files with many index and filter partitions
// (rocks_state_store.cc): every state stored is found again after a reopen, with the state
// cache off so each lookup reads the files, and keys never stored are absent.
TEST(StateStore, RocksDbLargerThanItsCacheFindsEveryState) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_large_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const RocksStateOptions small{
      .cache_bytes = 0, .defer_bytes = 0, .defer_ms = 1000, .rocksdb_memory_bytes = size_t{1} << 20, .background_writes = true};
  const int kStates = 40000;
  auto value_of = [](int i) { return R"({"id":"o-)" + std::to_string(i) + R"(","pad":")" + std::string(i % 300, 'p') + "\"}"; };
  {
    auto s = OpenRocksStateStore(dir.string(), small);
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (int i = 0; i < kStates; ++i) {
      ASSERT_TRUE((*s)->Put("order", "o-" + std::to_string(i), {i % 7 == 0, i, i % 7 == 0 ? "" : value_of(i)}).ok());
    }
  }
  auto s = OpenRocksStateStore(dir.string(), small);
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < kStates; ++i) {
    auto got = (*s)->Get("order", "o-" + std::to_string(i));
    ASSERT_TRUE(got.ok() && got->has_value()) << "o-" << i;
    EXPECT_EQ((*got)->ts_ms, i);
    EXPECT_EQ((*got)->deleted, i % 7 == 0);
    if (i % 7 != 0) {
      EXPECT_EQ((*got)->value, value_of(i)) << "o-" << i;
    }
    auto absent = (*s)->Get("order", "x-" + std::to_string(i));
    ASSERT_TRUE(absent.ok());
    EXPECT_FALSE(absent->has_value()) << "x-" << i;
  }
  std::filesystem::remove_all(dir);
}

// A process killed with the store open (no close, so no flush at shutdown) leaves RocksDB with
// the states of a prefix of its batches and that prefix's last checkpoint (rocks_state_store.cc:
// the writes skip RocksDB's write-ahead log; a crash keeps the flushed memtables): the checkpoint
// it reopens with is true of every state it holds, which is what lets the catch-up from the state
// topic after that checkpoint (state_topic.h) restore the rest. Batch i stores every key at time
// i with checkpoint i, written at once (each ~52 KB: a background writer would merge the
// batches of these few keys), into memtables of 256 KiB (the 1 MiB budget), ~12 of them; the
// child (this test binary again, run as the writer: a
// plain fork would inherit RocksDB's thread pools without their threads) exits right after its
// last commit.
constexpr char kKilledChildEnv[] = "EC_TEST_STATE_KILLED_CHILD";
constexpr int kKilledBatches = 60, kKilledKeys = 50;
const RocksStateOptions kKilledOptions{.cache_bytes = size_t{1} << 20,
                                       .defer_bytes = 0,
                                       .defer_ms = 0,
                                       .rocksdb_memory_bytes = size_t{1} << 20,
                                       .background_writes = true};
std::string KilledValue(int batch, int key) {
  return R"({"k":)" + std::to_string(key) + R"(,"b":)" + std::to_string(batch) + R"(,"pad":")" + std::string(1000, 'p') + "\"}";
}

TEST(StateStore, RocksDbKilledOpenKeepsStatesTrueToItsCheckpoint) {
  if (const char* child_dir = std::getenv(kKilledChildEnv)) {  // the child: write, then die
    auto s = OpenRocksStateStore(child_dir, kKilledOptions);
    if (!s.ok()) _exit(2);
    for (int b = 0; b < kKilledBatches; ++b) {
      std::vector<StateWrite> writes;
      for (int k = 0; k < kKilledKeys; ++k) {
        writes.emplace_back(EncodeKey("order", "o-" + std::to_string(k)), StoredState{false, b, KilledValue(b, k)});
      }
      if (!(*s)->Apply(writes, "cp", b).ok()) _exit(3);
    }
    _exit(0);  // killed: the store is neither closed nor flushed
  }
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_killed_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv(kKilledChildEnv, dir.c_str(), 1);
    execl("/proc/self/exe", "/proc/self/exe", "--gtest_filter=StateStore.RocksDbKilledOpenKeepsStatesTrueToItsCheckpoint",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  auto s = OpenRocksStateStore(dir.string(), kKilledOptions);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto cp = (*s)->Checkpoint("cp");
  ASSERT_TRUE(cp.ok());
  // Writes stall while two memtables wait for their flush, so the first batches are on disk.
  ASSERT_TRUE(cp->has_value());
  const int b = static_cast<int>(**cp);
  ASSERT_TRUE(b >= 0 && b < kKilledBatches) << b;
  for (int k = 0; k < kKilledKeys; ++k) {
    auto got = (*s)->Get("order", "o-" + std::to_string(k));
    ASSERT_TRUE(got.ok() && got->has_value()) << "o-" << k;
    EXPECT_EQ((*got)->ts_ms, b) << "o-" << k;
    EXPECT_EQ((*got)->value, KilledValue(b, k)) << "o-" << k;
  }
  std::cout << "reopened at batch " << b << " of " << kKilledBatches << "\n";
  s->reset();
  std::filesystem::remove_all(dir);
}

TEST(StateStore, EncodingRoundTripsAndRejectsGarbage) {
  StoredState st{false, 1795773600000, R"({"a":1})"};
  auto back = DecodeState(EncodeState(st));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->ts_ms, st.ts_ms);
  EXPECT_EQ(back->value, st.value);
  EXPECT_FALSE(DecodeState("").has_value());
  EXPECT_FALSE(DecodeState("x12345678").has_value());
}

}  // namespace
}  // namespace ec::cdc
