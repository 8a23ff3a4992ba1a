// StateCache (LRU by bytes, absent keys, erase) and the RocksDB store's cache staying coherent
// with RocksDB: random operations against a MemoryStateStore give the same answers with no
// cache, a tiny cache (constant eviction) and a large one, with writes deferred (the default)
// and written at once, also after a reopen.
#include "cdc/state_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "cdc/state_store.h"

namespace ec::cdc {
namespace {

StatePtr State(bool deleted, int64_t ts, std::string value) {
  return EncodedState::Make(StoredState{deleted, ts, std::move(value)});
}

TEST(StateCache, HitsMissesAndAbsentKeys) {
  StateCache c(1 << 20);
  StatePtr got;
  EXPECT_FALSE(c.Lookup("order\0a", &got));
  c.Insert(EncodeKey("order", "a"), State(false, 7, "{}"));
  c.Insert(EncodeKey("order", "b"), nullptr);
  ASSERT_TRUE(c.Lookup(EncodeKey("order", "a"), &got));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->ts_ms(), 7);
  EXPECT_EQ(got->value(), "{}");
  ASSERT_TRUE(c.Lookup(EncodeKey("order", "b"), &got));
  EXPECT_EQ(got, nullptr);  // known absent
  c.Insert(EncodeKey("order", "a"), State(true, 9, ""));
  ASSERT_TRUE(c.Lookup(EncodeKey("order", "a"), &got));
  EXPECT_TRUE(got->deleted());
  EXPECT_EQ(c.entries(), 2u);
  c.Erase(EncodeKey("order", "a"));
  EXPECT_FALSE(c.Lookup(EncodeKey("order", "a"), &got));
  c.Insert(EncodeKey("orderx", "a"), State(false, 1, "1"));
  c.ErasePrefix(EncodeKey("order", ""));
  EXPECT_FALSE(c.Lookup(EncodeKey("order", "b"), &got));
  EXPECT_TRUE(c.Lookup(EncodeKey("orderx", "a"), &got));  // another resource sharing the prefix
}

TEST(StateCache, BoundedByBytesEvictsLeastRecentlyUsed) {
  const std::string big(1000, 'x');
  StateCache c(5000);
  for (int i = 0; i < 100; ++i) {
    c.Insert(EncodeKey("r", std::to_string(i)), State(false, i, big));
    EXPECT_LE(c.bytes(), c.max_bytes());
    StatePtr got;
    if (i >= 1) EXPECT_TRUE(c.Lookup(EncodeKey("r", "0"), &got)) << i;  // kept hot: never evicted
  }
  EXPECT_GE(c.entries(), 2u);
  EXPECT_LT(c.entries(), 5u);
  StatePtr got;
  EXPECT_TRUE(c.Lookup(EncodeKey("r", "99"), &got));
  EXPECT_FALSE(c.Lookup(EncodeKey("r", "50"), &got));
  StateCache off(0);
  off.Insert("k", State(false, 0, ""));
  EXPECT_FALSE(off.Lookup("k", &got));
}

TEST(StateCache, PinnedEntriesAreReadAndNeverEvictedUntilWritten) {
  const std::string big(1000, 'x');
  StateCache c(3000);  // room for two of these entries
  c.Insert(EncodeKey("r", "hot"), State(false, 1, big));
  // Pinned: the cached entry moves to the pinned part; a new key is pinned without a cache entry.
  c.Pin(EncodeKey("r", "hot"), State(false, 2, big));
  for (int i = 0; i < 10; ++i) c.Pin(EncodeKey("r", "p" + std::to_string(i)), State(false, i, big));
  c.Pin(EncodeKey("r", "gone"), nullptr);  // to be forgotten
  EXPECT_EQ(c.pinned(), 12u);
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_GT(c.pinned_bytes(), c.max_bytes());  // the pinned part is bounded by the owner, not here
  // Cache traffic around them evicts only cache entries.
  for (int i = 0; i < 20; ++i) c.Insert(EncodeKey("r", "c" + std::to_string(i)), State(false, i, big));
  EXPECT_LE(c.bytes(), c.max_bytes());
  StatePtr got;
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "hot"), &got));
  EXPECT_EQ(got->ts_ms(), 2);
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "gone"), &got));
  EXPECT_EQ(got, nullptr);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.Lookup(EncodeKey("r", "p" + std::to_string(i)), &got)) << i;
  // What the store reads back is older than a pending write: Insert must not replace it.
  c.Insert(EncodeKey("r", "hot"), State(false, 1, big));
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "hot"), &got));
  EXPECT_EQ(got->ts_ms(), 2);
  // Re-pinning replaces the pending state and keeps the byte count exact.
  const size_t before = c.pinned_bytes();
  c.Pin(EncodeKey("r", "hot"), State(false, 3, big));
  EXPECT_EQ(c.pinned_bytes(), before);
  auto pinned = c.PinnedInKeyOrder();
  ASSERT_EQ(pinned.size(), 12u);
  for (size_t i = 1; i < pinned.size(); ++i) EXPECT_LT(pinned[i - 1].encoded_key, pinned[i].encoded_key);
  {
    // Key order as std::string compares, also where keys share their first 16 bytes, differ
    // by length only, or hold '\0' and bytes >= 0x80.
    StateCache order(1 << 20);
    std::vector<std::string> keys = {"order", std::string("order\0", 6), std::string("order\0o-1", 9),
                                     "order/aaaaaaaaaaaaaaaaaaaa2", "order/aaaaaaaaaaaaaaaaaaaa10", "order/aaaaaaaaaa",
                                     "\xff\x01", "\x7f", "", "a", std::string(20, 'z'), std::string(16, 'z')};
    for (const std::string& k : keys) order.Pin(k, State(false, 1, "1"));
    std::vector<std::string> want = keys;
    std::sort(want.begin(), want.end());
    std::vector<std::string> got;
    for (const auto& p : order.PinnedInKeyOrder()) got.emplace_back(p.encoded_key);
    EXPECT_EQ(got, want);
  }
  // Written: they become cache entries, bounded again.
  c.Written();
  EXPECT_EQ(c.pinned(), 0u);
  EXPECT_EQ(c.pinned_bytes(), 0u);
  EXPECT_LE(c.bytes(), c.max_bytes());
  EXPECT_LT(c.entries(), 4u);
  // Erasing covers both parts.
  c.Pin(EncodeKey("s", "a"), State(false, 1, "1"));
  c.Insert(EncodeKey("s", "b"), State(false, 1, "1"));
  c.ErasePrefix(EncodeKey("s", ""));
  EXPECT_FALSE(c.Lookup(EncodeKey("s", "a"), &got));
  EXPECT_FALSE(c.Lookup(EncodeKey("s", "b"), &got));
  EXPECT_EQ(c.pinned_bytes(), 0u);
  c.Pin(EncodeKey("s", "a"), State(false, 1, "1"));
  c.Erase(EncodeKey("s", "a"));
  EXPECT_EQ(c.pinned(), 0u);
  // With no cache, pinned entries are still kept until written, then dropped.
  StateCache off(0);
  off.Pin("k", State(false, 5, "1"));
  ASSERT_TRUE(off.Lookup("k", &got));
  EXPECT_EQ(got->ts_ms(), 5);
  off.Written();
  EXPECT_FALSE(off.Lookup("k", &got));
  EXPECT_EQ(off.entries(), 0u);
}

