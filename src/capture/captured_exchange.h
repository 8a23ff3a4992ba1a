#pragma once
// What the capture proxy saw of one HTTP exchange, and its canonical JSON (contract §1).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ec::capture {

// A body as captured: the first `max_body` bytes, and how many there were in total.
struct CapturedBody {
  std::string bytes;
  uint64_t total_bytes = 0;
  bool truncated = false;  // total_bytes > bytes.size()
};

struct CapturedExchange {
  int64_t start_unix_ms = 0;  // first byte of the request
  double latency_ms = 0;      // request start to the last byte of the response
  std::string method;
  std::string target;          // request-target as sent, e.g. "/orders?dry=false"
  int http_version = 11;       // 10 or 11
  std::vector<std::pair<std::string, std::string>> request_headers;   // as received, in order
  CapturedBody request_body;
  int status = 0;              // 0 = no response (upstream closed or failed)
  std::vector<std::pair<std::string, std::string>> response_headers;
  CapturedBody response_body;
  std::string client_ip;
  std::string scheme = "http";  // for request.url
  bool upgraded = false;        // 101 Switching Protocols: the rest was tunnelled, not recorded
};

// The exchange as one line of compact JSON (no newline): contract §1 fields plus a
// "capture" object with body sizes, truncation flags and base64 markers
// ({"request_body_bytes", "request_body_truncated", "request_body_base64", ... for response}).
std::string ToExchangeJson(const CapturedExchange& x);

}  // namespace ec::capture
