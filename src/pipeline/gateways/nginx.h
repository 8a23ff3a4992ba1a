#pragma once
// The `nginx` decoder: the JSON docs/gateways/nginx.md tells nginx to write.
//  - Full capture (lua-nginx-module, `apilog.lua`): {ts (epoch seconds), duration_ms, client,
//    request{method, path, query, headers, body, body_encoding}, response{status, headers,
//    body, body_encoding, body_bytes, body_truncated}, request_id, upstream{...}}.
//  - Plain `log_format ... escape=json` (no Lua): {ts (ISO 8601), client, method, uri, query,
//    req_headers{...}, req_body, status, resp_headers{...}, request_time (seconds),
//    request_id}. nginx cannot give a response body without Lua, and only the headers named in
//    the format; `req_body` only when nginx held the body in memory.
// Fills: id (request_id), time, latency_ms, request{method, path, query, headers, body},
// response{status, headers, body}, client.ip, gateway{kind: "nginx", service (upstream)}.

#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "pipeline/exchange.h"

namespace ec::pipeline::gateways {

bool LooksLikeNginx(const json::Value& raw);
Status DecodeNginx(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                   std::vector<json::Value>* out);

}  // namespace ec::pipeline::gateways
