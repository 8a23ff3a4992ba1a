#pragma once
// Our own thin request/response types, so Beast stays inside http_server.cc.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/url.h"

namespace ec::server {

struct HttpRequest {
  std::string method;   // upper case as sent: "GET", "POST", ...
  std::string target;   // raw request target: "/v1/exchanges?format=kong"
  std::string path;     // target without the query, percent-decoded
  std::string query;    // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;     // already gunzipped when Content-Encoding was gzip
  std::string remote_address;
  std::vector<std::pair<std::string, std::string>> params;  // from the route's {name} segments

  // The first header named `name` (lower case), or empty.
  std::string_view Header(std::string_view name) const;
  // The path parameter `name`, or empty.
  std::string_view Param(std::string_view name) const;
  // The first query parameter `name`, percent-decoded; `found` says whether it was present.
  std::string QueryParam(std::string_view name, bool* found = nullptr) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain");
  // {"error": {"code": <code>, "message": <message>}}
  static HttpResponse Error(int status, std::string_view code, std::string_view message);
};

// Percent-decoding lives in base/url.h.
using ::ec::PercentDecode;

}  // namespace ec::server
