// StateCache (LRU by bytes, absent keys, erase) and the RocksDB store's cache staying coherent
// with RocksDB: random operations against a MemoryStateStore give the same answers with no
// cache, a tiny cache (constant eviction) and a large one, with writes deferred (the default)
// and written at once, also after a reopen.
#include "cdc/state_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"

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

TEST(StateCache, ANewKeyAfterPrefetchStateIsFoundByEveryLaterStep) {
  // PrefetchState remembers a missing key's hash (the caller's) for the PassLookup, Insert and
  // PassStoreNew of the key that follow; other keys hashed meanwhile must not take it.
  StateCache c(1 << 20);
  const std::string a = EncodeKey("order", "a-new"), b = EncodeKey("order", "b-old");
  c.Insert(b, State(false, 1, "{\"b\":1}"));
  c.PrefetchEntry(StateKeyHash(a));
  c.PrefetchState(a, StateKeyHash(a), /*pass=*/true);
  StatePtr got;
  EXPECT_FALSE(c.PassLookup(a, &got));  // unknown: the store is read next
  ASSERT_TRUE(c.PassLookup(b, &got));   // another key, its own hash
  EXPECT_EQ(got->value(), "{\"b\":1}");
  c.Insert(a, nullptr);  // the store has no state for it
  ASSERT_TRUE(c.PassLookup(a, &got));
  EXPECT_EQ(got, nullptr);
  StatePtr next = State(false, 2, "{\"a\":2}");
  ASSERT_TRUE(c.PassStore(a, &next));
  ASSERT_TRUE(c.PassLookup(a, &got));
  EXPECT_EQ(got->value(), "{\"a\":2}");
  // A key created by PassStoreNew after the memo names it.
  const std::string d = EncodeKey("order", "d-new");
  c.PrefetchState(d, StateKeyHash(d), /*pass=*/true);
  EXPECT_FALSE(c.PassLookup(d, &got));
  c.PassStoreNew(d, nullptr, State(false, 3, "{\"d\":3}"));
  ASSERT_TRUE(c.PassLookup(d, &got));
  EXPECT_EQ(got->value(), "{\"d\":3}");
  c.PassCommit();
  c.Written();
  for (const std::string& k : {a, b, d}) {
    EXPECT_TRUE(c.Lookup(k, &got)) << k;
  }
  EXPECT_EQ(c.entries(), 3u);
}

TEST(StateCache, BoundedByBytesEvictsLeastRecentlyUsed) {
  const std::string big(1000, 'x');
  StateCache c(5000);
  for (int i = 0; i < 100; ++i) {
    c.Insert(EncodeKey("r", std::to_string(i)), State(false, i, big));
    EXPECT_LE(c.bytes(), c.max_bytes());
    StatePtr got;
    // Kept hot: never evicted.
    if (i >= 1) { EXPECT_TRUE(c.Lookup(EncodeKey("r", "0"), &got)) << i; }
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

// Pinned states count against the bound: a pin evicts the least recently used cache entries,
// so cache and deferred writes together stay within it while there are cache entries to let go
// (with 32 MiB of deferred writes on top of a full 48 MiB cache the server passed 256 MB).
TEST(StateCache, PinsEvictCacheEntriesToStayWithinTheBound) {
  const std::string big(1000, 'x');
  StateCache c(5000);  // room for four of these entries
  for (int i = 0; i < 4; ++i) c.Insert(EncodeKey("r", "c" + std::to_string(i)), State(false, i, big));
  ASSERT_EQ(c.entries(), 4u);
  const size_t full = c.bytes();
  c.Pin(EncodeKey("r", "p0"), State(false, 10, big));  // a new key
  c.Pin(EncodeKey("r", "c3"), State(false, 11, big));  // a cached key, now pinned
  EXPECT_LE(c.bytes() + c.pinned_bytes(), c.max_bytes());
  EXPECT_LT(c.bytes(), full);
  StatePtr got;
  EXPECT_FALSE(c.Lookup(EncodeKey("r", "c0"), &got));  // the least recently used went first
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "p0"), &got));
  EXPECT_EQ(got->ts_ms(), 10);
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "c3"), &got));
  EXPECT_EQ(got->ts_ms(), 11);
  // Inserts around the pins keep the sum within the bound too.
  for (int i = 4; i < 10; ++i) {
    c.Insert(EncodeKey("r", "c" + std::to_string(i)), State(false, i, big));
    EXPECT_LE(c.bytes() + c.pinned_bytes(), c.max_bytes()) << i;
  }
  // A commit of the pass overlay pins too.
  ASSERT_FALSE(c.PassLookup(EncodeKey("r", "q"), &got));
  c.PassStoreNew(EncodeKey("r", "q"), nullptr, State(false, 20, big));
  c.PassCommit();
  EXPECT_LE(c.bytes() + c.pinned_bytes(), c.max_bytes());
  ASSERT_TRUE(c.Lookup(EncodeKey("r", "q"), &got));
  EXPECT_EQ(got->ts_ms(), 20);
}

