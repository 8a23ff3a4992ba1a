// Both StateStores: get/put, deleted markers, paged key listing; RocksDB survives a reopen.
#include "cdc/state_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace ec::cdc {
namespace {

// "resource/key" of an encoded key, for failure messages.
std::string PrintableState(std::string_view encoded) {
  std::string out(encoded);
  std::replace(out.begin(), out.end(), '\0', '/');
  return out;
}

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
  // LookupMany (one sorted MultiGet for what the map does not hold) answers what Lookup does,
  // key by key, in the caller's order: stored, deleted and never-stored keys mixed, unsorted,
  // a key twice in a batch, and keys already read above next to ones not read yet.
  std::vector<std::string> keys;
  for (int i = 0; i < kStates; i += 37) {
    keys.push_back(EncodeKey("order", "o-" + std::to_string(kStates - 1 - i)));
    keys.push_back(EncodeKey("order", "y-" + std::to_string(i)));
    if (i % 5 == 0) keys.push_back(keys[keys.size() - 2]);
  }
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<StatePtr> many;
  ASSERT_TRUE((*s)->LookupMany(views, &many).ok());
  ASSERT_EQ(many.size(), keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    auto one = (*s)->Lookup(keys[k]);
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(many[k] == nullptr, *one == nullptr) << k;
    if (many[k] != nullptr) {
      EXPECT_EQ(many[k]->bytes(), (*one)->bytes()) << k;
    }
  }
  // Closed first: an open store's compactions delete table files while remove_all walks the
  // directory, and remove_all then throws on the file it listed (seen in StateStoreFlushStress).
  s->reset();
  std::filesystem::remove_all(dir);
}

// Level-0 files are compacted at sixteen (rocks_state_store.cc): a store that flushed fewer
// keeps each flush as its own file, and a lookup finds every key's newest state among them
// (each key is written in several flushes), before and after a reopen; keys never stored
// are absent. Eight L0 files would have been merged into one L1 file while the states were
// written.
TEST(StateStore, RocksDbKeepsUpToSixteenLevelZeroFilesAndReadsTheNewest) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_l0_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const RocksStateOptions small{
      .cache_bytes = 0, .defer_bytes = 0, .defer_ms = 1000, .rocksdb_memory_bytes = size_t{1} << 20, .background_writes = true};
  const int kKeys = 2500, kVersions = 4;
  auto value_of = [](int key, int version) {
    return R"({"id":"o-)" + std::to_string(key) + R"(","v":)" + std::to_string(version) + R"(,"pad":")" +
           std::string(200 + key % 100, 'p') + "\"}";
  };
  auto sst_files = [&] {
    int n = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) n += f.path().extension() == ".sst";
    return n;
  };
  auto expect_newest = [&](StateStore* s) {
    for (int k = 0; k < kKeys; ++k) {
      auto got = s->Get("order", "o-" + std::to_string(k));
      ASSERT_TRUE(got.ok() && got->has_value()) << "o-" << k;
      EXPECT_EQ((*got)->ts_ms, kVersions - 1);
      EXPECT_EQ((*got)->value, value_of(k, kVersions - 1)) << "o-" << k;
      auto absent = s->Get("order", "x-" + std::to_string(k));
      ASSERT_TRUE(absent.ok());
      EXPECT_FALSE(absent->has_value()) << "x-" << k;
    }
  };
  {
    auto s = OpenRocksStateStore(dir.string(), small);
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (int v = 0; v < kVersions; ++v) {
      for (int k = 0; k < kKeys; ++k) {
        ASSERT_TRUE((*s)->Put("order", "o-" + std::to_string((k * 7919) % kKeys), {false, v, value_of((k * 7919) % kKeys, v)}).ok());
      }
    }
    expect_newest(s->get());
  }
  // Closed: the memtables flushed. Every flush is still a file of its own.
  const int files = sst_files();
  EXPECT_GE(files, 9);
  EXPECT_LE(files, 16);
  auto s = OpenRocksStateStore(dir.string(), small);
  ASSERT_TRUE(s.ok()) << s.status().message();
  expect_newest(s->get());
  s->reset();
  std::filesystem::remove_all(dir);
}

