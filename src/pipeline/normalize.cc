// FinishExchange: the normalisation every decoder shares (contract §1).
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "json/document.h"
#include "json/writer.h"
#include "pipeline/decode_util.h"
#include "pipeline/ids.h"
#include "pipeline/json_twice.h"
#include "pipeline/processor.h"

namespace ec::pipeline::internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  return ToLower(Trim(content_type.substr(0, semi)));
}

bool IsJsonMediaType(std::string_view media) {
  return media == "application/json" ||
         (media.size() > 5 && media.substr(media.size() - 5) == "+json");
}

// A header value as a string (numbers and booleans as JavaScript prints them).
bool HeaderString(const json::Value& v, std::string* out) {
  out->clear();
  switch (v.kind()) {
    case json::Kind::kString: out->assign(v.string()); return true;
    case json::Kind::kNumber: json::AppendJsNumber(v.number(), out); return true;
    case json::Kind::kBool: out->assign(v.bool_value() ? "true" : "false"); return true;
    default: return false;
  }
}

// Lower-cased names; a repeated header becomes one value joined with ", " (RFC 9110 §5.3),
// except set-cookie, which cannot be joined and becomes a list of strings.
// True when `headers` already has lower-case, unique names and string values (the common
// case for canonical and Kong records), so it can be used as is without a copy.
bool AlreadyNormal(const json::Value& headers) {
  if (!headers.is_object()) return false;
  std::span<const json::Member> ms = headers.object();
  for (size_t i = 0; i < ms.size(); ++i) {
    std::string_view k = ms[i].key;
    if (k.empty() || k[0] == ':' || !ms[i].value.is_string()) return false;
    for (char c : k) {
      if (c >= 'A' && c <= 'Z') return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (ms[j].key == k) return false;
    }
  }
  return true;
}

Result<json::Value> NormalizeHeaders(const std::vector<json::Member>& in, json::Builder& b,
                                     std::string_view where) {
  struct Header {
    std::string name;
    std::vector<std::string> values;
  };
  std::vector<Header> headers;
  std::string s;
  for (const json::Member& m : in) {
    if (m.key.empty() || m.key[0] == ':') continue;  // HTTP/2 pseudo-headers are not headers
    std::string name = ToLower(m.key);
    Header* h = nullptr;
    for (Header& e : headers) {
      if (e.name == name) h = &e;
    }
    if (h == nullptr) {
      headers.push_back(Header{std::move(name), {}});
      h = &headers.back();
    }
    if (m.value.is_array()) {
      for (const json::Value& e : m.value.array()) {
        if (!HeaderString(e, &s)) return WrongType(where, "header " + h->name, "a string", e);
        h->values.push_back(s);
      }
    } else if (m.value.is_null()) {
      continue;
    } else {
      if (!HeaderString(m.value, &s)) return WrongType(where, "header " + h->name, "a string", m.value);
      h->values.push_back(s);
    }
  }
  std::vector<json::Member> members;
  members.reserve(headers.size());
  for (const Header& h : headers) {
    json::Value v;
    if (h.name == "set-cookie" && h.values.size() != 1) {
      std::vector<json::Value> list;
      for (const std::string& x : h.values) list.push_back(b.String(x));
      v = b.Array(list);
    } else {
      std::string joined;
      for (size_t i = 0; i < h.values.size(); ++i) {
        if (i > 0) joined += ", ";
        joined += h.values[i];
      }
      v = b.String(joined);
    }
    members.push_back(json::Member{h.name, v});
  }
  return b.Object(members);
}

// Query values as strings or lists of strings (Kong gives `true` for a key without value).
Result<json::Value> NormalizeQuery(const json::Value& q, json::Builder& b, std::string_view where) {
  std::vector<json::Member> members;
  std::string s;
  for (const json::Member& m : q.object()) {
    json::Value v = m.value;
    if (v.is_bool() && v.bool_value()) {
      v = json::Value::StringRef("");
    } else if (v.is_number()) {
      s.clear();
      json::AppendJsNumber(v.number(), &s);
      v = b.String(s);
    } else if (v.is_array()) {
      std::vector<json::Value> list;
      for (const json::Value& e : v.array()) {
        if (e.is_string()) list.push_back(e);
        else if (e.is_bool() && e.bool_value()) list.push_back(json::Value::StringRef(""));
        else return WrongType(where, "query parameter " + std::string(m.key), "a string", e);
      }
      v = b.Array(list);
    } else if (!v.is_string()) {
      return WrongType(where, "query parameter " + std::string(m.key), "a string", v);
    }
    members.push_back(json::Member{m.key, v});
  }
  return b.Object(members, /*keys_stable=*/true);
}

