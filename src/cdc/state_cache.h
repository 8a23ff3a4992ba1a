#pragma once
// The RocksDB store's one in-memory map of states: a bounded, LRU cache of hot keys' states
// (so that the changelog stage's read per exchange of a hot key does not go to RocksDB; it
// also remembers keys known to be absent, a POST's new key) and, in the same entries, the
// committed states not yet written to RocksDB (deferred writes, rocks_state_store.cc). A
// deferred entry is pinned: never evicted until Written() makes it an ordinary cache entry, so
// a commit or a write moves the entry between two lists instead of inserting it into another
// map. The cache part is bounded by an approximate byte count (keys, values and per-entry
// overhead; 0 bytes = no cache); the pinned part is bounded by its owner (pinned_bytes()).

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cdc/state_store.h"

namespace ec::cdc {

class StateCache {
 public:
  explicit StateCache(size_t max_bytes) : max_bytes_(max_bytes) {}
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
  // Drops the entry of `encoded_key`, if any (pinned or not).
  void Erase(std::string_view encoded_key);
  // Drops every entry whose key starts with `prefix` (pinned or not).
  void ErasePrefix(std::string_view prefix);

  size_t bytes() const { return bytes_; }                 // the cache part
  size_t pinned_bytes() const { return pinned_bytes_; }   // the pinned part
  size_t pinned() const { return pinned_.size; }
  size_t entries() const { return map_.size(); }         // both
  size_t max_bytes() const { return max_bytes_; }

 private:
  // One hash-map node per key holds the key, the state and the links of the list the entry is
  // on (the LRU or the pinned one): a lookup touches one node, a pin or a write relinks it.
  struct Entry;
  using Map = std::unordered_map<std::string, Entry, StringViewHash, std::equal_to<>>;
  using Slot = std::pair<const std::string, Entry>;
  struct Entry {
    StatePtr state;
    size_t bytes = 0;
    bool pinned = false;
    Slot* prev = nullptr;
    Slot* next = nullptr;
  };
  struct Chain {  // an intrusive doubly-linked list of slots
    Slot* head = nullptr;
    Slot* tail = nullptr;
    size_t size = 0;
  };
  static void PushFront(Chain* chain, Slot* slot);
  static void Unlink(Chain* chain, Slot* slot);
  void Evict();
  void EraseSlot(Map::iterator it);

  size_t max_bytes_;
  size_t bytes_ = 0;
  size_t pinned_bytes_ = 0;
  Map map_;
  Chain lru_;     // cache entries, head = most recently used
  Chain pinned_;  // pinned entries, in no particular order
};

}  // namespace ec::cdc
