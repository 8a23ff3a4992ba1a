// The RocksDB store's background writer (RocksStateOptions::background_writes): deferred states
// are written to RocksDB on the store's own thread while passes go on reading, writing,
// committing and discarding. Whatever the interleaving, the store must answer as a memory store
// with TxnStateStore's own overlay does, the checkpoint must go with the states it belongs to,
// and a key committed again while its older state is being written keeps the newer one.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"

namespace ec::cdc {
namespace {

std::filesystem::path FreshDir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_bg_" + std::to_string(getpid()) + "_" + tag);
  std::filesystem::remove_all(dir);
  return dir;
}

void ExpectSame(StateStore* got, StateStore* want, int keys, const std::string& where) {
  for (int k = 0; k < keys; ++k) {
    auto a = got->Get("order", std::to_string(k));
    auto b = want->Get("order", std::to_string(k));
    ASSERT_TRUE(a.ok() && b.ok()) << where;
    ASSERT_EQ(a->has_value(), b->has_value()) << where << " key " << k;
    if (!a->has_value()) continue;
    EXPECT_EQ((*a)->deleted, (*b)->deleted) << where << " key " << k;
    EXPECT_EQ((*a)->ts_ms, (*b)->ts_ms) << where << " key " << k;
    EXPECT_EQ((*a)->value, (*b)->value) << where << " key " << k;
  }
}

TEST(StateBackgroundWrite, AgreesWithTheMemoryStoreWhileWritesRunBehindThePasses) {
  // defer_bytes tiny and defer_ms 0: nearly every commit hands a write to the writer thread,
  // and most commits find one still running.
  // The same without the writer thread (the commit writes), as a reference.
  for (int config = 0; config < 4; ++config) {
    const size_t cache_bytes = config == 0 ? 0 : config == 1 ? 4000 : size_t{1} << 20;
    const auto dir = FreshDir(std::to_string(config));
    const RocksStateOptions options{.cache_bytes = cache_bytes, .defer_bytes = 64, .defer_ms = 0,
                                    .background_writes = config != 3};
    MemoryStateStore mem;
    TxnStateStore mem_txn(&mem);
    std::mt19937 rng(static_cast<uint32_t>(cache_bytes) + 11);
    const int kKeys = 30;
    int64_t offset = 0;
    {
      auto rocks = std::move(OpenRocksStateStore(dir.string(), options)).value();
      auto txn = std::make_unique<TxnStateStore>(rocks.get());
      for (int step = 0; step < 6000; ++step) {
        const std::string key = std::to_string(rng() % kKeys);
        const std::string where = "config " + std::to_string(config) + " step " + std::to_string(step);
        StoredState st{rng() % 7 == 0, step, "{\"v\":" + std::to_string(step) + "}"};
        const unsigned op = rng() % 20;
        if (op < 8) {  // the stage: read, then write the same key
          auto a = txn->Get("order", key);
          auto b = mem_txn.Get("order", key);
          ASSERT_TRUE(a.ok() && b.ok()) << where;
          ASSERT_EQ(a->has_value(), b->has_value()) << where;
          if (a->has_value()) { ASSERT_EQ((*a)->value, (*b)->value) << where; }
          ASSERT_TRUE(txn->Put("order", key, st).ok());
          ASSERT_TRUE(mem_txn.Put("order", key, st).ok());
        } else if (op < 10) {  // committed reads
          auto a = rocks->Get("order", key);
          auto b = mem.Get("order", key);
          ASSERT_TRUE(a.ok() && b.ok()) << where;
          ASSERT_EQ(a->has_value(), b->has_value()) << where;
          if (a->has_value()) { ASSERT_EQ((*a)->value, (*b)->value) << where; }
        } else if (op < 15) {  // the pass ends, mostly committed
          if (op < 14) {
            ++offset;
            ASSERT_TRUE(txn->Commit("cp", offset).ok()) << where;
            ASSERT_TRUE(mem_txn.Commit("cp", offset).ok());
            ASSERT_EQ(rocks->Checkpoint("cp").value(), std::optional<int64_t>(offset)) << where;
          } else {
            txn->Discard();
            mem_txn.Discard();
          }
        } else if (op == 15) {  // a direct write waits for the writer, then writes at once
          ASSERT_TRUE(rocks->Put("order", key, st).ok());
          ASSERT_TRUE(mem.Put("order", key, st).ok());
        } else if (op == 16) {  // catch-up's path: states with a checkpoint, deferred
          std::vector<StateWrite> writes{{EncodeKey("order", key), st}};
          if (rng() % 3 == 0) writes.emplace_back(EncodeKey("order", std::to_string(rng() % kKeys)), StatePtr());
          ++offset;
          ASSERT_TRUE(rocks->Apply(writes, "cp", offset).ok());
          ASSERT_TRUE(mem.Apply(writes, "cp", offset).ok());
        } else if (op == 17) {  // List writes everything pending first
          ASSERT_EQ(txn->List("order", "", 1000).value(), mem_txn.List("order", "", 1000).value()) << where;
        } else if (op == 18 && rng() % 20 == 0) {
          ASSERT_TRUE(txn->ClearResource("order").ok());
          ASSERT_TRUE(mem_txn.ClearResource("order").ok());
        } else if (op == 19 && rng() % 50 == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the writer catch up
        }
      }
      txn->Discard();
      mem_txn.Discard();
      ExpectSame(rocks.get(), &mem, kKeys, "before close");
      EXPECT_EQ(rocks->Checkpoint("cp").value(), mem.Checkpoint("cp").value());
      txn.reset();
    }
    auto reopened = std::move(OpenRocksStateStore(dir.string(), options)).value();
    ExpectSame(reopened.get(), &mem, kKeys, "after reopen");
    EXPECT_EQ(reopened->Checkpoint("cp").value(), mem.Checkpoint("cp").value());
    reopened.reset();
    std::filesystem::remove_all(dir);
  }
}

// A key committed again while the writer writes its older state: the newer one stays pinned
// (read from the map) and is what RocksDB holds in the end, with the last checkpoint.
TEST(StateBackgroundWrite, AKeyCommittedDuringAWriteKeepsItsNewerState) {
  const auto dir = FreshDir("repin");
  const RocksStateOptions options{.cache_bytes = 0, .defer_bytes = 1, .defer_ms = 0, .background_writes = true};
  {
    auto rocks = std::move(OpenRocksStateStore(dir.string(), options)).value();
    TxnStateStore txn(rocks.get());
    for (int i = 1; i <= 500; ++i) {
      // Large states, so that the write of one commit is often still running at the next.
      std::string big(20000, 'a' + i % 26);
      ASSERT_TRUE(txn.Put("order", "k", StoredState{false, i, "\"" + big + std::to_string(i) + "\""}).ok());
      ASSERT_TRUE(txn.Put("order", "j" + std::to_string(i % 7), StoredState{false, i, std::to_string(i)}).ok());
      ASSERT_TRUE(txn.Commit("cp", i).ok());
      auto k = rocks->Get("order", "k");
      ASSERT_TRUE(k.ok() && k->has_value());
      ASSERT_EQ((*k)->ts_ms, i);  // never an older state, whatever the writer is doing
    }
  }
  auto reopened = std::move(OpenRocksStateStore(dir.string(), options)).value();
  auto k = reopened->Get("order", "k");
  ASSERT_TRUE(k.ok() && k->has_value());
  EXPECT_EQ((*k)->ts_ms, 500);
  for (int j = 0; j < 7; ++j) {
    auto v = reopened->Get("order", "j" + std::to_string(j));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ((*v)->ts_ms, 500 - (500 - j) % 7) << j;
  }
  EXPECT_EQ(reopened->Checkpoint("cp").value(), std::optional<int64_t>(500));
  reopened.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::cdc