// The same through a store with its state cache on, after a reopen: the cache holds some keys
// (read once before), LookupMany reads the rest in one batch and caches them like Lookup.
TEST(StateStore, RocksDbLookupManyMatchesLookup) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_many_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const int kStates = 3000;
  {
    auto s = OpenRocksStateStore(dir.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    for (int i = 0; i < kStates; ++i) {
      ASSERT_TRUE((*s)->Put("order", "o-" + std::to_string(i), {i % 3 == 0, i, i % 3 == 0 ? "" : "{\"i\":" + std::to_string(i) + "}"}).ok());
    }
  }
  auto s = OpenRocksStateStore(dir.string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  for (int i = 0; i < kStates; i += 2) ASSERT_TRUE((*s)->Lookup(EncodeKey("order", "o-" + std::to_string(i))).ok());
  std::vector<std::string> keys;
  for (int i = kStates + 10; i >= 0; i -= 3) keys.push_back(EncodeKey("order", "o-" + std::to_string(i)));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<StatePtr> many;
  ASSERT_TRUE((*s)->LookupMany(views, &many).ok());
  ASSERT_EQ(many.size(), keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    const int i = kStates + 10 - 3 * static_cast<int>(k);
    if (i >= kStates) {
      EXPECT_EQ(many[k], nullptr) << i;
      continue;
    }
    ASSERT_NE(many[k], nullptr) << i;
    EXPECT_EQ(many[k]->ts_ms(), i);
    EXPECT_EQ(many[k]->deleted(), i % 3 == 0);
    if (i % 3 != 0) {
      EXPECT_EQ(many[k]->value(), "{\"i\":" + std::to_string(i) + "}");
    }
  }
  MemoryStateStore memory;  // the default: a Lookup per key
  ASSERT_TRUE(memory.Put("order", "o-1", {false, 1, "{}"}).ok());
  ASSERT_TRUE(memory.LookupMany({std::string_view("order\0o-2", 9), std::string_view("order\0o-1", 9)}, &many).ok());
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[0], nullptr);
  ASSERT_NE(many[1], nullptr);
  EXPECT_EQ(many[1]->ts_ms(), 1);
  s->reset();  // closed before its directory goes (see RocksDbLargerThanItsCacheFindsEveryState)
  std::filesystem::remove_all(dir);
}

