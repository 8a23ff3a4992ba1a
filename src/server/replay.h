#pragma once
// Replay (docs/replay.md): re-runs the event definitions over the retained raw history
// (`api-logs` and every `api-logs.*` topic, all partitions) and appends what they produce to
// the same topics with the same deterministic CloudEvent ids, or into one fresh topic; or
// rebuilds one resource's CDC state from history. Used by `eventception replay` (offline, on a
// data dir no server holds) and by the server's POST /v1/replay jobs.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "pipeline/processor.h"

namespace ec::log {
class LogManager;
}
namespace ec::spec {
class CompiledSpecs;
}
namespace ec::cdc {
class StateStore;
}

namespace ec::server {

class TopicWriter;

// One end of the replayed range: a raw-record offset (in every source partition) or a time
// (RFC 3339; the raw records' timestamps, i.e. when they were ingested).
struct ReplayBound {
  std::optional<int64_t> offset;
  std::optional<int64_t> time_ms;
  bool set() const { return offset.has_value() || time_ms.has_value(); }
};

// "1234" or "2026-11-27T10:00:00Z". Errors name the text and the two accepted forms.
Result<ReplayBound> ParseReplayBound(std::string_view text, std::string_view what);

struct ReplayRequest {
  ReplayBound from;          // required
  ReplayBound to;            // exclusive; default: where the pipeline is (see ReplayEnv)
  std::string event_type;    // only events of this type (others are not written)
  std::string resource;      // rebuild this resource's state instead of replaying events
  std::string into;          // write every event into this topic instead of its own
  bool snapshot = false;     // --resource: afterwards one `r` record per live key
};

// Checks a request against `specs`: exactly one of event_type/resource at most, they exist,
// --into only with events, --resource from the start of retention. Errors say what to change.
Status ValidateReplayRequest(const ReplayRequest& request, const spec::CompiledSpecs& specs);

// Reads a POST /v1/replay body: {"from": "...", "to": "...", "event": "...", "resource": "...",
// "into": "...", "snapshot": false}; numbers are accepted for offsets.
Result<ReplayRequest> ParseReplayJson(std::string_view body);

struct ReplayEnv {
  log::LogManager* logs = nullptr;
  TopicWriter* writer = nullptr;
  std::shared_ptr<const spec::CompiledSpecs> specs;
  pipeline::ProcessorOptions processor;
  std::string raw_topic = "api-logs";
  cdc::StateStore* store = nullptr;  // --resource: the state store to rebuild
  // Default end per "topic/partition" when the request has no `to`: what the live pipeline had
  // processed (its committed position, or where the running spec took effect). A partition
  // missing here is not replayed.
  std::map<std::string, int64_t> default_end;
  size_t max_read_bytes = 1 << 20;
  size_t max_record_bytes = 1 << 20;
  uint32_t max_json_depth = 64;
};

struct ReplayProgress {
  std::atomic<uint64_t> raw_records{0};   // raw records read
  std::atomic<uint64_t> exchanges{0};     // exchanges processed
  std::atomic<uint64_t> written{0};       // records appended
  std::atomic<uint64_t> skipped{0};       // outputs not written (other types, dead letters)
  std::atomic<uint64_t> dead_letters{0};  // dead letters the replay produced (not written)
  std::atomic<bool> cancel{false};
};

// Runs the replay to its end (or until progress->cancel). kInvalidArgument for a bad request,
// kIoError when appending fails (what was appended before stays; replaying again is safe:
// the ids are the same).
Status RunReplay(const ReplayRequest& request, const ReplayEnv& env, ReplayProgress* progress);

// The pipeline's committed positions ("topic/partition" -> offset) over the raw topics.
std::map<std::string, int64_t> CommittedPositions(log::LogManager* logs, const std::string& raw_topic);

}  // namespace ec::server
