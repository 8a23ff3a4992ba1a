#include "delivery/api.h"

#include <charconv>
#include <ctime>
#include <map>

#include "delivery/signature.h"
#include "json/document.h"
#include "json/writer.h"
#include "log/group_offsets.h"
#include "base/blocking_wait.h"
#include "base/url.h"

namespace ec::delivery {
namespace {

// Structural UTF-8 check (lead byte + continuation bytes), enough to decide text vs base64.
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 6) {
      n = 1;
    } else if ((c >> 4) == 14) {
      n = 2;
    } else if ((c >> 3) == 30) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

ApiResponse Json(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Result<int64_t> IntParam(const ApiRequest& r, std::string_view name, int64_t dflt, bool* found) {
  std::string v = r.Query(name, found);
  if (!*found || v.empty()) {
    *found = false;
    return dflt;
  }
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgument("query parameter " + std::string(name) + "='" + v +
                           "' is not an integer");
  }
  return out;
}

Status ParseBody(const ApiRequest& r, std::unique_ptr<json::Document>* doc) {
  std::string_view body = r.body;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
  auto d = json::Parse(body);
  if (!d.ok()) return InvalidArgument("request body: " + d.status().message());
  *doc = std::move(*d);
  return Status::Ok();
}

std::string SubscriptionWithStatus(Dispatcher* d, const Subscription& s) {
  std::string o = SubscriptionToJson(s, false);
  auto st = d->GetStatus(s.id);
  if (!st.ok()) return o;
  o.pop_back();
  o += ",\"status\":{\"delivered\":" + std::to_string(st->delivered) +
       ",\"failed_attempts\":" + std::to_string(st->failed_attempts) +
       ",\"dead_lettered\":" + std::to_string(st->dead_lettered) +
       ",\"filtered_out\":" + std::to_string(st->filtered_out) +
       ",\"in_flight\":" + std::to_string(st->in_flight) +
       ",\"buffered\":" + std::to_string(st->buffered) + ",\"positions\":[";
  for (size_t i = 0; i < st->positions.size(); ++i) {
    const StreamPosition& p = st->positions[i];
    if (i) o += ',';
    o += "{\"topic\":";
    json::AppendQuoted(p.topic, &o);
    o += ",\"partition\":" + std::to_string(p.partition) +
         ",\"committed\":" + std::to_string(p.committed) + ",\"end\":" + std::to_string(p.end) +
         ",\"lag\":" + std::to_string(std::max<int64_t>(0, p.end - p.committed)) + "}";
  }
  o += "]}}";
  return o;
}

// "0:15,1:7" -> {0: 15, 1: 7}
std::optional<std::map<int32_t, int64_t>> ParsePositions(std::string_view text) {
  std::map<int32_t, int64_t> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = one.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    int32_t p = 0;
    int64_t o = 0;
    auto r1 = std::from_chars(one.data(), one.data() + colon, p);
    auto r2 = std::from_chars(one.data() + colon + 1, one.data() + one.size(), o);
    if (r1.ec != std::errc() || r2.ec != std::errc() || r2.ptr != one.data() + one.size()) {
      return std::nullopt;
    }
    out[p] = o;
  }
  return out;
}

std::string FormatPositions(const std::map<int32_t, int64_t>& pos) {
  std::string o;
  for (const auto& [p, off] : pos) {
    if (!o.empty()) o += ',';
    o += std::to_string(p) + ":" + std::to_string(off);
  }
  return o;
}

}  // namespace

std::string_view ApiRequest::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string_view ApiRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::string ApiRequest::Query(std::string_view name, bool* found) const {
  return FindQueryParam(query, name, found);
}

ApiResponse ErrorResponse(const Status& s) {
  const ErrorCodeInfo& info = InfoOf(s.code());
  std::string body = "{\"error\":{\"code\":";
  json::AppendQuoted(info.name, &body);
  body += ",\"message\":";
  json::AppendQuoted(s.message(), &body);
  body += "}}";
  return Json(info.http_status, std::move(body));
}