TEST(EncodedState, RoundTripsAndRejectsBadBytes) {
  StatePtr s = State(false, 1795773600123, R"({"id":"o-1"})");
  EXPECT_FALSE(s->deleted());
  EXPECT_EQ(s->ts_ms(), 1795773600123);
  EXPECT_EQ(s->value(), R"({"id":"o-1"})");
  EXPECT_EQ(s->bytes(), EncodeState(StoredState{false, 1795773600123, R"({"id":"o-1"})"}));
  StatePtr d = EncodedState::FromBytes(EncodeState(StoredState{true, -5, ""}));
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->deleted());
  EXPECT_EQ(d->ts_ms(), -5);
  EXPECT_EQ(EncodedState::FromBytes("s1234567"), nullptr);   // shorter than the header
  EXPECT_EQ(EncodedState::FromBytes("x12345678{}"), nullptr);  // unknown flag
}

void Agree(StateStore* got, StateStore* want, int keys) {
  for (int k = 0; k < keys; ++k) {
    auto a = got->Get("order", std::to_string(k));
    auto b = want->Get("order", std::to_string(k));
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->has_value(), b->has_value()) << k;
    if (!a->has_value()) continue;
    EXPECT_EQ((*a)->deleted, (*b)->deleted) << k;
    EXPECT_EQ((*a)->ts_ms, (*b)->ts_ms) << k;
    EXPECT_EQ((*a)->value, (*b)->value) << k;
  }
  EXPECT_EQ(got->List("order", "", 1000).value(), want->List("order", "", 1000).value());
}

