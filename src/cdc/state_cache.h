#pragma once
// A bounded, thread-safe LRU cache of stored states in front of a persistent state store, so
// that the changelog stage's read per exchange of a hot key does not go to RocksDB. It also
// remembers keys known to be absent (a POST's new key). Bounded by an approximate byte count
// (keys, values and per-entry overhead); 0 bytes disables it. The owner keeps it coherent:
// every write to the store goes through Insert, and clearing a resource through EraseResource.

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cdc/state_store.h"

namespace ec::cdc {

class StateCache {
 public:
  explicit StateCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  // Not internally synchronised: the owner serialises calls (with the store access they belong
  // to, so a read that misses and a concurrent write cannot leave a stale entry behind).
  // Whether `encoded_key` is cached; if so `*out` is its state (null: known absent).
  bool Lookup(std::string_view encoded_key, StatePtr* out);
  // Caches `state` (null = absent) for `encoded_key` as the most recently used entry.
  void Insert(std::string_view encoded_key, StatePtr state);
  // Drops the entry of `encoded_key`, if any.
  void Erase(std::string_view encoded_key);
  // Drops every entry whose key starts with `prefix`.
  void ErasePrefix(std::string_view prefix);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return index_.size(); }
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Node {
    std::string key;
    StatePtr state;
    size_t bytes = 0;
  };
  using List = std::list<Node>;
  void Evict();

  size_t max_bytes_;
  size_t bytes_ = 0;
  List lru_;  // front = most recently used
  std::unordered_map<std::string_view, List::iterator> index_;  // views into Node::key
};

}  // namespace ec::cdc