std::optional<int64_t> ParseTimeMs(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0, scale = 100;
    while (std::isdigit(static_cast<unsigned char>(*rest))) {
      frac += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
    ms += frac;
  }
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    ms -= sign * (hh * 3600 + mm * 60) * 1000LL;
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  return ms;
}

void AppendRecordJson(const SourceRecord& r, std::string* o) {
  *o += "{\"topic\":";
  json::AppendQuoted(r.topic, o);
  *o += ",\"partition\":" + std::to_string(r.partition) + ",\"offset\":" +
        std::to_string(r.offset) + ",\"timestamp\":" + std::to_string(r.timestamp_ms) + ",\"key\":";
  if (r.key) {
    json::AppendQuoted(*r.key, o);
  } else {
    *o += "null";
  }
  *o += ",\"headers\":{";
  for (size_t i = 0; i < r.headers.size(); ++i) {
    if (i) *o += ',';
    json::AppendQuoted(r.headers[i].first, o);
    *o += ':';
    json::AppendQuoted(r.headers[i].second, o);
  }
  *o += "}";
  if (!r.value) {
    *o += ",\"value\":null}";
    return;
  }
  auto doc = json::Parse(*r.value);
  if (doc.ok()) {
    *o += ",\"value\":";
    json::AppendJson((*doc)->root(), o);
  } else if (ValidUtf8(*r.value)) {
    *o += ",\"value\":";
    json::AppendQuoted(*r.value, o);
  } else {
    *o += ",\"value_base64\":";
    json::AppendQuoted(Base64Encode(*r.value), o);
  }
  *o += '}';
}

std::vector<ApiRoute> DeliveryApi::Routes() {
  std::vector<ApiRoute> routes;
  auto add = [&](std::string m, std::string p, ApiResponse (DeliveryApi::*fn)(const ApiRequest&)) {
    routes.push_back({std::move(m), std::move(p), [this, fn](const ApiRequest& r) {
                        return (this->*fn)(r);
                      }});
  };
  if (dispatcher_) {
    add("POST", "/v1/subscriptions", &DeliveryApi::CreateSubscription);
    add("GET", "/v1/subscriptions", &DeliveryApi::ListSubscriptions);
    add("GET", "/v1/subscriptions/{id}", &DeliveryApi::GetSubscription);
    add("PATCH", "/v1/subscriptions/{id}", &DeliveryApi::PatchSubscription);
    add("DELETE", "/v1/subscriptions/{id}", &DeliveryApi::DeleteSubscription);
    add("GET", "/v1/subscriptions/{id}/attempts", &DeliveryApi::Attempts);
    routes.push_back({"POST", "/v1/subscriptions/{id}/pause",
                      [this](const ApiRequest& r) { return Pause(r, true); }});
    routes.push_back({"POST", "/v1/subscriptions/{id}/resume",
                      [this](const ApiRequest& r) { return Pause(r, false); }});
    add("POST", "/v1/subscriptions/{id}/replay", &DeliveryApi::Replay);
  }
  add("GET", "/v1/topics/{topic}/records", &DeliveryApi::Records);
  add("GET", "/v1/topics/{topic}/stream", &DeliveryApi::Stream);
  if (offsets_) {
    add("POST", "/v1/consumers/{group}/commit", &DeliveryApi::Commit);
    add("GET", "/v1/consumers/{group}/offsets", &DeliveryApi::GroupPositions);
  }
  return routes;
}

ApiResponse DeliveryApi::CreateSubscription(const ApiRequest& r) {
  std::unique_ptr<json::Document> doc;
  if (Status s = ParseBody(r, &doc); !s.ok()) return ErrorResponse(s);
  auto created = dispatcher_->CreateJson(doc->root());
  if (!created.ok()) return ErrorResponse(created.status());
  ApiResponse res = Json(201, std::move(*created));
  return res;
}

ApiResponse DeliveryApi::ListSubscriptions(const ApiRequest& r) {
  std::string o = "{\"subscriptions\":[";
  bool first = true;
  for (const Subscription& s : dispatcher_->List()) {
    if (!first) o += ',';
    first = false;
    o += SubscriptionWithStatus(dispatcher_, s);
  }
  o += "]}";
  return Json(200, std::move(o));
}

