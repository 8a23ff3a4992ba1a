#include "capture/captured_exchange.h"

#include <cctype>
#include <vector>

#include "base/arena.h"
#include "capture/exchange_parts.h"
#include "json/builder.h"
#include "json/writer.h"

namespace ec::capture {
namespace {

std::string_view FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) {
      char c = n[i];
      same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) == name[i];
    }
    if (same) return v;
  }
  return {};
}

json::Value Headers(const std::vector<std::pair<std::string, std::string>>& h, json::Builder& b) {
  std::vector<HeaderPair> pairs(h.begin(), h.end());
  return HeadersValue(pairs, b);
}

}  // namespace

std::string ToExchangeJson(const CapturedExchange& x) {
  Arena arena(16384);
  json::Builder b(&arena);
  std::string_view path, query;
  SplitTarget(x.target, &path, &query);

  std::vector<json::Member> request;
  request.push_back({"method", b.String(x.method)});
  std::string_view host = FindHeader(x.request_headers, "host");
  if (!host.empty() && !x.target.empty() && x.target[0] == '/') {
    request.push_back({"url", b.String(x.scheme + "://" + std::string(host) + x.target)});
  } else if (x.target.rfind("http", 0) == 0) {
    request.push_back({"url", b.String(x.target)});  // absolute-form request-target
  }
  request.push_back({"path", b.String(path)});
  request.push_back({"query", QueryValue(query, b)});
  request.push_back({"headers", Headers(x.request_headers, b)});
  bool req_b64 = false, resp_b64 = false;
  request.push_back({"body", BodyValue(x.request_body.bytes,
                                       FindHeader(x.request_headers, "content-type"), b, &req_b64)});

  std::vector<json::Member> top;
  top.push_back({"time", b.String(FormatRfc3339Millis(x.start_unix_ms))});
  top.push_back({"latency_ms", json::Value::Number(x.latency_ms)});
  top.push_back({"request", b.Object(request, true)});
  if (x.status != 0) {
    json::Value response = ObjectOf(
        {{"status", json::Value::Number(x.status)},
         {"headers", Headers(x.response_headers, b)},
         {"body", BodyValue(x.response_body.bytes, FindHeader(x.response_headers, "content-type"),
                            b, &resp_b64)}},
        b);
    top.push_back({"response", response});
  } else {
    top.push_back({"response", json::Value::Null()});
  }
  if (!x.client_ip.empty()) {
    top.push_back({"client", ObjectOf({{"ip", b.String(x.client_ip)}}, b)});
  }
  top.push_back({"gateway", ObjectOf({{"kind", json::Value::StringRef("capture-proxy")}}, b)});
  top.push_back(
      {"capture",
       ObjectOf({{"request_body_bytes", json::Value::Number(double(x.request_body.total_bytes))},
                 {"request_body_truncated", json::Value::Bool(x.request_body.truncated)},
                 {"request_body_base64", json::Value::Bool(req_b64)},
                 {"response_body_bytes", json::Value::Number(double(x.response_body.total_bytes))},
                 {"response_body_truncated", json::Value::Bool(x.response_body.truncated)},
                 {"response_body_base64", json::Value::Bool(resp_b64)},
                 {"upgraded", json::Value::Bool(x.upgraded)}},
                b)});
  // Room for the whole line up front: each string written would otherwise grow it again.
  size_t estimate = 512 + x.target.size() + x.request_body.bytes.size() + x.response_body.bytes.size();
  for (const auto& [n, v] : x.request_headers) estimate += n.size() + v.size() + 8;
  for (const auto& [n, v] : x.response_headers) estimate += n.size() + v.size() + 8;
  std::string out;
  out.reserve(estimate + estimate / 4);
  json::AppendJson(b.Object(top, true), &out);
  return out;
}

}  // namespace ec::capture
