#include "cdc/txn_state_store.h"

namespace ec::cdc {

Result<StatePtr> TxnStateStore::Lookup(std::string_view encoded_key) {
  {
    std::lock_guard lock(mu_);
    auto it = overlay_.find(encoded_key);
    if (it != overlay_.end()) return it->second;
  }
  return base_->Lookup(encoded_key);
}

Status TxnStateStore::Store(std::string_view encoded_key, StatePtr state) {
  std::lock_guard lock(mu_);
  auto it = overlay_.find(encoded_key);
  if (it == overlay_.end()) overlay_.emplace(std::string(encoded_key), std::move(state));
  else it->second = std::move(state);
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
    std::erase_if(overlay_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  }
  return base_->ClearResource(resource);
}

std::vector<StateWrite> TxnStateStore::Pending() const {
  std::lock_guard lock(mu_);
  std::vector<StateWrite> out;
  out.reserve(overlay_.size());
  for (const auto& [k, v] : overlay_) out.emplace_back(k, v);
  return out;
}

Status TxnStateStore::Commit(std::string_view checkpoint, int64_t offset) {
  // The states move out of the overlay (no copies); a failed Apply puts them back, so the
  // next commit writes them again.
  std::vector<StateWrite> writes;
  {
    std::lock_guard lock(mu_);
    writes.reserve(overlay_.size());
    for (auto& [k, v] : overlay_) writes.emplace_back(k, std::move(v));
    overlay_.clear();
  }
  Status s = base_->Apply(writes, checkpoint, offset);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    for (StateWrite& w : writes) overlay_.try_emplace(std::move(w.encoded_key), std::move(w.state));
  }
  return s;
}

void TxnStateStore::Discard() {
  std::lock_guard lock(mu_);
  overlay_.clear();
}

}  // namespace ec::cdc