TEST(StateCache, CompleteUntilAStoredKeyLeavesTheMap) {
  const std::string big(1000, 'x');
  StatePtr got;
  StateCache c(5000);
  EXPECT_FALSE(c.complete());  // only the owner knows
  c.MarkComplete();
  c.Insert(EncodeKey("r", "absent"), nullptr);
  c.Pin(EncodeKey("r", "p"), State(false, 1, big));
  c.Written();
  c.ErasePrefix(EncodeKey("s", ""));  // the caller removed those keys from the store too
  EXPECT_TRUE(c.complete());
  // Evicting known-absent keys keeps it; evicting a stored one does not.
  for (int i = 0; i < 50; ++i) {
    c.Insert(EncodeKey("r", "n" + std::to_string(i)), nullptr);
    ASSERT_TRUE(c.Lookup(EncodeKey("r", "p"), &got));  // kept hot
  }
  EXPECT_FALSE(c.Lookup(EncodeKey("r", "n0"), &got));  // evicted
  EXPECT_TRUE(c.complete());
  for (int i = 0; i < 10; ++i) c.Insert(EncodeKey("r", "s" + std::to_string(i)), State(false, i, big));
  EXPECT_FALSE(c.complete());
  // A state too large to cache, and Erase (the store's state unknown), clear it too.
  StateCache small(2000);
  small.MarkComplete();
  small.Insert("k", State(false, 1, std::string(5000, 'y')));
  EXPECT_FALSE(small.complete());
  StateCache erased(1 << 20);
  erased.MarkComplete();
  erased.Erase("k");
  EXPECT_FALSE(erased.complete());
  StateCache off(0);
  off.MarkComplete();
  off.Pin("k", State(false, 1, "1"));
  off.Written();  // dropped at once: no cache
  EXPECT_FALSE(off.complete());
}

TEST(StateCache, IndexFindsEveryKeyThroughGrowthAndErases) {
  // The open-addressing index (state_cache.h) against a std::map over thousands of keys: it
  // grows several times, and erases (Erase, ErasePrefix) shift runs of buckets back; a wrong
  // shift loses a key that is still there (a miss) or keeps one that is not.
  StateCache c(size_t{1} << 30);
  std::map<std::string, int64_t> model;
  std::mt19937 rng(7);
  auto key_of = [](uint32_t n) {  // short (SSO-sized) and long keys, two resources
    return EncodeKey(n % 3 == 0 ? "customers" : "o", (n % 2 == 0 ? "k" : "a-much-longer-key-") + std::to_string(n));
  };
  for (int step = 0; step < 60000; ++step) {
    const uint32_t n = rng() % 9000;
    const std::string key = key_of(n);
    StatePtr got;
    switch (rng() % 6) {
      case 0: case 1: case 2:
        c.Insert(key, State(false, step, "{}"));
        model[key] = step;
        break;
      case 3: case 4:
        c.Erase(key);
        model.erase(key);
        break;
      default: {
        const bool found = c.Lookup(key, &got);
        ASSERT_EQ(found, model.count(key) == 1) << "step " << step;
        if (found) { EXPECT_EQ(got->ts_ms(), model[key]) << "step " << step; }
      }
    }
    if (step == 40000) {
      c.ErasePrefix(EncodeKey("customers", ""));
      std::erase_if(model, [](const auto& kv) { return kv.first.starts_with(EncodeKey("customers", "")); });
    }
  }
  EXPECT_EQ(c.entries(), model.size());
  for (uint32_t n = 0; n < 9000; ++n) {
    StatePtr got;
    const std::string key = key_of(n);
    const bool found = c.Lookup(key, &got);
    ASSERT_EQ(found, model.count(key) == 1) << n;
    if (found) { EXPECT_EQ(got->ts_ms(), model[key]) << n; }
  }
}

