#include "pipeline/gateways/nginx.h"

#include "pipeline/gateways/decoder_util.h"
#include "json/builder.h"
#include "pipeline/decode_util.h"

namespace ec::pipeline::gateways {
namespace {

using pipeline::internal::ExchangeDraft;
using pipeline::internal::MessageDraft;
using pipeline::internal::WrongType;

Status ReadHeaders(const json::Value& headers, std::string_view field, MessageDraft* m) {
  if (headers.is_null()) return Status::Ok();
  if (!headers.is_object()) return WrongType("nginx", field, "an object", headers);
  for (const json::Member& h : headers.object()) {
    // escape=json formats log "" for a header the message did not have.
    if (h.value.is_string() && h.value.string().empty()) continue;
    m->headers.push_back(h);
  }
  return Status::Ok();
}

void ReadBody(const json::Value& side, MessageDraft* m) {
  json::Value body = Get(side, "body");
  if (body.is_string() && body.string().empty()) body = json::Value::Null();
  m->body = body;
  const json::Value& enc = Get(side, "body_encoding");
  m->body_base64 = enc.is_string() && enc.string() == "base64";
}

}  // namespace

bool LooksLikeNginx(const json::Value& raw) {
  if (!raw.is_object()) return false;
  const json::Value& req = Get(raw, "request");
  if (req.is_object()) {
    return raw.Find("ts") != nullptr && raw.Find("duration_ms") != nullptr && req.Find("args") != nullptr;
  }
  return raw.Find("uri") != nullptr && raw.Find("req_headers") != nullptr && raw.Find("request_time") != nullptr;
}

Status DecodeNginx(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                   std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("nginx", "the record", "an object", raw);
  json::Builder b(arena);
  ExchangeDraft d;
  d.id = Absent(Get(raw, "request_id"));
  const json::Value& ts = Get(raw, "ts");
  if (ts.is_number()) {
    d.time = json::Value::Number(ts.number() * 1000);  // ngx.req.start_time(): seconds
  } else {
    d.time = TimeValue(Absent(ts));
  }
  const json::Value& req = Get(raw, "request");
  std::string_view query;
  if (req.is_object()) {
    // Full capture by apilog.lua.
    const json::Value& resp = Get(raw, "response");
    d.latency_ms = Numeric(Get(raw, "duration_ms"));
    d.request.method = Get(req, "method");
    d.request.path = Get(req, "path");
    if (const json::Value& q = Get(req, "query"); q.is_string()) query = q.string();
    EC_RETURN_IF_ERROR(ReadHeaders(Get(req, "headers"), "request.headers", &d.request));
    ReadBody(req, &d.request);
    if (resp.is_object()) {
      d.response.status = Numeric(Get(resp, "status"));
      EC_RETURN_IF_ERROR(ReadHeaders(Get(resp, "headers"), "response.headers", &d.response));
      ReadBody(resp, &d.response);
    }
  } else {
    // Plain escape=json access log.
    json::Value rt = Numeric(Get(raw, "request_time"));
    if (rt.is_number()) d.latency_ms = json::Value::Number(rt.number() * 1000);
    d.request.method = Get(raw, "method");
    d.request.path = GetAny(raw, {"uri", "path"});
    if (const json::Value& q = Get(raw, "query"); q.is_string()) query = q.string();
    EC_RETURN_IF_ERROR(ReadHeaders(Get(raw, "req_headers"), "req_headers", &d.request));
    d.request.body = Absent(Get(raw, "req_body"));
    d.response.status = Numeric(Get(raw, "status"));
    EC_RETURN_IF_ERROR(ReadHeaders(Get(raw, "resp_headers"), "resp_headers", &d.response));
  }
  d.request.query = pipeline::internal::ParseQueryString(query, b);
  if (d.response.status.is_null()) d.response.status = json::Value::Number(0);
  if (json::Value ip = Absent(Get(raw, "client")); ip.is_string()) {
    d.client = b.Object(std::vector<json::Member>{{"ip", ip}}, true);
  }
  std::vector<json::Member> gw{{"kind", json::Value::StringRef("nginx")}};
  json::Value upstream = Absent(GetAny(Get(raw, "upstream"), {"addr"}));
  if (upstream.is_null()) upstream = Absent(Get(raw, "upstream_addr"));
  if (upstream.is_string()) gw.push_back({"service", upstream});
  d.gateway = b.Object(gw, true);
  EC_ASSIGN_OR_RETURN(json::Value x, pipeline::internal::FinishExchange(d, options, arena, "nginx"));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace ec::pipeline::gateways
