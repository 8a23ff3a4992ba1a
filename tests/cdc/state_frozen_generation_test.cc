// The frozen state generation of overlapped passes (TxnStateStore::Freeze, StateCache's frozen
// entries; docs/exactly-once.md "Overlapped passes"): while pass N's log transaction commits,
// pass N+1 reads and writes states over N's frozen ones. Random passes, freezes, commits of the
// frozen generation and aborts (which drop N and N+1 together) against a plain model of the
// three layers, for the RocksDB store's map (no cache, tiny, small, large; deferred, immediate
// and background writes) and TxnStateStore's own overlay over a memory store; then a reopen.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"

namespace ec::cdc {
namespace {

// What each layer holds: key -> state text ("" = no state / forgotten).
using Layer = std::map<std::string, std::optional<StoredState>>;

struct Model {
  Layer committed, frozen, active;
  std::vector<std::string> active_order;  // first-write order of the open pass
  bool has_frozen = false;
  std::optional<StoredState> Pass(const std::string& k) const {
    if (auto it = active.find(k); it != active.end()) return it->second;
    if (auto it = frozen.find(k); it != frozen.end()) return it->second;
    if (auto it = committed.find(k); it != committed.end()) return it->second;
    return std::nullopt;
  }
  std::optional<StoredState> Committed(const std::string& k) const {
    auto it = committed.find(k);
    return it == committed.end() ? std::nullopt : it->second;
  }
};

void ExpectState(const Result<std::optional<StoredState>>& got, const std::optional<StoredState>& want,
                 const std::string& where) {
  ASSERT_TRUE(got.ok()) << where << ": " << got.status().message();
  ASSERT_EQ(got->has_value(), want.has_value()) << where;
  if (!want) return;
  ASSERT_EQ((*got)->deleted, want->deleted) << where;
  ASSERT_EQ((*got)->ts_ms, want->ts_ms) << where;
  ASSERT_EQ((*got)->value, want->value) << where;
}

// Runs the random sequence on `txn` (over `base`) and checks every answer against the model.
void RunRandom(StateStore* base, TxnStateStore* txn, uint32_t seed, int steps, Model* m, int64_t* offset,
               const std::string& tag) {
  std::mt19937 rng(seed);
  const int kKeys = 24;
  for (int step = 0; step < steps; ++step) {
    const std::string key = std::to_string(rng() % kKeys);
    const std::string where = tag + " step " + std::to_string(step) + " key " + key;
    StoredState st{rng() % 6 == 0, step, "{\"v\":" + std::to_string(step) + "}"};
    const unsigned op = rng() % 24;
    if (op < 8) {  // the stage: read (pass view), then mostly write
      ExpectState(txn->Get("order", key), m->Pass(key), where + " pass read");
      if (op < 6) {
        ASSERT_TRUE(txn->Put("order", key, st).ok()) << where;
        if (!m->active.count(key)) m->active_order.push_back(key);
        m->active[key] = st;
      }
    } else if (op < 10) {  // committed reads (admin API): neither open generation is visible
      ExpectState(base->Get("order", key), m->Committed(key), where + " committed read");
    } else if (op < 13) {  // pass N ends its processing: its overlay is frozen and committed in the log
      if (m->has_frozen) continue;
      std::vector<StateWrite> pending = txn->Pending();
      ASSERT_EQ(pending.size(), m->active_order.size()) << where;
      for (size_t i = 0; i < pending.size(); ++i) {
        ASSERT_EQ(pending[i].encoded_key, EncodeKey("order", m->active_order[i])) << where;
        ASSERT_NE(pending[i].state, nullptr) << where;
        ASSERT_EQ(pending[i].state->ts_ms(), m->active[m->active_order[i]]->ts_ms) << where;
      }
      ASSERT_TRUE(txn->Freeze().ok()) << where;
      ASSERT_TRUE(txn->has_frozen()) << where;
      EXPECT_FALSE(txn->Freeze().ok()) << where << ": a second generation must be refused";
      EXPECT_FALSE(txn->Commit("cp", *offset).ok()) << where << ": the open pass cannot commit past the frozen one";
      m->frozen = std::move(m->active);
      m->active.clear();
      m->active_order.clear();
      m->has_frozen = true;
    } else if (op < 16) {  // N decided: its generation is committed, N+1's stays open
      if (!m->has_frozen) continue;
      ++*offset;
      ASSERT_TRUE(txn->CommitFrozen("cp", *offset).ok()) << where;
      for (auto& [k, v] : m->frozen) m->committed[k] = v;
      m->frozen.clear();
      m->has_frozen = false;
      ASSERT_FALSE(txn->has_frozen()) << where;
    } else if (op == 16) {  // N aborted: N's and N+1's states are both dropped
      if (!m->has_frozen) continue;
      txn->DiscardFrozen();
      txn->Discard();
      m->frozen.clear();
      m->active.clear();
      m->active_order.clear();
      m->has_frozen = false;
    } else if (op == 17) {  // serial commit (no pass in flight; replay's path)
      if (m->has_frozen) continue;
      ++*offset;
      ASSERT_TRUE(txn->Commit("cp", *offset).ok()) << where;
      for (auto& [k, v] : m->active) m->committed[k] = v;
      m->active.clear();
      m->active_order.clear();
    } else if (op == 18) {  // serial abort
      if (m->has_frozen) continue;
      txn->Discard();
      m->active.clear();
      m->active_order.clear();
    } else if (op == 19) {  // a direct write under both generations (catch-up, no-transaction path)
      ASSERT_TRUE(base->Put("order", key, st).ok()) << where;
      m->committed[key] = st;
    } else if (op == 20) {  // a checkpointed batch with a forgotten key (the state topic's tombstones)
      std::string gone = std::to_string(rng() % kKeys);
      std::vector<StateWrite> writes{{EncodeKey("order", key), st}, {EncodeKey("order", gone), StatePtr()}};
      if (key == gone) writes.pop_back();
      ++*offset;
      ASSERT_TRUE(base->Apply(writes, "cp", *offset).ok()) << where;
      m->committed[key] = st;
      if (key != gone) m->committed[gone] = std::nullopt;
    } else if (op == 21) {
      std::vector<std::string> want;
      for (auto& [k, v] : m->committed) {
        if (v && !v->deleted) want.push_back(k);
      }
      std::sort(want.begin(), want.end());
      auto got = txn->List("order", "", 1000);
      ASSERT_TRUE(got.ok()) << where;
      ASSERT_EQ(*got, want) << where;
    }
  }
}

TEST(StateFrozenGeneration, AgreesWithAModelOfCommittedFrozenAndOpenStates) {
  struct Config {
    size_t cache_bytes;
    size_t defer_bytes;
    int64_t defer_ms;
    bool background;
  };
  const std::vector<Config> configs = {
      {0, 4 << 20, 1000, true},       {700, 0, 0, false},          {4000, 4 << 20, 1000, true},
      {size_t{1} << 20, 64, 0, true}, {size_t{1} << 20, 4 << 20, 1000, false}};
  for (size_t c = 0; c < configs.size(); ++c) {
    const Config& cfg = configs[c];
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ec_cdc_frozen_" + std::to_string(getpid()) + "_" + std::to_string(c));
    std::filesystem::remove_all(dir);
    const RocksStateOptions options{.cache_bytes = cfg.cache_bytes, .defer_bytes = cfg.defer_bytes,
                                    .defer_ms = cfg.defer_ms, .background_writes = cfg.background};
    Model m;
    int64_t offset = 0;
    {
      auto rocks = std::move(OpenRocksStateStore(dir.string(), options)).value();
      auto txn = std::make_unique<TxnStateStore>(rocks.get());
      RunRandom(rocks.get(), txn.get(), 100 + static_cast<uint32_t>(c), 6000, &m, &offset, "config " + std::to_string(c));
      if (::testing::Test::HasFatalFailure()) return;
      // The overlay given back while a generation is frozen: both are dropped.
      txn.reset();
      m.frozen.clear();
      m.active.clear();
      m.active_order.clear();
      m.has_frozen = false;
      txn = std::make_unique<TxnStateStore>(rocks.get());
      RunRandom(rocks.get(), txn.get(), 200 + static_cast<uint32_t>(c), 2000, &m, &offset, "config " + std::to_string(c) + " again");
      if (::testing::Test::HasFatalFailure()) return;
      if (txn->has_frozen()) {
        ++offset;
        ASSERT_TRUE(txn->CommitFrozen("cp", offset).ok());
        for (auto& [k, v] : m.frozen) m.committed[k] = v;
      }
      txn->Discard();
      EXPECT_EQ(rocks->Checkpoint("cp").value(), std::optional<int64_t>(offset));
    }
    auto reopened = std::move(OpenRocksStateStore(dir.string(), options)).value();
    for (int k = 0; k < 24; ++k) {
      ExpectState(reopened->Get("order", std::to_string(k)), m.Committed(std::to_string(k)),
                  "config " + std::to_string(c) + " reopened key " + std::to_string(k));
    }
    EXPECT_EQ(reopened->Checkpoint("cp").value(), std::optional<int64_t>(offset));
    reopened.reset();
    std::filesystem::remove_all(dir);
  }
}

TEST(StateFrozenGeneration, TxnOverlayOverAMemoryStoreAgreesWithTheModel) {
  MemoryStateStore mem;
  TxnStateStore txn(&mem);
  Model m;
  int64_t offset = 0;
  RunRandom(&mem, &txn, 7, 8000, &m, &offset, "memory");
}

// A second TxnStateStore over the RocksDB store (the map's overlay is taken) keeps its own
// overlay and frozen generation, and the two do not see each other's open states.
TEST(StateFrozenGeneration, ASecondOverlayKeepsItsOwnGenerations) {
  const auto dir = std::filesystem::temp_directory_path() / ("ec_cdc_frozen2_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    auto rocks = std::move(OpenRocksStateStore(dir.string())).value();
    TxnStateStore first(rocks.get());
    Model m;
    int64_t offset = 0;
    {
      TxnStateStore second(rocks.get());
      ASSERT_TRUE(second.Put("order", "x", StoredState{false, 1, "1"}).ok());
      ASSERT_TRUE(second.Freeze().ok());
      ASSERT_TRUE(second.Put("order", "x", StoredState{false, 2, "2"}).ok());
      EXPECT_EQ(second.Get("order", "x").value()->value, "2");
      EXPECT_FALSE(first.Get("order", "x").value().has_value());
      second.DiscardFrozen();
      second.Discard();
    }
    RunRandom(rocks.get(), &first, 9, 3000, &m, &offset, "first");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ec::cdc
