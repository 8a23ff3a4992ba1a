#include "pipeline/gateways/haproxy.h"

#include "pipeline/gateways/decoder_util.h"
#include "json/builder.h"
#include "pipeline/decode_util.h"

namespace ec::pipeline::gateways {
namespace {

using pipeline::internal::ExchangeDraft;
using pipeline::internal::MessageDraft;
using pipeline::internal::WrongType;

// req.hdrs: "name: value\r\nname: value\r\n\r\n" (names lower-cased by HAProxy's HTX).
void ReadRawHeaders(std::string_view block, json::Builder& b, MessageDraft* m) {
  while (!block.empty()) {
    size_t eol = block.find('\n');
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos || colon == 0) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    m->headers.push_back({line.substr(0, colon), b.String(value)});
  }
}

void ReadBody(const json::Value& raw, std::string_view b64_key, std::string_view text_key,
              MessageDraft* m) {
  json::Value b64 = Absent(Get(raw, b64_key));
  if (b64.is_string()) {
    m->body = b64;
    m->body_base64 = true;
    return;
  }
  m->body = Absent(Get(raw, text_key));
}

}  // namespace

bool LooksLikeHaproxy(const json::Value& raw) {
  return raw.is_object() && raw.Find("req_headers_raw") != nullptr && raw.Find("status") != nullptr;
}

Status DecodeHaproxy(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                     std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("haproxy", "the record", "an object", raw);
  json::Builder b(arena);
  ExchangeDraft d;
  d.id = Absent(Get(raw, "unique_id"));
  if (json::Value ts = Absent(Get(raw, "ts")); ts.is_string()) {
    int64_t ms;
    if (ParseClfTime(ts.string(), &ms)) d.time = json::Value::Number(double(ms));
    else d.time = TimeValue(ts);
  } else if (ts.is_number()) {
    d.time = json::Value::Number(ts.number() * 1000);  // %Ts: seconds
  }
  d.latency_ms = Numeric(Absent(Get(raw, "Ta")));
  d.request.method = Absent(Get(raw, "method"));
  d.request.path = Absent(Get(raw, "path"));
  json::Value query = Absent(Get(raw, "query"));
  d.request.query =
      pipeline::internal::ParseQueryString(query.is_string() ? query.string() : std::string_view(), b);
  json::Value hdrs = Absent(Get(raw, "req_headers_raw"));
  if (hdrs.is_string()) ReadRawHeaders(hdrs.string(), b, &d.request);
  if (json::Value ct = Absent(Get(raw, "req_content_type")); ct.is_string()) {
    bool have = false;
    for (const json::Member& h : d.request.headers) have = have || pipeline::internal::EqualsIgnoreCase(h.key, "content-type");
    if (!have) d.request.headers.push_back({"content-type", ct});
  }
  ReadBody(raw, "req_body_b64", "req_body", &d.request);
  d.response.status = Numeric(Absent(Get(raw, "status")));
  if (d.response.status.is_null()) d.response.status = json::Value::Number(0);
  const json::Value& res_headers = Get(raw, "res_headers");
  if (res_headers.is_object()) {
    for (const json::Member& h : res_headers.object()) {
      json::Value v = Absent(h.value);
      if (v.is_string()) d.response.headers.push_back({h.key, v});
    }
  } else if (!res_headers.is_null()) {
    return WrongType("haproxy", "res_headers", "an object", res_headers);
  }
  ReadBody(raw, "res_body_b64", "res_body", &d.response);
  if (json::Value ip = Absent(Get(raw, "client")); ip.is_string()) {
    d.client = b.Object(std::vector<json::Member>{{"ip", ip}}, true);
  }
  std::vector<json::Member> gw{{"kind", json::Value::StringRef("haproxy")}};
  if (json::Value fe = Absent(Get(raw, "frontend")); fe.is_string()) gw.push_back({"route", fe});
  if (json::Value be = Absent(Get(raw, "backend")); be.is_string()) gw.push_back({"service", be});
  d.gateway = b.Object(gw, true);
  EC_ASSIGN_OR_RETURN(json::Value x, pipeline::internal::FinishExchange(d, options, arena, "haproxy"));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace ec::pipeline::gateways
