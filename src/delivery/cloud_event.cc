#include "delivery/cloud_event.h"

#include "delivery/http_client.h"
#include "delivery/signature.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::delivery {
namespace {

bool IsJsonContentType(std::string_view ct) {
  size_t semi = ct.find(';');
  std::string_view base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  return base.empty() || base == "application/json" || base == "text/json" ||
         base.ends_with("+json");
}

}  // namespace

std::string_view CloudEvent::Attr(std::string_view name) const {
  for (const auto& [k, v] : attributes) {
    if (k == name) return v;
  }
  return {};
}

namespace {

// Whether the data is JSON text, working it out when TakeCloudEvent left it open.
bool DataIsJson(const CloudEvent& ev) {
  if (ev.json_checked) return ev.data_is_json;
  return IsJsonContentType(ev.Attr("datacontenttype")) && json::Parse(ev.data).ok();
}

}  // namespace

Result<CloudEvent> CloudEventFromRecord(const SourceRecord& r) {
  SourceRecord copy = r;
  return TakeCloudEvent(&copy, /*check_json_data=*/true);
}

Result<CloudEvent> TakeCloudEvent(SourceRecord* record, bool check_json_data) {
  SourceRecord& r = *record;
  CloudEvent ev;
  std::string_view content_type;
  for (const auto& [k, v] : r.headers) {
    if (k == "content-type") content_type = v;
  }
  if (content_type.starts_with("application/cloudevents+json")) {
    if (!r.value) {
      return InvalidArgument("record " + r.topic + "@" + std::to_string(r.offset) +
                             " is a structured CloudEvent without a value");
    }
    auto doc = json::Parse(*r.value);
    if (!doc.ok() || !(*doc)->root().is_object()) {
      return InvalidArgument("record " + r.topic + "@" + std::to_string(r.offset) +
                             ": structured CloudEvent value is not a JSON object");
    }
    for (const json::Member& m : (*doc)->root().object()) {
      if (m.key == "data") {
        ev.has_data = true;
        if (m.value.is_string() && !IsJsonContentType(std::string(ev.Attr("datacontenttype")))) {
          ev.data = std::string(m.value.string());
        } else {
          json::AppendJson(m.value, &ev.data);
          ev.data_is_json = true;
        }
      } else if (m.key == "data_base64") {
        ev.has_data = true;
        auto bytes = Base64Decode(m.value.string());
        if (bytes.ok()) ev.data = std::move(*bytes);
      } else if (m.value.is_string()) {
        ev.attributes.emplace_back(std::string(m.key), std::string(m.value.string()));
      } else {
        ev.attributes.emplace_back(std::string(m.key), json::ToJson(m.value));
      }
    }
  } else {
    ev.attributes.reserve(r.headers.size());
    for (auto& [k, v] : r.headers) {
      if (k.starts_with("ce_")) ev.attributes.emplace_back(k.substr(3), std::move(v));
    }
    if (!content_type.empty()) ev.attributes.emplace_back("datacontenttype", content_type);
    if (r.value) {
      ev.has_data = true;
      ev.data = std::move(*r.value);
      r.value.reset();
      if (!check_json_data) {
        ev.json_checked = false;
      } else if (IsJsonContentType(content_type)) {
        ev.data_is_json = json::Parse(ev.data).ok();
      }
    }
  }
  if (ev.Attr("id").empty() || ev.Attr("type").empty()) {
    return InvalidArgument("record " + r.topic + "@" + std::to_string(r.offset) +
                           " is not a CloudEvent (no id or type attribute)");
  }
  return ev;
}

std::string ToStructuredJson(const CloudEvent& ev) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : ev.attributes) {
    if (!first) out += ',';
    first = false;
    json::AppendQuoted(k, &out);
    out += ':';
    json::AppendQuoted(v, &out);
  }
  if (ev.has_data) {
    if (!first) out += ',';
    if (DataIsJson(ev)) {
      out += "\"data\":";
      out += ev.data;
    } else {
      out += "\"data_base64\":";
      json::AppendQuoted(Base64Encode(ev.data), &out);
    }
  }
  out += '}';
  return out;
}

json::Value ToJsonValue(const CloudEvent& ev, json::Builder& b) {
  std::vector<json::Member> members;
  for (const auto& [k, v] : ev.attributes) {
    members.push_back({b.arena()->CopyString(k), b.String(v)});
  }
  if (ev.has_data) {
    json::Value data;
    bool maybe_json =
        ev.json_checked ? ev.data_is_json : IsJsonContentType(ev.Attr("datacontenttype"));
    if (!maybe_json || !json::ParseInto(ev.data, b.arena(), &data).ok()) {
      data = b.String(ev.data);
    }
    members.push_back({"data", data});
  }
  return b.Object(members, /*keys_stable=*/true);
}

void AppendEncodedHeaderValue(std::string_view v, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%') {
      *out += '%';
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
    } else {
      *out += static_cast<char>(c);
    }
  }
}

std::string EncodeHeaderValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  AppendEncodedHeaderValue(v, &out);
  return out;
}

bool AppendBinaryHeaderLines(const CloudEvent& ev, std::string* wire) {
  const auto& attrs = ev.attributes;
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string& k = attrs[i].first;
    if (k.empty()) return false;
    for (char c : k) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (attrs[j].first == k) return false;  // ToHttp's list would keep the later one only
    }
  }
  size_t mark = wire->size();
  for (const auto& [k, v] : attrs) {
    if (k == "datacontenttype") {
      if (!AppendHeaderLine("content-type", v, wire)) {
        wire->resize(mark);
        return false;
      }
      continue;
    }
    *wire += "ce-";
    *wire += k;
    *wire += ": ";
    AppendEncodedHeaderValue(v, wire);  // never CR, LF or NUL: those are encoded
    *wire += "\r\n";
  }
  return true;
}

void ToHttp(const CloudEvent& ev, ContentMode mode,
            std::vector<std::pair<std::string, std::string>>* headers, std::string* body) {
  if (mode == ContentMode::kStructured) {
    headers->emplace_back("content-type", "application/cloudevents+json; charset=utf-8");
    *body = ToStructuredJson(ev);
    return;
  }
  for (const auto& [k, v] : ev.attributes) {
    if (k == "datacontenttype") {
      headers->emplace_back("content-type", v);
    } else {
      headers->emplace_back("ce-" + k, EncodeHeaderValue(v));
    }
  }
  *body = ev.data;
}

}  // namespace ec::delivery