Result<json::Value> DecodeBody(const MessageDraft& m, std::string_view content_type,
                               const DecodeOptions& options, json::Builder& b,
                               std::string_view where, std::string_view side) {
  if (m.body.is_null()) return json::Value::Null();
  if (!m.body.is_string()) {
    if (m.body_base64) return WrongType(where, std::string(side) + ".body", "a base64 string", m.body);
    return m.body;  // already JSON
  }
  std::string_view text = m.body.string();
  std::string decoded;
  bool from_base64 = false;
  if (m.body_base64) {
    if (!DecodeBase64(text, &decoded)) {
      return InvalidArgument(std::string(where) + (where.empty() ? "" : ": ") + std::string(side) +
                             ".body is marked base64 but is not valid base64");
    }
    // Bytes that are not text stay base64: JSON strings must be UTF-8.
    if (IsValidUtf8(decoded)) {
      text = decoded;
      from_base64 = true;
    }
  }
  if (text.size() > options.max_body_bytes) {
    return LimitExceeded(std::string(where) + (where.empty() ? "" : ": ") + std::string(side) +
                         ".body is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                         std::to_string(options.max_body_bytes));
  }
  if (text.empty()) return json::Value::Null();
  std::string media = MediaType(content_type);
  if (IsJsonMediaType(media)) {
    json::Value parsed;
    json::ParseOptions po;
    po.max_depth = options.max_depth;
    Status s = json::ParseInto(text, b.arena(), &parsed, po);
    if (s.ok()) return parsed;
    if (s.code() == ErrorCode::kLimitExceeded) {
      return LimitExceeded(std::string(where) + (where.empty() ? "" : ": ") + std::string(side) +
                           ".body: " + s.message());
    }
    // A body that claims JSON but is not (truncated by the gateway, say) stays a string.
  } else if (media == "application/x-www-form-urlencoded") {
    return ParseQueryString(text, b);
  }
  return from_base64 ? b.String(text) : m.body;
}

// The path and query parts of a URL or request target.
void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query) {
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.find('/') > scheme) {
    size_t slash = target.find('/', scheme + 3);
    size_t qmark = target.find('?', scheme + 3);
    size_t start = std::min(slash, qmark);
    target = start == std::string_view::npos ? std::string_view("/") : target.substr(start);
  }
  size_t q = target.find('?');
  *path = target.substr(0, q);
  *query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (path->empty()) *path = "/";
}

Result<json::Value> FinishMessage(MessageDraft& m, bool is_request, const DecodeOptions& options,
                                  json::Builder& b, std::string_view where) {
  std::string_view side = is_request ? "request" : "response";
  std::vector<json::Member> out;
  json::Value headers;
  if (AlreadyNormal(m.headers_object)) {
    headers = m.headers_object;
  } else {
    EC_ASSIGN_OR_RETURN(headers, NormalizeHeaders(m.headers, b, where));
  }
  std::string_view content_type = m.mime_type;
  if (const json::Value* ct = headers.Find("content-type"); ct != nullptr && ct->is_string()) {
    content_type = ct->string();
  }
  if (is_request) {
    if (!m.method.is_string() || m.method.string().empty()) {
      return WrongType(where, "request.method", "a non-empty string", m.method);
    }
    std::string method(m.method.string());
    for (char& c : method) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    out.push_back({"method", method == m.method.string() ? m.method : b.String(method)});
    if (!m.url.is_null() && !m.url.is_string()) return WrongType(where, "request.url", "a string", m.url);
    if (!m.path.is_null() && !m.path.is_string()) return WrongType(where, "request.path", "a string", m.path);
    if (m.path.is_null() && m.url.is_null()) {
      return InvalidArgument(std::string(where) + (where.empty() ? "" : ": ") +
                             "request needs a path or a url");
    }
    std::string_view path, query_text;
    SplitTarget(m.path.is_string() ? m.path.string() : m.url.string(), &path, &query_text);
    if (query_text.empty() && m.url.is_string() && m.path.is_string()) {
      std::string_view ignored;
      SplitTarget(m.url.string(), &ignored, &query_text);
    }
    if (m.url.is_string()) out.push_back({"url", m.url});
    out.push_back({"path", m.path.is_string() && path.size() == m.path.string().size()
                               ? m.path
                               : b.String(path)});
    json::Value query;
    if (m.query.is_object()) {
      EC_ASSIGN_OR_RETURN(query, NormalizeQuery(m.query, b, where));
    } else if (m.query.is_null()) {
      query = ParseQueryString(query_text, b);
    } else {
      return WrongType(where, "request.query", "an object", m.query);
    }
    out.push_back({"query", query});
  } else {
    if (!m.status.is_number()) return WrongType(where, "response.status", "a number", m.status);
    double st = m.status.number();
    if (st < 0 || st > 999 || st != static_cast<double>(static_cast<int>(st))) {
      std::string text;
      json::AppendJsNumber(st, &text);
      return InvalidArgument(std::string(where) + (where.empty() ? "" : ": ") +
                             "response.status must be an HTTP status code, got " + text);
    }
    out.push_back({"status", m.status});
  }
  out.push_back({"headers", headers});
  EC_ASSIGN_OR_RETURN(json::Value body, DecodeBody(m, content_type, options, b, where, side));
  out.push_back({"body", body});
  return b.Object(out, /*keys_stable=*/true);
}

