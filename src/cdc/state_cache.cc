#include "cdc/state_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>

#include "cdc/state_blocks.h"

namespace ec::cdc {
namespace {

// What an entry costs besides its bytes: its node (entry, links) and index buckets.
constexpr size_t kEntryOverhead = 160;

size_t EntryBytes(std::string_view key, const StatePtr& state) {
  return kEntryOverhead + key.size() + (state ? state->bytes().size() : 0);
}

// Walks over many entries (a pass's, the pinned ones) fetch the entries kPrefetchSlots ahead,
// and the states of those kPrefetchStates ahead (their entries are in cache by then): the
// entries lie all over the heap, and a walk that waits for each in turn is a cache miss per
// entry, one after the other.
constexpr size_t kPrefetchSlots = 16;
constexpr size_t kPrefetchStates = 8;

}  // namespace

void StateCache::PrefetchSlot(const Slot* slot) {
  const char* p = reinterpret_cast<const char*>(slot);
  __builtin_prefetch(p);
  __builtin_prefetch(p + 64);
  __builtin_prefetch(p + 128);
}

void StateCache::PushFront(Chain* chain, Slot* slot) {
  Entry& e = slot->e;
  e.prev = nullptr;
  e.next = chain->head;
  if (chain->head != nullptr) chain->head->e.prev = slot;
  else chain->tail = slot;
  chain->head = slot;
  ++chain->size;
}

void StateCache::Unlink(Chain* chain, Slot* slot) {
  Entry& e = slot->e;
  if (e.prev != nullptr) e.prev->e.next = e.next;
  else chain->head = e.next;
  if (e.next != nullptr) e.next->e.prev = e.prev;
  else chain->tail = e.prev;
  e.prev = e.next = nullptr;
  --chain->size;
}

StateCache::~StateCache() {
  index_.ForEach([](void* item) {
    Slot* slot = static_cast<Slot*>(item);
    const size_t bytes = sizeof(Slot) + slot->key_size;
    slot->~Slot();
    state_blocks::Free(slot, bytes);
  });
}

StateCache::Entry StateCache::NewEntry(StatePtr state, size_t bytes, bool pinned) {
  Entry e;
  e.state = std::move(state);
  e.bytes = bytes;
  e.pinned = pinned;
  return e;
}

StateCache::Slot* StateCache::Find(std::string_view encoded_key, uint64_t hash) const {
  return static_cast<Slot*>(
      index_.Find(hash, [encoded_key](const void* item) { return static_cast<const Slot*>(item)->key() == encoded_key; }));
}

void StateCache::Prefetch(uint64_t hash) const { index_.Prefetch(hash); }

void StateCache::PrefetchEntry(uint64_t hash) const {
  // The first entry with the key's hash, its key not compared (that would read the node).
  const void* item = index_.Find(hash, [](const void*) { return true; });
  if (item != nullptr) PrefetchSlot(static_cast<const Slot*>(item));
}

void StateCache::PrefetchState(std::string_view encoded_key, uint64_t hash, bool pass) {
  Slot* slot = Find(encoded_key, hash);
  if (slot == nullptr) {
    hash_memo_key_.assign(encoded_key);
    hash_memo_ = hash;
    return;
  }
  last_ = slot;
  const Entry& e = slot->e;
  const EncodedState* state = !pass ? e.state.get()
                              : e.in_pass ? e.pass_state.get()
                              : e.in_frozen ? e.frozen_state.get()
                                            : e.state.get();
  if (state != nullptr) __builtin_prefetch(state);
}

StateCache::Slot* StateCache::Emplace(std::string_view encoded_key, uint64_t hash, Entry entry) {
  // Kept for reuse (state_blocks.h), as the states are: a new key's node is then mostly the
  // block of one evicted or erased, not a malloc behind a pass's worth of freed states.
  void* mem = state_blocks::Allocate(sizeof(Slot) + encoded_key.size());
  Slot* slot = new (mem) Slot{std::move(entry), hash, static_cast<uint32_t>(encoded_key.size())};
  if (!encoded_key.empty()) std::memcpy(reinterpret_cast<char*>(slot + 1), encoded_key.data(), encoded_key.size());
  index_.Insert(hash, slot);
  return slot;
}

bool StateCache::Lookup(std::string_view encoded_key, StatePtr* out) {
  Slot* slot = Find(encoded_key);
  if (slot == nullptr || !slot->e.known) return false;
  const Entry& e = slot->e;
  if (!e.pinned && !e.held() && lru_.head != slot) {
    Unlink(&lru_, slot);
    PushFront(&lru_, slot);
  }
  *out = e.state;
  return true;
}

void StateCache::Insert(std::string_view encoded_key, StatePtr state) {
  const size_t bytes = EntryBytes(encoded_key, state);
  const uint64_t hash = Hash(encoded_key);
  if (Slot* slot = Find(encoded_key, hash); slot != nullptr) {
    Entry& e = slot->e;
    if (e.pinned) return;  // the pending write is newer than what the store holds
    if (e.held()) {        // held until the pass ends: not on the LRU chain, not counted
      e.state = std::move(state);
      e.bytes = bytes;
      e.known = true;
      return;
    }
    if (max_bytes_ == 0) return;  // (not reached: with no cache only pinned or held entries exist)
    bytes_ = bytes_ - e.bytes + bytes;
    e.state = std::move(state);
    e.bytes = bytes;
    Unlink(&lru_, slot);
    PushFront(&lru_, slot);
  } else {
    if (max_bytes_ == 0 || bytes > max_bytes_) {  // no cache, or larger than the whole cache
      if (state != nullptr) complete_ = false;
      return;
    }
    Slot* added = Emplace(encoded_key, hash, NewEntry(std::move(state), bytes, false));
    last_ = added;
    PushFront(&lru_, added);
    bytes_ += bytes;
  }
  Evict();
}

void StateCache::PinSlot(Slot* slot, StatePtr state, size_t bytes) {
  Entry& e = slot->e;
  if (e.pinned) {
    pinned_bytes_ -= e.bytes;
  } else {
    if (!e.held()) {  // cached (a held entry is on no chain and not counted)
      bytes_ -= e.bytes;
      Unlink(&lru_, slot);
    }
    e.pinned = true;
    PushFront(&pinned_, slot);
  }
  e.state = std::move(state);
  e.bytes = bytes;
  e.known = true;
  e.pin_seq = ++pin_seq_;
  pin_log_.push_back({slot, pin_seq_});
  pinned_bytes_ += bytes;
}

void StateCache::DropFromPinLog(Slot* slot) {
  std::erase_if(pin_log_, [slot](const PinItem& p) { return p.slot == slot; });
}

void StateCache::Pin(std::string_view encoded_key, StatePtr state) {
  const size_t bytes = EntryBytes(encoded_key, state);
  const uint64_t hash = Hash(encoded_key);
  Slot* slot = Find(encoded_key, hash);
  if (slot == nullptr) {
    slot = Emplace(encoded_key, hash, NewEntry(std::move(state), bytes, true));
    slot->e.pin_seq = ++pin_seq_;
    pin_log_.push_back({slot, pin_seq_});
    PushFront(&pinned_, slot);
    pinned_bytes_ += bytes;
  } else {
    PinSlot(slot, std::move(state), bytes);
  }
  Evict();
}

bool StateCache::PassLookup(std::string_view encoded_key, StatePtr* out) {
  // Mostly the entry PrefetchState has just found (or the last exchange's key again).
  Slot* slot = last_ != nullptr && last_->key() == encoded_key ? last_ : Find(encoded_key);
  if (slot == nullptr) return false;
  last_ = slot;
  Entry& e = slot->e;
  if (e.in_pass) {
    *out = e.pass_state;
    return true;
  }
  if (e.in_frozen) {  // the pass before, committing: its state is the one this pass builds on
    *out = e.frozen_state;
    return true;
  }
  // Not held, so `known` (only a held entry can forget its committed state).
  if (!e.pinned && lru_.head != slot) {
    Unlink(&lru_, slot);
    PushFront(&lru_, slot);
  }
  *out = e.state;
  return true;
}

bool StateCache::PassStore(std::string_view encoded_key, StatePtr* state) {
  // The stage writes the key it has just read: the remembered entry, compared, not hashed.
  Slot* slot = last_ != nullptr && std::string_view(last_->key()) == encoded_key ? last_ : Find(encoded_key);
  if (slot == nullptr) return false;
  Entry& e = slot->e;
  if (!e.in_pass) {
    if (!e.pinned && !e.in_frozen) {  // cached: held on no chain until the pass ends, so never evicted
      Unlink(&lru_, slot);
      bytes_ -= e.bytes;
    }
    e.in_pass = true;
    pass_.push_back(slot);
  }
  e.pass_state = std::move(*state);
  return true;
}

void StateCache::PassStoreNew(std::string_view encoded_key, StatePtr committed, StatePtr state) {
  const size_t bytes = EntryBytes(encoded_key, committed);
  // (The caller found no entry for the key.)
  Slot* slot = Emplace(encoded_key, Hash(encoded_key), NewEntry(std::move(committed), bytes, false));
  Entry& e = slot->e;
  e.in_pass = true;
  e.pass_state = std::move(state);
  pass_.push_back(slot);
  last_ = slot;
}

std::vector<StateWrite> StateCache::PassPending() const {
  std::vector<StateWrite> out;
  const size_t n = pass_.size();
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchSlots < n) PrefetchSlot(pass_[i + kPrefetchSlots]);
    if (i + kPrefetchStates < n) __builtin_prefetch(pass_[i + kPrefetchStates]->e.pass_state.get());
    const Slot* slot = pass_[i];
    out.emplace_back(std::string(slot->key()), slot->e.pass_state);
  }
  return out;
}

