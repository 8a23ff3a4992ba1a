#include "server/replay.h"

#include <algorithm>

#include "cdc/changelog_stage.h"
#include "cdc/json_patch.h"
#include "cdc/state_store.h"
#include "cdc/state_topic.h"
#include "cdc/txn_state_store.h"
#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"
#include "log/group_offsets.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "pipeline/exchange.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

std::string_view HeaderOf(const log::Record& r, std::string_view name) {
  for (const log::RecordHeader& h : r.headers) {
    if (h.key == name && h.value) return *h.value;
  }
  return {};
}

// The CloudEvent type of an output record: the ce_type header (binary mode) or the "type"
// member of a structured CloudEvent; empty for other records.
std::string EventTypeOf(const pipeline::OutputRecord& rec) {
  const std::vector<std::pair<std::string_view, std::string_view>> headers = rec.headers();
  for (const auto& [k, v] : headers) {
    if (k == "ce_type") return std::string(v);
  }
  for (const auto& [k, v] : headers) {
    if (k == "content-type" && v.starts_with("application/cloudevents+json") && rec.value()) {
      auto doc = json::Parse(*rec.value());
      if (!doc.ok()) return {};
      const json::Value* t = (*doc)->root().Find("type");
      return t != nullptr && t->is_string() ? std::string(t->string()) : std::string();
    }
  }
  return {};
}

// Forwards to the changelog stage only the exchanges of one resource's operations.
class OneResourceStage final : public pipeline::ExchangeStage {
 public:
  OneResourceStage(pipeline::ExchangeStage* inner, std::string resource)
      : inner_(inner), resource_(std::move(resource)) {}
  void OnMatched(const pipeline::MatchedExchange& m, Arena* arena, std::vector<pipeline::OutputRecord>* out) override {
    if (m.operation->resource != nullptr && m.operation->resource->name == resource_) inner_->OnMatched(m, arena, out);
  }

 private:
  pipeline::ExchangeStage* inner_;
  std::string resource_;
};

const spec::ResourceDefinition* FindResource(const spec::CompiledSpecs& specs, std::string_view name) {
  for (const auto& api : specs.apis()) {
    for (const auto& r : api->resources) {
      if (r->name == name) return r.get();
    }
  }
  return nullptr;
}

int64_t ResolveStart(const ReplayBound& b, const log::PartitionLog& log) {
  int64_t start = log.log_start_offset();
  if (b.offset) return std::max(start, *b.offset);
  if (b.time_ms) {
    log::TimestampOffset t = log.OffsetForTimestamp(*b.time_ms);
    return t.offset < 0 ? log.log_end_offset() : std::max(start, t.offset);
  }
  return start;
}

// Debezium snapshot records (`op` r, `before` null) for every live key of `res`.
Status EmitSnapshot(const spec::ResourceDefinition& res, cdc::StateStore* store, TopicWriter* writer,
                    ReplayProgress* progress) {
  std::string after;
  for (;;) {
    Result<std::vector<std::string>> keys = store->List(res.name, after, 500);
    if (!keys.ok()) return keys.status();
    if (keys->empty()) return Status::Ok();
    std::vector<pipeline::OutputRecord> out;
    Arena arena(64 << 10);
    for (const std::string& key : *keys) {
      Result<std::optional<cdc::StoredState>> st = store->Get(res.name, key);
      if (!st.ok()) return st.status();
      if (!*st || (*st)->deleted) continue;
      json::Value state;
      EC_RETURN_IF_ERROR(json::ParseInto((*st)->value, &arena, &state));
      json::Builder b(&arena);
      json::Member source[] = {{"snapshot", json::Value::Bool(true)}, {"resource", b.String(res.name)}};
      json::Member envelope[] = {
          {"op", b.String("r")},
          {"before", json::Value()},
          {"after", state},
          {"changes", cdc::Diff(json::Value(), state, &arena)},
          {"source", b.Object(source, true)},
          {"ts_ms", json::Value::Number(static_cast<double>((*st)->ts_ms))},
      };
      pipeline::OutputRecord& rec = out.emplace_back();
      rec.topic = res.changelog;
      rec.timestamp_ms = (*st)->ts_ms;
      pipeline::RecordWriter w(&rec, key);
      json::AppendJson(b.Object(envelope, true), w.BeginValue());
      w.EndValue();
      w.Header("content-type", "application/json");
    }
    EC_RETURN_IF_ERROR(writer->Append(out));
    progress->written.fetch_add(out.size(), std::memory_order_relaxed);
    after = keys->back();
  }
}

}  // namespace

