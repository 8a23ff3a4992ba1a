#include "pipeline/processor.h"

#include <cpuid.h>

#include <algorithm>
#include <cstring>
#include <functional>
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

// An object of `n` members whose storage the caller fills, keys unique and n <=
// Builder::kMaxInPlaceMembers: the members are constructed where the object keeps them (through
// Builder::UniqueObject, each object was built on the stack and copied, ~450 instructions a
// context in all).
json::Member* InPlaceMembers(Arena* arena, size_t n) {
  return arena->AllocateArray<json::Member>(n == 0 ? 1 : n);
}

// request.method and request.path (null when absent or when `request` is not an object), as
// Find gives them, in one walk that ends when both are found (they are the first and third
// members of a stored exchange's request): two Finds were ~108 instructions an exchange.
void MethodAndPathOf(const json::Value& request, const json::Value** method, const json::Value** path) {
  // Keys are unique (the builder merged duplicates); the first one is kept anyway, as Find.
  for (const json::Member& m : request.object()) {
    if (m.key.size() == 6 && m.key == "method" && *method == nullptr) {
      *method = &m.value;
      if (*path != nullptr) return;
    } else if (m.key.size() == 4 && m.key == "path" && *path == nullptr) {
      *path = &m.value;
      if (*method != nullptr) return;
    }
  }
}

json::Value BuildContextOf(const ExchangeFields& f, const spec::Operation& operation,
                           std::span<const spec::PathParam> params, Arena* arena) {
  json::Builder b(arena);
  json::Value params_value;
  if (params.size() <= 1) {
    // One name or none: nothing to merge.
    json::Member* p = InPlaceMembers(arena, params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const spec::PathParam& pp = params[i];
      json::Value v = pp.value.find('%') == std::string_view::npos ? json::Value::StringRef(pp.value)
                                                                  : b.String(internal::PercentDecode(pp.value, false));
      new (&p[i]) json::Member{pp.name, v};
    }
    params_value = json::Builder::InPlaceObject(p, params.size(), nullptr);
  } else {
    // A template may name a parameter twice: Builder::Object merges them. The members go to the
    // arena (Builder::Object copies them into its own storage; a vector here was a heap
    // allocation per exchange).
    json::Member* p = arena->AllocateArray<json::Member>(params.size());
    size_t n_params = 0;
    for (const spec::PathParam& pp : params) {
      json::Value v = pp.value.find('%') == std::string_view::npos
                          ? json::Value::StringRef(pp.value)
                          : b.String(internal::PercentDecode(pp.value, false));
      new (&p[n_params++]) json::Member{pp.name, v};
    }
    params_value = b.Object(std::span<const json::Member>(p, n_params), /*keys_stable=*/true);
  }
  json::Member* op = InPlaceMembers(arena, 4);
  new (&op[0]) json::Member{"id", json::Value::StringRef(operation.id)};
  new (&op[1]) json::Member{"method", json::Value::StringRef(operation.method)};
  new (&op[2]) json::Member{"template", json::Value::StringRef(operation.path_template)};
  new (&op[3]) json::Member{"api", json::Value::StringRef(operation.api->title)};
  // Members reference the exchange's own values: nothing is copied. Its keys are these nine.
  json::Member* m = InPlaceMembers(arena, 9);
  new (&m[0]) json::Member{"request", f.request};
  new (&m[1]) json::Member{"response", f.response};
  new (&m[2]) json::Member{"params", params_value};
  new (&m[3]) json::Member{"operation", json::Builder::InPlaceObject(op, 4, nullptr)};
  new (&m[4]) json::Member{"client", f.client};
  new (&m[5]) json::Member{"gateway", f.gateway};
  new (&m[6]) json::Member{"id", f.id};
  new (&m[7]) json::Member{"time", f.time};
  new (&m[8]) json::Member{"latency_ms", f.latency_ms};
  static_assert(9 <= json::Builder::kMaxInPlaceMembers);
  return json::Builder::InPlaceObject(m, 9, nullptr);
}


