// The `canonical` decoder: contract §1 records, normalised (a body may be given as text with
// "body_encoding": "base64").
#include "pipeline/decode_util.h"

namespace ec::pipeline::internal {
namespace {

const json::Value kNull;

const json::Value& Get(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.Find(key);
  return v != nullptr ? *v : kNull;
}

Status ReadMessage(const json::Value& raw, bool is_request, MessageDraft* m) {
  std::string_view side = is_request ? "request" : "response";
  const json::Value& msg = Get(raw, side);
  if (!msg.is_object()) return WrongType("canonical", side, "an object", msg);
  if (is_request) {
    m->method = Get(msg, "method");
    m->url = Get(msg, "url");
    m->path = Get(msg, "path");
    m->query = Get(msg, "query");
  } else {
    m->status = Get(msg, "status");
  }
  const json::Value& headers = Get(msg, "headers");
  if (headers.is_object()) {
    m->headers_object = headers;
    m->headers.assign(headers.object().begin(), headers.object().end());
  } else if (!headers.is_null()) {
    return WrongType("canonical", std::string(side) + ".headers", "an object", headers);
  }
  m->body = Get(msg, "body");
  const json::Value& encoding = Get(msg, "body_encoding");
  if (encoding.is_string() && encoding.string() == "base64") {
    m->body_base64 = true;
  } else if (!encoding.is_null() && !(encoding.is_string() && encoding.string() == "identity")) {
    return InvalidArgument("canonical: " + std::string(side) +
                           ".body_encoding must be \"base64\" or \"identity\"");
  }
  return Status::Ok();
}

}  // namespace

bool LooksLikeCanonical(const json::Value& raw) {
  const json::Value* req = raw.Find("request");
  return req != nullptr && req->is_object() && req->Find("method") != nullptr &&
         raw.Find("response") != nullptr;
}

Status DecodeCanonical(const json::Value& raw, const DecodeOptions& options, Arena* arena,
                       std::vector<json::Value>* out) {
  if (!raw.is_object()) return WrongType("canonical", "the record", "an object", raw);
  ExchangeDraft d;
  d.id = Get(raw, "id");
  d.time = Get(raw, "time");
  d.latency_ms = Get(raw, "latency_ms");
  d.client = Get(raw, "client");
  d.gateway = Get(raw, "gateway");
  EC_RETURN_IF_ERROR(ReadMessage(raw, true, &d.request));
  EC_RETURN_IF_ERROR(ReadMessage(raw, false, &d.response));
  EC_ASSIGN_OR_RETURN(json::Value x, FinishExchange(d, options, arena, "canonical"));
  out->push_back(x);
  return Status::Ok();
}

}  // namespace ec::pipeline::internal
