#pragma once
// Outbound HTTP/1.1 for webhooks: keep-alive connection pools per origin, a deadline per request,
// and the SSRF guard applied to every resolved address. Beast stays in http_client.cc.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "delivery/ssrf_guard.h"

namespace ec::delivery {

struct Url {
  std::string scheme;  // "http"
  std::string host;    // without brackets
  uint16_t port = 80;
  std::string target;  // path and query, at least "/"
  std::string Origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
};

// Parses an absolute http:// URL. kInvalidArgument quoting the URL otherwise; https:// is
// kUnsupported for now (see docs/webhooks.md).
Result<Url> ParseUrl(std::string_view text);

struct ClientRequest {
  std::string method = "POST";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;  // at most HttpClientOptions::max_response_body bytes kept
  std::string_view Header(std::string_view name) const;
};

struct HttpClientOptions {
  size_t max_idle_per_origin = 64;
  size_t max_response_body = 64 * 1024;  // larger bodies are read and dropped past this
  SsrfGuard guard;
};

// Thread-safe: each Send borrows a pooled connection (or opens one) for its duration.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends and waits for the response. Errors: kInvalidArgument (SSRF guard refused every
  // resolved address), kTimeout, kUnavailable (resolve/connect/IO failure).
  Result<ClientResponse> Send(const ClientRequest& request);

  // Connections opened so far (tests check that keep-alive reuses them).
  uint64_t connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ec::delivery
