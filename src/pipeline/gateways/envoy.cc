#include "pipeline/gateways/envoy.h"

#include "pipeline/gateways/decoder_util.h"
#include "json/builder.h"
#include "pipeline/decode_util.h"

namespace ec::pipeline::gateways {
namespace {

using pipeline::internal::ExchangeDraft;
using pipeline::internal::MessageDraft;

// One tap message: headers as [{key, value}] (pseudo-headers carry method, path, status).
Status ReadTapMessage(const json::Value& msg, std::string_view side, json::Builder& b,
                      MessageDraft* m, json::Value* authority) {
  const json::Value& headers = Get(msg, "headers");
  if (!headers.is_null() && !headers.is_array()) {
    return pipeline::internal::WrongType("envoy", std::string(side) + ".headers", "an array", headers);
  }
  for (const json::Value& h : headers.array()) {
    const json::Value& key = Get(h, "key");
    json::Value value = Get(h, "value");
    if (value.is_null()) {
      // Newer Envoy versions carry non-UTF-8 values as base64 `raw_value`.
      const json::Value& raw_value = Get(h, "raw_value");
      std::string decoded;
      if (raw_value.is_string() && pipeline::internal::DecodeBase64(raw_value.string(), &decoded)) {
        value = b.String(decoded);
      }
    }
    if (!key.is_string() || !value.is_string()) {
      return pipeline::internal::WrongType("envoy", std::string(side) + ".headers[].key/value",
                                           "strings", key.is_string() ? value : key);
    }
    std::string_view k = key.string();
    if (k == ":method") m->method = value;
    else if (k == ":path") m->path = value;
    else if (k == ":status") m->status = Numeric(value);
    else if (k == ":authority") *authority = value;
    else m->headers.push_back({k, value});
  }
  const json::Value& body = Get(msg, "body");
  if (body.is_object()) {
    if (const json::Value& s = Get(body, "as_string"); s.is_string()) {
      m->body = s;
    } else if (const json::Value& bytes = Get(body, "as_bytes"); bytes.is_string()) {
      m->body = bytes;
      m->body_base64 = true;
    }
  }
  return Status::Ok();
}

Status DecodeTap(const json::Value& trace, const pipeline::DecodeOptions& options, Arena* arena,
                 std::vector<json::Value>* out) {
  json::Builder b(arena);
  ExchangeDraft d;
  const json::Value& req = Get(trace, "request");
  const json::Value& resp = Get(trace, "response");
  if (!req.is_object()) return pipeline::internal::WrongType("envoy", "http_buffered_trace.request", "an object", req);
  json::Value authority;
  EC_RETURN_IF_ERROR(ReadTapMessage(req, "request", b, &d.request, &authority));
  json::Value ignored;
  if (resp.is_object()) EC_RETURN_IF_ERROR(ReadTapMessage(resp, "response", b, &d.response, &ignored));
  if (authority.is_string()) {
    d.request.headers.push_back({"host", authority});
    if (d.request.path.is_string()) {
      std::string scheme = "http";
      for (const json::Member& h : d.request.headers) {
        if (h.key == "x-forwarded-proto" && h.value.is_string()) scheme = std::string(h.value.string());
      }
      d.request.url = b.String(scheme + "://" + std::string(authority.string()) +
                               std::string(d.request.path.string()));
    }
  }
  for (const json::Member& h : d.request.headers) {
    if (h.key == "x-request-id" && h.value.is_string() && !h.value.string().empty()) d.id = h.value;
  }
  d.time = TimeValue(Get(req, "headers_received_time"));  // Envoy 1.26+; otherwise the ingest time
  if (d.response.status.is_null()) d.response.status = json::Value::Number(0);
  const json::Value& conn = Get(trace, "downstream_connection");
  const json::Value& remote = Get(Get(Get(conn, "remote_address"), "socket_address"), "address");
  if (remote.is_string()) d.client = b.Object(std::vector<json::Member>{{"ip", remote}}, true);
  d.gateway = b.Object(std::vector<json::Member>{{"kind", json::Value::StringRef("envoy")}}, true);
  EC_ASSIGN_OR_RETURN(json::Value x, pipeline::internal::FinishExchange(d, options, arena, "envoy"));
  out->push_back(x);
  return Status::Ok();
}

// Adds header `name` from the first of `keys` present in the access-log record.
void AddHeader(const json::Value& raw, std::string_view name,
               std::initializer_list<std::string_view> keys, MessageDraft* m) {
  json::Value v = Absent(GetAny(raw, keys));
  if (v.is_string()) m->headers.push_back({name, v});
}

Status DecodeAccessLog(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                       std::vector<json::Value>* out) {
  json::Builder b(arena);
  ExchangeDraft d;
  d.time = TimeValue(Absent(GetAny(raw, {"start_time", "%START_TIME%", "timestamp"})));
  d.latency_ms = Numeric(Absent(GetAny(raw, {"duration", "%DURATION%"})));
  d.request.method = Absent(GetAny(raw, {"method", "%REQ(:METHOD)%"}));
  // Envoy's default format logs X-ENVOY-ORIGINAL-PATH when a route rewrote the path.
  d.request.path = Absent(GetAny(raw, {"path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "%REQ(:PATH)%",
                                       "original_path"}));
  d.response.status = Numeric(Absent(GetAny(raw, {"response_code", "%RESPONSE_CODE%", "status"})));
  if (d.response.status.is_null()) d.response.status = json::Value::Number(0);
  json::Value authority = Absent(GetAny(raw, {"authority", "%REQ(:AUTHORITY)%", "host"}));
  if (authority.is_string()) d.request.headers.push_back({"host", authority});
  AddHeader(raw, "user-agent", {"user_agent", "%REQ(USER-AGENT)%"}, &d.request);
  AddHeader(raw, "x-request-id", {"request_id", "%REQ(X-REQUEST-ID)%"}, &d.request);
  // Envoy's x-request-id (a UUID per request) is the exchange id, so a shipper's retry of the
  // same log line is recognised as a duplicate (docs/exactly-once.md, idempotent ingest).
  d.id = Absent(GetAny(raw, {"request_id", "%REQ(X-REQUEST-ID)%"}));
  if (!d.id.is_string()) d.id = json::Value::Null();
  AddHeader(raw, "x-forwarded-for", {"x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"}, &d.request);
  AddHeader(raw, "content-type", {"request_content_type", "%REQ(CONTENT-TYPE)%"}, &d.request);
  AddHeader(raw, "content-type", {"response_content_type", "%RESP(CONTENT-TYPE)%"}, &d.response);
  AddHeader(raw, "x-envoy-upstream-service-time",
            {"upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"}, &d.response);
  // Any further `%REQ(NAME)%` / `%RESP(NAME)%` keys are headers too.
  for (const json::Member& m : raw.object()) {
    std::string_view k = m.key;
    bool req = k.starts_with("%REQ(") && k.ends_with(")%");
    bool resp = k.starts_with("%RESP(") && k.ends_with(")%");
    if (!req && !resp) continue;
    std::string_view name = k.substr(req ? 5 : 6, k.size() - (req ? 7 : 8));
    if (name.empty() || name[0] == ':' || name.find('?') != std::string_view::npos) continue;
    json::Value v = Absent(m.value);
    if (!v.is_string()) continue;
    std::string lower = pipeline::internal::ToLower(name);
    MessageDraft& target = req ? d.request : d.response;
    bool dup = false;
    for (const json::Member& h : target.headers) dup = dup || h.key == lower;
    if (!dup) target.headers.push_back({arena->CopyString(lower), v});
  }
  if (authority.is_string() && d.request.path.is_string()) {
    json::Value proto = Absent(Get(raw, "x_forwarded_proto"));
    std::string scheme = proto.is_string() ? std::string(proto.string()) : "http";
    d.request.url = b.String(scheme + "://" + std::string(authority.string()) +
                             std::string(d.request.path.string()));
  }
  json::Value remote = Absent(GetAny(raw, {"downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%",
                                           "downstream_remote_address_without_port"}));
  if (remote.is_string()) {
    d.client = b.Object(std::vector<json::Member>{{"ip", b.String(HostOfAddress(remote.string()))}}, true);
  }
  std::vector<json::Member> gw{{"kind", json::Value::StringRef("envoy")}};
  json::Value route = Absent(GetAny(raw, {"route_name", "%ROUTE_NAME%"}));
  if (route.is_string()) gw.push_back({"route", route});
  json::Value cluster = Absent(GetAny(raw, {"upstream_cluster", "%UPSTREAM_CLUSTER%"}));
  if (cluster.is_string()) gw.push_back({"service", cluster});
  d.gateway = b.Object(gw, true);
  EC_ASSIGN_OR_RETURN(json::Value x, pipeline::internal::FinishExchange(d, options, arena, "envoy"));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace

bool LooksLikeEnvoy(const json::Value& raw) {
  if (!raw.is_object()) return false;
  if (raw.Find("http_buffered_trace") != nullptr) return true;
  return (raw.Find("response_code") != nullptr || raw.Find("%RESPONSE_CODE%") != nullptr) &&
         (raw.Find("method") != nullptr || raw.Find("%REQ(:METHOD)%") != nullptr);
}

Status DecodeEnvoy(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                   std::vector<json::Value>* out) {
  if (!raw.is_object()) return pipeline::internal::WrongType("envoy", "the record", "an object", raw);
  if (const json::Value& trace = Get(raw, "http_buffered_trace"); !trace.is_null()) {
    if (!trace.is_object()) {
      return pipeline::internal::WrongType("envoy", "http_buffered_trace", "an object", trace);
    }
    return DecodeTap(trace, options, arena, out);
  }
  if (GetAny(raw, {"method", "%REQ(:METHOD)%"}).is_null()) {
    return InvalidArgument(
        "envoy: the record has neither http_buffered_trace (a tap trace) nor method / "
        "%REQ(:METHOD)% (a JSON access log); see docs/gateways/envoy.md for the format");
  }
  return DecodeAccessLog(raw, options, arena, out);
}

}  // namespace ec::pipeline::gateways