Result<ReplayBound> ParseReplayBound(std::string_view text, std::string_view what) {
  ReplayBound b;
  if (text == "earliest") {
    b.offset = 0;
    return b;
  }
  bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && text.size() < 19) {
    b.offset = std::stoll(std::string(text));
    return b;
  }
  std::optional<int64_t> t = pipeline::ParseRfc3339Ms(text);
  if (t) {
    b.time_ms = *t;
    return b;
  }
  return InvalidArgument(std::string(what) + " \"" + std::string(text) +
                         "\" is neither an offset (a number, or earliest) nor an RFC 3339 time such as "
                         "2026-11-27T10:00:00Z");
}

Status ValidateReplayRequest(const ReplayRequest& r, const spec::CompiledSpecs& specs) {
  if (!r.from.set()) return InvalidArgument("from is required: an offset, earliest, or an RFC 3339 time");
  if (!r.event_type.empty() && !r.resource.empty()) {
    return InvalidArgument("give either event (replay one event type) or resource (rebuild a resource), not both");
  }
  if (!r.resource.empty()) {
    const spec::ResourceDefinition* res = FindResource(specs, r.resource);
    if (res == nullptr) return InvalidArgument("no resource \"" + r.resource + "\" in the running specs (x-eventception.resources)");
    if (!r.into.empty()) return InvalidArgument("into applies to events; a resource rebuild writes its state (and with snapshot its changelog)");
    if (!r.from.offset || *r.from.offset != 0) {
      return InvalidArgument("a resource rebuild derives the state from nothing, so it starts at the beginning "
                             "of the history: use from earliest");
    }
    if (r.snapshot && res->changelog.empty()) return InvalidArgument("resource \"" + r.resource + "\" has no changelog topic for snapshot records");
  } else if (r.snapshot) {
    return InvalidArgument("snapshot applies to a resource rebuild only");
  }
  if (!r.event_type.empty()) {
    bool found = false;
    for (const auto& api : specs.apis()) {
      for (const auto& op : api->operations) {
        for (const auto& e : op->events) found = found || e->type == r.event_type;
      }
    }
    if (!found) return InvalidArgument("no event definition of type \"" + r.event_type + "\" in the running specs");
  }
  if (!r.into.empty()) EC_RETURN_IF_ERROR(log::LogManager::ValidateTopicName(r.into));
  return Status::Ok();
}

Result<ReplayRequest> ParseReplayJson(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc.ok()) return InvalidArgument("the body is not JSON: " + doc.status().message());
  const json::Value& root = (*doc)->root();
  if (!root.is_object()) return InvalidArgument("the body must be a JSON object such as {\"from\": \"earliest\"}");
  ReplayRequest r;
  for (const auto& [key, value] : root.object()) {
    auto text = [&]() -> Result<std::string> {
      if (value.is_string()) return std::string(value.string());
      if (value.is_number() && value.number() >= 0) return std::to_string(static_cast<int64_t>(value.number()));
      return InvalidArgument("\"" + std::string(key) + "\" must be a string");
    };
    if (key == "snapshot") {
      if (!value.is_bool()) return InvalidArgument("\"snapshot\" must be true or false");
      r.snapshot = value.bool_value();
      continue;
    }
    Result<std::string> t = text();
    if (!t.ok()) return t.status();
    if (key == "from") {
      Result<ReplayBound> b = ParseReplayBound(*t, "from");
      if (!b.ok()) return b.status();
      r.from = *b;
    } else if (key == "to") {
      Result<ReplayBound> b = ParseReplayBound(*t, "to");
      if (!b.ok()) return b.status();
      r.to = *b;
    } else if (key == "event") {
      r.event_type = *t;
    } else if (key == "resource") {
      r.resource = *t;
    } else if (key == "into") {
      r.into = *t;
    } else {
      return InvalidArgument("unknown member \"" + std::string(key) + "\"; known: from, to, event, resource, into, snapshot");
    }
  }
  return r;
}