void StateCache::PassCommit() {
  for (Slot* slot : pass_) {
    Entry& e = slot->e;
    StatePtr state = std::move(e.pass_state);
    const size_t bytes = EntryBytes(slot->key(), state);
    PinSlot(slot, std::move(state), bytes);  // while in_pass: treated as held, not cached
    e.in_pass = false;
  }
  pass_.clear();
  Evict();
}

void StateCache::PassDiscard() {
  std::vector<Slot*> pass;
  pass.swap(pass_);
  for (Slot* slot : pass) {
    Entry& e = slot->e;
    e.in_pass = false;
    e.pass_state.reset();
    if (e.pinned || e.in_frozen) continue;  // still on the pinned chain, or held by the frozen generation
    ReleaseHeld(slot);
  }
  Evict();
}

void StateCache::ReleaseHeld(Slot* slot) {
  Entry& e = slot->e;
  if (!e.known || max_bytes_ == 0) {
    if (e.state != nullptr || !e.known) complete_ = false;
    EraseSlot(slot);
    return;
  }
  PushFront(&lru_, slot);
  bytes_ += e.bytes;
}

void StateCache::PassFreeze() {
  // (frozen_ is empty: the caller committed or discarded the generation before.)
  for (Slot* slot : pass_) {
    Entry& e = slot->e;
    e.in_frozen = true;
    e.frozen_state = std::move(e.pass_state);
    e.pass_state.reset();
    e.in_pass = false;
  }
  frozen_.swap(pass_);
  pass_.clear();
}