// Reads answered from the memtables (no reopen in between), which are sorted runs
// (rocks/sorted_run_rep.h): each job's states go in in key order, later jobs rewrite and delete
// keys of earlier ones (the same user key at several sequence numbers in one memtable), direct
// Stores come in random order (a run per key), and the 256 KiB memtables (1 MiB budget) fill
// and flush in between. Every Lookup, LookupMany and List matches the in-memory store given the
// same writes, before and after ClearResource (a range deletion over memtable entries) and after
// a reopen.
TEST(StateStore, RocksDbMemtableReadsMatchTheMemoryStore) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_memtable_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const RocksStateOptions options{
      .cache_bytes = 0, .defer_bytes = 0, .defer_ms = 1000, .rocksdb_memory_bytes = size_t{1} << 20, .background_writes = true};
  auto opened = OpenRocksStateStore(dir.string(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<StateStore> rocks = std::move(*opened);
  MemoryStateStore memory;
  const int kKeys = 3000;
  auto key_of = [](int k) { return EncodeKey(k % 3 == 0 ? "customer" : "order", "k-" + std::to_string(k)); };
  auto check = [&](const char* when) {
    std::vector<std::string> keys;
    for (int k = 0; k < kKeys + 50; k += 7) keys.push_back(key_of(k));  // the last ones never written
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<StatePtr> many;
    ASSERT_TRUE(rocks->LookupMany(views, &many).ok()) << when;
    ASSERT_EQ(many.size(), keys.size()) << when;
    for (size_t i = 0; i < keys.size(); ++i) {
      auto want = memory.Lookup(keys[i]);
      auto got = rocks->Lookup(keys[i]);
      ASSERT_TRUE(want.ok() && got.ok()) << when;
      ASSERT_EQ(*want == nullptr, *got == nullptr) << when << " " << PrintableState(keys[i]);
      ASSERT_EQ(*want == nullptr, many[i] == nullptr) << when << " " << PrintableState(keys[i]);
      if (*want != nullptr) {
        EXPECT_EQ((*want)->bytes(), (*got)->bytes()) << when << " " << PrintableState(keys[i]);
        EXPECT_EQ((*want)->bytes(), many[i]->bytes()) << when << " " << PrintableState(keys[i]);
      }
    }
    for (const char* resource : {"order", "customer"}) {
      EXPECT_EQ(rocks->List(resource, "", 100000).value(), memory.List(resource, "", 100000).value()) << when;
    }
  };
  uint64_t x = 88172645463325252ull;
  for (int job = 0; job < 40; ++job) {
    std::vector<StateWrite> writes;
    for (int n = 0; n < 150; ++n) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const int k = static_cast<int>(x % kKeys);
      const std::string pad((x >> 32) % 400, 'p');
      writes.emplace_back(key_of(k), StoredState{job % 5 == 4 && n % 4 == 0, job, "{\"j\":" + std::to_string(job) + ",\"p\":\"" + pad + "\"}"});
    }
    // One state per key in a job (as a pass commits), in key order (as the writer writes them).
    std::sort(writes.begin(), writes.end(), [](const StateWrite& a, const StateWrite& b) { return a.encoded_key < b.encoded_key; });
    writes.erase(std::unique(writes.begin(), writes.end(),
                             [](const StateWrite& a, const StateWrite& b) { return a.encoded_key == b.encoded_key; }),
                 writes.end());
    ASSERT_TRUE(rocks->Apply(writes, "cp", job).ok());
    ASSERT_TRUE(memory.Apply(writes, "cp", job).ok());
    if (job % 10 == 9) {  // direct writes in random order, then everything read back
      for (int n = 0; n < 100; ++n) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const StoredState st{false, 1000 + n, "{\"n\":" + std::to_string(n) + "}"};
        ASSERT_TRUE(rocks->Put("order", "k-" + std::to_string(x % kKeys), st).ok());
        ASSERT_TRUE(memory.Put("order", "k-" + std::to_string(x % kKeys), st).ok());
      }
      check("after the writes");
    }
  }
  ASSERT_TRUE(rocks->ClearResource("customer").ok());
  ASSERT_TRUE(memory.ClearResource("customer").ok());
  check("after ClearResource");
  rocks.reset();
  opened = OpenRocksStateStore(dir.string(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  rocks = std::move(*opened);
  check("after a reopen");
  rocks.reset();
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

// The child of the kill tests: commits kKilledBatches times (every key at time i, checkpoint i),
// then exits with the store neither closed nor flushed.
[[noreturn]] void CommitThenDie(const char* dir, const RocksStateOptions& options) {
  auto s = OpenRocksStateStore(dir, options);
  if (!s.ok()) _exit(2);
  for (int b = 0; b < kKilledBatches; ++b) {
    std::vector<StateWrite> writes;
    for (int k = 0; k < kKilledKeys; ++k) {
      writes.emplace_back(EncodeKey("order", "o-" + std::to_string(k)), StoredState{false, b, KilledValue(b, k)});
    }
    if (!(*s)->Apply(writes, "cp", b).ok()) _exit(3);
  }
  _exit(0);
}

// Runs `test` of this binary again as the child (CommitThenDie), with `env` naming `dir`, and
// waits for it.
::testing::AssertionResult RunKilledChild(const char* env, const char* test, const std::filesystem::path& dir) {
  const pid_t child = fork();
  if (child < 0) return ::testing::AssertionFailure() << "fork failed";
  if (child == 0) {
    setenv(env, dir.c_str(), 1);
    const std::string filter = std::string("--gtest_filter=") + test;
    execl("/proc/self/exe", "/proc/self/exe", filter.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return ::testing::AssertionFailure() << "waitpid failed";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return ::testing::AssertionFailure() << "child status " << status;
  return ::testing::AssertionSuccess();
}

// Opens the store a killed child left in `dir` and reads its checkpoint "cp" into *b, which
// must be one of the child's commits.
::testing::AssertionResult ReopenAtCheckpoint(const std::filesystem::path& dir, const RocksStateOptions& options,
                                              std::unique_ptr<StateStore>* store, int* b) {
  auto s = OpenRocksStateStore(dir.string(), options);
  if (!s.ok()) return ::testing::AssertionFailure() << s.status().message();
  auto cp = (*s)->Checkpoint("cp");
  if (!cp.ok() || !cp->has_value()) return ::testing::AssertionFailure() << "no checkpoint";
  *b = static_cast<int>(**cp);
  if (*b < 0 || *b >= kKilledBatches) return ::testing::AssertionFailure() << "checkpoint " << *b;
  *store = std::move(*s);
  return ::testing::AssertionSuccess();
}

TEST(StateStore, RocksDbKilledOpenKeepsStatesTrueToItsCheckpoint) {
  if (const char* child_dir = std::getenv(kKilledChildEnv)) CommitThenDie(child_dir, kKilledOptions);
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_killed_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(RunKilledChild(kKilledChildEnv, "StateStore.RocksDbKilledOpenKeepsStatesTrueToItsCheckpoint", dir));

  // Writes stall while two memtables wait for their flush, so the first batches are on disk.
  std::unique_ptr<StateStore> s;
  int b = -1;
  ASSERT_TRUE(ReopenAtCheckpoint(dir, kKilledOptions, &s, &b));
  for (int k = 0; k < kKilledKeys; ++k) {
    auto got = s->Get("order", "o-" + std::to_string(k));
    ASSERT_TRUE(got.ok() && got->has_value()) << "o-" << k;
    EXPECT_EQ((*got)->ts_ms, b) << "o-" << k;
    EXPECT_EQ((*got)->value, KilledValue(b, k)) << "o-" << k;
  }
  std::cout << "reopened at batch " << b << " of " << kKilledBatches << "\n";
  s.reset();
  std::filesystem::remove_all(dir);
}

// The same with each commit's states written in WriteBatches of 8 KiB (~7 per commit, the
// checkpoint in the last; rocks_state_store.cc WriteSorted), so memtables end, and the process
// dies, between the batches of one commit: the reopened store's checkpoint b has every state of
// commit b or, for a prefix of the keys in key order (the batches' order), of commit b + 1,
// whose checkpoint is not on disk; the catch-up after b rewrites those. Fails when the
// checkpoint goes in the first batch (then keys of the checkpoint's commit are older).
constexpr char kBetweenChildEnv[] = "EC_TEST_STATE_BETWEEN_CHILD";
const RocksStateOptions kBetweenOptions{.cache_bytes = size_t{1} << 20,
                                        .defer_bytes = 0,
                                        .defer_ms = 0,
                                        .rocksdb_memory_bytes = size_t{1} << 20,
                                        .background_writes = true,
                                        .write_batch_bytes = size_t{8} << 10};

TEST(StateStore, RocksDbKilledBetweenBatchesKeepsTheCheckpointsStates) {
  if (const char* child_dir = std::getenv(kBetweenChildEnv)) CommitThenDie(child_dir, kBetweenOptions);
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_state_between_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(RunKilledChild(kBetweenChildEnv, "StateStore.RocksDbKilledBetweenBatchesKeepsTheCheckpointsStates", dir));

  std::unique_ptr<StateStore> s;
  int b = -1;
  ASSERT_TRUE(ReopenAtCheckpoint(dir, kBetweenOptions, &s, &b));
  std::vector<std::string> keys;
  for (int k = 0; k < kKilledKeys; ++k) keys.push_back("o-" + std::to_string(k));
  std::sort(keys.begin(), keys.end());  // the batches' order (same resource: key order)
  int newer = 0;
  for (const std::string& key : keys) {
    auto got = s->Get("order", key);
    ASSERT_TRUE(got.ok() && got->has_value()) << key;
    const int k = std::stoi(key.substr(2));
    const int64_t ts = (*got)->ts_ms;
    ASSERT_TRUE(ts == b || ts == b + 1) << key << " at " << ts << ", checkpoint " << b;
    EXPECT_EQ((*got)->value, KilledValue(static_cast<int>(ts), k)) << key;
    if (ts == b + 1) {
      EXPECT_EQ(newer, &key - keys.data()) << key << ": commit " << b + 1 << "'s states are not a prefix";
      ++newer;
    }
  }
  std::cout << "reopened at checkpoint " << b << " of " << kKilledBatches << ", " << newer << " of " << kKilledKeys
            << " keys already of commit " << b + 1 << "\n";
  s.reset();
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
