// The `kong` decoder: Kong Gateway's log serializer JSON, as the http-log, kafka-log, tcp-log
// and file-log plugins write it. Bodies are not part of Kong's serializer; when a plugin adds
// them (custom_fields_by_lua) as request.body / response.body strings they are decoded too.
#include "json/writer.h"
#include "pipeline/decode_util.h"

namespace ec::pipeline::internal {
namespace {

const json::Value kNull;

const json::Value& Get(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v != nullptr ? *v : kNull;
}

Status ReadHeaders(const json::Value& msg, std::string_view side, MessageDraft* m) {
  const json::Value& headers = Get(msg, "headers");
  if (headers.is_object()) {
    m->headers_object = headers;
    m->headers.assign(headers.object().begin(), headers.object().end());
  } else if (!headers.is_null()) {
    return WrongType("kong", std::string(side) + ".headers", "an object", headers);
  }
  return Status::Ok();
}

}  // namespace

bool LooksLikeKong(const json::Value& raw) {
  const json::Value* req = raw.Find("request");
  return raw.Find("started_at") != nullptr && req != nullptr && req->is_object() &&
         (req->Find("uri") != nullptr || req->Find("querystring") != nullptr);
}

Status DecodeKong(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                  std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("kong", "the record", "an object", raw);
  json::Builder b(arena);
  const json::Value& req = Get(raw, "request");
  const json::Value& resp = Get(raw, "response");
  if (!req.is_object()) return WrongType("kong", "request", "an object", req);
  if (!resp.is_object()) return WrongType("kong", "response", "an object", resp);
  ExchangeDraft d;
  d.id = Get(req, "id");  // Kong 3.5+: the request id (X-Kong-Request-Id)
  const json::Value& started = Get(raw, "started_at");
  if (!started.is_null() && !started.is_number()) {
    return WrongType("kong", "started_at", "a number (milliseconds since the epoch)", started);
  }
  d.time = started;
  const json::Value& latencies = Get(raw, "latencies");
  if (latencies.is_object()) d.latency_ms = Get(latencies, "request");

  d.request.method = Get(req, "method");
  d.request.url = Get(req, "url");
  d.request.path = Get(req, "uri");
  const json::Value& qs = Get(req, "querystring");
  if (qs.is_object()) d.request.query = qs;
  EC_RETURN_IF_ERROR(ReadHeaders(req, "request", &d.request));
  d.request.body = Get(req, "body");
  d.response.status = Get(resp, "status");
  EC_RETURN_IF_ERROR(ReadHeaders(resp, "response", &d.response));
  d.response.body = Get(resp, "body");

  // client: the IP and, when the request was authenticated, the consumer's username.
  std::vector<json::Member> client;
  if (const json::Value& ip = Get(raw, "client_ip"); ip.is_string()) client.push_back({"ip", ip});
  if (const json::Value& consumer = Get(raw, "consumer"); consumer.is_object()) {
    const json::Value* name = consumer.Find("username");
    if (name == nullptr || !name->is_string()) name = consumer.Find("custom_id");
    if (name == nullptr || !name->is_string()) name = consumer.Find("id");
    if (name != nullptr && name->is_string()) client.push_back({"consumer", *name});
  }
  if (!client.empty()) d.client = b.Object(client, true);

  std::vector<json::Member> gateway;
  gateway.push_back({"kind", json::Value::StringRef("kong")});
  if (const json::Value& route = Get(raw, "route"); route.is_object()) {
    if (const json::Value* n = route.Find("name"); n != nullptr && n->is_string()) gateway.push_back({"route", *n});
  }
  if (const json::Value& service = Get(raw, "service"); service.is_object()) {
    if (const json::Value* n = service.Find("name"); n != nullptr && n->is_string()) gateway.push_back({"service", *n});
  }
  if (const json::Value& up = Get(raw, "upstream_uri"); up.is_string()) gateway.push_back({"upstream_uri", up});
  if (latencies.is_object()) {
    if (const json::Value* k = latencies.Find("kong"); k != nullptr && k->is_number()) gateway.push_back({"kong_latency_ms", *k});
    if (const json::Value* p = latencies.Find("proxy"); p != nullptr && p->is_number()) gateway.push_back({"upstream_latency_ms", *p});
  }
  d.gateway = b.Object(gateway, true);

  EC_ASSIGN_OR_RETURN(json::Value x, FinishExchange(d, options, arena, "kong"));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace ec::pipeline::internal
