#include "server/admin_api.h"

#include "cdc/resource_queries.h"
#include "json/document.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "server/config.h"
#include "server/http/json_out.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

// The specs in use: a reload (spec_registry.h) replaces ctx.specs with std::atomic_store. Old
// spec sets stay alive until shutdown, so references into the returned one stay valid.
std::shared_ptr<const spec::CompiledSpecs> SpecsNow(const AdminContext& ctx) { return std::atomic_load(&ctx.specs); }

constexpr size_t kMaxListLimit = 1000;

int64_t ParseInt(const std::string& s, int64_t fallback, bool* ok) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == nullptr || *end != '\0') {
    *ok = false;
    return fallback;
  }
  return v;
}

void WriteCounters(JsonOut& j, const spec::Counters& c) {
  j.Key("matched").Int(static_cast<int64_t>(c.matched.load()));
  j.Key("emitted").Int(static_cast<int64_t>(c.emitted.load()));
  j.Key("errors").Int(static_cast<int64_t>(c.errors.load()));
}

void WriteOperation(JsonOut& j, const spec::Operation& op) {
  j.BeginObject();
  j.Key("id").String(op.id);
  j.Key("method").String(op.method);
  j.Key("path").String(op.path_template);
  j.Key("resource").String(op.resource ? op.resource->name : "");
  WriteCounters(j, op.counters);
  j.Key("events").BeginArray();
  for (const auto& e : op.events) j.String(e->type);
  j.EndArray();
  j.EndObject();
}

void WriteTopic(JsonOut& j, const log::LogManager& logs, const log::TopicInfo& t) {
  j.BeginObject();
  j.Key("name").String(t.name);
  j.Key("internal").Bool(t.internal);
  j.Key("partitions").BeginArray();
  for (int32_t p = 0; p < t.partitions; ++p) {
    auto log = logs.GetPartition(t.name, p);
    j.BeginObject().Key("partition").Int(p);
    if (log) {
      j.Key("log_start_offset").Int(log->log_start_offset());
      j.Key("high_watermark").Int(log->high_watermark());
      j.Key("size_bytes").Int(static_cast<int64_t>(log->size_bytes()));
    }
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
}

// One stored record as JSON; JSON values are embedded, other values given as strings.
void WriteRecord(JsonOut& j, int32_t partition, const log::Record& r) {
  j.BeginObject();
  j.Key("partition").Int(partition);
  j.Key("offset").Int(r.offset);
  j.Key("timestamp").Int(r.timestamp);
  j.Key("key");
  if (r.key) j.String(*r.key); else j.Null();
  j.Key("headers").BeginObject();
  for (const log::RecordHeader& h : r.headers) {
    j.Key(h.key);
    if (h.value) j.String(*h.value); else j.Null();
  }
  j.EndObject();
  j.Key("value");
  if (!r.value) {
    j.Null();
  } else {
    Arena arena;
    json::Value v;
    if (json::ParseInto(*r.value, &arena, &v).ok()) j.Value(v); else j.String(*r.value);
  }
  j.EndObject();
}

// Calls `fn` for records of `log` from `offset` on, until it returns false or the end.
void ScanRecords(const log::PartitionLog& log, int64_t offset,
                 const std::function<bool(const log::Record&)>& fn) {
  int64_t pos = std::max(offset, log.log_start_offset());
  while (pos < log.log_end_offset()) {
    log::ReadResult rr = log.Read(pos, 1 << 20);
    if (rr.error != log::LogError::kNone || rr.slices.empty()) return;
    std::string bytes;
    if (!rr.CopyTo(&bytes).ok()) return;
    bool more = true;
    int64_t next = pos;
    Status s = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& b) -> Status {
      next = std::max(next, b.last_offset() + 1);
      if (b.is_control() || !more) return Status::Ok();
      return b.ForEachRecord([&](const log::Record& r) -> Status {
        if (!more || r.offset < pos) return Status::Ok();
        more = fn(r);
        return Status::Ok();
      });
    });
    if (!s.ok() || !more || next <= pos) return;
    pos = next;
  }
}

