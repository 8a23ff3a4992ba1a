#pragma once
// The changelog (CDC) stage of contract §3: for each matched 2xx exchange of an operation that
// names a resource with a `changelog` topic, compute the resource's new state, compare it with
// the stored one and, when it changed, append a Debezium-envelope record keyed by the resource
// key (and a tombstone after a delete). docs/changelogs.md has the rules, including the one
// for exchanges that arrive out of exchange-time order.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cdc/canonical_text.h"
#include "cdc/state_store.h"
#include "pipeline/processor.h"

namespace ec::cdc {

struct ChangelogOptions {
  std::string dead_letter_topic{pipeline::kDeadLetterTopic};
};

// Monotonic counters (relaxed atomics).
struct ChangelogCounters {
  std::atomic<uint64_t> changes{0};       // change records written (tombstones not counted)
  std::atomic<uint64_t> unchanged{0};     // 2xx exchanges whose state did not change
  std::atomic<uint64_t> out_of_order{0};  // exchanges older than the key's last applied one
  std::atomic<uint64_t> errors{0};        // dead letters written by this stage
};

class ChangelogStage final : public pipeline::ExchangeStage {
 public:
  // `store` is not owned and must outlive the stage.
  explicit ChangelogStage(StateStore* store, ChangelogOptions options = {});

  // Not thread-safe per key: the caller runs one exchange at a time (Processor calls stages in
  // exchange order on the calling thread).
  // Evaluates the key and has the store fetch where the key's state is found (the state
  // cache's index bucket: a cache miss otherwise, with tens of thousands of keys), while the
  // exchange's events are processed; OnMatched of the same exchange takes the key from here.
  void Prepare(const pipeline::MatchedExchange& matched, Arena* arena) override;
  void OnMatched(const pipeline::MatchedExchange& matched, Arena* arena,
                 std::vector<pipeline::OutputRecord>* out) override;

  const ChangelogCounters& counters() const { return counters_; }

 private:
  // The envelope's constant `source` members of an operation, written once
  // (",\"source\":{\"api\":...,\"path\":"), with the names they were written from.
  struct SourceText {
    std::string api, id, method, prefix;
  };
  static constexpr size_t kMaxSourcePrefixes = 4096;
  const std::string& SourcePrefix(const spec::Operation& op);

  StateStore* store_;
  ChangelogOptions options_;
  ChangelogCounters counters_;
  // The resource of a matched 2xx exchange with a changelog, else null.
  static const spec::ResourceDefinition* ChangelogResource(const pipeline::MatchedExchange& m);
  // Sets encoded_key_ to EncodeKey(resource, key) and key_hash_ to its hash.
  void SetEncodedKey(std::string_view resource, std::string_view key);
  std::string encoded_key_;  // the current exchange's EncodeKey(resource, key), reused
  uint64_t key_hash_ = 0;    // StateKeyHash(encoded_key_), for the store's prefetch steps
  // Prepare's key, for the OnMatched of the same exchange (and context) only.
  bool prepared_ = false;
  const json::Value* prepared_exchange_ = nullptr;
  const json::Value* prepared_context_ = nullptr;
  std::string prepared_key_;
  const spec::ResourceDefinition* prepared_resource_ = nullptr;
  std::string changes_;      // an update's patch, written before the envelope; reused
  std::string state_text_;   // the new state's encoding, written before its exact-size copy
  std::vector<TextMember> stored_members_;  // the stored state's members (merge_patch_text.h's scratch)
  std::unordered_map<const spec::Operation*, SourceText> source_prefixes_;
};

}  // namespace ec::cdc
