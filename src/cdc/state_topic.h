#pragma once
// The state topic: an internal compacted topic that holds, per pass of the exactly-once
// pipeline, the final state of every key the pass changed (key = EncodeKey(resource, key),
// value = EncodeState). It is written inside the pass's transaction, so the committed state
// topic is exactly the state the committed outputs imply. The RocksDB store is a cache of it:
// its checkpoint says how far it has applied the topic, and on startup CatchUpStateStore
// applies the committed records after the checkpoint (after a crash between the log commit
// and the RocksDB write, or when RocksDB was lost). Unlike the public changelog, it also
// carries state updates that produced no change record (a newer exchange time), so replaying
// it reproduces the store exactly.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cdc/state_store.h"
#include "pipeline/processor.h"

namespace ec::log {
class LogManager;
class PartitionLog;
}  // namespace ec::log

namespace ec::cdc {

inline constexpr char kStateTopic[] = "__eventception_state";
inline constexpr char kStateCheckpoint[] = "state-topic";

// Creates the state topic (1 partition, compacted) if missing.
Status EnsureStateTopic(log::LogManager* logs);

// The records that store `writes` in the state topic.
void StateRecords(const std::vector<StateWrite>& writes, std::vector<pipeline::OutputRecord>* out);
// The same from writes the caller no longer needs (Pending()'s fresh copies); their keys are
// copied into the records' buffers all the same.
void StateRecords(std::vector<StateWrite>&& writes, std::vector<pipeline::OutputRecord>* out);

// The encoded keys of `resource` whose latest committed record in the state topic is a state
// (not a tombstone), in key order: what a catch-up from the whole topic would restore.
Result<std::vector<std::string>> StateTopicKeys(const log::PartitionLog& state_log, std::string_view resource);

// Applies the committed state-topic records after the store's checkpoint (up to the last
// stable offset) and moves the checkpoint; returns how many records were applied.
Result<size_t> CatchUpStateStore(StateStore* store, const log::PartitionLog& state_log);

}  // namespace ec::cdc
