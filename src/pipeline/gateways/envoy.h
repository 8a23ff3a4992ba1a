#pragma once
// The `envoy` decoder: Envoy's JSON access log and Envoy tap HTTP buffered traces (Istio uses
// both). docs/gateways/envoy.md lists the fields.
//
// Access log (json_format): the keys Istio's JSON log and Envoy's docs use (`start_time`,
// `method`, `path`, `response_code`, `duration`, `authority`, `user_agent`, `request_id`,
// `x_forwarded_for`, `downstream_remote_address`, `route_name`, `upstream_cluster`, ...), or
// keys named after the command operators themselves (`%REQ(:METHOD)%`, `%RESPONSE_CODE%`, ...).
// It cannot give bodies or full header sets: only the headers named in the format.
// Tap trace (`http_buffered_trace`): every header of both sides, and bodies (`as_string` or
// base64 `as_bytes`, possibly truncated by the tap's max_buffered_*_bytes).
// Fills: time (start_time / headers_received_time), latency_ms (duration; not in taps),
// request{method,url,path,query,headers,body}, response{status,headers,body}, client.ip,
// gateway{kind:"envoy", route, service}.

#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "pipeline/exchange.h"

namespace ec::pipeline::gateways {

bool LooksLikeEnvoy(const json::Value& raw);
Status DecodeEnvoy(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                   std::vector<json::Value>* out);

}  // namespace ec::pipeline::gateways
