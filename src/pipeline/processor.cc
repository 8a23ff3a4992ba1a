#include "pipeline/processor.h"

#include <algorithm>
#include <string>

#include "json/builder.h"
#include "json/writer.h"
#include "pipeline/decode_util.h"
#include "pipeline/ids.h"

namespace ec::pipeline {
namespace {

const json::Value kEmptyObject = [] {
  static Arena arena(64);
  return json::Builder(&arena).Object({});
}();

json::Value MemberOr(const json::Value& obj, std::string_view key, json::Value fallback) {
  const json::Value* v = obj.Find(key);
  return v != nullptr ? *v : fallback;
}

// What an event's data is written into first: most fit, so it is not grown step by step.
constexpr size_t kDataReserve = 512;

bool Is2xx(const json::Value& exchange) {
  const json::Value* resp = exchange.Find("response");
  const json::Value* status = resp != nullptr ? resp->Find("status") : nullptr;
  return status != nullptr && status->is_number() && status->number() >= 200 && status->number() < 300;
}

}  // namespace

json::Value BuildContext(const json::Value& exchange, const spec::Operation& operation,
                         std::span<const spec::PathParam> params, Arena* arena) {
  json::Builder b(arena);
  std::vector<json::Member> p;
  p.reserve(params.size());
  for (const spec::PathParam& pp : params) {
    json::Value v = pp.value.find('%') == std::string_view::npos
                        ? json::Value::StringRef(pp.value)
                        : b.String(internal::PercentDecode(pp.value, false));
    p.push_back({pp.name, v});
  }
  json::Member op[] = {
      {"id", json::Value::StringRef(operation.id)},
      {"method", json::Value::StringRef(operation.method)},
      {"template", json::Value::StringRef(operation.path_template)},
      {"api", json::Value::StringRef(operation.api->title)},
  };
  // Members reference the exchange's own values: nothing is copied. Absent client/gateway are
  // empty objects so `has(client.consumer)` is false rather than an error.
  json::Member m[] = {
      {"request", MemberOr(exchange, "request", json::Value::Null())},
      {"response", MemberOr(exchange, "response", json::Value::Null())},
      {"params", b.Object(p, /*keys_stable=*/true)},
      {"operation", b.Object(op, /*keys_stable=*/true)},
      {"client", MemberOr(exchange, "client", kEmptyObject)},
      {"gateway", MemberOr(exchange, "gateway", kEmptyObject)},
      {"id", MemberOr(exchange, "id", json::Value::Null())},
      {"time", MemberOr(exchange, "time", json::Value::Null())},
      {"latency_ms", MemberOr(exchange, "latency_ms", json::Value::Null())},
  };
  return b.Object(m, /*keys_stable=*/true);
}

Processor::Processor(std::shared_ptr<const spec::CompiledSpecs> specs, ProcessorOptions options)
    : specs_(std::move(specs)), options_(std::move(options)) {}

bool Processor::Structured(std::string_view topic) const {
  if (options_.structured_all) return true;
  return std::find(options_.structured_topics.begin(), options_.structured_topics.end(), topic) !=
         options_.structured_topics.end();
}

void Processor::Process(const json::Value& exchange, Arena* arena, std::vector<OutputRecord>* out,
                        ProcessStats* stats) const {
  ProcessStats local;
  ProcessStats& st = stats != nullptr ? *stats : local;
  ++st.exchanges;
  const json::Value* id_v = exchange.Find("id");
  const json::Value* time_v = exchange.Find("time");
  const json::Value* req = exchange.Find("request");
  std::string_view exchange_id = id_v != nullptr && id_v->is_string() ? id_v->string() : std::string_view();
  std::string_view time = time_v != nullptr && time_v->is_string() ? time_v->string() : std::string_view();
  int64_t ts = ParseRfc3339Ms(time).value_or(0);
  const json::Value* method = req != nullptr ? req->Find("method") : nullptr;
  const json::Value* path = req != nullptr ? req->Find("path") : nullptr;
  if (method == nullptr || !method->is_string() || path == nullptr || !path->is_string() ||
      exchange_id.empty() || time.empty()) {
    Status error = InvalidArgument(
        "not a canonical exchange (id, time, request.method and request.path are required); "
        "decode records with a decoder first");
    out->push_back(MakeDeadLetter({.stage = "match", .error = &error, .exchange = &exchange,
                                   .exchange_id = exchange_id, .timestamp_ms = ts},
                                  options_.dead_letter_topic));
    ++st.dead_letters;
    return;
  }
  // Kept per thread (Process may run on several): no vector grown afresh per exchange.
  thread_local std::vector<spec::PathParam> params;
  params.clear();
  const spec::Operation* op = specs_->Match(method->string(), path->string(), &params);
  if (op == nullptr) {
    specs_->unmatched.fetch_add(1, std::memory_order_relaxed);
    ++st.unmatched;
    return;
  }
  op->counters.matched.fetch_add(1, std::memory_order_relaxed);
  ++st.matched;
  json::Value context = BuildContext(exchange, *op, params, arena);
  const std::string& source = op->api->source;

  for (const auto& ev_ptr : op->events) {
    const spec::EventDefinition& ev = *ev_ptr;
    auto fail = [&](std::string_view stage, const spec::Expression* expr, const Status& error) {
      ev.counters.errors.fetch_add(1, std::memory_order_relaxed);
      op->counters.errors.fetch_add(1, std::memory_order_relaxed);
      out->push_back(MakeDeadLetter({.stage = stage, .error = &error, .exchange = &exchange,
                                     .event = &ev, .expression = expr, .operation = op,
                                     .exchange_id = exchange_id, .timestamp_ms = ts},
                                    options_.dead_letter_topic));
      ++st.dead_letters;
    };
    bool fire;
    if (ev.when != nullptr) {
      Result<bool> w = ev.when->EvaluateBool(context, arena);
      if (!w.ok()) {
        fail("when", ev.when.get(), w.status());
        continue;
      }
      fire = *w;
    } else {
      fire = Is2xx(exchange);
    }
    if (!fire) continue;
    ev.counters.matched.fetch_add(1, std::memory_order_relaxed);

    std::optional<std::string> key;
    if (ev.key != nullptr) {
      Result<std::string> k = ev.key->EvaluateString(context, arena);
      if (!k.ok()) {
        fail("key", ev.key.get(), k.status());
        continue;
      }
      key = std::move(k).value();
    }
    std::optional<std::string> subject;
    if (ev.subject != nullptr) {
      Result<std::string> s = ev.subject->EvaluateString(context, arena);
      if (!s.ok()) {
        fail("subject", ev.subject.get(), s.status());
        continue;
      }
      subject = std::move(s).value();
    }
    // data: undefined (JSONata) means the event has no data (CloudEvents: data is optional).
    std::optional<std::string> data;
    if (ev.data != nullptr) {
      Result<spec::EvalResult> d = ev.data->Evaluate(context, arena);
      if (!d.ok()) {
        fail("data", ev.data.get(), d.status());
        continue;
      }
      if (d->defined) {
        data.emplace().reserve(kDataReserve);
        json::AppendJson(d->value, &*data);
      }
    } else {
      const json::Value* resp = exchange.Find("response");
      const json::Value* body = resp != nullptr ? resp->Find("body") : nullptr;
      data.emplace().reserve(kDataReserve);
      json::AppendJson(body != nullptr ? *body : json::Value::Null(), &*data);
    }

    std::string ce_id = EventId(exchange_id, ev.type, ev.index);
    OutputRecord rec;
    rec.topic = ev.topic;
    rec.key = std::move(key);
    rec.timestamp_ms = ts;
    if (Structured(ev.topic)) {
      std::string v;
      v.reserve(256 + (data ? data->size() : 0));
      v += "{\"specversion\":\"1.0\",\"id\":";
      json::AppendQuoted(ce_id, &v);
      v += ",\"source\":";
      json::AppendQuoted(source, &v);
      v += ",\"type\":";
      json::AppendQuoted(ev.type, &v);
      v += ",\"time\":";
      json::AppendQuoted(time, &v);
      if (subject) {
        v += ",\"subject\":";
        json::AppendQuoted(*subject, &v);
      }
      if (data) {
        v += ",\"datacontenttype\":\"application/json\",\"data\":";
        v += *data;
      }
      v += ",\"eventceptionoperation\":";
      json::AppendQuoted(op->id, &v);
      v += ",\"eventceptionexchange\":";
      json::AppendQuoted(exchange_id, &v);
      v += "}";
      rec.headers.emplace_back("content-type", "application/cloudevents+json");
      rec.value = std::move(v);
    } else {
      rec.headers.reserve(9);
      rec.headers.emplace_back("ce_specversion", "1.0");
      rec.headers.emplace_back("ce_id", std::move(ce_id));
      rec.headers.emplace_back("ce_source", source);
      rec.headers.emplace_back("ce_type", ev.type);
      rec.headers.emplace_back("ce_time", std::string(time));
      if (subject) rec.headers.emplace_back("ce_subject", std::move(*subject));
      rec.headers.emplace_back("ce_eventceptionoperation", op->id);
      rec.headers.emplace_back("ce_eventceptionexchange", std::string(exchange_id));
      if (data) rec.headers.emplace_back("content-type", "application/json");
      rec.value = std::move(data);
    }
    out->push_back(std::move(rec));
    ev.counters.emitted.fetch_add(1, std::memory_order_relaxed);
    op->counters.emitted.fetch_add(1, std::memory_order_relaxed);
    ++st.events;
  }

  if (!stages_.empty()) {
    MatchedExchange m{&exchange, &context, op, ts, exchange_id};
    for (ExchangeStage* stage : stages_) stage->OnMatched(m, arena, out);
  }
}

}  // namespace ec::pipeline
