#pragma once
// The `haproxy` decoder: the JSON log-format docs/gateways/haproxy.md gives HAProxy (2.4+),
// usually received through our syslog listener:
//   {ts (%trg, "27/Nov/2026:01:39:28 +0000"), client, method, path, query, version,
//    req_headers_raw (req.hdrs: "name: value\r\n..."), req_body, req_body_b64, status,
//    res_headers{...named ones}, res_body, res_body_b64, Ta, Tr, backend, server, unique_id}
// "-" means absent (HAProxy's placeholder). HAProxy gives every request header but only the
// response headers named in the format (2.6 has no fetch for all of them), and bodies only up
// to tune.bufsize; the *_b64 fields carry exact bytes, the plain ones drop invalid UTF-8.
// Fills: id (unique_id), time, latency_ms (Ta), request{method, path, query, headers, body},
// response{status, headers, body}, client.ip, gateway{kind: "haproxy", service (backend)}.

#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "pipeline/exchange.h"

namespace ec::pipeline::gateways {

bool LooksLikeHaproxy(const json::Value& raw);
Status DecodeHaproxy(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                     std::vector<json::Value>* out);

}  // namespace ec::pipeline::gateways