// This thread's records handed back for reuse (NewOutputRecord, RecycleOutputRecords).
struct SparePool {
  std::vector<OutputRecord> records;
  size_t demand = 0;  // NewOutputRecord calls since the last recycling
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

// The layout's nullable bytes (a zigzag varint length, -1 for null, then the bytes), as
// log::bytes::PutVarint writes them; pipeline does not depend on log's internals.
void PutZigzag(std::string* b, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    b->push_back(static_cast<char>((z & 0x7F) | 0x80));
    z >>= 7;
  }
  b->push_back(static_cast<char>(z));
}

size_t ZigzagSize(uint64_t n) {
  uint64_t z = n << 1;
  size_t size = 1;
  while (z >= 0x80) {
    z >>= 7;
    ++size;
  }
  return size;
}

bool ReadZigzag(std::string_view b, size_t* at, int64_t* v) {
  uint64_t z = 0;
  for (int shift = 0; shift < 64 && *at < b.size(); shift += 7) {
    const auto c = static_cast<unsigned char>(b[(*at)++]);
    z |= static_cast<uint64_t>(c & 0x7F) << shift;
    if (!(c & 0x80)) {
      *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
      return true;
    }
  }
  return false;
}

// The value's length goes before it but is known only after it: BeginValue keeps this many
// bytes for it (a zigzag varint of two bytes holds lengths 64-8191, most values), and EndValue
// moves the value when its length needs fewer or more.
constexpr size_t kValueLengthRoom = 2;

// PREFETCHW (cpuid 0x80000001 ECX bit 8: AMD's since the K8, Intel's since Broadwell) fetches
// a line for writing: owned by this core, so the stores after it need nothing more. Without
// -mprfchw, __builtin_prefetch(p, 1) is a PREFETCHT0, which fetches a line the commit thread
// has read on the other core as shared, and the first store to it then waits for the other
// copy to be invalidated.
bool CpuHasPrefetchW() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(0x80000001, &a, &b, &c, &d) != 0 && (c & (1u << 8)) != 0;
}
const bool kHasPrefetchW = CpuHasPrefetchW();

inline void PrefetchForWrite(const void* p) {
  if (kHasPrefetchW) {
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
  } else {
    __builtin_prefetch(p, 1);
  }
}

// Records were last touched when the pass before recycled them, long out of the cache, and
// building one writes its buffer at once: the next record's buffer is fetched one call ahead,
// for writing, and the record objects four calls ahead (the buffer's address is read from its
// object, and the changelog stage makes its records back to back: one call ahead, the object
// was still on its way). An object (96 bytes) spans two lines at every other index, and the
// buffer's address is in the second there: both lines are fetched (the first only, before).
void PrefetchSpares(const std::vector<OutputRecord>& spare) {
  const size_t n = spare.size();
  if (n >= 4) {
    const char* object = reinterpret_cast<const char*>(&spare[n - 4]);
    PrefetchForWrite(object);
    PrefetchForWrite(object + sizeof(OutputRecord) - 1);
  }
  if (n >= 1) {
    const std::string_view next = spare[n - 1].encoded();
    for (size_t at = 0; at < next.size() && at < 1024; at += 64) PrefetchForWrite(next.data() + at);
  }
}

}  // namespace

OutputRecord::OutputRecord(std::string topic_name, std::optional<std::string_view> key,
                           std::optional<std::string_view> value,
                           std::span<const std::pair<std::string_view, std::string_view>> headers,
                           int64_t timestamp)
    : topic(std::move(topic_name)), timestamp_ms(timestamp) {
  RecordWriter w(this, key);
  w.Value(value);
  for (const auto& [name, v] : headers) w.Header(name, v);
}

std::vector<std::pair<std::string_view, std::string_view>> OutputRecord::headers() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  if (header_count_ == 0) return out;
  const std::string_view b = bytes_;
  size_t at = value_at_ + static_cast<size_t>(std::max<int32_t>(value_len_, 0));
  int64_t count = 0;
  (void)ReadZigzag(b, &at, &count);  // written by RecordWriter: well formed
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    int64_t n = 0, m = 0;
    (void)ReadZigzag(b, &at, &n);
    const std::string_view name = b.substr(at, static_cast<size_t>(n));
    at += static_cast<size_t>(n);
    (void)ReadZigzag(b, &at, &m);
    out.emplace_back(name, b.substr(at, static_cast<size_t>(m)));
    at += static_cast<size_t>(m);
  }
  return out;
}

