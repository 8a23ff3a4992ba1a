#include "cdc/txn_state_store.h"

namespace ec::cdc {

Result<std::optional<StoredState>> TxnStateStore::Get(std::string_view resource, std::string_view key) {
  {
    std::lock_guard lock(mu_);
    auto it = overlay_.find(EncodeKey(resource, key));
    if (it != overlay_.end()) return std::optional<StoredState>(it->second);
  }
  return base_->Get(resource, key);
}

Status TxnStateStore::Put(std::string_view resource, std::string_view key, const StoredState& state) {
  std::lock_guard lock(mu_);
  overlay_[EncodeKey(resource, key)] = state;
  return Status();
}

Result<std::vector<std::string>> TxnStateStore::List(std::string_view resource, std::string_view after,
                                                     size_t limit) {
  return base_->List(resource, after, limit);
}

Status TxnStateStore::Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) {
  return base_->Apply(writes, checkpoint, offset);
}

Result<std::optional<int64_t>> TxnStateStore::Checkpoint(std::string_view checkpoint) {
  return base_->Checkpoint(checkpoint);
}

Status TxnStateStore::ClearResource(std::string_view resource) {
  {
    std::lock_guard lock(mu_);
    std::string prefix = EncodeKey(resource, "");
    auto it = overlay_.lower_bound(prefix);
    while (it != overlay_.end() && it->first.starts_with(prefix)) it = overlay_.erase(it);
  }
  return base_->ClearResource(resource);
}

std::vector<StateWrite> TxnStateStore::Pending() const {
  std::lock_guard lock(mu_);
  std::vector<StateWrite> out;
  out.reserve(overlay_.size());
  for (const auto& [k, v] : overlay_) out.push_back({k, v});
  return out;
}

Status TxnStateStore::Commit(std::string_view checkpoint, int64_t offset) {
  std::vector<StateWrite> writes = Pending();
  EC_RETURN_IF_ERROR(base_->Apply(writes, checkpoint, offset));
  std::lock_guard lock(mu_);
  overlay_.clear();
  return Status();
}

void TxnStateStore::Discard() {
  std::lock_guard lock(mu_);
  overlay_.clear();
}

}  // namespace ec::cdc