TEST(StateCache, RocksStoreAgreesWithMemoryStoreUnderRandomOperations) {
  for (size_t cache_bytes : {size_t{0}, size_t{700}, size_t{1} << 20}) {
    auto dir = std::filesystem::temp_directory_path() /
               ("ec_cdc_cache_" + std::to_string(getpid()) + "_" + std::to_string(cache_bytes));
    std::filesystem::remove_all(dir);
    MemoryStateStore mem;
    std::mt19937 rng(static_cast<uint32_t>(cache_bytes) + 1);
    const int kKeys = 40;
    // The tiny cache also writes at once; the others defer checkpointed writes.
    const RocksStateOptions options{.cache_bytes = cache_bytes, .defer_bytes = cache_bytes == 700 ? 0u : size_t{4} << 20};
    {
      auto rocks = std::move(OpenRocksStateStore(dir.string(), options)).value();
      for (int step = 0; step < 3000; ++step) {
        std::string key = std::to_string(rng() % kKeys);
        StoredState st{rng() % 5 == 0, step, rng() % 5 == 0 ? "" : "{\"v\":" + std::to_string(step) + "}"};
        switch (rng() % 8) {
          case 0: case 1: case 2: {
            auto a = rocks->Get("order", key);
            auto b = mem.Get("order", key);
            ASSERT_TRUE(a.ok() && b.ok());
            ASSERT_EQ(a->has_value(), b->has_value()) << "step " << step;
            if (a->has_value()) EXPECT_EQ((*a)->value, (*b)->value) << "step " << step;
            break;
          }
          case 3: case 4:
            ASSERT_TRUE(rocks->Put("order", key, st).ok());
            ASSERT_TRUE(mem.Put("order", key, st).ok());
            break;
          case 5: case 6: {
            std::vector<StateWrite> writes{{EncodeKey("order", key), st},
                                           {EncodeKey("order", std::to_string(rng() % kKeys)), st}};
            // A null state forgets the key (a rebuild's tombstones in the state topic).
            if (rng() % 4 == 0) writes.emplace_back(EncodeKey("order", std::to_string(rng() % kKeys)), StatePtr());
            ASSERT_TRUE(rocks->Apply(writes, "cp", step).ok());
            ASSERT_TRUE(mem.Apply(writes, "cp", step).ok());
            break;
          }
          default:
            if (rng() % 20 == 0) {
              ASSERT_TRUE(rocks->ClearResource("order").ok());
              ASSERT_TRUE(mem.ClearResource("order").ok());
            }
        }
      }
      Agree(rocks.get(), &mem, kKeys);
      EXPECT_EQ(rocks->Checkpoint("cp").value(), mem.Checkpoint("cp").value());
    }
    auto reopened = std::move(OpenRocksStateStore(dir.string(), options)).value();
    Agree(reopened.get(), &mem, kKeys);
    EXPECT_EQ(reopened->Checkpoint("cp").value(), mem.Checkpoint("cp").value());  // deferred ones written at close
    reopened.reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace ec::cdc