ApiResponse DeliveryApi::GetSubscription(const ApiRequest& r) {
  auto s = dispatcher_->Get(std::string(r.Param("id")));
  if (!s.ok()) return ErrorResponse(s.status());
  return Json(200, SubscriptionWithStatus(dispatcher_, *s));
}

ApiResponse DeliveryApi::PatchSubscription(const ApiRequest& r) {
  std::unique_ptr<json::Document> doc;
  if (Status s = ParseBody(r, &doc); !s.ok()) return ErrorResponse(s);
  auto s = dispatcher_->Update(std::string(r.Param("id")), doc->root());
  if (!s.ok()) return ErrorResponse(s.status());
  return Json(200, SubscriptionToJson(*s, false));
}

ApiResponse DeliveryApi::DeleteSubscription(const ApiRequest& r) {
  Status s = dispatcher_->Delete(std::string(r.Param("id")));
  if (!s.ok()) return ErrorResponse(s);
  ApiResponse res;
  res.status = 204;
  return res;
}

ApiResponse DeliveryApi::Attempts(const ApiRequest& r) {
  bool found = false;
  auto limit = IntParam(r, "limit", 100, &found);
  if (!limit.ok()) return ErrorResponse(limit.status());
  auto a = dispatcher_->Attempts(std::string(r.Param("id")),
                                 static_cast<size_t>(std::clamp<int64_t>(*limit, 1, 100000)));
  if (!a.ok()) return ErrorResponse(a.status());
  std::string o = "{\"attempts\":[";
  for (size_t i = 0; i < a->size(); ++i) {
    if (i) o += ',';
    o += AttemptToJson((*a)[i]);
  }
  o += "]}";
  return Json(200, std::move(o));
}

ApiResponse DeliveryApi::Pause(const ApiRequest& r, bool paused) {
  std::string id(r.Param("id"));
  Status s = dispatcher_->SetPaused(id, paused);
  if (!s.ok()) return ErrorResponse(s);
  return GetSubscription(r);
}

ApiResponse DeliveryApi::Replay(const ApiRequest& r) {
  std::unique_ptr<json::Document> doc;
  if (Status s = ParseBody(r, &doc); !s.ok()) return ErrorResponse(s);
  const json::Value& b = doc->root();
  std::optional<int64_t> offset, time_ms;
  std::string topic;
  if (const json::Value* v = b.Find("offset")) {
    if (!v->is_number() || v->number() < 0) {
      return ErrorResponse(InvalidArgument("replay: \"offset\" must be a number >= 0, got " +
                                           json::ToJson(*v)));
    }
    offset = static_cast<int64_t>(v->number());
  }
  if (const json::Value* v = b.Find("time")) {
    auto t = v->is_string() ? ParseTimeMs(v->string()) : std::nullopt;
    if (!t) {
      return ErrorResponse(InvalidArgument("replay: \"time\" must be an RFC 3339 time such as "
                                           "\"2026-11-27T10:15:30Z\", got " + json::ToJson(*v)));
    }
    time_ms = t;
  }
  if (const json::Value* v = b.Find("topic"); v && v->is_string()) topic = std::string(v->string());
  Status s = dispatcher_->Replay(std::string(r.Param("id")), offset, time_ms, topic);
  if (!s.ok()) return ErrorResponse(s);
  return Json(202, "{\"replaying\":true}");
}