std::optional<std::string_view> OutputRecord::header(std::string_view name) const {
  for (const auto& [k, v] : headers()) {
    if (k == name) return v;
  }
  return std::nullopt;
}

void RecordWriter::Start(const char* key, size_t size, bool present) {
  std::string& b = r_->bytes_;
  b.clear();
  r_->header_count_ = 0;
  r_->value_len_ = -1;
  PutNullable(&b, key, size, present, &r_->key_at_, &r_->key_len_);
}

void RecordWriter::PutLongLength(std::string* b, size_t n) { PutZigzag(b, static_cast<int64_t>(n)); }

void RecordWriter::PutNullable(std::string* b, const char* data, size_t size, bool present, uint32_t* at,
                               int32_t* len) {
  if (present) {
    PutLength(b, size);
  } else {
    b->push_back(1);  // -1
  }
  *at = static_cast<uint32_t>(b->size());
  *len = present ? static_cast<int32_t>(size) : -1;
  if (present && size != 0) b->append(data, size);
}

void RecordWriter::PutValue(const char* data, size_t size, bool present) {
  std::string& b = r_->bytes_;
  PutNullable(&b, data, size, present, &r_->value_at_, &r_->value_len_);
  count_at_ = b.size();
  b.push_back(0);  // the header count, set by the destructor
}

namespace {

// memcpy of n bytes without a call for the short ones (header names and most values are 3-24
// bytes): two overlapping loads and stores inside both ranges, as BytesEqual compares.
template <class Word>
__attribute__((always_inline)) inline void CopyEndWords(char* d, const char* s, size_t n) {
  Word a, b;
  std::memcpy(&a, s, sizeof(Word));
  std::memcpy(&b, s + n - sizeof(Word), sizeof(Word));
  std::memcpy(d, &a, sizeof(Word));
  std::memcpy(d + n - sizeof(Word), &b, sizeof(Word));
}

__attribute__((always_inline)) inline void CopyShort(char* d, const char* s, size_t n) {
  if (n > 16) {
    std::memcpy(d, s, n);
  } else if (n >= 8) {
    CopyEndWords<uint64_t>(d, s, n);
  } else if (n >= 4) {
    CopyEndWords<uint32_t>(d, s, n);
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  }
}

}  // namespace

void RecordWriter::Headers(std::span<const HeaderField> headers) {
  if (count_at_ == 0) Value(std::nullopt);  // no value given: null
  std::string& b = r_->bytes_;
  size_t total = 0;
  for (const HeaderField& h : headers) {
    total += ZigzagSize(h.name.size()) + h.name.size() + ZigzagSize(h.value.size()) + h.value.size();
  }
  const size_t at = b.size();
  b.resize(at + total);
  char* p = b.data() + at;
  auto put = [&p](std::string_view bytes) {
    uint64_t z = static_cast<uint64_t>(bytes.size()) << 1;  // zigzag of a non-negative length
    while (z >= 0x80) {
      *p++ = static_cast<char>((z & 0x7F) | 0x80);
      z >>= 7;
    }
    *p++ = static_cast<char>(z);
    CopyShort(p, bytes.data(), bytes.size());
    p += bytes.size();
  };
  for (const HeaderField& h : headers) {
    put(h.name);
    put(h.value);
  }
  r_->header_count_ += static_cast<uint32_t>(headers.size());
}

void RecordWriter::EncodedHeaders(std::span<const EncodedPiece> pieces, uint32_t count) {
  if (count_at_ == 0) Value(std::nullopt);  // no value given: null
  std::string& b = r_->bytes_;
  size_t total = 0;
  for (const EncodedPiece& piece : pieces) total += (piece.length ? ZigzagSize(piece.bytes.size()) : 0) + piece.bytes.size();
  const size_t at = b.size();
  b.resize(at + total);
  char* p = b.data() + at;
  for (const EncodedPiece& piece : pieces) {
    if (piece.length) {
      uint64_t z = static_cast<uint64_t>(piece.bytes.size()) << 1;
      while (z >= 0x80) {
        *p++ = static_cast<char>((z & 0x7F) | 0x80);
        z >>= 7;
      }
      *p++ = static_cast<char>(z);
    }
    CopyShort(p, piece.bytes.data(), piece.bytes.size());
    p += piece.bytes.size();
  }
  r_->header_count_ += count;
}

