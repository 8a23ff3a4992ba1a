#include "server/firehose_ingest.h"

#include <chrono>

#include "base/clock.h"
#include "json/builder.h"
#include "json/document.h"
#include "pipeline/decode_util.h"
#include "pipeline/gateways/aws_apigw.h"
#include "server/local_ingest.h"
#include "server/metrics.h"

namespace ec::server {
namespace {

// Compares without an early exit, so the time taken does not tell how much of a key matched.
bool SameKey(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i]) ^ uint8_t(i < b.size() ? b[i] : 0);
  return diff == 0;
}

// The records of one delivery, parsed, with their raw texts (kept alive for dead letters).
struct Collected {
  std::vector<RawRecord> records;
  std::vector<std::string_view> texts;
};

// `value` with "requestId" = `id` when it is an object that has no id of its own.
json::Value WithId(const json::Value& value, std::string_view id, Arena* arena) {
  if (!value.is_object() || value.Find("requestId") != nullptr || value.Find("extendedRequestId") != nullptr) {
    return value;
  }
  json::Builder b(arena);
  std::vector<json::Member> members;
  members.push_back({"requestId", b.String(id)});
  for (const json::Member& m : value.object()) members.push_back(m);
  return b.Object(members);
}

// NDJSON (or one JSON value) of access-log records.
void CollectText(std::string_view text, const std::string& id_prefix, uint32_t max_depth,
                 Arena* arena, Collected* out) {
  json::ParseOptions po;
  po.max_depth = max_depth;
  size_t line_no = 0;
  size_t lines = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) ++lines;
  }
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    RawRecord r;
    r.index = out->records.size();
    r.error = json::ParseInto(line, arena, &r.value, po);
    std::string id = lines > 1 ? id_prefix + "-" + std::to_string(line_no) : id_prefix;
    if (r.error.ok()) r.value = WithId(r.value, id, arena);
    out->records.push_back(std::move(r));
    out->texts.push_back(line);
    ++line_no;
  }
}

}  // namespace

FirehoseIngest::FirehoseIngest(FirehoseConfig config, LocalIngest* ingest, MetricsRegistry* metrics,
                               std::function<int64_t()> lag, int64_t max_lag_records)
    : config_(std::move(config)),
      ingest_(ingest),
      metrics_(metrics),
      lag_(std::move(lag)),
      max_lag_records_(max_lag_records) {
  deliveries_ = metrics_->GetCounter("eventception_firehose_deliveries_total",
                                     "Firehose deliveries accepted (200)");
}

HttpResponse FirehoseIngest::Answer(int status, const std::string& request_id, const std::string& error) {
  if (status != 200) {
    metrics_->GetCounter("eventception_firehose_failures_total", "Firehose deliveries refused, by status",
                         {{"status", std::to_string(status)}})
        ->Inc();
  }
  return HttpResponse::Json(status, pipeline::gateways::FirehoseResponseBody(request_id, WallClockMs(), error));
}