ApiResponse DeliveryApi::Records(const ApiRequest& r) {
  std::string topic(r.Param("topic"));
  bool has_offset = false, has_part = false, has_limit = false, has_wait = false;
  auto partition = IntParam(r, "partition", 0, &has_part);
  auto limit = IntParam(r, "limit", 100, &has_limit);
  auto wait_ms = IntParam(r, "wait_ms", 0, &has_wait);
  for (const auto* res : {&partition, &limit, &wait_ms}) {
    if (!res->ok()) return ErrorResponse(res->status());
  }
  auto end = log_->EndOffset(topic, static_cast<int32_t>(*partition));
  if (!end.ok()) return ErrorResponse(end.status());
  int64_t offset = 0;
  std::string off_text = r.Query("offset", &has_offset);
  std::string group = r.Query("group");
  if (off_text == "latest") {
    offset = *end;
  } else if (has_offset && off_text != "earliest" && !off_text.empty()) {
    auto o = IntParam(r, "offset", 0, &has_offset);
    if (!o.ok()) return ErrorResponse(o.status());
    offset = *o;
  } else if (!has_offset && !group.empty() && offsets_) {
    auto c = offsets_->Fetch(group, topic, static_cast<int32_t>(*partition));
    if (c) offset = c->offset;
  }
  size_t max = static_cast<size_t>(std::clamp<int64_t>(*limit, 1, limits_.max_records));
  auto wait = std::chrono::milliseconds(std::clamp<int64_t>(*wait_ms, 0, limits_.max_wait.count()));
  auto recs = log_->Read(topic, static_cast<int32_t>(*partition), offset, max, limits_.max_bytes);
  if (recs.ok() && recs->empty() && wait.count() > 0) {
    bool arrived;
    {
      BlockingWait waiting;  // the HTTP server lends this request's handler slot meanwhile
      arrived = log_->WaitForData(topic, static_cast<int32_t>(*partition), offset, wait);
    }
    if (arrived) {
      recs = log_->Read(topic, static_cast<int32_t>(*partition), offset, max, limits_.max_bytes);
    }
  }
  if (!recs.ok()) return ErrorResponse(recs.status());
  std::string o = "{\"topic\":";
  json::AppendQuoted(topic, &o);
  o += ",\"partition\":" + std::to_string(*partition) + ",\"records\":[";
  int64_t next = offset;
  for (size_t i = 0; i < recs->size(); ++i) {
    if (i) o += ',';
    AppendRecordJson((*recs)[i], &o);
    next = (*recs)[i].offset + 1;
  }
  auto hw = log_->EndOffset(topic, static_cast<int32_t>(*partition));
  o += "],\"next_offset\":" + std::to_string(next) +
       ",\"high_watermark\":" + std::to_string(hw.ok() ? *hw : next) + "}";
  return Json(200, std::move(o));
}

// One SSE response: the events available now (or the first ones to arrive within the window),
// then the response ends and the client's EventSource reconnects with Last-Event-ID.
ApiResponse DeliveryApi::Stream(const ApiRequest& r) {
  std::string topic(r.Param("topic"));
  auto parts = log_->PartitionCount(topic);
  if (!parts.ok()) return ErrorResponse(parts.status());
  std::map<int32_t, int64_t> pos;
  std::string last_id(r.Header("last-event-id"));
  if (last_id.empty()) last_id = r.Query("last_event_id");
  if (!last_id.empty()) {
    auto parsed = ParsePositions(last_id);
    if (!parsed) {
      return ErrorResponse(InvalidArgument("Last-Event-ID '" + last_id +
                                           "' is not a position list like \"0:15,1:7\""));
    }
    pos = *parsed;
  }
  bool has_offset = false;
  std::string start = r.Query("offset", &has_offset);
  for (int32_t p = 0; p < *parts; ++p) {
    if (pos.count(p)) continue;
    auto end = log_->EndOffset(topic, p);
    int64_t o = end.ok() ? *end : 0;
    if (start == "earliest") o = 0;
    if (has_offset && !start.empty() && start != "earliest" && start != "latest") {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(start.data(), start.data() + start.size(), v);
      if (ec != std::errc() || ptr != start.data() + start.size()) {
        return ErrorResponse(InvalidArgument("offset='" + start +
                                             "': use earliest, latest or a number"));
      }
      o = v;
    }
    pos[p] = o;
  }
  bool has_wait = false;
  auto wait_ms = IntParam(r, "wait_ms", limits_.sse_window.count(), &has_wait);
  if (!wait_ms.ok()) return ErrorResponse(wait_ms.status());
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::clamp<int64_t>(*wait_ms, 0,
                                                                limits_.sse_window.count()));
  std::string o = "retry: 1000\n\n";
  size_t sent = 0;
  for (;;) {
    for (auto& [p, off] : pos) {
      auto recs = log_->Read(topic, p, off, limits_.max_records - sent, limits_.max_bytes);
      if (!recs.ok()) continue;
      for (const SourceRecord& rec : *recs) {
        off = rec.offset + 1;
        std::string type = "record";
        for (const auto& [k, v] : rec.headers) {
          if (k == "ce_type") type = v;
        }
        o += "id: " + FormatPositions(pos) + "\nevent: ";
        o += type;
        o += "\ndata: ";
        AppendRecordJson(rec, &o);
        o += "\n\n";
        ++sent;
      }
    }
    if (sent > 0 || std::chrono::steady_clock::now() >= deadline) break;
    // Wait on the first partition; others are polled every 50 ms.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto step = pos.size() == 1 ? left : std::min(left, std::chrono::milliseconds(50));
    BlockingWait waiting;  // the HTTP server lends this request's handler slot meanwhile
    log_->WaitForData(topic, pos.begin()->first, pos.begin()->second,
                      std::max(step, std::chrono::milliseconds(1)));
  }
  if (sent == 0) o += ": no new records\n\n";
  ApiResponse res;
  res.content_type = "text/event-stream";
  res.headers = {{"cache-control", "no-cache"}};
  res.body = std::move(o);
  return res;
}

