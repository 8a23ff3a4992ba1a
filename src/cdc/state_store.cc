#include "cdc/state_store.h"

namespace ec::cdc {

std::string EncodeKey(std::string_view resource, std::string_view key) {
  std::string k(resource);
  k += '\0';
  k += key;
  return k;
}

std::string EncodeState(const StoredState& state) {
  std::string out(1, state.deleted ? 'd' : 's');
  uint64_t ts = static_cast<uint64_t>(state.ts_ms);
  for (int i = 7; i >= 0; --i) out += static_cast<char>((ts >> (8 * i)) & 0xff);
  out += state.value;
  return out;
}

std::optional<StoredState> DecodeState(std::string_view bytes) {
  if (bytes.size() < 9 || (bytes[0] != 'd' && bytes[0] != 's')) return std::nullopt;
  StoredState s;
  s.deleted = bytes[0] == 'd';
  uint64_t ts = 0;
  for (int i = 1; i <= 8; ++i) ts = (ts << 8) | static_cast<unsigned char>(bytes[i]);
  s.ts_ms = static_cast<int64_t>(ts);
  s.value = std::string(bytes.substr(9));
  return s;
}

std::string CheckpointKey(std::string_view name) { return EncodeKey("", "checkpoint:" + std::string(name)); }

Status MemoryStateStore::Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) {
  std::lock_guard lock(mu_);
  for (const StateWrite& w : writes) states_[w.encoded_key] = w.state;
  if (!checkpoint.empty()) checkpoints_[std::string(checkpoint)] = offset;
  return Status();
}

Result<std::optional<int64_t>> MemoryStateStore::Checkpoint(std::string_view checkpoint) {
  std::lock_guard lock(mu_);
  auto it = checkpoints_.find(checkpoint);
  if (it == checkpoints_.end()) return std::optional<int64_t>();
  return std::optional<int64_t>(it->second);
}

Result<std::optional<StoredState>> MemoryStateStore::Get(std::string_view resource, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = states_.find(EncodeKey(resource, key));
  if (it == states_.end()) return std::optional<StoredState>();
  return std::optional<StoredState>(it->second);
}

Status MemoryStateStore::Put(std::string_view resource, std::string_view key, const StoredState& state) {
  std::lock_guard lock(mu_);
  states_[EncodeKey(resource, key)] = state;
  return Status();
}

Result<std::vector<std::string>> MemoryStateStore::List(std::string_view resource, std::string_view after,
                                                        size_t limit) {
  std::lock_guard lock(mu_);
  std::string prefix = EncodeKey(resource, "");
  std::vector<std::string> keys;
  for (auto it = states_.upper_bound(EncodeKey(resource, after)); it != states_.end() && keys.size() < limit; ++it) {
    if (!it->first.starts_with(prefix)) break;
    if (!it->second.deleted) keys.push_back(it->first.substr(prefix.size()));
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
