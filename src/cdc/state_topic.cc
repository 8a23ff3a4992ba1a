#include "cdc/state_topic.h"

#include <map>
#include <string>

#include "log/committed_reader.h"
#include "log/log_manager.h"

namespace ec::cdc {

Status EnsureStateTopic(log::LogManager* logs) {
  if (logs->DescribeTopic(kStateTopic)) return Status();
  Status s = logs->CreateTopic(kStateTopic, 1, {{"cleanup.policy", "compact"}});
  if (!s.ok() && s.code() != ErrorCode::kAlreadyExists) {
    return Status(s.code(), std::string("cannot create the state topic '") + kStateTopic + "': " + s.message());
  }
  return Status();
}

namespace {

// A state-topic record for `w` in a reused record (pipeline::NewOutputRecord: its buffer keeps
// its storage, so a pass's state records mostly allocate nothing). No headers.
void StateRecord(const StateWrite& w, std::vector<pipeline::OutputRecord>* out) {
  pipeline::OutputRecord& r = pipeline::NewOutputRecord(out);
  r.topic.assign(kStateTopic);
  r.timestamp_ms = w.state != nullptr ? w.state->ts_ms() : 0;
  pipeline::RecordWriter writer(&r, w.encoded_key);
  // A null state is a tombstone: the key has no state.
  writer.Value(w.state != nullptr ? std::optional<std::string_view>(w.state->bytes()) : std::nullopt);
}

}  // namespace

void StateRecords(const std::vector<StateWrite>& writes, std::vector<pipeline::OutputRecord>* out) {
  out->reserve(out->size() + writes.size());
  for (const StateWrite& w : writes) StateRecord(w, out);
}

void StateRecords(std::vector<StateWrite>&& writes, std::vector<pipeline::OutputRecord>* out) {
  // The key is copied into the record's buffer either way.
  StateRecords(static_cast<const std::vector<StateWrite>&>(writes), out);
}

Result<std::vector<std::string>> StateTopicKeys(const log::PartitionLog& state_log, std::string_view resource) {
  const std::string prefix = EncodeKey(resource, "");
  std::map<std::string, bool> live;  // key -> its latest record holds a state
  int64_t next = 0;
  EC_RETURN_IF_ERROR(log::ForEachCommittedRecord(
      state_log, 0, INT64_MAX,
      [&](const log::RecordBatchView&, const log::Record& r) -> Status {
        if (r.key && std::string_view(*r.key).starts_with(prefix)) live[std::string(*r.key)] = r.value.has_value();
        return Status();
      },
      &next));
  std::vector<std::string> keys;
  for (const auto& [k, has_state] : live) {
    if (has_state) keys.push_back(k);
  }
  return keys;
}

Result<size_t> CatchUpStateStore(StateStore* store, const log::PartitionLog& state_log) {
  EC_ASSIGN_OR_RETURN(std::optional<int64_t> checkpoint, store->Checkpoint(kStateCheckpoint));
  // Normally only the last pass is missing (a crash between the log commit and the RocksDB
  // write); the latest state per key is kept, so memory is bounded by the distinct keys.
  std::map<std::string, StatePtr> latest;
  size_t records = 0;
  int64_t next = checkpoint.value_or(0);
  EC_RETURN_IF_ERROR(log::ForEachCommittedRecord(
      state_log, next, INT64_MAX,
      [&](const log::RecordBatchView&, const log::Record& r) -> Status {
        if (!r.key) return Status();
        if (!r.value) {  // a tombstone: the key has no state (a rebuild forgot it)
          latest[std::string(*r.key)] = nullptr;
          ++records;
          return Status();
        }
        StatePtr st = EncodedState::FromBytes(*r.value);
        if (!st) return Status(ErrorCode::kCorruption, "state topic: corrupt value at offset " + std::to_string(r.offset));
        latest[std::string(*r.key)] = std::move(st);
        ++records;
        return Status();
      },
      &next));
  if (checkpoint && next == *checkpoint) return size_t{0};
  std::vector<StateWrite> writes;
  writes.reserve(latest.size());
  for (auto& [k, v] : latest) writes.emplace_back(k, std::move(v));
  EC_RETURN_IF_ERROR(store->Apply(writes, kStateCheckpoint, next));
  return records;
}

}  // namespace ec::cdc