ApiResponse DeliveryApi::Commit(const ApiRequest& r) {
  std::string group(r.Param("group"));
  std::unique_ptr<json::Document> doc;
  if (Status s = ParseBody(r, &doc); !s.ok()) return ErrorResponse(s);
  const json::Value* arr = doc->root().Find("offsets");
  if (!arr || !arr->is_array() || arr->size() == 0) {
    return ErrorResponse(InvalidArgument(
        "commit body needs \"offsets\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": 42}]"));
  }
  std::vector<log::OffsetCommitEntry> entries;
  for (const json::Value& e : arr->array()) {
    const json::Value* t = e.Find("topic");
    const json::Value* p = e.Find("partition");
    const json::Value* off = e.Find("offset");
    if (!t || !t->is_string() || !off || !off->is_number() || off->number() < 0 ||
        (p && !p->is_number())) {
      return ErrorResponse(InvalidArgument("commit: each offset needs \"topic\" (string), "
                                           "\"offset\" (number >= 0), optional \"partition\"; "
                                           "got " + json::ToJson(e)));
    }
    int32_t part = p ? static_cast<int32_t>(p->number()) : 0;
    auto end = log_->EndOffset(std::string(t->string()), part);
    if (!end.ok()) return ErrorResponse(end.status());
    log::OffsetCommitEntry c;
    c.topic = std::string(t->string());
    c.partition = part;
    c.committed.offset = static_cast<int64_t>(off->number());
    c.committed.commit_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    entries.push_back(std::move(c));
  }
  Status s = offsets_->Commit(group, entries);
  if (!s.ok()) return ErrorResponse(s);
  return GroupPositions(r);
}

ApiResponse DeliveryApi::GroupPositions(const ApiRequest& r) {
  std::string group(r.Param("group"));
  std::string o = "{\"group\":";
  json::AppendQuoted(group, &o);
  o += ",\"offsets\":[";
  bool first = true;
  for (const auto& [tp, c] : offsets_->FetchAll(group)) {
    if (!first) o += ',';
    first = false;
    o += "{\"topic\":";
    json::AppendQuoted(tp.first, &o);
    o += ",\"partition\":" + std::to_string(tp.second) +
         ",\"offset\":" + std::to_string(c.offset);
    auto end = log_->EndOffset(tp.first, tp.second);
    if (end.ok()) o += ",\"lag\":" + std::to_string(std::max<int64_t>(0, *end - c.offset));
    o += '}';
  }
  o += "]}";
  return Json(200, std::move(o));
}

}  // namespace ec::delivery