TEST(StateCache, PinnedSharedAndWrittenUpToAgreeWithThePinnedChain) {
  // PinnedShared and WrittenUpTo walk the pin log, the rest of the cache the pinned chain: after
  // random pins (new keys and pinned again), pass commits, background-write rounds, erases and
  // synchronous writes, both name the same entries with the same states (a log that kept an
  // unpinned entry, or lost a pinned one, fails it).
  std::mt19937 rng(11);
  for (size_t cache_bytes : {size_t{0}, size_t{3000}, size_t{1} << 20}) {
    StateCache c(cache_bytes);
    bool in_flight = false;
    uint64_t job_seq = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::string key = EncodeKey("r", std::to_string(rng() % 300));
      switch (rng() % 10) {
        case 0: case 1: case 2:
          c.Pin(key, rng() % 7 == 0 ? nullptr : State(false, step, "{}"));
          break;
        case 3: {  // a pass writes the key and commits
          StatePtr got;
          if (!c.PassLookup(key, &got)) c.Insert(key, nullptr);  // (no entry made without a cache)
          StatePtr next = State(false, step, "[1]");
          if (!c.PassStore(key, &next)) c.PassStoreNew(key, nullptr, next);
          c.PassCommit();
          break;
        }
        case 4:
          if (!in_flight) c.Erase(key);  // (the owner never erases while a write is in flight)
          break;
        case 5:
          if (!in_flight && rng() % 4 == 0) c.Written();
          break;
        case 6: case 7: {
          if (in_flight) {
            c.WrittenUpTo(job_seq);
            in_flight = false;
            break;
          }
          std::map<std::string, const EncodedState*> chain;
          for (const StateCache::PinnedState& p : c.PinnedInKeyOrder()) chain[std::string(p.encoded_key)] = p.state;
          std::map<std::string, const EncodedState*> shared;
          for (const StateCache::PinnedCopy& p : c.PinnedShared()) {
            ASSERT_TRUE(shared.emplace(std::string(p.encoded_key), p.state.get()).second) << "twice: step " << step;
          }
          ASSERT_EQ(shared, chain) << "step " << step;
          ASSERT_EQ(shared.size(), c.pinned());
          job_seq = c.pin_seq();
          in_flight = true;
          break;
        }
        default: {
          StatePtr got;
          (void)c.Lookup(key, &got);
        }
      }
    }
  }
}