std::map<std::string, int64_t> CommittedPositions(log::LogManager* logs, const std::string& raw_topic) {
  std::map<std::string, int64_t> out;
  for (const log::TopicInfo& t : logs->ListTopics()) {
    if (t.name != raw_topic && t.name.rfind(raw_topic + ".", 0) != 0) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      auto c = logs->group_offsets()->Fetch(kPipelineGroup, t.name, p);
      if (c) out[t.name + "/" + std::to_string(p)] = c->offset;
    }
  }
  return out;
}

Status RunReplay(const ReplayRequest& request, const ReplayEnv& env, ReplayProgress* progress) {
  EC_RETURN_IF_ERROR(ValidateReplayRequest(request, *env.specs));
  pipeline::Processor processor(env.specs, env.processor);
  std::unique_ptr<cdc::ChangelogStage> changelog;
  std::unique_ptr<OneResourceStage> only;
  const spec::ResourceDefinition* res = nullptr;
  // A rebuild rewrites the resource in the state topic too (docs/exactly-once.md), so that a
  // store restored from the topic gets the rebuilt states: tombstones for the keys it holds
  // now, then per chunk the states the chunk changed, as the live pipeline writes them.
  std::shared_ptr<log::PartitionLog> state_log;
  std::unique_ptr<cdc::TxnStateStore> rebuilt;  // the chunk's writes, then the store
  if (!request.resource.empty()) {
    if (env.store == nullptr) return Status(ErrorCode::kUnsupported, "no state store: changelogs are not enabled");
    res = FindResource(*env.specs, request.resource);
    EC_RETURN_IF_ERROR(env.store->ClearResource(request.resource));
    state_log = env.logs->GetPartition(cdc::kStateTopic, 0);
    if (state_log != nullptr) {
      Result<std::vector<std::string>> keys = cdc::StateTopicKeys(*state_log, request.resource);
      if (!keys.ok()) return keys.status();
      std::vector<cdc::StateWrite> forget;
      for (std::string& k : *keys) forget.emplace_back(std::move(k), cdc::StatePtr());
      std::vector<pipeline::OutputRecord> tombstones;
      cdc::StateRecords(forget, &tombstones);
      EC_RETURN_IF_ERROR(env.writer->Append(tombstones));
    }
    rebuilt = std::make_unique<cdc::TxnStateStore>(env.store);
    changelog = std::make_unique<cdc::ChangelogStage>(rebuilt.get());
    only = std::make_unique<OneResourceStage>(changelog.get(), request.resource);
    processor.AddStage(only.get());
  }
  pipeline::DecodeOptions dopts;
  dopts.max_record_bytes = env.max_record_bytes;
  dopts.max_depth = env.max_json_depth;
  dopts.redact = env.specs->redact_paths();
  json::ParseOptions popts;
  popts.max_depth = env.max_json_depth;

  std::vector<log::TopicInfo> topics = env.logs->ListTopics();
  std::sort(topics.begin(), topics.end(), [](const log::TopicInfo& a, const log::TopicInfo& b) { return a.name < b.name; });
  for (const log::TopicInfo& t : topics) {
    if (t.name != env.raw_topic && t.name.rfind(env.raw_topic + ".", 0) != 0) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      std::shared_ptr<log::PartitionLog> log = env.logs->GetPartition(t.name, p);
      if (log == nullptr) continue;
      int64_t pos = ResolveStart(request.from, *log);
      int64_t end;
      if (request.to.set()) {
        end = request.to.offset ? *request.to.offset
                                : (log->OffsetForTimestamp(*request.to.time_ms).offset < 0
                                       ? log->log_end_offset()
                                       : log->OffsetForTimestamp(*request.to.time_ms).offset);
      } else {
        auto it = env.default_end.find(t.name + "/" + std::to_string(p));
        end = it == env.default_end.end() ? 0 : it->second;
      }
      end = std::min(end, log->log_end_offset());
      while (pos < end) {
        if (progress->cancel.load()) return Status(ErrorCode::kUnavailable, "cancelled");
        log::ReadResult rr = log->Read(pos, env.max_read_bytes);
        if (rr.error != log::LogError::kNone || rr.slices.empty()) break;
        std::string bytes;
        EC_RETURN_IF_ERROR(rr.CopyTo(&bytes));
        Arena arena(256 << 10);
        std::vector<pipeline::OutputRecord> out;
        std::vector<json::Value> exchanges;
        int64_t next = pos;
        Status walk = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& batch) -> Status {
          if (batch.is_control()) {
            next = std::max(next, batch.last_offset() + 1);
            return Status::Ok();
          }
          return batch.ForEachRecord([&](const log::Record& rec) -> Status {
            if (rec.offset < pos || rec.offset >= end) return Status::Ok();
            next = rec.offset + 1;
            progress->raw_records.fetch_add(1, std::memory_order_relaxed);
            if (!rec.value) return Status::Ok();
            exchanges.clear();
            Status s;
            if (!HeaderOf(rec, kDecodedHeader).empty()) {
              json::Value v;
              s = json::ParseInto(*rec.value, &arena, &v, popts);
              if (s.ok()) exchanges.push_back(v);
            } else {
              std::string_view format = HeaderOf(rec, kFormatHeader);
              s = pipeline::DecodeBytes(*rec.value, format.empty() ? "detect" : format, dopts, &arena, &exchanges);
            }
            if (!s.ok()) return Status::Ok();  // the live run dead-lettered it already
            for (const json::Value& x : exchanges) {
              processor.Process(x, &arena, &out, nullptr);
              progress->exchanges.fetch_add(1, std::memory_order_relaxed);
            }
            return Status::Ok();
          });
        });
        (void)walk;  // a corrupt tail ends the pass at the last good record
        if (next <= pos) break;
        std::vector<pipeline::OutputRecord> keep;
        for (pipeline::OutputRecord& rec : out) {
          bool dead = rec.topic == env.processor.dead_letter_topic;
          if (dead) progress->dead_letters.fetch_add(1, std::memory_order_relaxed);
          // A rebuild writes state only; an event replay writes events (filtered by type).
          bool wanted = !dead && res == nullptr &&
                        (request.event_type.empty() || EventTypeOf(rec) == request.event_type);
          if (!wanted) {
            progress->skipped.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          if (!request.into.empty()) rec.topic = request.into;
          keep.push_back(std::move(rec));
        }
        const size_t written = keep.size();  // without the state records
        if (rebuilt != nullptr && state_log != nullptr) cdc::StateRecords(rebuilt->Pending(), &keep);
        EC_RETURN_IF_ERROR(env.writer->Append(keep));
        if (rebuilt != nullptr) EC_RETURN_IF_ERROR(rebuilt->Commit("", 0));  // written at once, no checkpoint
        progress->written.fetch_add(written, std::memory_order_relaxed);
        pos = next;
      }
    }
  }
  if (res != nullptr && request.snapshot) EC_RETURN_IF_ERROR(EmitSnapshot(*res, env.store, env.writer, progress));
  return Status::Ok();
}

}  // namespace ec::server
