#include "server/http/router.h"

namespace ec::server {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > i) out.push_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

void Router::Add(std::string_view method, std::string_view pattern, HttpHandler handler) {
  Route r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  for (std::string_view s : SplitPath(pattern)) r.segments.emplace_back(s);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

int Router::Score(const Route& route, const std::vector<std::string_view>& segs,
                  std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != segs.size()) return -1;
  int literal = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = route.segments[i];
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      if (params) params->emplace_back(p.substr(1, p.size() - 2), std::string(segs[i]));
      continue;
    }
    if (p != segs[i]) return -1;
    // Weight earlier literal segments higher so "/a/{x}" beats "/{y}/b" for "/a/b".
    literal += 1 << (16 - std::min<size_t>(i, 16));
  }
  return literal;
}

const HttpHandler* Router::Match(HttpRequest& req, bool* path_known) const {
  std::vector<std::string_view> segs = SplitPath(req.path);
  const Route* best = nullptr;
  int best_score = -1;
  bool known = false;
  for (const Route& r : routes_) {
    int s = Score(r, segs, nullptr);
    if (s < 0) continue;
    known = true;
    if (r.method != req.method) continue;
    if (s > best_score) {
      best = &r;
      best_score = s;
    }
  }
  if (path_known) *path_known = known;
  if (best == nullptr) return nullptr;
  req.params.clear();
  Score(*best, segs, &req.params);
  return &best->handler;
}

HttpResponse Router::Dispatch(HttpRequest& req) const {
  bool known = false;
  const HttpHandler* h = Match(req, &known);
  if (h != nullptr) return (*h)(req);
  if (known) {
    return HttpResponse::Error(405, "method_not_allowed",
                               "method " + req.method + " is not allowed on " + req.path);
  }
  return HttpResponse::Error(404, "not_found", "no route for " + req.method + " " + req.path +
                                                   "; see /v1/openapi.json for the API");
}

std::vector<std::string> Router::Describe() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace ec::server
