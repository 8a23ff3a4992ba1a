#include "cdc/state_cache.h"

#include <algorithm>

namespace ec::cdc {
namespace {

// What an entry costs besides its bytes: list node, hash node, string headers.
constexpr size_t kEntryOverhead = 160;

size_t EntryBytes(std::string_view key, const StatePtr& state) {
  return kEntryOverhead + key.size() + (state ? state->bytes().size() : 0);
}

}  // namespace

bool StateCache::Lookup(std::string_view encoded_key, StatePtr* out) {
  auto it = index_.find(encoded_key);
  if (it == index_.end()) return false;
  if (!it->second->pinned) lru_.splice(lru_.begin(), lru_, it->second);
  *out = it->second->state;
  return true;
}

void StateCache::Insert(std::string_view encoded_key, StatePtr state) {
  if (max_bytes_ == 0) return;
  const size_t bytes = EntryBytes(encoded_key, state);
  auto it = index_.find(encoded_key);
  if (it != index_.end()) {
    Node& n = *it->second;
    if (n.pinned) return;  // the pending write is newer than what the store holds
    bytes_ = bytes_ - n.bytes + bytes;
    n.state = std::move(state);
    n.bytes = bytes;
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    if (bytes > max_bytes_) return;  // larger than the whole cache: not worth keeping
    lru_.push_front(Node{std::string(encoded_key), std::move(state), bytes});
    index_.emplace(std::string_view(lru_.front().key), lru_.begin());
    bytes_ += bytes;
  }
  Evict();
}

void StateCache::Pin(std::string_view encoded_key, StatePtr state) {
  const size_t bytes = EntryBytes(encoded_key, state);
  auto it = index_.find(encoded_key);
  if (it == index_.end()) {
    pinned_.push_front(Node{std::string(encoded_key), std::move(state), bytes, true});
    index_.emplace(std::string_view(pinned_.front().key), pinned_.begin());
  } else {
    Node& n = *it->second;
    if (n.pinned) {
      pinned_bytes_ -= n.bytes;
    } else {
      bytes_ -= n.bytes;
      n.pinned = true;
      pinned_.splice(pinned_.begin(), lru_, it->second);
    }
    n.state = std::move(state);
    n.bytes = bytes;
  }
  pinned_bytes_ += bytes;
}

std::vector<StateCache::PinnedState> StateCache::PinnedInKeyOrder() const {
  std::vector<PinnedState> out;
  out.reserve(pinned_.size());
  for (const Node& n : pinned_) out.push_back({n.key, n.state.get()});
  std::sort(out.begin(), out.end(),
            [](const PinnedState& a, const PinnedState& b) { return a.encoded_key < b.encoded_key; });
  return out;
}

void StateCache::Written() {
  for (Node& n : pinned_) {
    n.pinned = false;
    bytes_ += n.bytes;
  }
  lru_.splice(lru_.begin(), pinned_);
  pinned_bytes_ = 0;
  Evict();
}

void StateCache::EraseNode(List::iterator node) {
  index_.erase(std::string_view(node->key));
  if (node->pinned) {
    pinned_bytes_ -= node->bytes;
    pinned_.erase(node);
  } else {
    bytes_ -= node->bytes;
    lru_.erase(node);
  }
}

void StateCache::Erase(std::string_view encoded_key) {
  auto it = index_.find(encoded_key);
  if (it != index_.end()) EraseNode(it->second);
}

void StateCache::ErasePrefix(std::string_view prefix) {
  for (List* list : {&lru_, &pinned_}) {
    for (auto it = list->begin(); it != list->end();) {
      auto next = std::next(it);
      if (std::string_view(it->key).starts_with(prefix)) EraseNode(it);
      it = next;
    }
  }
}

void StateCache::Evict() {
  while (bytes_ > max_bytes_ && !lru_.empty()) EraseNode(std::prev(lru_.end()));
}

}  // namespace ec::cdc
