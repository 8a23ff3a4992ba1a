#pragma once
// Routes a request by method and path pattern. A pattern is a '/'-separated path whose segments
// are literals or `{name}` (one whole segment, captured into HttpRequest::params). A literal
// segment beats a parameter at the same position; routes are fixed at start-up.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_types.h"

namespace ec::server {

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

class Router {
 public:
  // Adds a route; `method` is "GET", "POST", ... Registration order does not matter.
  void Add(std::string_view method, std::string_view pattern, HttpHandler handler);

  // Finds the handler for `req` and fills req.params. Returns nullptr when nothing matches; then
  // *path_known says whether the path matched some route under another method (405 vs 404).
  const HttpHandler* Match(HttpRequest& req, bool* path_known) const;

  // Runs the matched handler, or answers 404/405 as JSON.
  HttpResponse Dispatch(HttpRequest& req) const;

  // "METHOD pattern" of every route, in registration order (for docs and tests).
  std::vector<std::string> Describe() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" kept verbatim
    HttpHandler handler;
  };
  // Whether `segs` fit `route`; appends captured params. Returns the number of literal matches
  // (higher is more specific) or -1.
  static int Score(const Route& route, const std::vector<std::string_view>& segs,
                   std::vector<std::pair<std::string, std::string>>* params);

  std::vector<Route> routes_;
};

// Splits a path into its non-empty segments ("/a//b/" -> {"a", "b"}).
std::vector<std::string_view> SplitPath(std::string_view path);

}  // namespace ec::server
