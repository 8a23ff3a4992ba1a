#pragma once
// The RocksDB store's one in-memory map of states: a bounded, LRU cache of hot keys' states
// (so that the changelog stage's read per exchange of a hot key does not go to RocksDB; it
// also remembers keys known to be absent, a POST's new key) and, in the same entries, the
// committed states not yet written to RocksDB (deferred writes, rocks_state_store.cc). A
// deferred entry is pinned: never evicted until Written() makes it an ordinary cache entry, so
// a commit or a write moves the entry between two lists instead of inserting it into another
// map. The cache part and the pinned part together are bounded by an approximate byte count
// (keys, values and per-entry overhead; 0 bytes = no cache): pins evict cached entries; the
// pinned part alone is bounded by its owner (pinned_bytes()).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/growing_index.h"
#include "cdc/state_store.h"

namespace ec::cdc {

// `pinned` (items with an `encoded_key`) in key order, for a RocksDB write batch. Sorted by the
// keys' first 16 bytes held beside the items (big-endian, zero-padded: integer order is byte
// order), equal prefixes falling back to the whole keys: the keys are views into the cache's
// entries, all over the heap, and comparing them in place read two cold entries per comparison
// (memcmp was the state writer's largest symbol in perf on serve). Shop keys
// ("orders\0o-1234") fit in the prefix, so each entry's key is read once.
template <class Pinned>
std::vector<Pinned> SortedByKey(std::vector<Pinned> pinned) {
  struct Item {
    uint64_t hi, lo;
    size_t index;
  };
  auto prefix = [](std::string_view key, size_t from) {
    uint64_t v = 0;
    for (size_t i = from; i < from + 8; ++i) v = (v << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
    return v;
  };
  std::vector<Item> items;
  items.reserve(pinned.size());
  for (size_t i = 0; i < pinned.size(); ++i) {
    items.push_back({prefix(pinned[i].encoded_key, 0), prefix(pinned[i].encoded_key, 8), i});
  }
  std::sort(items.begin(), items.end(), [&pinned](const Item& a, const Item& b) {
    if (a.hi != b.hi) return a.hi < b.hi;
    if (a.lo != b.lo) return a.lo < b.lo;
    return pinned[a.index].encoded_key < pinned[b.index].encoded_key;
  });
  std::vector<Pinned> sorted;
  sorted.reserve(items.size());
  for (const Item& i : items) sorted.push_back(std::move(pinned[i.index]));
  return sorted;
}

class StateCache {
 public:
  explicit StateCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  ~StateCache();
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  // Not internally synchronised: the owner serialises calls (with the store access they belong
  // to, so a read that misses and a concurrent write cannot leave a stale entry behind).
  // Whether `encoded_key` is cached or pinned; if so `*out` is its state (null: absent).
  bool Lookup(std::string_view encoded_key, StatePtr* out);
  // Caches `state` (null = absent) for `encoded_key` as the most recently used entry: what
  // the store holds. Not for a pinned key (its write is still pending).
  void Insert(std::string_view encoded_key, StatePtr state);
  // Pins `state` (null = the key is to be forgotten) as `encoded_key`'s state not yet written
  // to the store, replacing what the entry held.
  void Pin(std::string_view encoded_key, StatePtr state);
  // The pinned entries, in key order (the order RocksDB inserts a batch fastest).
  struct PinnedState {
    std::string_view encoded_key;
    const EncodedState* state;  // null: forget the key
  };
  std::vector<PinnedState> PinnedInKeyOrder() const;
  // The pinned states were written: they become the most recently used cache entries (and
  // are evicted as such when the cache is smaller than they are).
  void Written();

  // A write of the pinned states outside the owner's lock (rocks_state_store.cc's background
  // writer): PinnedShared takes them (the states shared, the keys as views of the entries,
  // which stay valid while the entries are pinned, i.e. until WrittenUpTo, as long as the
  // owner does not Erase/ErasePrefix/Written meanwhile) together with pin_seq(); once they are
  // written, WrittenUpTo(that seq) unpins the entries not pinned again since (a key pinned
  // anew while the write ran keeps its newer state pinned).
  struct PinnedCopy {
    std::string_view encoded_key;
    StatePtr state;  // null: forget the key
  };
  std::vector<PinnedCopy> PinnedShared();
  uint64_t pin_seq() const { return pin_seq_; }
  void WrittenUpTo(uint64_t seq);
  // Drops the entry of `encoded_key`, if any (pinned or not; one holding a pass state keeps
  // it and forgets its committed state).
  void Erase(std::string_view encoded_key);
  // Drops every entry whose key starts with `prefix` (pinned, cached or in the pass).
  void ErasePrefix(std::string_view prefix);

  // The pass overlay (txn_state_store.h) kept in the same entries: a key's state written by
  // the open pass sits next to its committed state, so the changelog stage's read and write
  // of a key cost one hash lookup and the commit relinks entries instead of finding them.
  // An entry holding a pass state is never evicted; Lookup, Insert, Pin and Written see the
  // committed state only.
  //
  // The pass's view of `encoded_key`: its pass state, else its committed state; false when
  // the map does not know the key (the caller reads the store and Inserts). The entry is
  // remembered for the PassStore of the same key that follows.
  bool PassLookup(std::string_view encoded_key, StatePtr* out);
  // Starts fetching the index bucket where a key of hash `hash` (StateKeyHash) is looked up.
  // The one member safe to call without the owner's serialisation (GrowingIndex::Prefetch).
  void Prefetch(uint64_t hash) const;
  // The steps after Prefetch, for a caller that can space them out (each reads what the step
  // before fetched, so called too soon it waits for that; no effect on any answer). Under the
  // owner's serialisation (they read the index). PrefetchEntry fetches the node of the first
  // bucket with the key's hash (the key is not compared: that would read the node);
  // PrefetchState finds the key's entry and fetches the state PassLookup (`pass`) or Lookup
  // would answer; the entry is remembered for the PassLookup of the same key that follows,
  // or, when there is none, the key's hash, for the lookups and the insert of the key that
  // follow (a new key's). `hash` = StateKeyHash(encoded_key).
  void PrefetchEntry(uint64_t hash) const;
  void PrefetchState(std::string_view encoded_key, uint64_t hash, bool pass);
  // Sets the pass state of `encoded_key`, moved from `*state`; false when the map has no
  // entry for it (`*state` is left as it was; the caller then calls PassStoreNew with the
  // key's committed state). Moved, not copied: a copy and the release of the caller's are two
  // locked operations per exchange.
  bool PassStore(std::string_view encoded_key, StatePtr* state);
  void PassStoreNew(std::string_view encoded_key, StatePtr committed, StatePtr state);
  // The pass's states, in the order the keys were first written in the pass.
  std::vector<StateWrite> PassPending() const;
  // The pass states become the committed states (pinned: not yet written to the store).
  void PassCommit();
  // The pass states are dropped.
  void PassDiscard();
  size_t pass_size() const { return pass_.size(); }

  // The frozen generation (docs/exactly-once.md, "Overlapped passes"): while pass N commits,
  // pass N+1 is processed. PassFreeze moves the open pass's states (N's) into a generation of
  // their own; the next pass then writes new pass states, and PassLookup answers a key's pass
  // state, else its frozen state, else its committed state. FrozenCommit makes the frozen
  // states the committed (pinned) ones; FrozenDiscard drops them (an abort of N, whose caller
  // drops N+1's pass states too). An entry holding a frozen state is held like one in the pass
  // (never evicted; Lookup, Insert, Pin and Written see the committed state only).
  // PassFreeze requires no frozen generation; PassCommit requires none either (the runner
  // commits the frozen generation before it freezes the next).
  void PassFreeze();
  void FrozenCommit();
  void FrozenDiscard();
  size_t frozen_size() const { return frozen_.size(); }

  // Whether the map holds every key the store holds (so a miss means "absent"): the owner
  // marks it when it knows (an empty store at open, with every key of it then entering the
  // map); cleared for good when an entry with a state leaves the map by eviction or Erase,
  // or a state is not cached (no cache, larger than the whole cache). ErasePrefix keeps it:
  // its caller removes the same keys from the store.
  void MarkComplete() { complete_ = true; }
  bool complete() const { return complete_; }

  size_t bytes() const { return bytes_; }                 // the cache part
  size_t pinned_bytes() const { return pinned_bytes_; }   // the pinned part
  size_t pinned() const { return pinned_.size; }
  size_t entries() const { return index_.size(); }      // both
  size_t max_bytes() const { return max_bytes_; }

 private:
  // One heap node per key holds the entry (state, flags, the links of the list it is on: the
  // LRU or the pinned one) and, after it, the key's bytes: a lookup touches one index bucket
  // and one node (std::unordered_map touched the bucket, the node before, the node and the
  // key's own heap block: cache misses each, with tens of thousands of keys). Nodes never
  // move, so the chains, pass_, frozen_, last_ and PinnedShared's key views hold pointers.
  struct Slot;
  // An entry is on the LRU chain (cached), on the pinned chain (pinned), or, when it holds
  // a pass or frozen state and is not pinned, on neither (held until the pass ends).
  struct Entry {
    StatePtr state;       // the committed state (null: absent)
    size_t bytes = 0;     // of the committed state
    bool pinned = false;
    bool in_pass = false;
    bool in_frozen = false;
    bool known = true;    // false: the committed state is not known (Erase of an entry in the pass)
    uint64_t pin_seq = 0; // pin_seq_ when last pinned (WrittenUpTo)
    StatePtr pass_state;  // when in_pass
    StatePtr frozen_state;  // when in_frozen
    bool held() const { return in_pass || in_frozen; }
    Slot* prev = nullptr;
    Slot* next = nullptr;
  };
  struct Slot {
    Entry e;
    uint64_t hash;
    uint32_t key_size;
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
  };
  struct Chain {  // an intrusive doubly-linked list of slots
    Slot* head = nullptr;
    Slot* tail = nullptr;
    size_t size = 0;
  };
  static void PushFront(Chain* chain, Slot* slot);
  static void Unlink(Chain* chain, Slot* slot);
  void Evict();
  void EraseSlot(Slot* slot);  // keeps complete_: callers decide
  void PinSlot(Slot* slot, StatePtr state, size_t bytes);
  // StateKeyHash(key), taken from the memo below when it is the memo's key.
  uint64_t Hash(std::string_view key) const {
    return key.size() == hash_memo_key_.size() && key == hash_memo_key_ ? hash_memo_ : StateKeyHash(key);
  }
  static Entry NewEntry(StatePtr state, size_t bytes, bool pinned);
  Slot* Find(std::string_view encoded_key, uint64_t hash) const;
  Slot* Find(std::string_view encoded_key) const { return Find(encoded_key, Hash(encoded_key)); }
  // A new node for a key not in the index, indexed.
  Slot* Emplace(std::string_view encoded_key, uint64_t hash, Entry entry);

  size_t max_bytes_;
  bool complete_ = false;
  size_t bytes_ = 0;
  size_t pinned_bytes_ = 0;
  uint64_t pin_seq_ = 0;  // counts pins
  // key -> node; a bucket holds the key's full hash, compared before the node is touched.
  GrowingIndex index_;
  Chain lru_;     // cache entries, head = most recently used
  Chain pinned_;  // pinned entries, in no particular order
  std::vector<Slot*> pass_;  // entries holding a pass state, in first-write order
  std::vector<Slot*> frozen_;  // entries holding a frozen state
  // Every pinned entry with the pin_seq of its latest pin, in pin order (older pins of an entry
  // pinned again stay behind as stale items until the next walk drops them): PinnedShared and
  // WrittenUpTo walk this array, fetching entries ahead, instead of following the pinned
  // chain, where each entry's address is in the one before (one cache miss after the other:
  // PinnedShared was ~2% of the pipeline thread in perf on serve). Only pinned entries are in
  // it: whatever unpins an entry outside these walks (Written, Erase) takes its items out.
  struct PinItem {
    Slot* slot;
    uint64_t seq;
  };
  std::vector<PinItem> pin_log_;
  void DropFromPinLog(Slot* slot);
  static void PrefetchSlot(const Slot* slot);
  // After a held entry left both generations: back on the LRU chain, or dropped when its
  // committed state is not known or there is no cache.
  void ReleaseHeld(Slot* slot);
  // The entry PassLookup or PrefetchState found, or PassLookup created, last (null when
  // erased): PassLookup and PassStore compare its key before the index is searched.
  Slot* last_ = nullptr;
  // The key PrefetchState last found no entry for, and its hash (passed by the caller): the
  // PassLookup, Insert and PassStore of that key that follow would hash it again each. A hash
  // depends on the key only, so the memo is never stale.
  std::string hash_memo_key_;
  uint64_t hash_memo_ = 0;
};

}  // namespace ec::cdc
