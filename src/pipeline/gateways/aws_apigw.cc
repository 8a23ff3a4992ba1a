#include "pipeline/gateways/aws_apigw.h"

#include <zlib.h>

#include "pipeline/gateways/decoder_util.h"
#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"
#include "pipeline/decode_util.h"

namespace ec::pipeline::gateways {
namespace {

using pipeline::internal::ExchangeDraft;
using pipeline::internal::WrongType;

// An access-log record or a CloudWatch Logs payload (defined below).
Status DecodeRecord(const json::Value& v, const pipeline::DecodeOptions& options, Arena* arena,
                    std::vector<json::Value>* out, std::string_view where);

Status DecodeAccessLog(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                       std::vector<json::Value>* out, std::string_view where) {
  if (!raw.is_object()) return WrongType(where, "the access-log record", "an object", raw);
  json::Builder b(arena);
  ExchangeDraft d;
  d.id = Absent(GetAny(raw, {"requestId", "extendedRequestId"}));
  json::Value epoch = Numeric(Absent(Get(raw, "requestTimeEpoch")));
  if (epoch.is_number()) {
    // REST APIs log milliseconds, HTTP APIs seconds.
    double v = epoch.number();
    d.time = json::Value::Number(v < 1e11 ? v * 1000 : v);
  } else if (json::Value t = Absent(Get(raw, "requestTime")); t.is_string()) {
    int64_t ms;
    if (ParseClfTime(t.string(), &ms)) d.time = json::Value::Number(double(ms));
    else d.time = TimeValue(t);  // ISO 8601, or let the pipeline say what is wrong with it
  }
  d.latency_ms = Numeric(Absent(GetAny(raw, {"responseLatency", "integrationLatency", "latency"})));
  d.request.method = Absent(GetAny(raw, {"httpMethod", "method"}));
  // $context.path is the full path as the client sent it; resourcePath the template.
  d.request.path = Absent(GetAny(raw, {"path", "resourcePath", "routeKey"}));
  if (d.request.path.is_string() && d.request.path.string().find(' ') != std::string_view::npos) {
    // An HTTP API routeKey ("GET /orders/{id}") when nothing better was logged.
    std::string_view rk = d.request.path.string();
    d.request.path = b.String(rk.substr(rk.find(' ') + 1));
  }
  d.response.status = Numeric(Absent(GetAny(raw, {"status", "statusCode"})));
  if (d.response.status.is_null()) d.response.status = json::Value::Number(0);
  if (json::Value host = Absent(Get(raw, "domainName")); host.is_string()) {
    d.request.headers.push_back({"host", host});
    if (d.request.path.is_string()) {
      d.request.url = b.String("https://" + std::string(host.string()) + std::string(d.request.path.string()));
    }
  }
  if (json::Value ua = Absent(GetAny(raw, {"userAgent", "user-agent"})); ua.is_string()) {
    d.request.headers.push_back({"user-agent", ua});
  }
  std::vector<json::Member> client;
  if (json::Value ip = Absent(GetAny(raw, {"ip", "sourceIp"})); ip.is_string()) client.push_back({"ip", ip});
  if (json::Value who = Absent(GetAny(raw, {"user", "caller", "principalId", "apiKeyId"})); who.is_string()) {
    client.push_back({"consumer", who});
  }
  if (!client.empty()) d.client = b.Object(client, true);
  std::vector<json::Member> gw{{"kind", json::Value::StringRef("aws-apigw")}};
  if (json::Value route = Absent(GetAny(raw, {"routeKey", "resourcePath"})); route.is_string()) {
    gw.push_back({"route", route});
  }
  json::Value api = Absent(Get(raw, "apiId")), stage = Absent(Get(raw, "stage"));
  if (api.is_string()) {
    std::string service(api.string());
    if (stage.is_string()) service += "/" + std::string(stage.string());
    gw.push_back({"service", b.String(service)});
  }
  d.gateway = b.Object(gw, true);
  EC_ASSIGN_OR_RETURN(json::Value x, pipeline::internal::FinishExchange(d, options, arena, where));
  out->push_back(x);
  return Status::Ok();
}

// Text that holds one or more access-log records: one JSON value, or NDJSON.
Status DecodeText(std::string_view text, const pipeline::DecodeOptions& options, Arena* arena,
                  std::vector<json::Value>* out, std::string_view where) {
  json::ParseOptions po;
  po.max_depth = options.max_depth;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    json::Value v;
    Status s = json::ParseInto(line, arena, &v, po);
    if (!s.ok()) return ParseError(std::string(where) + ": " + s.message());
    EC_RETURN_IF_ERROR(DecodeRecord(v, options, arena, out, where));
    if (out->size() > options.max_entries) {
      return LimitExceeded(std::string(where) + ": more than " + std::to_string(options.max_entries) +
                           " exchanges in one delivery");
    }
  }
  return Status::Ok();
}


// CloudWatch Logs subscription data: {messageType, logEvents: [{id, timestamp, message}]}.
Status DecodeCloudWatch(const json::Value& v, const pipeline::DecodeOptions& options, Arena* arena,
                        std::vector<json::Value>* out, std::string_view where) {
  const json::Value& type = Get(v, "messageType");
  if (type.is_string() && type.string() == "CONTROL_MESSAGE") return Status::Ok();
  const json::Value& events = Get(v, "logEvents");
  if (!events.is_array()) return WrongType(where, "logEvents", "an array", events);
  for (size_t i = 0; i < events.array().size(); ++i) {
    const json::Value& message = Get(events.array()[i], "message");
    if (!message.is_string()) {
      return WrongType(where, "logEvents[" + std::to_string(i) + "].message", "a string", message);
    }
    EC_RETURN_IF_ERROR(DecodeText(message.string(), options, arena, out,
                                  std::string(where) + " logEvents[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

Status DecodeRecord(const json::Value& v, const pipeline::DecodeOptions& options, Arena* arena,
                    std::vector<json::Value>* out, std::string_view where) {
  if (v.is_object() && v.Find("logEvents") != nullptr) return DecodeCloudWatch(v, options, arena, out, where);
  return DecodeAccessLog(v, options, arena, out, where);
}

}  // namespace

bool LooksLikeAwsApiGateway(const json::Value& raw) {
  if (!raw.is_object()) return false;
  const json::Value* records = raw.Find("records");
  if (records != nullptr && records->is_array() && raw.Find("requestId") != nullptr) return true;
  if (raw.Find("logEvents") != nullptr && raw.Find("messageType") != nullptr) return true;
  return raw.Find("requestId") != nullptr && raw.Find("httpMethod") != nullptr &&
         (raw.Find("status") != nullptr || raw.Find("statusCode") != nullptr);
}

Status DecodeAwsApiGateway(const json::Value& raw, const pipeline::DecodeOptions& options,
                           Arena* arena, std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("aws-apigw", "the record", "an object", raw);
  const json::Value& records = Get(raw, "records");
  if (records.is_null()) return DecodeRecord(raw, options, arena, out, "aws-apigw");
  if (!records.is_array()) return WrongType("aws-apigw", "records", "an array", records);
  for (size_t i = 0; i < records.array().size(); ++i) {
    std::string where = "aws-apigw records[" + std::to_string(i) + "]";
    const json::Value& data = Get(records.array()[i], "data");
    if (!data.is_string()) return WrongType(where, "data", "a base64 string", data);
    std::string bytes;
    if (!pipeline::internal::DecodeBase64(data.string(), &bytes)) {
      return InvalidArgument(where + ".data is not base64");
    }
    if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b) {
      // CloudWatch Logs subscription payloads are gzip-compressed.
      EC_ASSIGN_OR_RETURN(bytes, Gunzip(bytes, options.max_record_bytes));
    }
    std::string_view text = arena->CopyString(bytes);  // parsed strings may point into it
    EC_RETURN_IF_ERROR(DecodeText(text, options, arena, out, where));
  }
  return Status::Ok();
}

std::string FirehoseResponseBody(std::string_view request_id, int64_t timestamp_ms,
                                 std::string_view error) {
  std::string out = "{\"requestId\":";
  json::AppendQuoted(request_id, &out);
  out += ",\"timestamp\":";
  json::AppendJsNumber(double(timestamp_ms), &out);
  if (!error.empty()) {
    out += ",\"errorMessage\":";
    json::AppendQuoted(error, &out);
  }
  return out + "}";
}

Result<std::string> Gunzip(std::string_view gz, size_t max_bytes) {
  z_stream zs{};
  // 15 + 32: zlib detects a gzip or a zlib header itself (HTTP "deflate" is zlib).
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string why = zs.msg ? zs.msg : "truncated stream";
      inflateEnd(&zs);
      return InvalidArgument("gzip data is corrupt (" + why + ")");
    }
    size_t produced = sizeof buf - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&zs);
      return LimitExceeded("gzip data inflates to more than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, produced);
    if (rc == Z_OK && zs.avail_in == 0 && produced == 0) {
      inflateEnd(&zs);
      return InvalidArgument("gzip data is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace ec::pipeline::gateways