// A pass's and a frozen generation's commits count each state's bytes from the size the entry
// noted when the state was stored (not from the state itself): the counts must be what pinning
// the same states directly counts (Pin reads each state's size), through random passes,
// freezes, commits and discards of both generations, states of random sizes (also empty,
// null and over 64 KiB), and the writes that turn pinned entries into cache entries.
TEST(StateCache, CommittedPassesCountTheBytesAPinOfTheSameStatesCounts) {
  std::mt19937 rng(15);
  for (size_t max_bytes : {size_t{0}, size_t{4000}, size_t{1} << 30}) {
    StateCache passes(max_bytes), pins(max_bytes);
    std::map<std::string, StatePtr> open, frozen;  // the model of both generations
    bool has_frozen = false;
    auto random_state = [&]() -> StatePtr {
      switch (rng() % 8) {
        case 0: return nullptr;
        case 1: return State(true, rng() % 100, "");
        case 2: return State(false, rng() % 100, std::string(70000 + rng() % 100, 'y'));
        default: return State(false, rng() % 100, std::string(rng() % 700, 'x'));
      }
    };
    auto commit = [&](std::map<std::string, StatePtr>* generation) {
      for (auto& [key, state] : *generation) pins.Pin(key, state);
      generation->clear();
    };
    for (int step = 0; step < 4000; ++step) {
      const std::string key = EncodeKey("r", std::to_string(rng() % 40));
      StatePtr state = random_state();
      switch (rng() % 16) {
        case 0:  // the open pass becomes the frozen generation
          if (has_frozen) break;
          passes.PassFreeze();
          frozen.swap(open);
          open.clear();
          has_frozen = true;
          break;
        case 1:
          if (!has_frozen) break;
          passes.FrozenCommit();
          commit(&frozen);
          has_frozen = false;
          break;
        case 2:
          if (has_frozen) break;
          passes.PassCommit();
          commit(&open);
          break;
        case 3:  // an abort drops both generations
          if (has_frozen) passes.FrozenDiscard();
          passes.PassDiscard();
          open.clear();
          frozen.clear();
          has_frozen = false;
          break;
        case 4:
          passes.Written();
          pins.Written();
          break;
        default: {  // the stage's read, then its write, of a key
          StatePtr seen;
          if (!passes.PassLookup(key, &seen)) {
            passes.Insert(key, nullptr);  // what the store answers for a key it never had
            pins.Insert(key, nullptr);
          }
          StatePtr copy = state;
          if (!passes.PassStore(key, &copy)) passes.PassStoreNew(key, nullptr, state);
          open[key] = state;
        }
      }
      ASSERT_EQ(passes.pinned_bytes(), pins.pinned_bytes()) << "step " << step << " max_bytes " << max_bytes;
      ASSERT_EQ(passes.pinned(), pins.pinned()) << "step " << step;
      // The cache parts agree too while nothing is held in a generation and nothing is evicted
      // (eviction follows each cache's own LRU order).
      if (max_bytes > (size_t{1} << 20) && open.empty() && frozen.empty()) {
        ASSERT_EQ(passes.bytes(), pins.bytes()) << "step " << step;
      }
    }
  }
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

// Copy keeps the text in the control block's allocation: the bytes are its own (the source may
// change or go), at every size, and DecodeState reads the same encoding without a state.
TEST(EncodedState, CopyOwnsItsBytes) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{100}, size_t{1} << 20}) {
    std::string text = EncodeState(StoredState{n % 2 == 1, 1795773600123 + static_cast<int64_t>(n), std::string(n, 'x')});
    const std::string want = text;
    StatePtr s = EncodedState::Copy(text);
    std::fill(text.begin(), text.end(), 'z');
    text.clear();
    text.shrink_to_fit();
    EXPECT_EQ(s->bytes(), want) << n;
    EXPECT_EQ(s->value().size(), n);
    EXPECT_EQ(s->deleted(), n % 2 == 1);
    EXPECT_EQ(s->ts_ms(), 1795773600123 + static_cast<int64_t>(n));
    std::optional<StoredState> d = DecodeState(want);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->deleted, s->deleted());
    EXPECT_EQ(d->ts_ms, s->ts_ms());
    EXPECT_EQ(d->value, s->value());
    std::weak_ptr<const EncodedState> w = s;
    StatePtr other = s;
    s.reset();
    EXPECT_EQ(other->bytes(), want);
    other.reset();
    EXPECT_TRUE(w.expired());
  }
  EXPECT_FALSE(DecodeState("x12345678{}").has_value());
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
  // 1 MiB: a new store's map knows every key all along (misses answered without RocksDB);
  // 4000 bytes: it does until the first eviction of a stored key, then asks RocksDB.
  for (size_t cache_bytes : {size_t{0}, size_t{700}, size_t{4000}, size_t{1} << 20}) {
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
            if (a->has_value()) { EXPECT_EQ((*a)->value, (*b)->value) << "step " << step; }
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

// The pass overlay kept in the RocksDB store's map (PassOverlay) behaves as TxnStateStore's
// own overlay over a MemoryStateStore: random reads and writes of a pass, commits, discards,
// resource clears, direct writes and lists, with no cache, a tiny one, a small one (complete
// until the first eviction) and a large one, deferred and immediate writes, then a reopen.
TEST(StateCache, PassOverlayInTheMapAgreesWithTxnOverlay) {
  for (size_t cache_bytes : {size_t{0}, size_t{700}, size_t{4000}, size_t{1} << 20}) {
    auto dir = std::filesystem::temp_directory_path() /
               ("ec_cdc_overlay_" + std::to_string(getpid()) + "_" + std::to_string(cache_bytes));
    std::filesystem::remove_all(dir);
    MemoryStateStore mem;
    TxnStateStore mem_txn(&mem);
    std::mt19937 rng(static_cast<uint32_t>(cache_bytes) + 7);
    const int kKeys = 30;
    const RocksStateOptions options{.cache_bytes = cache_bytes, .defer_bytes = cache_bytes == 700 ? 0u : size_t{4} << 20};
    int64_t offset = 0;
    {
      auto rocks = std::move(OpenRocksStateStore(dir.string(), options)).value();
      auto txn = std::make_unique<TxnStateStore>(rocks.get());
      TxnStateStore second(rocks.get());  // the map's overlay is taken: this one keeps its own
      ASSERT_TRUE(second.Put("order", "x", StoredState{false, 1, "1"}).ok());
      EXPECT_FALSE(rocks->Get("order", "x")->has_value());
      second.Discard();
      for (int step = 0; step < 4000; ++step) {
        std::string key = std::to_string(rng() % kKeys);
        StoredState st{rng() % 5 == 0, step, rng() % 5 == 0 ? "" : "{\"v\":" + std::to_string(step) + "}"};
        const unsigned op = rng() % 20;
        if (op < 6) {  // the stage: read, then (mostly) write the same key
          auto a = txn->Get("order", key);
          auto b = mem_txn.Get("order", key);
          ASSERT_TRUE(a.ok() && b.ok());
          ASSERT_EQ(a->has_value(), b->has_value()) << "step " << step;
          if (a->has_value()) {
            ASSERT_EQ((*a)->value, (*b)->value) << "step " << step;
            ASSERT_EQ((*a)->ts_ms, (*b)->ts_ms) << "step " << step;
          }
          if (op < 5) {
            ASSERT_TRUE(txn->Put("order", key, st).ok());
            ASSERT_TRUE(mem_txn.Put("order", key, st).ok());
          }
        } else if (op < 8) {  // a write without a read first
          ASSERT_TRUE(txn->Put("order", key, st).ok());
          ASSERT_TRUE(mem_txn.Put("order", key, st).ok());
        } else if (op < 10) {  // committed reads (admin API): the pass is not visible
          auto a = rocks->Get("order", key);
          auto b = mem.Get("order", key);
          ASSERT_TRUE(a.ok() && b.ok());
          ASSERT_EQ(a->has_value(), b->has_value()) << "step " << step;
          if (a->has_value()) { ASSERT_EQ((*a)->value, (*b)->value) << "step " << step; }
        } else if (op < 12) {  // the pass ends: committed, or aborted
          std::vector<StateWrite> pa = txn->Pending(), pb = mem_txn.Pending();
          ASSERT_EQ(pa.size(), pb.size()) << "step " << step;
          for (size_t i = 0; i < pa.size(); ++i) {
            ASSERT_EQ(pa[i].encoded_key, pb[i].encoded_key) << "step " << step;
            ASSERT_EQ(pa[i].state == nullptr, pb[i].state == nullptr);
            if (pa[i].state) { ASSERT_EQ(pa[i].state->bytes(), pb[i].state->bytes()); }
          }
          if (op == 10) {
            ++offset;
            ASSERT_TRUE(txn->Commit("cp", offset).ok());
            ASSERT_TRUE(mem_txn.Commit("cp", offset).ok());
          } else {
            txn->Discard();
            mem_txn.Discard();
          }
        } else if (op < 14) {  // writes that bypass the pass (catch-up, the no-transaction path)
          if (op == 12) {
            ASSERT_TRUE(rocks->Put("order", key, st).ok());
            ASSERT_TRUE(mem.Put("order", key, st).ok());
          } else {
            std::vector<StateWrite> writes{{EncodeKey("order", key), st}};
            if (rng() % 3 == 0) writes.emplace_back(EncodeKey("order", std::to_string(rng() % kKeys)), StatePtr());
            ++offset;
            ASSERT_TRUE(rocks->Apply(writes, "cp", offset).ok());
            ASSERT_TRUE(mem.Apply(writes, "cp", offset).ok());
          }
        } else if (op == 14) {
          ASSERT_EQ(txn->List("order", "", 1000).value(), mem_txn.List("order", "", 1000).value()) << "step " << step;
        } else if (op == 15 && rng() % 15 == 0) {
          ASSERT_TRUE(txn->ClearResource("order").ok());
          ASSERT_TRUE(mem_txn.ClearResource("order").ok());
        } else if (op == 16 && rng() % 10 == 0) {  // the overlay given back and taken again
          txn.reset();
          mem_txn.Discard();
          txn = std::make_unique<TxnStateStore>(rocks.get());
        }
      }
      txn->Discard();
      mem_txn.Discard();
      Agree(rocks.get(), &mem, kKeys);
      EXPECT_EQ(rocks->Checkpoint("cp").value(), mem.Checkpoint("cp").value());
      txn.reset();
    }
    auto reopened = std::move(OpenRocksStateStore(dir.string(), options)).value();
    Agree(reopened.get(), &mem, kKeys);
    reopened.reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace ec::cdc
