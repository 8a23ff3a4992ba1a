#pragma once
// A CloudEvent read back from a topic record (binary mode: ce_* headers and value = data;
// structured mode: an application/cloudevents+json value), and its CloudEvents HTTP binding.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "delivery/event_log.h"
#include "json/builder.h"

namespace ec::delivery {

struct CloudEvent {
  // Every context attribute except data, as strings, in record order (specversion, id, ...).
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string data;           // the data bytes (JSON text when data_is_json)
  bool data_is_json = false;  // datacontenttype is JSON and data parsed as JSON
  bool json_checked = true;   // false: data_is_json not worked out yet (see TakeCloudEvent)
  bool has_data = false;

  // The attribute `name`, or empty.
  std::string_view Attr(std::string_view name) const;
};

// kInvalidArgument when the record carries no CloudEvent (no ce_type/ce_id headers and no
// structured value), naming the topic and offset.
Result<CloudEvent> CloudEventFromRecord(const SourceRecord& record);
// The same, moving the value and header values out of `*record` (its offset, key and timestamp
// stay). With check_json_data false, binary-mode data is not parsed to tell whether it is JSON
// (json_checked false): only the structured form needs to know, and it works it out itself, so
// binary-mode delivery skips a parse per event.
Result<CloudEvent> TakeCloudEvent(SourceRecord* record, bool check_json_data);

enum class ContentMode { kBinary, kStructured };

// The CloudEvent as the JSON object of structured mode (data embedded as JSON when it is JSON).
std::string ToStructuredJson(const CloudEvent& event);
// The CloudEvent as a json::Value built in `builder` (what a subscription's CEL filter sees:
// attributes as top-level variables, data parsed when JSON).
json::Value ToJsonValue(const CloudEvent& event, json::Builder& builder);

// The HTTP binding: headers (without webhook-* signing headers) and body for `mode`.
// Binary: ce-<attr> headers (percent-encoded where the binding requires) and Content-Type from
// datacontenttype; structured: Content-Type application/cloudevents+json.
void ToHttp(const CloudEvent& event, ContentMode mode,
            std::vector<std::pair<std::string, std::string>>* headers, std::string* body);

// Percent-encodes a header value as the CloudEvents HTTP binding requires (space, '"', '%' and
// bytes outside printable ASCII).
std::string EncodeHeaderValue(std::string_view value);
void AppendEncodedHeaderValue(std::string_view value, std::string* out);

// The binary-mode header lines of ToHttp, appended to a serialized request (see
// http_client.h: RequestStart) without building a header list. False, with `wire` as it was,
// when they cannot be written so that they mean exactly what ToHttp's list would: an
// attribute name that is not lower-case letters and digits (as CloudEvents requires), a name
// twice, or a content type with CR, LF or NUL; the caller then takes ToHttp's path.
bool AppendBinaryHeaderLines(const CloudEvent& event, std::string* wire);

}  // namespace ec::delivery
