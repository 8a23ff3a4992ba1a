#pragma once
// The state store as exactly-once processing sees it: a pass's writes stay in an in-memory
// overlay (Lookup sees them, List and other readers do not) until the pass's log transaction
// is committed; then they go to the underlying store in one atomic Apply with the checkpoint,
// or are discarded when the pass aborts. docs/exactly-once.md.

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cdc/state_store.h"

namespace ec::cdc {

class TxnStateStore final : public StateStore {
 public:
  // `base` is not owned and must outlive this.
  explicit TxnStateStore(StateStore* base) : base_(base) {}

  Result<StatePtr> Lookup(std::string_view encoded_key) override;
  // Buffers in the overlay.
  Status Store(std::string_view encoded_key, StatePtr state) override;
  // Committed keys only (the underlying store).
  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override;
  Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) override;
  Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) override;
  // Drops the resource's overlay entries and clears it in the underlying store.
  Status ClearResource(std::string_view resource) override;

  // The overlay's writes (the latest state per key), in no particular order (the same for the
  // same sequence of writes).
  std::vector<StateWrite> Pending() const;
  // Applies the overlay to the underlying store with `checkpoint` = `offset`, then clears it.
  Status Commit(std::string_view checkpoint, int64_t offset);
  // Forgets the overlay (the pass was aborted).
  void Discard();

  StateStore* base() { return base_; }

 private:
  StateStore* base_;
  mutable std::mutex mu_;
  // EncodeKey(resource, key) -> the pass's latest state of the key.
  std::unordered_map<std::string, StatePtr, StringViewHash, std::equal_to<>> overlay_;
};

}  // namespace ec::cdc