void RecordWriter::EncodeName(std::string_view name, std::string* out) {
  PutLength(out, name.size());
  out->append(name);
}

void RecordWriter::EncodeHeader(std::string_view name, std::string_view value, std::string* out) {
  EncodeName(name, out);
  EncodeName(value, out);
}

std::string* RecordWriter::BeginValue() {
  std::string& b = r_->bytes_;
  b.append(kValueLengthRoom, '\0');
  r_->value_at_ = static_cast<uint32_t>(b.size());
  return &b;
}

void RecordWriter::EndValue() {
  std::string& b = r_->bytes_;
  const size_t len = b.size() - r_->value_at_;
  const size_t room = ZigzagSize(len);
  const size_t length_at = r_->value_at_ - kValueLengthRoom;
  if (room != kValueLengthRoom) {
    // Rare: a value under 64 bytes or of 8 KiB and more. It moves to just behind its length.
    if (room < kValueLengthRoom) {
      b.erase(length_at + room, kValueLengthRoom - room);
    } else {
      b.insert(length_at + kValueLengthRoom, room - kValueLengthRoom, '\0');
    }
  }
  char* p = b.data() + length_at;
  uint64_t z = static_cast<uint64_t>(len) << 1;
  while (z >= 0x80) {
    *p++ = static_cast<char>((z & 0x7F) | 0x80);
    z >>= 7;
  }
  *p = static_cast<char>(z);
  r_->value_at_ = static_cast<uint32_t>(length_at + room);
  r_->value_len_ = static_cast<int32_t>(len);
  count_at_ = b.size();
  b.push_back(0);  // the header count, set by the destructor
}

RecordWriter::~RecordWriter() {
  std::string& b = r_->bytes_;
  if (count_at_ == 0) {
    Value(std::nullopt);  // no value given: null
  }
  const uint32_t count = r_->header_count_;
  if (count < 64) {
    b[count_at_] = static_cast<char>(count << 1);
  } else {
    std::string varint;
    PutZigzag(&varint, count);
    b.replace(count_at_, 1, varint);
  }
}

OutputRecord& NewOutputRecord(std::vector<OutputRecord>* out) {
  SparePool& pool = Spares();
  ++pool.demand;
  std::vector<OutputRecord>& spare = pool.records;
  if (spare.empty()) return out->emplace_back();
  out->push_back(std::move(spare.back()));
  spare.pop_back();
  PrefetchSpares(spare);
  return out->back();
}

void RecycleOutputRecords(std::vector<OutputRecord>* records) {
  SparePool& pool = Spares();
  const size_t most = std::min(kMaxSpareRecords, pool.demand);
  for (OutputRecord& r : *records) {
    if (pool.records.size() >= most) break;
    // held_bytes reads the two strings' own fields only, in the record object (a pass's
    // records are contiguous): not their buffers, long out of the cache.
    if (r.held_bytes() > kMaxSpareRecordBytes) continue;
    pool.records.push_back(std::move(r));
  }
  records->clear();
  pool.demand = 0;
}

json::Value BuildContext(const json::Value& exchange, const spec::Operation& operation,
                         std::span<const spec::PathParam> params, Arena* arena) {
  return BuildContextOf(FieldsOf(exchange), operation, params, arena);
}

Processor::Processor(std::shared_ptr<const spec::CompiledSpecs> specs, ProcessorOptions options)
    : specs_(std::move(specs)), options_(std::move(options)) {
  for (const auto& api : specs_->apis()) {
    for (const auto& op : api->operations) {
      for (const auto& ev : op->events) ce_runs_.push_back(MakeRuns(api->source, *ev, op->id));
    }
  }
  std::sort(ce_runs_.begin(), ce_runs_.end(), [](const CeHeaderRuns& a, const CeHeaderRuns& b) {
    return std::less<const spec::EventDefinition*>()(a.event, b.event);
  });
}