// Redacting the exchange without its id and time gives the members of the redacted exchange
// when no path starts at `id`, `time` or `*`.
bool RedactionSkipsIdAndTime(std::span<const std::string> paths) {
  for (const std::string& p : paths) {
    std::string_view first = std::string_view(p).substr(0, p.find('.'));
    if (first == "id" || first == "time" || first == "*") return false;
  }
  return true;
}

}  // namespace

Result<json::Value> FinishExchange(ExchangeDraft& d, const DecodeOptions& options, Arena* arena,
                                   std::string_view where) {
  json::Builder b(arena);
  EC_ASSIGN_OR_RETURN(json::Value request, FinishMessage(d.request, true, options, b, where));
  EC_ASSIGN_OR_RETURN(json::Value response, FinishMessage(d.response, false, options, b, where));

  json::Value time = json::Value::Null();
  if (d.time.is_string()) {
    if (!ParseRfc3339Ms(d.time.string())) {
      return InvalidArgument(std::string(where) + (where.empty() ? "" : ": ") +
                             "time must be an RFC 3339 date-time such as 2026-11-27T10:15:30.123Z, got \"" +
                             std::string(d.time.string().substr(0, 64)) + "\"");
    }
    time = d.time;
  } else if (d.time.is_number()) {
    time = b.String(FormatRfc3339Ms(static_cast<int64_t>(d.time.number())));
  } else if (!d.time.is_null()) {
    return WrongType(where, "time", "an RFC 3339 string", d.time);
  }
  if (!d.id.is_null() && (!d.id.is_string() || d.id.string().empty())) {
    return WrongType(where, "id", "a non-empty string", d.id);
  }
  if (!d.latency_ms.is_null() && !d.latency_ms.is_number()) {
    return WrongType(where, "latency_ms", "a number", d.latency_ms);
  }
  if (!d.client.is_null() && !d.client.is_object()) return WrongType(where, "client", "an object", d.client);
  if (!d.gateway.is_null() && !d.gateway.is_object()) return WrongType(where, "gateway", "an object", d.gateway);

  std::vector<json::Member> m;
  m.reserve(8);
  m.push_back({"id", d.id});
  if (!time.is_null()) m.push_back({"time", time});
  if (!d.latency_ms.is_null()) m.push_back({"latency_ms", d.latency_ms});
  m.push_back({"request", request});
  m.push_back({"response", response});
  if (!d.client.is_null()) m.push_back({"client", d.client});
  if (!d.gateway.is_null()) m.push_back({"gateway", d.gateway});
  const bool write_text = options.json_out != nullptr && options.json_sizes != nullptr;
  if (d.id.is_null()) {
    // Stable id: a hash of the record as decoded (before redaction, without an assigned time),
    // so a retried delivery of the same record gets the same id.
    thread_local std::string text;  // reused: no allocation per record
    text.clear();
    json::Value without_id = b.Object(std::span<const json::Member>(m).subspan(1), true);
    if (write_text && RedactionSkipsIdAndTime(options.redact)) {
      // The hash text and the stored text in one walk: they differ only where redaction hit.
      json::Value redacted = options.redact.empty() ? without_id : Redact(without_id, options.redact, arena);
      thread_local std::string rest;
      rest.clear();
      AppendJsonTwice(without_id, redacted, &text, &rest);
      m[0].value = b.String("x" + Sha256Hex128(text));
      std::vector<json::Member> x;
      x.reserve(redacted.size() + 2);
      x.push_back(m[0]);
      if (time.is_null()) {
        time = b.String(FormatRfc3339Ms(options.now_ms >= 0 ? options.now_ms : WallClockMs()));
        x.push_back(json::Member{"time", time});
      }
      x.insert(x.end(), redacted.object().begin(), redacted.object().end());
      // {"id":..,["time":..,]<the members of `redacted`>}: `rest` is "{...}" with at least the
      // request and the response in it.
      std::string* out = options.json_out;
      const size_t at = out->size();
      out->append("{\"id\":");
      json::AppendQuoted(m[0].value.string(), out);
      if (x.size() > redacted.size() + 1) {
        out->append(",\"time\":");
        json::AppendQuoted(time.string(), out);
      }
      if (redacted.size() > 0) {
        out->push_back(',');
        out->append(rest, 1, std::string::npos);
      } else {
        out->push_back('}');
      }
      options.json_sizes->push_back(out->size() - at);
      return b.Object(x, /*keys_stable=*/true);
    }
    json::AppendJson(without_id, &text);
    m[0].value = b.String("x" + Sha256Hex128(text));
  }
  if (time.is_null()) {
    m.insert(m.begin() + 1, json::Member{"time", b.String(FormatRfc3339Ms(options.now_ms >= 0 ? options.now_ms : WallClockMs()))});
  }
  json::Value exchange = b.Object(m, /*keys_stable=*/true);
  if (!options.redact.empty()) exchange = Redact(exchange, options.redact, arena);
  if (write_text) {
    const size_t at = options.json_out->size();
    json::AppendJson(exchange, options.json_out);
    options.json_sizes->push_back(options.json_out->size() - at);
  }
  return exchange;
}

}  // namespace ec::pipeline::internal
