// One key's steps under one hold of the RocksDB store's lock (StateStore::BeginKeySteps, used
// by the changelog stage): the steps themselves run (no second lock of the same mutex), and
// another thread's call into the store waits for EndKeySteps instead of running between them.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"

namespace ec::cdc {
namespace {

TEST(StateKeySteps, AnotherThreadsCallWaitsForTheEndOfTheKeysSteps) {
  const auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_key_steps_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto rocks = std::move(OpenRocksStateStore(dir.string())).value();
    ASSERT_TRUE(rocks->Put("order", "a", StoredState{false, 1, "{\"v\":1}"}).ok());
    TxnStateStore txn(rocks.get());
    const std::string encoded = EncodeKey("order", "a");
    const uint64_t hash = StateKeyHash(encoded);

    std::atomic<bool> read_done{false};
    std::thread reader;
    {
      KeyStepsScope steps(&txn);
      txn.PrefetchEntry(encoded, hash);
      txn.PrefetchState(encoded, hash);
      // A committed read (the admin API's) from another thread while the steps hold the lock.
      reader = std::thread([&] {
        (void)rocks->Get("order", "a");
        read_done = true;
      });
      Result<StatePtr> got = txn.Lookup(encoded);
      ASSERT_TRUE(got.ok());
      ASSERT_NE(*got, nullptr);
      EXPECT_EQ((*got)->value(), "{\"v\":1}");
      ASSERT_TRUE(txn.Store(encoded, EncodedState::Make(StoredState{false, 2, "{\"v\":2}"})).ok());
      // Without the hold the read would run at once; with it, it cannot finish before End.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      EXPECT_FALSE(read_done.load()) << "the read ran between the key's steps";
      steps.End();
      steps.End();  // a second End does nothing
    }
    reader.join();
    EXPECT_TRUE(read_done.load());
    // The pass sees its write; the committed view does not until the pass commits.
    EXPECT_EQ(txn.Get("order", "a").value()->ts_ms, 2);
    EXPECT_EQ(rocks->Get("order", "a").value()->ts_ms, 1);
    ASSERT_TRUE(txn.Commit("cp", 1).ok());
    EXPECT_EQ(rocks->Get("order", "a").value()->ts_ms, 2);
    // A scope left by an early return (the stage's dead letters) releases the lock too.
    {
      KeyStepsScope steps(&txn);
      ASSERT_TRUE(txn.Lookup(encoded).ok());
    }
    EXPECT_EQ(rocks->Get("order", "a").value()->ts_ms, 2);
  }
  std::filesystem::remove_all(dir);
}

TEST(StateKeySteps, AStoreWithoutALockIgnoresThem) {
  MemoryStateStore mem;
  TxnStateStore txn(&mem);
  KeyStepsScope steps(&txn);
  const std::string encoded = EncodeKey("order", "a");
  ASSERT_TRUE(txn.Store(encoded, EncodedState::Make(StoredState{false, 3, "{}"})).ok());
  EXPECT_EQ(txn.Lookup(encoded).value()->ts_ms(), 3);
  EXPECT_FALSE(mem.Get("order", "a").value().has_value());
}

}  // namespace
}  // namespace ec::cdc
