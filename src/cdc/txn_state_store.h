#pragma once
// The state store as exactly-once processing sees it: a pass's writes stay in an in-memory
// overlay (Lookup sees them, List and other readers do not) until the pass's log transaction
// is committed; then they go to the underlying store in one atomic Apply with the checkpoint,
// or are discarded when the pass aborts. docs/exactly-once.md.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cdc/state_store.h"

namespace ec::cdc {

class TxnStateStore final : public StateStore {
 public:
  // `base` is not owned and must outlive this. When `base` offers its own pass overlay
  // (StateStore::ClaimPassOverlay) the pass lives there; else in this object.
  explicit TxnStateStore(StateStore* base) : base_(base), overlay_(base->ClaimPassOverlay()) {}
  ~TxnStateStore() override;
  TxnStateStore(const TxnStateStore&) = delete;
  TxnStateStore& operator=(const TxnStateStore&) = delete;

  Result<StatePtr> Lookup(std::string_view encoded_key) override;
  // Buffers in the overlay.
  Status Store(std::string_view encoded_key, StatePtr state) override;
  void Prefetch(std::string_view encoded_key, uint64_t hash) override {
    if (overlay_ != nullptr) overlay_->PassPrefetch(encoded_key, hash);
    else base_->Prefetch(encoded_key, hash);
  }
  void PrefetchEntry(std::string_view encoded_key, uint64_t hash) override {
    if (overlay_ != nullptr) overlay_->PassPrefetchEntry(encoded_key, hash);
    else base_->PrefetchEntry(encoded_key, hash);
  }
  void PrefetchState(std::string_view encoded_key, uint64_t hash) override {
    if (overlay_ != nullptr) overlay_->PassPrefetchState(encoded_key, hash);
    else base_->PrefetchState(encoded_key, hash);
  }
  // Committed keys only (the underlying store).
  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override;
  Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) override;
  Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) override;
  // Drops the resource's overlay entries and clears it in the underlying store.
  Status ClearResource(std::string_view resource) override;

  // The overlay's writes (the latest state per key), in the order the keys were first written.
  std::vector<StateWrite> Pending() const;
  // Applies the overlay to the underlying store with `checkpoint` = `offset`, then clears it
  // (on failure it is kept: the next commit writes it again).
  Status Commit(std::string_view checkpoint, int64_t offset);
  // Forgets the overlay (the pass was aborted).
  void Discard();

  // Overlapped passes (docs/exactly-once.md "Overlapped passes"): Freeze sets the overlay's
  // writes apart as the frozen generation (pass N, whose log transaction is being committed)
  // and starts an empty overlay for pass N+1. Lookup then answers N+1's state of a key, else
  // N's, else the store's. CommitFrozen applies N's generation alone (as Commit would have);
  // DiscardFrozen forgets it (N aborted: the caller discards N+1's overlay too, since it was
  // built over N's states). One frozen generation at a time: Freeze and Commit require none
  // (kInternal otherwise: a bug of the caller's ordering).
  Status Freeze();
  Status CommitFrozen(std::string_view checkpoint, int64_t offset);
  void DiscardFrozen();
  bool has_frozen() const;

  StateStore* base() { return base_; }

 private:
  // The overlay's index holds positions in `writes_`, hashed and compared by their keys, so a
  // key is stored once (in the StateWrite that Commit hands to the store as it is).
  struct IndexHash {
    using is_transparent = void;
    const std::vector<StateWrite>* writes;
    size_t operator()(std::string_view key) const { return StringViewHash()(key); }
    size_t operator()(uint32_t i) const { return StringViewHash()((*writes)[i].encoded_key); }
  };
  struct IndexEq {
    using is_transparent = void;
    const std::vector<StateWrite>* writes;
    std::string_view Key(uint32_t i) const { return (*writes)[i].encoded_key; }
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(std::string_view a, uint32_t b) const { return a == Key(b); }
    bool operator()(uint32_t a, std::string_view b) const { return Key(a) == b; }
  };
  // The pass's latest state per key, and the index by key into it; clears both.
  void ClearLocked();

  StateStore* base_;
  PassOverlay* overlay_;  // the base's, or null: the members below hold the pass
  mutable std::mutex mu_;
  std::vector<StateWrite> writes_;  // the pass's latest state of each key it wrote
  std::unordered_set<uint32_t, IndexHash, IndexEq> index_{16, IndexHash{&writes_}, IndexEq{&writes_}};
  // The frozen generation when the overlay is this object's (else in the base's map).
  std::vector<StateWrite> frozen_writes_;
  std::unordered_set<uint32_t, IndexHash, IndexEq> frozen_index_{16, IndexHash{&frozen_writes_},
                                                                 IndexEq{&frozen_writes_}};
  bool frozen_ = false;  // a generation is frozen (possibly with no writes)
};

}  // namespace ec::cdc