void StateCache::FrozenCommit() {
  const size_t n = frozen_.size();
  for (size_t i = 0; i < n; ++i) {
    // The committed state each entry lets go of is freed here: fetched ahead too.
    if (i + kPrefetchSlots < n) PrefetchSlot(frozen_[i + kPrefetchSlots]);
    if (i + kPrefetchStates < n) __builtin_prefetch(frozen_[i + kPrefetchStates]->e.state.get());
    Slot* slot = frozen_[i];
    Entry& e = slot->e;
    StatePtr state = std::move(e.frozen_state);
    e.frozen_state.reset();
    const size_t bytes = EntryBytes(slot->key(), state);
    PinSlot(slot, std::move(state), bytes);  // while in_frozen: treated as held, not cached
    e.in_frozen = false;
  }
  frozen_.clear();
  Evict();
}

void StateCache::FrozenDiscard() {
  std::vector<Slot*> frozen;
  frozen.swap(frozen_);
  for (Slot* slot : frozen) {
    Entry& e = slot->e;
    e.in_frozen = false;
    e.frozen_state.reset();
    if (e.pinned || e.in_pass) continue;
    ReleaseHeld(slot);
  }
  Evict();
}

std::vector<StateCache::PinnedState> StateCache::PinnedInKeyOrder() const {
  std::vector<PinnedState> pinned;
  pinned.reserve(pinned_.size);
  for (const Slot* s = pinned_.head; s != nullptr; s = s->e.next) pinned.push_back({s->key(), s->e.state.get()});
  return SortedByKey(std::move(pinned));
}

