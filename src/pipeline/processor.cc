#include "pipeline/processor.h"

#include <algorithm>
#include <new>
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

// The exchange's top-level members that Process and the context read, found in one walk over
// the members: ten Finds (each a scan of the members with string compares) cost ~700
// instructions per exchange. Absent members are null (client and gateway: empty objects, so
// `has(client.consumer)` is false rather than an error); a non-object exchange has none.
struct ExchangeFields {
  json::Value request, response, client = kEmptyObject, gateway = kEmptyObject, id, time, latency_ms;
};

ExchangeFields FieldsOf(const json::Value& exchange) {
  ExchangeFields f;
  // Keys are unique (the builder merged duplicates), so each is met at most once.
  for (const json::Member& m : exchange.object()) {
    const std::string_view k = m.key;
    switch (k.size()) {
      case 2: if (k == "id") f.id = m.value; break;
      case 4: if (k == "time") f.time = m.value; break;
      case 6: if (k == "client") f.client = m.value; break;
      case 7:
        if (k == "request") f.request = m.value;
        else if (k == "gateway") f.gateway = m.value;
        break;
      case 8: if (k == "response") f.response = m.value; break;
      case 10: if (k == "latency_ms") f.latency_ms = m.value; break;
      default: break;
    }
  }
  return f;
}

json::Value BuildContextOf(const ExchangeFields& f, const spec::Operation& operation,
                           std::span<const spec::PathParam> params, Arena* arena) {
  json::Builder b(arena);
  // The params' members go to the arena (Builder::Object copies them into its own storage;
  // a vector here was a heap allocation per exchange).
  json::Member* p = arena->AllocateArray<json::Member>(params.size());
  size_t n_params = 0;
  for (const spec::PathParam& pp : params) {
    json::Value v = pp.value.find('%') == std::string_view::npos
                        ? json::Value::StringRef(pp.value)
                        : b.String(internal::PercentDecode(pp.value, false));
    new (&p[n_params++]) json::Member{pp.name, v};
  }
  json::Member op[] = {
      {"id", json::Value::StringRef(operation.id)},
      {"method", json::Value::StringRef(operation.method)},
      {"template", json::Value::StringRef(operation.path_template)},
      {"api", json::Value::StringRef(operation.api->title)},
  };
  // Members reference the exchange's own values: nothing is copied.
  json::Member m[] = {
      {"request", f.request},
      {"response", f.response},
      {"params", b.Object(std::span<const json::Member>(p, n_params), /*keys_stable=*/true)},
      {"operation", b.UniqueObject(op)},
      {"client", f.client},
      {"gateway", f.gateway},
      {"id", f.id},
      {"time", f.time},
      {"latency_ms", f.latency_ms},
  };
  // Its keys are these nine: nothing to merge.
  return b.UniqueObject(m);
}


// This thread's records handed back for reuse (NewOutputRecord, RecycleOutputRecords), by
// their number of headers.
struct SparePool {
  std::vector<OutputRecord> by_headers[kMaxSpareHeaders + 1];
  size_t demand[kMaxSpareHeaders + 1] = {};  // NewOutputRecord calls since the last recycling
  size_t count = 0;
};
SparePool& Spares() {
  thread_local SparePool pool;
  return pool;
}

bool Is2xx(const json::Value& response) {
  const json::Value* status = response.Find("status");
  return status != nullptr && status->is_number() && status->number() >= 200 && status->number() < 300;
}

}  // namespace

namespace {

void PrefetchBytes(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(c + at, 1);
}

void PrefetchString(const std::string& s) {
  if (s.capacity() > 15) __builtin_prefetch(s.data(), 1);  // else in the record or header block
}

// The pool's records were last touched when the pass before recycled them, long out of the
// cache, and building a record into one reads and writes its storage at once (perf on serve:
// the first read of the record moved out, HeaderSetter's name compare and value copy, each a
// cache miss). So the records next in line are fetched in three steps, one per call for
// their shape, each step reading only what the step before brought in: the record after the
// next two (its own bytes), the one after the next (its header block and string bytes), the
// next one (its header strings' bytes).
void PrefetchSpares(const std::vector<OutputRecord>& spare) {
  const size_t n = spare.size();
  if (n >= 3) PrefetchBytes(&spare[n - 3], sizeof(OutputRecord));
  if (n >= 2) {
    const OutputRecord& r = spare[n - 2];
    PrefetchBytes(r.headers.data(), r.headers.size() * sizeof(r.headers[0]));
    PrefetchString(r.topic);
    if (r.key) PrefetchString(*r.key);
    if (r.value) PrefetchString(*r.value);
  }
  if (n >= 1) {
    for (const auto& [name, value] : spare[n - 1].headers) {
      PrefetchString(name);
      PrefetchString(value);
    }
  }
}

}  // namespace

OutputRecord& NewOutputRecord(std::vector<OutputRecord>* out, size_t headers) {
  SparePool& pool = Spares();
  if (headers > kMaxSpareHeaders) return out->emplace_back();
  ++pool.demand[headers];
  std::vector<OutputRecord>& spare = pool.by_headers[headers];
  if (spare.empty()) return out->emplace_back();
  out->push_back(std::move(spare.back()));
  spare.pop_back();
  --pool.count;
  out->back().header_bytes = OutputRecord::kUnknown;  // until a HeaderSetter sets it
  PrefetchSpares(spare);
  return out->back();
}

