#include "capture/decoders/decoders.h"

#include "capture/decoders/aws_apigw.h"
#include "capture/decoders/envoy.h"
#include "capture/decoders/haproxy.h"
#include "capture/decoders/nginx.h"

namespace ec::capture::decoders {
namespace {

const GatewayDecoder kGatewayDecoders[] = {
    {{"envoy", "Envoy / Istio JSON access log, or an Envoy tap HTTP buffered trace (with bodies)",
      R"({"start_time":"2026-11-27T10:15:30.123Z","method":"GET","path":"/api/orders/o-1","protocol":"HTTP/1.1","response_code":200,"duration":12,"authority":"shop.example.com","downstream_remote_address":"10.0.0.7:51234","upstream_cluster":"orders-svc","route_name":"orders"})"},
     DecodeEnvoy, LooksLikeEnvoy},
    {{"aws-apigw", "Amazon API Gateway access log JSON, or a Kinesis Firehose HTTP-endpoint delivery of them (also CloudWatch Logs payloads)",
      R"({"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"10.0.0.7","requestTime":"27/Nov/2026:10:15:30 +0000","httpMethod":"GET","resourcePath":"/orders/{id}","path":"/prod/orders/o-1","status":"200","protocol":"HTTP/1.1","responseLength":"16","responseLatency":"12"})"},
     DecodeAwsApiGateway, LooksLikeAwsApiGateway},
    {{"nginx", "nginx JSON exchange log as docs/gateways/nginx.md configures it (apilog.lua, or escape=json)",
      R"({"ts":1795774530.123,"duration_ms":12,"client":"10.0.0.7","request":{"method":"GET","path":"/api/orders/o-1","query":"","args":{},"headers":{"Host":"shop.example.com"},"body":""},"response":{"status":200,"headers":{"content-type":"application/json"},"body":"{\"id\":\"o-1\"}","body_bytes":12,"body_truncated":false},"request_id":"5b3bc7ad3009f525588dc1ed2bda8642"})"},
     DecodeNginx, LooksLikeNginx},
    {{"haproxy", "HAProxy JSON log-format as docs/gateways/haproxy.md configures it (usually via syslog)",
      R"({"ts":"27/Nov/2026:10:15:30 +0000","client":"10.0.0.7","method":"GET","path":"/api/orders/o-1","query":"-","version":"HTTP/1.1","req_headers_raw":"host: shop.example.com\r\n\r\n","req_body":"-","req_body_b64":"-","status":200,"res_headers":{"content-type":"application/json"},"res_body":"{\"id\":\"o-1\"}","res_body_b64":"eyJpZCI6Im8tMSJ9","Ta":12,"backend":"be_api","unique_id":"7F000001:D874_7F000001:46A2_6B08DF50_000E:3089"})"},
     DecodeHaproxy, LooksLikeHaproxy},
};

}  // namespace

std::span<const GatewayDecoder> GatewayDecoders() { return kGatewayDecoders; }

const GatewayDecoder* FindGatewayDecoder(std::string_view name) {
  for (const GatewayDecoder& d : kGatewayDecoders) {
    if (d.info.name == name) return &d;
  }
  return nullptr;
}

}  // namespace ec::capture::decoders