HttpResponse FirehoseIngest::Handle(HttpRequest& req) {
  std::string request_id(req.Header("x-amz-firehose-request-id"));
  const IngestOptions& io = ingest_->options();
  Arena arena(64 << 10);
  json::Value root;
  json::ParseOptions po;
  po.max_depth = io.max_json_depth + 2;
  Status parsed = json::ParseInto(req.body, &arena, &root, po);
  if (parsed.ok() && request_id.empty() && root.is_object()) {
    if (const json::Value* id = root.Find("requestId"); id != nullptr && id->is_string()) {
      request_id = std::string(id->string());
    }
  }
  // Authentication first: nothing about the body is said to a caller without the key.
  std::string_view key = req.Header("x-amz-firehose-access-key");
  bool has_key = false;
  for (const auto& [name, value] : req.headers) has_key |= name == "x-amz-firehose-access-key";
  if (!has_key) {
    return Answer(401, request_id, "missing X-Amz-Firehose-Access-Key header; configure the access key of the Firehose stream's HTTP endpoint");
  }
  if (config_.access_key.empty()) {
    return Answer(403, request_id, "this endpoint has no firehose.access_key configured; set it in the server config");
  }
  if (!SameKey(key, config_.access_key)) {
    return Answer(403, request_id, "X-Amz-Firehose-Access-Key does not match firehose.access_key");
  }
  if (!parsed.ok()) return Answer(400, request_id, "request body is not JSON: " + parsed.message());
  if (!root.is_object()) return Answer(400, request_id, "request body must be a JSON object {requestId, timestamp, records}");
  const json::Value* rid = root.Find("requestId");
  if (rid == nullptr || !rid->is_string() || rid->string().empty()) {
    return Answer(400, request_id, "requestId must be a non-empty string");
  }
  const json::Value* ts = root.Find("timestamp");
  if (ts == nullptr || !ts->is_number()) return Answer(400, request_id, "timestamp must be a number (milliseconds since the epoch)");
  const json::Value* records = root.Find("records");
  if (records == nullptr || !records->is_array()) return Answer(400, request_id, "records must be an array of {data}");
  if (lag_ && lag_() > max_lag_records_) {
    return Answer(503, request_id, "the pipeline is behind (limits.max_lag_records); retry later");
  }

  std::string firehose_id(rid->string());
  Collected c;
  for (size_t i = 0; i < records->array().size(); ++i) {
    std::string where = "records[" + std::to_string(i) + "]";
    const json::Value& rec = records->array()[i];
    const json::Value* data = rec.is_object() ? rec.Find("data") : nullptr;
    if (data == nullptr || !data->is_string()) return Answer(400, request_id, where + ".data must be a base64 string");
    std::string bytes;
    if (!pipeline::internal::DecodeBase64(data->string(), &bytes)) {
      return Answer(400, request_id, where + ".data is not base64");
    }
    std::string id_prefix = firehose_id + "-" + std::to_string(i);
    if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b) {
      // A CloudWatch Logs subscription payload.
      Result<std::string> plain = pipeline::gateways::Gunzip(bytes, io.max_body_bytes);
      std::string_view text = plain.ok() ? arena.CopyString(*plain) : std::string_view();
      json::Value cw;
      Status s = plain.ok() ? json::ParseInto(text, &arena, &cw, po) : plain.status();
      const json::Value* events = s.ok() && cw.is_object() ? cw.Find("logEvents") : nullptr;
      const json::Value* type = s.ok() && cw.is_object() ? cw.Find("messageType") : nullptr;
      if (type != nullptr && type->is_string() && type->string() == "CONTROL_MESSAGE") continue;
      if (events == nullptr || !events->is_array()) {
        Status why = s.ok() ? InvalidArgument(where + ": gzip'd record is not a CloudWatch Logs payload (no logEvents)")
                            : Status(s.code(), where + ": " + s.message());
        if (Status d = ingest_->DeadLetter(arena.CopyString(bytes.size() > (64 << 10) ? bytes.substr(0, 64 << 10) : bytes), why, "aws-apigw"); !d.ok()) {
          return Answer(500, request_id, d.message());
        }
        continue;
      }
      for (size_t j = 0; j < events->array().size(); ++j) {
        const json::Value& ev = events->array()[j];
        const json::Value* msg = ev.is_object() ? ev.Find("message") : nullptr;
        const json::Value* ev_id = ev.is_object() ? ev.Find("id") : nullptr;
        std::string id = ev_id != nullptr && ev_id->is_string() ? std::string(ev_id->string())
                                                               : id_prefix + "-" + std::to_string(j);
        if (msg == nullptr || !msg->is_string()) {
          Status why = InvalidArgument(where + ".logEvents[" + std::to_string(j) + "].message must be a string");
          if (Status d = ingest_->DeadLetter("", why, "aws-apigw"); !d.ok()) return Answer(500, request_id, d.message());
          continue;
        }
        CollectText(msg->string(), id, io.max_json_depth, &arena, &c);
      }
      continue;
    }
    CollectText(arena.CopyString(bytes), id_prefix, io.max_json_depth, &arena, &c);
  }
  Result<LocalIngestResult> r = ingest_->AppendRecords(c.records, c.texts, config_.format, &arena);
  if (!r.ok()) return Answer(500, request_id, r.status().message() + "; retry the delivery");
  deliveries_->Inc();
  return Answer(200, request_id, "");
}

}  // namespace ec::server