void RecycleOutputRecords(std::vector<OutputRecord>* records) {
  SparePool& pool = Spares();
  for (OutputRecord& r : *records) {
    const size_t shape = r.headers.size();
    // Only as many of a shape as were asked for since the last call: records nobody builds
    // over (state records, say) would otherwise fill the pool for good.
    if (shape > kMaxSpareHeaders || pool.by_headers[shape].size() >= pool.demand[shape]) continue;
    if (pool.count >= kMaxSpareRecords) break;
    size_t bytes = r.topic.capacity() + (r.key ? r.key->capacity() : 0) + (r.value ? r.value->capacity() : 0);
    if (r.header_bytes != OutputRecord::kUnknown) {
      bytes += r.header_bytes;
    } else {
      for (const auto& [k, v] : r.headers) bytes += k.capacity() + v.capacity();
    }
    if (bytes > kMaxSpareRecordBytes) continue;
    pool.by_headers[shape].push_back(std::move(r));
    ++pool.count;
  }
  records->clear();
  for (size_t& d : pool.demand) d = 0;
}

json::Value BuildContext(const json::Value& exchange, const spec::Operation& operation,
                         std::span<const spec::PathParam> params, Arena* arena) {
  return BuildContextOf(FieldsOf(exchange), operation, params, arena);
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
  const ExchangeFields fields = FieldsOf(exchange);
  std::string_view exchange_id = fields.id.is_string() ? fields.id.string() : std::string_view();
  std::string_view time = fields.time.is_string() ? fields.time.string() : std::string_view();
  int64_t ts = ParseRfc3339Ms(time).value_or(0);
  const json::Value* method = fields.request.Find("method");
  const json::Value* path = fields.request.Find("path");
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
  json::Value context = BuildContextOf(fields, *op, params, arena);
  const std::string& source = op->api->source;
  const MatchedExchange m{&exchange, &context, op, ts, exchange_id, &fields.request, &fields.response};
  for (ExchangeStage* stage : stages_) stage->Prepare(m, arena);

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
      fire = Is2xx(fields.response);
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
    // It is written into a per-thread buffer (kept between events) and copied into the record.
    thread_local std::string data_buf;
    bool has_data = true;
    data_buf.clear();
    if (ev.data != nullptr) {
      Result<spec::EvalResult> d = ev.data->Evaluate(context, arena);
      if (!d.ok()) {
        fail("data", ev.data.get(), d.status());
        continue;
      }
      has_data = d->defined;
      if (has_data) json::AppendJson(d->value, &data_buf);
    } else {
      const json::Value* body = fields.response.Find("body");
      json::AppendJson(body != nullptr ? *body : json::Value::Null(), &data_buf);
    }

    // Nothing fails from here on: the event is counted now, before its record is written. A
    // locked increment waits for every store before it to leave the store buffer, and after
    // the record (its reused strings are long out of the cache) that was ~1.4% of this
    // thread's time in perf on serve.
    ev.counters.emitted.fetch_add(1, std::memory_order_relaxed);
    op->counters.emitted.fetch_add(1, std::memory_order_relaxed);
    char ce_id_buf[kUuidLength];
    EventIdTo(exchange_id, ev.type, ev.index, ce_id_buf);
    const std::string_view ce_id(ce_id_buf, kUuidLength);
    // Every field is assigned: the record may reuse a recycled one's storage.
    const bool structured = Structured(ev.topic);
    const size_t n_headers = structured ? 1 : 7 + (subject ? 1 : 0) + (has_data ? 1 : 0);
    OutputRecord& rec = NewOutputRecord(out, n_headers);
    rec.topic.assign(ev.topic);
    if (key) {
      if (rec.key) {
        rec.key->assign(*key);
      } else {
        rec.key = std::move(key);
      }
    } else {
      rec.key.reset();
    }
    rec.timestamp_ms = ts;
    HeaderSetter headers(&rec);
    if (structured) {
      std::string& v = rec.value ? *rec.value : rec.value.emplace();
      v.clear();
      v.reserve(256 + data_buf.size());
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
      if (has_data) {
        v += ",\"datacontenttype\":\"application/json\",\"data\":";
        v += data_buf;
      }
      v += ",\"eventceptionoperation\":";
      json::AppendQuoted(op->id, &v);
      v += ",\"eventceptionexchange\":";
      json::AppendQuoted(exchange_id, &v);
      v += "}";
      headers.Add("content-type", "application/cloudevents+json");
    } else {
      headers.Add("ce_specversion", "1.0");
      headers.Add("ce_id", ce_id);
      headers.Add("ce_source", source);
      headers.Add("ce_type", ev.type);
      headers.Add("ce_time", time);
      if (subject) headers.Add("ce_subject", *subject);
      headers.Add("ce_eventceptionoperation", op->id);
      headers.Add("ce_eventceptionexchange", exchange_id);
      if (has_data) {
        headers.Add("content-type", "application/json");
        if (rec.value) {
          rec.value->assign(data_buf);
        } else {
          rec.value.emplace(data_buf);
        }
      } else {
        rec.value.reset();
      }
    }
    ++st.events;
  }

  for (ExchangeStage* stage : stages_) stage->OnMatched(m, arena, out);
}

}  // namespace ec::pipeline
