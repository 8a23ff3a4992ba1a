// The `har` decoder: HTTP Archive 1.2 (a whole file: {"log": {"entries": [...]}} gives one
// exchange per entry; a single entry object gives one).
#include <string>

#include "pipeline/decode_util.h"

namespace ec::pipeline::internal {
namespace {

const json::Value kNull;

const json::Value& Get(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v != nullptr ? *v : kNull;
}

// [{"name": ..., "value": ...}] -> members (names as given, values strings).
Status NameValueList(const json::Value& list, std::string_view where, std::string_view field,
                     std::vector<json::Member>* out) {
  if (list.is_null()) return Status::Ok();
  if (!list.is_array()) return WrongType(where, field, "an array of {name, value}", list);
  for (const json::Value& e : list.array()) {
    const json::Value& name = Get(e, "name");
    const json::Value& value = Get(e, "value");
    if (!name.is_string()) return WrongType(where, std::string(field) + "[].name", "a string", name);
    if (!value.is_string()) return WrongType(where, std::string(field) + "[].value", "a string", value);
    out->push_back({name.string(), value});
  }
  return Status::Ok();
}

// Members with repeated names merged into lists (query strings and form params).
json::Value GroupToObject(const std::vector<json::Member>& in, json::Builder& b) {
  std::vector<json::Member> out;
  std::vector<std::vector<json::Value>> values;
  for (const json::Member& m : in) {
    size_t i = 0;
    while (i < out.size() && out[i].key != m.key) ++i;
    if (i == out.size()) {
      out.push_back({m.key, m.value});
      values.push_back({m.value});
    } else {
      values[i].push_back(m.value);
      out[i].value = b.Array(values[i]);
    }
  }
  return b.Object(out, true);
}

Status DecodeEntry(const json::Value& entry, size_t index, const json::Value& creator,
                   const DecodeOptions& options, Arena* arena, std::vector<json::Value>* out) {
  std::string where = index == SIZE_MAX ? std::string("har") : "har entry " + std::to_string(index);
  if (!entry.is_object()) return WrongType(where, "the entry", "an object", entry);
  json::Builder b(arena);
  const json::Value& req = Get(entry, "request");
  const json::Value& resp = Get(entry, "response");
  if (!req.is_object()) return WrongType(where, "request", "an object", req);
  if (!resp.is_object()) return WrongType(where, "response", "an object", resp);
  ExchangeDraft d;
  d.time = Get(entry, "startedDateTime");
  if (!d.time.is_string()) return WrongType(where, "startedDateTime", "an ISO 8601 string", d.time);
  const json::Value& total = Get(entry, "time");
  if (total.is_number() && total.number() >= 0) d.latency_ms = total;

  d.request.method = Get(req, "method");
  d.request.url = Get(req, "url");
  if (!d.request.url.is_string()) return WrongType(where, "request.url", "a string", d.request.url);
  EC_RETURN_IF_ERROR(NameValueList(Get(req, "headers"), where, "request.headers", &d.request.headers));
  std::vector<json::Member> query;
  EC_RETURN_IF_ERROR(NameValueList(Get(req, "queryString"), where, "request.queryString", &query));
  if (!query.empty()) d.request.query = GroupToObject(query, b);
  if (const json::Value& post = Get(req, "postData"); post.is_object()) {
    const json::Value& mime = Get(post, "mimeType");
    if (mime.is_string()) d.request.mime_type = mime.string();
    const json::Value& text = Get(post, "text");
    if (text.is_string() && !text.string().empty()) {
      d.request.body = text;
      const json::Value& enc = Get(post, "encoding");
      d.request.body_base64 = enc.is_string() && enc.string() == "base64";
    } else {
      std::vector<json::Member> params;
      EC_RETURN_IF_ERROR(NameValueList(Get(post, "params"), where, "request.postData.params", &params));
      if (!params.empty()) d.request.body = GroupToObject(params, b);
    }
  }

  d.response.status = Get(resp, "status");
  EC_RETURN_IF_ERROR(NameValueList(Get(resp, "headers"), where, "response.headers", &d.response.headers));
  if (const json::Value& content = Get(resp, "content"); content.is_object()) {
    const json::Value& mime = Get(content, "mimeType");
    if (mime.is_string()) d.response.mime_type = mime.string();
    const json::Value& text = Get(content, "text");
    if (text.is_string()) {
      d.response.body = text;
      const json::Value& enc = Get(content, "encoding");
      d.response.body_base64 = enc.is_string() && enc.string() == "base64";
    }
  }

  std::vector<json::Member> gateway{{"kind", json::Value::StringRef("har")}};
  if (const json::Value* name = creator.Find("name"); name != nullptr && name->is_string()) {
    gateway.push_back({"creator", *name});
  }
  if (const json::Value& ip = Get(entry, "serverIPAddress"); ip.is_string()) gateway.push_back({"server_ip", ip});
  d.gateway = b.Object(gateway, true);

  EC_ASSIGN_OR_RETURN(json::Value x, FinishExchange(d, options, arena, where));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace

bool LooksLikeHar(const json::Value& raw) {
  const json::Value* log = raw.Find("log");
  if (log != nullptr && log->is_object()) {
    const json::Value* entries = log->Find("entries");
    return entries != nullptr && entries->is_array();
  }
  return raw.Find("startedDateTime") != nullptr && raw.Find("request") != nullptr;
}

Status DecodeHar(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                 std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("har", "the record", "an object", raw);
  const json::Value* log = raw.Find("log");
  if (log == nullptr) return DecodeEntry(raw, SIZE_MAX, kNull, options, arena, out);
  const json::Value* entries = log->is_object() ? log->Find("entries") : nullptr;
  if (entries == nullptr || !entries->is_array()) {
    return InvalidArgument("har: log.entries must be an array of HAR entries");
  }
  if (entries->size() > options.max_entries) {
    return LimitExceeded("har: " + std::to_string(entries->size()) + " entries, more than the limit of " +
                         std::to_string(options.max_entries));
  }
  const json::Value* creator = log->Find("creator");
  size_t before = out->size();
  for (size_t i = 0; i < entries->size(); ++i) {
    Status s = DecodeEntry(*entries->At(i), i, creator ? *creator : kNull, options, arena, out);
    if (!s.ok()) {
      out->resize(before);
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace ec::pipeline::internal
