// Dead-letter records (docs/dead-letters.md describes the format).
#include <chrono>
#include <string>

#include "json/writer.h"
#include "pipeline/processor.h"

namespace ec::pipeline {

OutputRecord MakeDeadLetter(const DeadLetter& d, std::string_view topic) {
  OutputRecord rec;
  rec.topic = std::string(topic);
  rec.timestamp_ms = d.timestamp_ms;
  if (rec.timestamp_ms == 0) {
    rec.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  }
  ErrorCode code = d.error != nullptr ? d.error->code() : ErrorCode::kInternal;
  std::string_view code_name = InfoOf(code).name;
  const spec::Operation* op = d.operation != nullptr ? d.operation
                              : d.event != nullptr   ? d.event->operation
                                                     : nullptr;

  std::string v;
  v += "{\"stage\":";
  json::AppendQuoted(d.stage, &v);
  v += ",\"error\":{\"code\":";
  json::AppendQuoted(code_name, &v);
  v += ",\"message\":";
  json::AppendQuoted(d.error != nullptr ? std::string_view(d.error->message()) : std::string_view(), &v);
  v += "}";
  if (op != nullptr || d.event != nullptr) {
    v += ",\"definition\":{";
    bool first = true;
    auto field = [&](std::string_view name) {
      if (!first) v += ",";
      first = false;
      json::AppendQuoted(name, &v);
      v += ":";
    };
    if (op != nullptr) {
      field("api");
      json::AppendQuoted(op->api->title, &v);
      field("operation");
      json::AppendQuoted(op->id, &v);
    }
    if (d.event != nullptr) {
      field("event");
      json::AppendQuoted(d.event->type, &v);
      field("index");
      json::AppendJsNumber(static_cast<double>(d.event->index), &v);
    }
    if (d.expression != nullptr) {
      field("field");
      json::AppendQuoted(d.stage, &v);
      field("expression");
      json::AppendQuoted(d.expression->text(), &v);
      field("location");
      json::AppendQuoted(d.expression->where().ToString(), &v);
    }
    v += "}";
  }
  if (!d.exchange_id.empty()) {
    v += ",\"exchange_id\":";
    json::AppendQuoted(d.exchange_id, &v);
  }
  if (d.exchange != nullptr) {
    v += ",\"exchange\":";
    json::AppendJson(*d.exchange, &v);
  } else {
    v += ",\"format\":";
    json::AppendQuoted(d.format.empty() ? std::string_view("detect") : d.format, &v);
    v += ",\"record\":";
    json::AppendQuoted(d.raw_text, &v);
  }
  v += "}";
  {
    // The writer ends (the record complete) before the record is returned.
    RecordWriter w(&rec, d.exchange_id.empty() ? std::nullopt : std::optional<std::string_view>(d.exchange_id));
    w.Value(v);
    w.Header("eventception-stage", d.stage);
    w.Header("eventception-error", code_name);
    if (op != nullptr) w.Header("eventception-operation", op->id);
    if (d.event != nullptr) w.Header("eventception-event-type", d.event->type);
    w.Header("content-type", "application/json");
  }
  return rec;
}

}  // namespace ec::pipeline
