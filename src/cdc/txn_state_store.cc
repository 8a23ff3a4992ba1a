#include "cdc/txn_state_store.h"

namespace ec::cdc {

TxnStateStore::~TxnStateStore() {
  if (overlay_ != nullptr) overlay_->ReleasePassOverlay();
}

Result<StatePtr> TxnStateStore::Lookup(std::string_view encoded_key) {
  if (overlay_ != nullptr) return overlay_->PassLookup(encoded_key);
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(encoded_key);
    if (it != index_.end()) return writes_[*it].state;
    auto f = frozen_index_.find(encoded_key);
    if (f != frozen_index_.end()) return frozen_writes_[*f].state;
  }
  return base_->Lookup(encoded_key);
}

Status TxnStateStore::Freeze() {
  std::lock_guard lock(mu_);
  if (frozen_) return Status(ErrorCode::kInternal, "state overlay: a frozen generation is still open");
  frozen_ = true;
  if (overlay_ != nullptr) {
    overlay_->PassFreeze();
    return Status();
  }
  // The index hashes through a pointer to its vector: the frozen one is rebuilt over the
  // moved writes (this path is the memory store's: tests and `eventception test`).
  frozen_writes_ = std::move(writes_);
  writes_.clear();
  index_.clear();
  frozen_index_.clear();
  for (uint32_t i = 0; i < frozen_writes_.size(); ++i) frozen_index_.insert(i);
  return Status();
}

Status TxnStateStore::CommitFrozen(std::string_view checkpoint, int64_t offset) {
  std::lock_guard lock(mu_);
  if (!frozen_) return Status(ErrorCode::kInternal, "state overlay: no frozen generation to commit");
  if (overlay_ != nullptr) {
    frozen_ = false;  // the map commits it whatever the write does (PassOverlay::PassCommit)
    return overlay_->FrozenCommit(checkpoint, offset);
  }
  Status s = base_->Apply(frozen_writes_, checkpoint, offset);
  if (!s.ok()) return s;  // kept frozen: the caller retries or discards
  frozen_ = false;
  frozen_index_.clear();
  frozen_writes_.clear();
  return s;
}

void TxnStateStore::DiscardFrozen() {
  std::lock_guard lock(mu_);
  frozen_ = false;
  if (overlay_ != nullptr) return overlay_->FrozenDiscard();
  frozen_index_.clear();
  frozen_writes_.clear();
}

bool TxnStateStore::has_frozen() const {
  std::lock_guard lock(mu_);
  return frozen_;
}

Status TxnStateStore::Store(std::string_view encoded_key, StatePtr state) {
  if (overlay_ != nullptr) return overlay_->PassStore(encoded_key, std::move(state));
  std::lock_guard lock(mu_);
  auto it = index_.find(encoded_key);
  if (it != index_.end()) {
    writes_[*it].state = std::move(state);
  } else {
    writes_.emplace_back(std::string(encoded_key), std::move(state));
    index_.insert(static_cast<uint32_t>(writes_.size() - 1));
  }
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
  if (overlay_ != nullptr) return base_->ClearResource(resource);  // drops the pass's entries too
  {
    std::lock_guard lock(mu_);
    std::string prefix = EncodeKey(resource, "");
    std::erase_if(writes_, [&](const StateWrite& w) { return w.encoded_key.starts_with(prefix); });
    index_.clear();
    for (uint32_t i = 0; i < writes_.size(); ++i) index_.insert(i);
    std::erase_if(frozen_writes_, [&](const StateWrite& w) { return w.encoded_key.starts_with(prefix); });
    frozen_index_.clear();
    for (uint32_t i = 0; i < frozen_writes_.size(); ++i) frozen_index_.insert(i);
  }
  return base_->ClearResource(resource);
}

std::vector<StateWrite> TxnStateStore::Pending() const {
  if (overlay_ != nullptr) return overlay_->PassPending();
  std::lock_guard lock(mu_);
  return writes_;
}

Status TxnStateStore::Commit(std::string_view checkpoint, int64_t offset) {
  // The store takes the overlay's writes as they are (no copies, no re-keying); a failed Apply
  // keeps them, so the next commit writes them again. The base's own overlay commits them in
  // its map, where they stay pending until written.
  std::lock_guard lock(mu_);
  if (frozen_) return Status(ErrorCode::kInternal, "state overlay: commit with a frozen generation open");
  if (overlay_ != nullptr) return overlay_->PassCommit(checkpoint, offset);
  Status s = base_->Apply(writes_, checkpoint, offset);
  if (s.ok()) ClearLocked();
  return s;
}

void TxnStateStore::Discard() {
  if (overlay_ != nullptr) return overlay_->PassDiscard();
  std::lock_guard lock(mu_);
  ClearLocked();
}

void TxnStateStore::ClearLocked() {
  index_.clear();
  writes_.clear();
}

}  // namespace ec::cdc