Processor::CeHeaderRuns Processor::MakeRuns(std::string_view source, const spec::EventDefinition& event,
                                            std::string_view operation_id) {
  CeHeaderRuns r{&event, {}, {}, {}};
  RecordWriter::EncodeHeader("ce_specversion", "1.0", &r.to_id);
  RecordWriter::EncodeName("ce_id", &r.to_id);
  RecordWriter::EncodeHeader("ce_source", source, &r.to_time);
  RecordWriter::EncodeHeader("ce_type", event.type, &r.to_time);
  RecordWriter::EncodeName("ce_time", &r.to_time);
  RecordWriter::EncodeHeader("ce_eventceptionoperation", operation_id, &r.to_exchange);
  RecordWriter::EncodeName("ce_eventceptionexchange", &r.to_exchange);
  return r;
}

const Processor::CeHeaderRuns* Processor::RunsOf(const spec::EventDefinition* event) const {
  auto it = std::lower_bound(ce_runs_.begin(), ce_runs_.end(), event, [](const CeHeaderRuns& r, const spec::EventDefinition* e) {
    return std::less<const spec::EventDefinition*>()(r.event, e);
  });
  return it != ce_runs_.end() && it->event == event ? &*it : nullptr;
}

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
  const json::Value* method = nullptr;
  const json::Value* path = nullptr;
  MethodAndPathOf(fields.request, &method, &path);
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
      // Written as text directly: the result's tree was only ever written (EvaluateJson).
      Result<bool> d = ev.data->EvaluateJson(context, arena, &data_buf);
      if (!d.ok()) {
        fail("data", ev.data.get(), d.status());
        continue;
      }
      has_data = *d;
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
    // The record may reuse a recycled one's storage: topic and timestamp are assigned, the
    // writer writes the rest over it. Header names are constants written into the record's
    // buffer, the layout the commit path copies as it is.
    const bool structured = Structured(ev.topic);
    OutputRecord& rec = NewOutputRecord(out);
    rec.topic.assign(ev.topic);
    rec.timestamp_ms = ts;
    RecordWriter w(&rec, key ? std::optional<std::string_view>(*key) : std::nullopt);
    if (structured) {
      std::string& v = *w.BeginValue();
      v.reserve(v.size() + 256 + data_buf.size());
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
      w.EndValue();
      w.Header("content-type", "application/cloudevents+json");
    } else {
      if (has_data) {
        w.Value(data_buf);
      } else {
        w.Value(std::nullopt);
      }
      // Constant per definition: the runs prepared at construction (a definition from another
      // spec set cannot reach here, as `op` came from specs_; made afresh just in case).
      const CeHeaderRuns* runs = RunsOf(&ev);
      CeHeaderRuns made;
      if (runs == nullptr) {
        made = MakeRuns(source, ev, op->id);
        runs = &made;
      }
      static const std::string kSubjectName = [] {
        std::string s;
        RecordWriter::EncodeName("ce_subject", &s);
        return s;
      }();
      static const std::string kContentType = [] {
        std::string s;
        RecordWriter::EncodeHeader("content-type", "application/json", &s);
        return s;
      }();
      // Storage left uninitialised (as for the record's fields: zeroing it was a rep stos per
      // event); each piece is constructed in place and only the n constructed are read.
      alignas(RecordWriter::EncodedPiece) unsigned char storage[9 * sizeof(RecordWriter::EncodedPiece)];
      auto* pieces = reinterpret_cast<RecordWriter::EncodedPiece*>(storage);
      size_t n = 0;
      auto add = [&](std::string_view bytes, bool length) { new (&pieces[n++]) RecordWriter::EncodedPiece{bytes, length}; };
      add(runs->to_id, false);  // ce_specversion, ce_id's name
      add(ce_id, true);
      add(runs->to_time, false);  // ce_source, ce_type, ce_time's name
      add(time, true);
      if (subject) {
        add(kSubjectName, false);
        add(*subject, true);
      }
      add(runs->to_exchange, false);  // ce_eventceptionoperation, ce_eventceptionexchange's name
      add(exchange_id, true);
      if (has_data) add(kContentType, false);
      w.EncodedHeaders(std::span<const RecordWriter::EncodedPiece>(pieces, n),
                       7 + (subject ? 1 : 0) + (has_data ? 1 : 0));
    }
    ++st.events;
  }

  for (ExchangeStage* stage : stages_) stage->OnMatched(m, arena, out);
}

}  // namespace ec::pipeline
