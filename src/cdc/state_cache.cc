#include "cdc/state_cache.h"

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
  lru_.splice(lru_.begin(), lru_, it->second);
  *out = it->second->state;
  return true;
}

void StateCache::Insert(std::string_view encoded_key, StatePtr state) {
  if (max_bytes_ == 0) return;
  const size_t bytes = EntryBytes(encoded_key, state);
  auto it = index_.find(encoded_key);
  if (it != index_.end()) {
    Node& n = *it->second;
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

void StateCache::Erase(std::string_view encoded_key) {
  auto it = index_.find(encoded_key);
  if (it == index_.end()) return;
  List::iterator node = it->second;
  index_.erase(it);
  bytes_ -= node->bytes;
  lru_.erase(node);
}

void StateCache::ErasePrefix(std::string_view prefix) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (std::string_view(it->key).starts_with(prefix)) {
      index_.erase(std::string_view(it->key));
      bytes_ -= it->bytes;
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void StateCache::Evict() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    Node& n = lru_.back();
    index_.erase(std::string_view(n.key));
    bytes_ -= n.bytes;
    lru_.pop_back();
  }
}

}  // namespace ec::cdc