void StateCache::Written() {
  // The pinned chain's entries go in front of the LRU chain, except those holding a pass
  // state: they stay held until the pass ends.
  Slot* s = pinned_.tail;
  while (s != nullptr) {
    Slot* prev = s->e.prev;
    Entry& e = s->e;
    e.pinned = false;
    e.prev = e.next = nullptr;
    if (!e.held()) {
      PushFront(&lru_, s);
      bytes_ += e.bytes;
    }
    s = prev;
  }
  pinned_ = Chain{};
  pin_log_.clear();
  pinned_bytes_ = 0;
  Evict();
}

std::vector<StateCache::PinnedCopy> StateCache::PinnedShared() {
  std::vector<PinnedCopy> out;
  out.reserve(pinned_.size);
  size_t kept = 0;
  const size_t n = pin_log_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchSlots < n) PrefetchSlot(pin_log_[i + kPrefetchSlots].slot);
    if (i + kPrefetchStates < n) __builtin_prefetch(pin_log_[i + kPrefetchStates].slot->e.state.get());
    const PinItem item = pin_log_[i];
    if (item.slot->e.pin_seq != item.seq) continue;  // pinned again since: a later item
    out.push_back({item.slot->key(), item.slot->e.state});
    pin_log_[kept++] = item;  // the stale items go
  }
  pin_log_.resize(kept);
  return out;
}

void StateCache::WrittenUpTo(uint64_t seq) {
  // As Written(), for the entries pinned at or before `seq` only, in pin order (the last
  // pinned ends up the most recently used).
  size_t kept = 0;
  const size_t n = pin_log_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchSlots < n) __builtin_prefetch(pin_log_[i + kPrefetchSlots].slot);
    const PinItem item = pin_log_[i];
    Entry& e = item.slot->e;
    if (e.pin_seq != item.seq) continue;  // stale: pinned again since
    if (e.pin_seq > seq) {
      pin_log_[kept++] = item;  // still to be written
      continue;
    }
    Unlink(&pinned_, item.slot);
    pinned_bytes_ -= e.bytes;
    e.pinned = false;
    if (!e.held()) {
      PushFront(&lru_, item.slot);
      bytes_ += e.bytes;
    }
  }
  pin_log_.resize(kept);
  Evict();  // after the log holds only pinned entries again: eviction frees entries
}

void StateCache::EraseSlot(Slot* slot) {
  Entry& e = slot->e;
  if (e.pinned) {
    pinned_bytes_ -= e.bytes;
    Unlink(&pinned_, slot);
    DropFromPinLog(slot);
  } else if (!e.held()) {
    bytes_ -= e.bytes;
    Unlink(&lru_, slot);
  }
  if (e.in_pass) std::erase(pass_, slot);
  if (e.in_frozen) std::erase(frozen_, slot);
  if (last_ == slot) last_ = nullptr;
  index_.Erase(slot->hash, slot);
  const size_t bytes = sizeof(Slot) + slot->key_size;
  slot->~Slot();
  state_blocks::Free(slot, bytes);
}

void StateCache::Erase(std::string_view encoded_key) {
  // The store's state of the key is not known any more (a failed write).
  complete_ = false;
  Slot* slot = Find(encoded_key);
  if (slot == nullptr) return;
  Entry& e = slot->e;
  if (e.held()) {  // the pass and frozen states stay; the committed one is read again when needed
    if (e.pinned) {
      pinned_bytes_ -= e.bytes;
      Unlink(&pinned_, slot);
      DropFromPinLog(slot);
      e.pinned = false;
    }
    e.known = false;
    e.state.reset();
    e.bytes = 0;
    return;
  }
  EraseSlot(slot);
}

void StateCache::ErasePrefix(std::string_view prefix) {
  // Collected first: an erase shifts buckets back under a walk of the index.
  std::vector<Slot*> doomed;
  index_.ForEach([&](void* item) {
    Slot* slot = static_cast<Slot*>(item);
    if (slot->key().starts_with(prefix)) doomed.push_back(slot);
  });
  for (Slot* slot : doomed) EraseSlot(slot);
}

// The pinned states count against the bound too: on top of it, deferring 32 MiB of writes
// (processing.state_write_defer_bytes) held up to 32 MiB more than the cache's bound once the
// cache was full (millions of keys), and the server's peak RSS passed 256 MB at 16.
void StateCache::Evict() {
  while (bytes_ + pinned_bytes_ > max_bytes_ && lru_.tail != nullptr) {
    if (lru_.tail->e.state != nullptr) complete_ = false;  // a stored key leaves the map
    EraseSlot(lru_.tail);
  }
}

}  // namespace ec::cdc