HttpResponse Specs(const AdminContext& ctx) {
  JsonOut j;
  j.BeginObject().Key("specs").BeginArray();
  for (const auto& api : SpecsNow(ctx)->apis()) {
    j.BeginObject();
    j.Key("file").String(api->file);
    j.Key("title").String(api->title);
    j.Key("version").String(api->version);
    j.Key("source").String(api->source);
    j.Key("operations").BeginArray();
    for (const auto& op : api->operations) WriteOperation(j, *op);
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.Key("unmatched").Int(static_cast<int64_t>(SpecsNow(ctx)->unmatched.load()));
  j.EndObject();
  return HttpResponse::Json(200, j.Take());
}

HttpResponse Operation(const AdminContext& ctx, HttpRequest& req) {
  for (const auto& api : SpecsNow(ctx)->apis()) {
    for (const auto& op : api->operations) {
      if (op->id != req.Param("id")) continue;
      JsonOut j;
      WriteOperation(j, *op);
      return HttpResponse::Json(200, j.Take());
    }
  }
  return HttpResponse::Error(404, "not_found", "no operation '" + std::string(req.Param("id")) +
                                                   "'; GET /v1/specs lists them");
}

HttpResponse Streams(const AdminContext& ctx) {
  JsonOut j;
  j.BeginObject().Key("streams").BeginArray();
  for (const auto& api : SpecsNow(ctx)->apis()) {
    for (const auto& op : api->operations) {
      for (const auto& e : op->events) {
        j.BeginObject();
        j.Key("type").String(e->type);
        j.Key("topic").String(e->topic);
        j.Key("api").String(api->title);
        j.Key("operation").String(op->id);
        j.Key("where").String(e->where.ToString());
        j.Key("cloudevents_mode").String(CloudEventsModeName(ctx.config->OptionsFor(e->topic).cloudevents_mode));
        WriteCounters(j, e->counters);
        j.EndObject();
      }
    }
  }
  j.EndArray().EndObject();
  return HttpResponse::Json(200, j.Take());
}

HttpResponse Topics(const AdminContext& ctx) {
  JsonOut j;
  j.BeginObject().Key("topics").BeginArray();
  for (const log::TopicInfo& t : ctx.logs->ListTopics()) WriteTopic(j, *ctx.logs, t);
  j.EndArray().EndObject();
  return HttpResponse::Json(200, j.Take());
}

HttpResponse Topic(const AdminContext& ctx, HttpRequest& req) {
  std::string name(req.Param("topic"));
  std::optional<log::TopicInfo> t = ctx.logs->DescribeTopic(name);
  if (!t) return HttpResponse::Error(404, "not_found", "no topic '" + name + "'; GET /v1/topics lists them");
  JsonOut j;
  WriteTopic(j, *ctx.logs, *t);
  return HttpResponse::Json(200, j.Take());
}

std::shared_ptr<log::PartitionLog> DlqPartition(const AdminContext& ctx, const std::string& p_text,
                                                HttpResponse* error) {
  bool ok = true;
  int64_t p = ParseInt(p_text, 0, &ok);
  auto log = ok ? ctx.logs->GetPartition(ctx.config->dead_letter_topic, static_cast<int32_t>(p)) : nullptr;
  if (log == nullptr) {
    *error = HttpResponse::Error(404, "not_found",
                                 "dead-letter topic '" + ctx.config->dead_letter_topic +
                                     "' has no partition '" + p_text + "'");
  }
  return log;
}

HttpResponse ListDeadLetters(const AdminContext& ctx, HttpRequest& req) {
  bool ok = true;
  int64_t offset = ParseInt(req.QueryParam("offset"), 0, &ok);
  int64_t limit = ParseInt(req.QueryParam("limit"), 100, &ok);
  if (!ok || limit < 1 || limit > static_cast<int64_t>(kMaxListLimit)) {
    return HttpResponse::Error(400, "bad_request", "offset and limit must be integers, limit 1.." + std::to_string(kMaxListLimit));
  }
  HttpResponse err;
  auto log = DlqPartition(ctx, req.QueryParam("partition"), &err);
  if (!log) return err;
  JsonOut j;
  j.BeginObject().Key("topic").String(ctx.config->dead_letter_topic);
  j.Key("log_start_offset").Int(log->log_start_offset());
  j.Key("high_watermark").Int(log->high_watermark());
  j.Key("dead_letters").BeginArray();
  int64_t n = 0, next = std::max(offset, log->log_start_offset());
  ScanRecords(*log, offset, [&](const log::Record& r) {
    WriteRecord(j, log->partition(), r);
    next = r.offset + 1;
    return ++n < limit;
  });
  j.EndArray();
  j.Key("next_offset").Int(next);
  j.EndObject();
  return HttpResponse::Json(200, j.Take());
}

// Finds the record at `offset` and calls `fn` with it; 404 when absent.
HttpResponse WithDeadLetter(const AdminContext& ctx, HttpRequest& req,
                            const std::function<HttpResponse(int32_t, const log::Record&)>& fn) {
  HttpResponse err;
  auto log = DlqPartition(ctx, std::string(req.Param("partition")), &err);
  if (!log) return err;
  bool ok = true;
  int64_t offset = ParseInt(std::string(req.Param("offset")), -1, &ok);
  std::optional<HttpResponse> res;
  if (ok && offset >= 0) {
    ScanRecords(*log, offset, [&](const log::Record& r) {
      if (r.offset == offset) res = fn(log->partition(), r);
      return false;
    });
  }
  if (res) return *res;
  return HttpResponse::Error(404, "not_found",
                             "no dead letter at offset '" + std::string(req.Param("offset")) +
                                 "' (purged or never written); GET /v1/dead-letters lists them");
}

HttpResponse ReplayDeadLetter(const AdminContext& ctx, int32_t partition, const log::Record& r) {
  if (!r.value) return HttpResponse::Error(422, "not_replayable", "the record has no value");
  Arena arena;
  json::Value v;
  Status s = json::ParseInto(*r.value, &arena, &v);
  if (!s.ok() || !v.is_object()) {
    return HttpResponse::Error(422, "not_replayable", "the dead letter is not a JSON object");
  }
  Result<size_t> written = Status(InvalidArgument("the dead letter carries neither an exchange nor a raw record"));
  const json::Value* exchange = v.Find("exchange");
  const json::Value* raw = v.Find("record");
  if (exchange != nullptr && exchange->is_object()) {
    written = ctx.runner->ProcessExchange(*exchange);
  } else if (raw != nullptr && raw->is_string()) {
    const json::Value* format = v.Find("format");
    written = ctx.runner->ProcessRaw(raw->string(), format && format->is_string() ? format->string() : "detect");
  }
  if (!written.ok()) {
    return HttpResponse::Error(written.status().code() == ErrorCode::kIoError ? 503 : 422,
                               std::string(InfoOf(written.status().code()).name), written.status().message());
  }
  JsonOut j;
  j.BeginObject().Key("partition").Int(partition).Key("offset").Int(r.offset);
  j.Key("records_written").Int(static_cast<int64_t>(*written)).EndObject();
  return HttpResponse::Json(200, j.Take());
}

HttpResponse PurgeDeadLetters(const AdminContext& ctx) {
  std::optional<log::TopicInfo> t = ctx.logs->DescribeTopic(ctx.config->dead_letter_topic);
  int64_t purged = 0;
  if (t) {
    for (int32_t p = 0; p < t->partitions; ++p) {
      auto log = ctx.logs->GetPartition(t->name, p);
      if (!log) continue;
      int64_t start = log->log_start_offset(), end = log->log_end_offset();
      if (log->DeleteRecordsBefore(end) == log::LogError::kNone) purged += end - start;
    }
  }
  JsonOut j;
  j.BeginObject().Key("purged").Int(purged).EndObject();
  return HttpResponse::Json(200, j.Take());
}

void AppendCounterLine(const std::string& name, const Labels& labels, uint64_t v, std::string* out) {
  *out += name + RenderLabels(labels) + " " + std::to_string(v) + "\n";
}

}  // namespace

