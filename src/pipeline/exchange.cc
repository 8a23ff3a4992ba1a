#include "pipeline/exchange.h"

#include <string>

#include "json/document.h"
#include "json/writer.h"
#include "pipeline/decode_util.h"
#include "pipeline/gateways/aws_apigw.h"
#include "pipeline/gateways/envoy.h"
#include "pipeline/gateways/haproxy.h"
#include "pipeline/gateways/nginx.h"
#include "pipeline/ids.h"

namespace ec::pipeline {
namespace {

struct DecoderEntry {
  DecoderInfo info;
  internal::DecodeFn decode;
  bool (*looks_like)(const json::Value&);
};

// Every decoder, in detection order: the most specific shapes first.
const DecoderEntry kDecoders[] = {
    {{"har", "HTTP Archive 1.2: a whole file (one exchange per entry) or one entry",
      R"({"startedDateTime":"2026-11-27T10:15:30.123Z","time":12.5,"request":{"method":"GET","url":"https://shop.example.com/api/orders/o-1","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"cookies":[],"content":{"size":16,"mimeType":"application/json","text":"{\"id\":\"o-1\"}"},"redirectURL":"","headersSize":-1,"bodySize":16},"cache":{},"timings":{"send":0,"wait":12.5,"receive":0}})"},
     internal::DecodeHar, internal::LooksLikeHar},
    {{"kong", "Kong Gateway log serializer JSON (http-log, kafka-log, tcp-log, file-log plugins)",
      R"({"started_at":1795774530123,"client_ip":"10.0.0.7","request":{"method":"GET","uri":"/api/orders/o-1","url":"https://shop.example.com:443/api/orders/o-1","querystring":{},"headers":{"host":"shop.example.com"},"size":120},"response":{"status":200,"headers":{"content-type":"application/json"},"size":300},"latencies":{"request":12,"kong":2,"proxy":10},"route":{"name":"orders"},"service":{"name":"orders-svc"}})"},
     internal::DecodeKong, internal::LooksLikeKong},
    {{"envoy", "Envoy / Istio JSON access log, or an Envoy tap HTTP buffered trace (with bodies)",
      R"({"start_time":"2026-11-27T10:15:30.123Z","method":"GET","path":"/api/orders/o-1","protocol":"HTTP/1.1","response_code":200,"duration":12,"authority":"shop.example.com","downstream_remote_address":"10.0.0.7:51234","upstream_cluster":"orders-svc","route_name":"orders"})"},
     gateways::DecodeEnvoy, gateways::LooksLikeEnvoy},
    {{"aws-apigw", "Amazon API Gateway access log JSON, or a Kinesis Firehose HTTP-endpoint delivery of them (also CloudWatch Logs payloads)",
      R"({"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"10.0.0.7","requestTime":"27/Nov/2026:10:15:30 +0000","httpMethod":"GET","resourcePath":"/orders/{id}","path":"/prod/orders/o-1","status":"200","protocol":"HTTP/1.1","responseLength":"16","responseLatency":"12"})"},
     gateways::DecodeAwsApiGateway, gateways::LooksLikeAwsApiGateway},
    {{"nginx", "nginx JSON exchange log as docs/gateways/nginx.md configures it (apilog.lua, or escape=json)",
      R"({"ts":1795774530.123,"duration_ms":12,"client":"10.0.0.7","request":{"method":"GET","path":"/api/orders/o-1","query":"","args":{},"headers":{"Host":"shop.example.com"},"body":""},"response":{"status":200,"headers":{"content-type":"application/json"},"body":"{\"id\":\"o-1\"}","body_bytes":12,"body_truncated":false},"request_id":"5b3bc7ad3009f525588dc1ed2bda8642"})"},
     gateways::DecodeNginx, gateways::LooksLikeNginx},
    {{"haproxy", "HAProxy JSON log-format as docs/gateways/haproxy.md configures it (usually via syslog)",
      R"({"ts":"27/Nov/2026:10:15:30 +0000","client":"10.0.0.7","method":"GET","path":"/api/orders/o-1","query":"-","version":"HTTP/1.1","req_headers_raw":"host: shop.example.com\r\n\r\n","req_body":"-","req_body_b64":"-","status":200,"res_headers":{"content-type":"application/json"},"res_body":"{\"id\":\"o-1\"}","res_body_b64":"eyJpZCI6Im8tMSJ9","Ta":12,"backend":"be_api","unique_id":"7F000001:D874_7F000001:46A2_6B08DF50_000E:3089"})"},
     gateways::DecodeHaproxy, gateways::LooksLikeHaproxy},
    {{"canonical", "Eventception's own exchange record (contract section 1)",
      R"({"time":"2026-11-27T10:15:30.123Z","request":{"method":"GET","path":"/api/orders/o-1","headers":{}},"response":{"status":200,"headers":{"content-type":"application/json"},"body":{"id":"o-1"}}})"},
     internal::DecodeCanonical, internal::LooksLikeCanonical},
};

std::string KnownFormats() {
  std::string s;
  for (const DecoderEntry& d : kDecoders) {
    if (!s.empty()) s += ", ";
    s += d.info.name;
  }
  return s + " or detect";
}

const DecoderEntry* Find(std::string_view name) {
  for (const DecoderEntry& d : kDecoders) {
    if (d.info.name == name) return &d;
  }
  return nullptr;
}

}  // namespace

std::span<const DecoderInfo> Decoders() {
  static const std::vector<DecoderInfo> infos = [] {
    std::vector<DecoderInfo> v;
    for (const DecoderEntry& d : kDecoders) v.push_back(d.info);
    return v;
  }();
  return infos;
}

Result<std::string_view> DetectFormat(const json::Value& raw, std::string_view format) {
  if (format.empty() || format == "detect") {
    if (!raw.is_object()) {
      return InvalidArgument("a record must be a JSON object, got " + std::string(json::KindName(raw.kind())));
    }
    for (const DecoderEntry& d : kDecoders) {
      if (d.looks_like(raw)) return d.info.name;
    }
    return InvalidArgument(
        "no decoder accepts this record: expected a canonical exchange (request.method and "
        "response), a Kong log (started_at and request.uri) or HAR (log.entries or an entry with "
        "startedDateTime); name the format with ?format= / --format if it is one of " +
        KnownFormats());
  }
  if (Find(format) == nullptr) {
    return InvalidArgument("unknown format \"" + std::string(format) + "\"; known formats: " + KnownFormats());
  }
  return format;
}

Status DecodeRecords(const json::Value& raw, std::string_view format, const DecodeOptions& options,
                     Arena* arena, std::vector<json::Value>* out) {
  EC_ASSIGN_OR_RETURN(std::string_view name, DetectFormat(raw, format));
  size_t before = out->size();
  const bool text = options.json_out != nullptr && options.json_sizes != nullptr;
  const size_t text_before = text ? options.json_out->size() : 0;
  const size_t sizes_before = text ? options.json_sizes->size() : 0;
  Status s = Find(name)->decode(raw, options, arena, out);
  if (!s.ok()) {
    out->resize(before);
    if (text) {
      options.json_out->resize(text_before);
      options.json_sizes->resize(sizes_before);
    }
  }
  return s;
}

Result<json::Value> DecodeExchange(const json::Value& raw, std::string_view format,
                                   const DecodeOptions& options, Arena* arena) {
  std::vector<json::Value> out;
  EC_RETURN_IF_ERROR(DecodeRecords(raw, format, options, arena, &out));
  if (out.size() != 1) {
    return InvalidArgument("expected one exchange, the record holds " + std::to_string(out.size()));
  }
  return out[0];
}

Status DecodeBytes(std::string_view bytes, std::string_view format, const DecodeOptions& options,
                   Arena* arena, std::vector<json::Value>* out) {
  if (bytes.size() > options.max_record_bytes) {
    return LimitExceeded("record is " + std::to_string(bytes.size()) + " bytes, more than the limit of " +
                         std::to_string(options.max_record_bytes));
  }
  json::ParseOptions po;
  po.max_depth = options.max_depth;
  json::Value raw;
  EC_RETURN_IF_ERROR(json::ParseInto(bytes, arena, &raw, po));
  return DecodeRecords(raw, format, options, arena, out);
}

std::string StableExchangeId(const json::Value& exchange_without_id) {
  std::string text;
  json::AppendJson(exchange_without_id, &text);
  return "x" + Sha256Hex128(text);
}

}  // namespace ec::pipeline
