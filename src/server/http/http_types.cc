#include "server/http/http_types.h"

#include "json/writer.h"

namespace ec::server {

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::string_view HttpRequest::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string HttpRequest::QueryParam(std::string_view name, bool* found) const {
  return FindQueryParam(query, name, found);
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Error(int status, std::string_view code, std::string_view message) {
  std::string body = "{\"error\":{\"code\":";
  json::AppendQuoted(code, &body);
  body += ",\"message\":";
  json::AppendQuoted(message, &body);
  body += "}}";
  return Json(status, std::move(body));
}

}  // namespace ec::server
