#include "cdc/state_cache.h"

#include <algorithm>
#include <cstdint>

namespace ec::cdc {
namespace {

// What an entry costs besides its bytes: hash node, links, string headers.
constexpr size_t kEntryOverhead = 160;

size_t EntryBytes(std::string_view key, const StatePtr& state) {
  return kEntryOverhead + key.size() + (state ? state->bytes().size() : 0);
}

}  // namespace

void StateCache::PushFront(Chain* chain, Slot* slot) {
  Entry& e = slot->second;
  e.prev = nullptr;
  e.next = chain->head;
  if (chain->head != nullptr) chain->head->second.prev = slot;
  else chain->tail = slot;
  chain->head = slot;
  ++chain->size;
}

void StateCache::Unlink(Chain* chain, Slot* slot) {
  Entry& e = slot->second;
  if (e.prev != nullptr) e.prev->second.next = e.next;
  else chain->head = e.next;
  if (e.next != nullptr) e.next->second.prev = e.prev;
  else chain->tail = e.prev;
  e.prev = e.next = nullptr;
  --chain->size;
}

bool StateCache::Lookup(std::string_view encoded_key, StatePtr* out) {
  auto it = map_.find(encoded_key);
  if (it == map_.end()) return false;
  Slot* slot = &*it;
  if (!slot->second.pinned && lru_.head != slot) {
    Unlink(&lru_, slot);
    PushFront(&lru_, slot);
  }
  *out = slot->second.state;
  return true;
}

void StateCache::Insert(std::string_view encoded_key, StatePtr state) {
  if (max_bytes_ == 0) return;
  const size_t bytes = EntryBytes(encoded_key, state);
  auto it = map_.find(encoded_key);
  if (it != map_.end()) {
    Slot* slot = &*it;
    Entry& e = slot->second;
    if (e.pinned) return;  // the pending write is newer than what the store holds
    bytes_ = bytes_ - e.bytes + bytes;
    e.state = std::move(state);
    e.bytes = bytes;
    Unlink(&lru_, slot);
    PushFront(&lru_, slot);
  } else {
    if (bytes > max_bytes_) return;  // larger than the whole cache: not worth keeping
    it = map_.emplace(std::string(encoded_key), Entry{std::move(state), bytes}).first;
    PushFront(&lru_, &*it);
    bytes_ += bytes;
  }
  Evict();
}

void StateCache::Pin(std::string_view encoded_key, StatePtr state) {
  const size_t bytes = EntryBytes(encoded_key, state);
  auto it = map_.find(encoded_key);
  if (it == map_.end()) {
    it = map_.emplace(std::string(encoded_key), Entry{std::move(state), bytes, true}).first;
    PushFront(&pinned_, &*it);
  } else {
    Slot* slot = &*it;
    Entry& e = slot->second;
    if (e.pinned) {
      pinned_bytes_ -= e.bytes;
    } else {
      bytes_ -= e.bytes;
      Unlink(&lru_, slot);
      e.pinned = true;
      PushFront(&pinned_, slot);
    }
    e.state = std::move(state);
    e.bytes = bytes;
  }
  pinned_bytes_ += bytes;
}

std::vector<StateCache::PinnedState> StateCache::PinnedInKeyOrder() const {
  // Sorted by the keys' first 16 bytes held in the vector (big-endian, zero-padded: integer
  // order is byte order), so most comparisons do not reach into the hash-map nodes, which lie
  // all over the heap; equal prefixes fall back to the whole keys.
  struct Item {
    uint64_t hi = 0, lo = 0;
    PinnedState pinned;
  };
  auto prefix = [](std::string_view key, size_t from) {
    uint64_t v = 0;
    for (size_t i = from; i < from + 8; ++i) v = (v << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
    return v;
  };
  std::vector<Item> items;
  items.reserve(pinned_.size);
  for (const Slot* s = pinned_.head; s != nullptr; s = s->second.next) {
    std::string_view key = s->first;
    items.push_back({prefix(key, 0), prefix(key, 8), {key, s->second.state.get()}});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.hi != b.hi) return a.hi < b.hi;
    if (a.lo != b.lo) return a.lo < b.lo;
    return a.pinned.encoded_key < b.pinned.encoded_key;
  });
  std::vector<PinnedState> out;
  out.reserve(items.size());
  for (const Item& i : items) out.push_back(i.pinned);
  return out;
}

void StateCache::Written() {
  if (pinned_.head == nullptr) return;
  for (Slot* s = pinned_.head; s != nullptr; s = s->second.next) {
    s->second.pinned = false;
    bytes_ += s->second.bytes;
  }
  // The whole pinned chain goes in front of the LRU chain.
  pinned_.tail->second.next = lru_.head;
  if (lru_.head != nullptr) lru_.head->second.prev = pinned_.tail;
  else lru_.tail = pinned_.tail;
  lru_.head = pinned_.head;
  lru_.size += pinned_.size;
  pinned_ = Chain{};
  pinned_bytes_ = 0;
  Evict();
}

void StateCache::EraseSlot(Map::iterator it) {
  Entry& e = it->second;
  if (e.pinned) {
    pinned_bytes_ -= e.bytes;
    Unlink(&pinned_, &*it);
  } else {
    bytes_ -= e.bytes;
    Unlink(&lru_, &*it);
  }
  map_.erase(it);
}

void StateCache::Erase(std::string_view encoded_key) {
  auto it = map_.find(encoded_key);
  if (it != map_.end()) EraseSlot(it);
}

void StateCache::ErasePrefix(std::string_view prefix) {
  for (auto it = map_.begin(); it != map_.end();) {
    auto next = std::next(it);
    if (std::string_view(it->first).starts_with(prefix)) EraseSlot(it);
    it = next;
  }
}

void StateCache::Evict() {
  while (bytes_ > max_bytes_ && lru_.tail != nullptr) EraseSlot(map_.find(std::string_view(lru_.tail->first)));
}

}  // namespace ec::cdc
