#include "cdc/state_store.h"

#include <bit>
#include <cstring>

#include "cdc/state_blocks.h"

namespace ec::cdc {

std::string EncodeKey(std::string_view resource, std::string_view key) {
  std::string k;
  k.reserve(resource.size() + 1 + key.size());
  k += resource;
  k += '\0';
  k += key;
  return k;
}

void AppendStateHeader(bool deleted, int64_t ts_ms, std::string* out) {
  // Written in place once the string has grown (per exchange): the flag, then the time as one
  // big-endian 8-byte store.
  const size_t at = out->size();
  out->resize(at + EncodedState::kHeaderBytes);
  char* header = out->data() + at;
  header[0] = deleted ? 'd' : 's';
  uint64_t ts = static_cast<uint64_t>(ts_ms);
  if constexpr (std::endian::native == std::endian::little) ts = __builtin_bswap64(ts);
  std::memcpy(header + 1, &ts, sizeof ts);
}

std::string EncodeState(const StoredState& state) {
  std::string out;
  out.reserve(EncodedState::kHeaderBytes + state.value.size());
  AppendStateHeader(state.deleted, state.ts_ms, &out);
  out += state.value;
  return out;
}

std::optional<StoredState> DecodeState(std::string_view bytes) {
  if (bytes.size() < EncodedState::kHeaderBytes || (bytes[0] != 'd' && bytes[0] != 's')) return std::nullopt;
  uint64_t ts = 0;
  for (size_t i = 1; i < EncodedState::kHeaderBytes; ++i) ts = (ts << 8) | static_cast<unsigned char>(bytes[i]);
  return StoredState{bytes[0] == 'd', static_cast<int64_t>(ts), std::string(bytes.substr(EncodedState::kHeaderBytes))};
}

namespace {

// Allocates what it is asked for (std::allocate_shared's control block with the object in
// it) plus `extra` bytes after it, and says where those are, before the object is built.
// The blocks are kept for reuse (state_blocks.h: a pass's states replace the ones the pass
// before freed).
template <class T>
struct TrailingBytesAllocator {
  using value_type = T;
  size_t extra;
  char** at;
  TrailingBytesAllocator(size_t e, char** a) : extra(e), at(a) {}
  template <class U>
  TrailingBytesAllocator(const TrailingBytesAllocator<U>& o) : extra(o.extra), at(o.at) {}
  T* allocate(size_t n) {
    char* p = static_cast<char*>(state_blocks::Allocate(n * sizeof(T) + extra));
    *at = p + n * sizeof(T);
    return reinterpret_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { state_blocks::Free(p, n * sizeof(T) + extra); }
  template <class U>
  bool operator==(const TrailingBytesAllocator<U>& o) const { return extra == o.extra && at == o.at; }
};

}  // namespace

EncodedState::EncodedState(const InPlace& in) {
  std::memcpy(*in.at, in.bytes.data(), in.bytes.size());
  bytes_ = std::string_view(*in.at, in.bytes.size());
}

StatePtr EncodedState::Copy(std::string_view bytes) {
  char* at = nullptr;
  return std::allocate_shared<EncodedState>(TrailingBytesAllocator<EncodedState>(bytes.size(), &at),
                                            InPlace{&at, bytes});
}

StatePtr EncodedState::Make(const StoredState& state) { return Copy(EncodeState(state)); }

StatePtr EncodedState::FromBytes(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes || (bytes[0] != 'd' && bytes[0] != 's')) return nullptr;
  return Copy(bytes);
}

std::string CheckpointKey(std::string_view name) { return EncodeKey("", "checkpoint:" + std::string(name)); }

Status StateStore::LookupMany(const std::vector<std::string_view>& keys, std::vector<StatePtr>* out) {
  out->assign(keys.size(), nullptr);
  for (size_t i = 0; i < keys.size(); ++i) {
    Result<StatePtr> r = Lookup(keys[i]);
    if (!r.ok()) return r.status();
    (*out)[i] = std::move(*r);
  }
  return Status();
}

Result<std::optional<StoredState>> StateStore::Get(std::string_view resource, std::string_view key) {
  EC_ASSIGN_OR_RETURN(StatePtr state, Lookup(EncodeKey(resource, key)));
  if (state == nullptr) return std::optional<StoredState>();
  return std::optional<StoredState>(state->ToStored());
}

Status StateStore::Put(std::string_view resource, std::string_view key, const StoredState& state) {
  return Store(EncodeKey(resource, key), EncodedState::Make(state));
}

Status MemoryStateStore::Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) {
  std::lock_guard lock(mu_);
  for (const StateWrite& w : writes) {
    auto it = states_.find(w.encoded_key);
    if (w.state == nullptr) {
      if (it != states_.end()) states_.erase(it);
    } else if (it == states_.end()) {
      states_.emplace(w.encoded_key, w.state);
    } else {
      it->second = w.state;
    }
  }
  if (!checkpoint.empty()) checkpoints_[std::string(checkpoint)] = offset;
  return Status();
}

Result<std::optional<int64_t>> MemoryStateStore::Checkpoint(std::string_view checkpoint) {
  std::lock_guard lock(mu_);
  auto it = checkpoints_.find(checkpoint);
  if (it == checkpoints_.end()) return std::optional<int64_t>();
  return std::optional<int64_t>(it->second);
}

Result<StatePtr> MemoryStateStore::Lookup(std::string_view encoded_key) {
  std::lock_guard lock(mu_);
  auto it = states_.find(encoded_key);
  if (it == states_.end()) return StatePtr();
  return it->second;
}

Status MemoryStateStore::Store(std::string_view encoded_key, StatePtr state) {
  std::lock_guard lock(mu_);
  auto it = states_.find(encoded_key);
  if (it == states_.end()) states_.emplace(std::string(encoded_key), std::move(state));
  else it->second = std::move(state);
  return Status();
}

Result<std::vector<std::string>> MemoryStateStore::List(std::string_view resource, std::string_view after,
                                                        size_t limit) {
  std::lock_guard lock(mu_);
  std::string prefix = EncodeKey(resource, "");
  std::vector<std::string> keys;
  for (auto it = states_.upper_bound(EncodeKey(resource, after)); it != states_.end() && keys.size() < limit; ++it) {
    if (!it->first.starts_with(prefix)) break;
    if (!it->second->deleted()) keys.push_back(it->first.substr(prefix.size()));
  }
  return keys;
}

Status MemoryStateStore::ClearResource(std::string_view resource) {
  std::lock_guard lock(mu_);
  std::string prefix = EncodeKey(resource, "");
  auto it = states_.lower_bound(prefix);
  while (it != states_.end() && it->first.starts_with(prefix)) it = states_.erase(it);
  return Status();
}

}  // namespace ec::cdc