std::string RenderMetrics(const AdminContext& ctx) {
  std::string out = ctx.metrics->RenderPrometheus();
  out += "# HELP eventception_emitted_total Events written, per event type\n"
         "# TYPE eventception_emitted_total counter\n";
  std::string ops = "# HELP eventception_operation_matched_total Exchanges matched, per operation\n"
                    "# TYPE eventception_operation_matched_total counter\n";
  for (const auto& api : SpecsNow(ctx)->apis()) {
    for (const auto& op : api->operations) {
      AppendCounterLine("eventception_operation_matched_total", {{"api", api->title}, {"operation", op->id}},
                        op->counters.matched.load(), &ops);
      for (const auto& e : op->events) {
        AppendCounterLine("eventception_emitted_total",
                          {{"type", e->type}, {"topic", e->topic}, {"operation", op->id}},
                          e->counters.emitted.load(), &out);
      }
    }
  }
  return out + ops;
}

void AddAdminRoutes(const AdminContext* ctx, Router* router) {
  router->Add("GET", "/healthz", [](HttpRequest&) { return HttpResponse::Json(200, R"({"status":"ok"})"); });
  router->Add("GET", "/readyz", [ctx](HttpRequest&) {
    bool ready = ctx->ready != nullptr && ctx->ready->load();
    return ready ? HttpResponse::Json(200, R"({"status":"ready"})")
                 : HttpResponse::Json(503, R"({"status":"starting or stopping"})");
  });
  router->Add("GET", "/metrics", [ctx](HttpRequest&) {
    return HttpResponse::Text(200, RenderMetrics(*ctx), "text/plain; version=0.0.4; charset=utf-8");
  });
  router->Add("GET", "/v1/openapi.json", [](HttpRequest&) { return HttpResponse::Json(200, std::string(AdminOpenApiJson())); });
  router->Add("GET", "/v1/specs", [ctx](HttpRequest&) { return Specs(*ctx); });
  router->Add("GET", "/v1/operations/{id}", [ctx](HttpRequest& r) { return Operation(*ctx, r); });
  router->Add("GET", "/v1/streams", [ctx](HttpRequest&) { return Streams(*ctx); });
  router->Add("GET", "/v1/topics", [ctx](HttpRequest&) { return Topics(*ctx); });
  // CDC: last known state of a resource key, and the keys, paged (docs/changelogs.md).
  router->Add("GET", "/v1/resources/{name}/{key}", [ctx](HttpRequest& r) {
    if (ctx->resources == nullptr) return HttpResponse::Error(404, "not_found", "changelogs are not enabled");
    cdc::QueryResponse q = cdc::ResourceState(ctx->resources, *SpecsNow(*ctx), r.Param("name"), r.Param("key"));
    return HttpResponse::Json(q.status, std::move(q.body));
  });
  router->Add("GET", "/v1/resources/{name}", [ctx](HttpRequest& r) {
    if (ctx->resources == nullptr) return HttpResponse::Error(404, "not_found", "changelogs are not enabled");
    cdc::QueryResponse q =
        cdc::ResourceKeys(ctx->resources, *SpecsNow(*ctx), r.Param("name"), r.QueryParam("after"), r.QueryParam("limit"));
    return HttpResponse::Json(q.status, std::move(q.body));
  });
  router->Add("GET", "/v1/topics/{topic}", [ctx](HttpRequest& r) { return Topic(*ctx, r); });
  router->Add("GET", "/v1/dead-letters", [ctx](HttpRequest& r) { return ListDeadLetters(*ctx, r); });
  router->Add("DELETE", "/v1/dead-letters", [ctx](HttpRequest&) { return PurgeDeadLetters(*ctx); });
  router->Add("GET", "/v1/dead-letters/{partition}/{offset}", [ctx](HttpRequest& r) {
    return WithDeadLetter(*ctx, r, [](int32_t p, const log::Record& rec) {
      JsonOut j;
      WriteRecord(j, p, rec);
      return HttpResponse::Json(200, j.Take());
    });
  });
  router->Add("POST", "/v1/dead-letters/{partition}/{offset}/replay", [ctx](HttpRequest& r) {
    return WithDeadLetter(*ctx, r, [ctx](int32_t p, const log::Record& rec) { return ReplayDeadLetter(*ctx, p, rec); });
  });
}

}  // namespace ec::server
