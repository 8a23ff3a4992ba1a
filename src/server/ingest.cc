#include "server/ingest.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "base/clock.h"
#include "json/document.h"
#include "json/writer.h"
#include "log/bytes.h"
#include "log/journal.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"
#include "pipeline/canonical_text.h"
#include "pipeline/exchange.h"
#include "pipeline/ids.h"
#include "server/dedupe_index.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

constexpr size_t kMaxBatchBytes = IngestBatch::kMaxBatchBytes;

void AppendRejections(const std::vector<Rejection>& rejected, std::string* out) {
  *out += "[";
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (i) *out += ",";
    *out += "{\"index\":" + std::to_string(rejected[i].index) + ",\"reason\":";
    json::AppendQuoted(rejected[i].reason, out);
    *out += "}";
  }
  *out += "]";
}

// A record's parse; errors say which line (when it has one).
Status ParseLine(std::string_view line, size_t line_no, uint32_t max_depth, Arena* arena, json::Value* out) {
  json::ParseOptions popts;
  popts.max_depth = max_depth;
  Status s = json::ParseInto(line, arena, out, popts);
  if (!s.ok() && line_no > 0) return Status(s.code(), "line " + std::to_string(line_no) + ": " + s.message());
  return s;
}

}  // namespace

Status SplitBody(std::string_view body, std::string_view content_type, const SplitOptions& options,
                 Arena* arena, std::vector<RawRecord>* records, BodyShape* shape) {
  std::string_view trimmed = Trim(body);
  if (trimmed.empty()) {
    return InvalidArgument("request body is empty; send a JSON object, a JSON array or NDJSON");
  }
  size_t first_nl = trimmed.find('\n');
  std::string_view first_line = Trim(trimmed.substr(0, first_nl));
  bool ndjson = content_type.find("ndjson") != std::string_view::npos ||
                content_type.find("jsonlines") != std::string_view::npos ||
                (first_nl != std::string_view::npos && first_line.size() >= 2 &&
                 first_line.front() == '{' && first_line.back() == '}');
  json::ParseOptions popts;
  if (ndjson) {
    *shape = BodyShape::kNdjson;
    size_t pos = 0, line_no = 0, index = 0;
    while (pos <= body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string_view::npos) nl = body.size();
      std::string_view line = Trim(body.substr(pos, nl - pos));
      ++line_no;
      pos = nl + 1;
      if (line.empty()) continue;
      RawRecord r;
      r.index = index++;
      if (line.size() > options.max_record_bytes) {
        r.error = LimitExceeded("record on line " + std::to_string(line_no) + " has " +
                                std::to_string(line.size()) + " bytes, more than limits.max_record_bytes (" +
                                std::to_string(options.max_record_bytes) + ")");
      } else if (options.defer_parse) {
        r.parsed = false;
        r.text = line;
        r.line = line_no;
      } else {
        r.error = ParseLine(line, line_no, options.max_json_depth, arena, &r.value);
      }
      records->push_back(std::move(r));
    }
    return Status::Ok();
  }
  // One JSON text: an object (one record) or an array (one record per element).
  popts.max_depth = options.max_json_depth + 1;
  json::Value root;
  Status s = json::ParseInto(body, arena, &root, popts);
  if (!s.ok()) return s;
  if (root.is_array()) {
    *shape = BodyShape::kArray;
    size_t i = 0;
    for (const json::Value& v : root.array()) {
      RawRecord r;
      r.index = i++;
      r.value = v;
      records->push_back(std::move(r));
    }
    return Status::Ok();
  }
  *shape = BodyShape::kObject;
  if (body.size() > options.max_record_bytes) {
    return LimitExceeded("the record has " + std::to_string(body.size()) +
                         " bytes, more than limits.max_record_bytes (" +
                         std::to_string(options.max_record_bytes) + ")");
  }
  RawRecord r;
  r.value = root;
  records->push_back(std::move(r));
  return Status::Ok();
}

namespace {

// What follows each record's value: one header, the decoded mark (pipeline_runner.h), as
// RecordBatchBuilder writes a header list (count, key length, key, value length, value).
const std::string& RecordTail() {
  static const std::string tail = [] {
    std::string t;
    log::bytes::PutVarint(&t, 1);
    log::bytes::PutVarint(&t, static_cast<int64_t>(std::char_traits<char>::length(kDecodedHeader)));
    t += kDecodedHeader;
    log::bytes::PutVarint(&t, 1);
    t += '1';
    return t;
  }();
  return tail;
}

// log::bytes::PutVarint into a buffer of at least kMaxVarint bytes; returns the bytes written.
constexpr size_t kMaxVarint = 10;
size_t PutVarintAt(char* out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 0;
  while (z >= 0x80) {
    out[n++] = static_cast<char>((z & 0x7F) | 0x80);
    z >>= 7;
  }
  out[n++] = static_cast<char>(z);
  return n;
}

std::string_view IdOf(const json::Value& exchange) {
  const json::Value* id = exchange.Find("id");
  return id != nullptr && id->is_string() ? id->string() : std::string_view();
}

}  // namespace

void IngestBatch::AbandonOpen() {
  if (open_frame_at_ == kNone) return;
  bytes_.resize(open_frame_at_);
  if (!batches_.empty() && batches_.back().at >= open_frame_at_) batches_.pop_back();
  open_frame_at_ = kNone;
}

size_t IngestBatch::Open(size_t framing) {
  AbandonOpen();
  open_frame_at_ = bytes_.size();
  // A record starts a batch after the one that took the batch to kMaxBatchBytes (as
  // RecordBatchBuilder's uncompressed_size: the header's room included).
  if (batches_.empty() || bytes_.size() - batches_.back().at >= kMaxBatchBytes) {
    batches_.push_back({bytes_.size(), entries_.size()});
    bytes_.append(log::kBatchHeaderSize, '\0');
  }
  open_record_at_ = bytes_.size();
  open_framing_ = framing;
  bytes_.append(framing, '\0');
  return bytes_.size();
}

size_t IngestBatch::Close(size_t value_at, std::string_view key) {
  using log::bytes::VarintSize;
  const size_t value_size = bytes_.size() - value_at;
  const std::string& tail = RecordTail();
  const int64_t delta = static_cast<int64_t>(entries_.size() - batches_.back().first);
  const size_t key_room = key.empty() ? 1 : VarintSize(static_cast<int64_t>(key.size())) + key.size();
  // The record as RecordBatchBuilder::AddWithOffsetDelta writes it: length, attributes,
  // timestamp delta (0: Seal gives every record the batch's one timestamp), offset delta, key
  // (null when empty, as BuildBatches has it), value, headers.
  const size_t body = 1 + 1 + VarintSize(delta) + key_room + VarintSize(static_cast<int64_t>(value_size)) +
                      value_size + tail.size();
  // The framing is written straight into its room when the guess was right (every record of
  // a batch of like records): the varints into a few bytes here, the key copied once (it may
  // lie in the value, after the room). Through head_ byte by byte it was ~150 instructions.
  char pre[3 * kMaxVarint + 2];  // length, attributes, timestamp delta, offset delta
  size_t pre_size = PutVarintAt(pre, static_cast<int64_t>(body));
  pre[pre_size++] = 0;
  pre[pre_size++] = 0;  // PutVarint(0)
  pre_size += PutVarintAt(pre + pre_size, delta);
  char key_size[kMaxVarint];
  const size_t key_size_size = PutVarintAt(key_size, key.empty() ? -1 : static_cast<int64_t>(key.size()));
  char size[kMaxVarint];
  const size_t size_size = PutVarintAt(size, static_cast<int64_t>(value_size));
  const size_t key_in_head = pre_size + key_size_size;
  const size_t head_size = key_in_head + key.size() + size_size;
  if (head_size == open_framing_) {
    char* at = bytes_.data() + open_record_at_;
    std::memcpy(at, pre, pre_size);
    std::memcpy(at + pre_size, key_size, key_size_size);
    if (!key.empty()) std::memcpy(at + key_in_head, key.data(), key.size());
    std::memcpy(at + key_in_head + key.size(), size, size_size);
  } else {
    head_.assign(pre, pre_size);
    head_.append(key_size, key_size_size);
    head_.append(key);
    head_.append(size, size_size);
    bytes_.replace(open_record_at_, open_framing_, head_);  // the value moves (a wrong guess)
  }
  framing_guess_ = head_size;
  Entry e;
  e.frame_at = open_frame_at_;
  e.key_at = open_record_at_ + (key.empty() ? 0 : key_in_head);
  e.key_size = key.size();
  e.value_at = open_record_at_ + head_size;
  e.value_size = value_size;
  bytes_.append(tail);
  entries_.push_back(e);
  open_frame_at_ = kNone;
  return value_size;
}

size_t IngestBatch::Add(const json::Value& exchange) {
  const size_t at = Open(framing_guess_);
  json::AppendJson(exchange, &bytes_);
  const std::string_view id = IdOf(exchange);
  return Close(at, id);
}

size_t IngestBatch::Add(std::string_view id, std::string_view json) {
  const size_t at = Open(framing_guess_);
  bytes_.append(json);
  return Close(at, id);
}

size_t IngestBatch::Add(const json::Value& exchange, std::string_view json) {
  return Add(IdOf(exchange), json);
}

size_t IngestBatch::BeginWritten() { return Open(framing_guess_); }

size_t IngestBatch::AddWritten(size_t value_at, size_t id_at, size_t id_size) {
  // Close copies the key before it moves anything.
  return Close(value_at, std::string_view(bytes_.data() + id_at, id_size));
}

void IngestBatch::DropWritten(size_t value_at) {
  (void)value_at;
  AbandonOpen();
}

void IngestBatch::WriteStableIdDigits(size_t i, const char* digits) {
  const Entry& e = entries_[i];
  constexpr size_t kDigits = pipeline::kSha256Hex128Length;
  constexpr size_t kIdDigitsAt = std::char_traits<char>::length("{\"id\":\"x");
  std::memcpy(bytes_.data() + e.key_at + 1, digits, kDigits);
  std::memcpy(bytes_.data() + e.value_at + kIdDigitsAt, digits, kDigits);
}

void IngestBatch::Truncate(size_t n) {
  AbandonOpen();
  if (n >= entries_.size()) return;
  bytes_.resize(entries_[n].frame_at);
  while (!batches_.empty() && batches_.back().at >= bytes_.size()) batches_.pop_back();
  entries_.resize(n);
}

void IngestBatch::Drop(const std::vector<bool>& drop) {
  size_t kept = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i < drop.size() && drop[i]) continue;
    entries_[kept++] = entries_[i];
  }
  if (kept < entries_.size()) dropped_ = true;
  entries_.resize(kept);
}

void IngestBatch::Clear(size_t keep_bytes) {
  entries_.clear();
  batches_.clear();
  open_frame_at_ = kNone;
  dropped_ = false;
  if (bytes_.capacity() > keep_bytes) {
    std::string().swap(bytes_);
  } else {
    bytes_.clear();
  }
  if (sealed_.capacity() > keep_bytes) std::string().swap(sealed_);
}

size_t ClaimNewExchanges(DedupeIndex& dedupe, int64_t now_ms, IngestBatch* batch,
                         std::vector<std::string_view>* claimed, std::vector<DedupeKey>* claimed_keys) {
  std::vector<std::string_view> ids;
  ids.reserve(batch->size());
  for (size_t i = 0; i < batch->size(); ++i) ids.push_back(batch->key(i));
  std::vector<DedupeKey> keys;
  std::vector<bool> dup = dedupe.Claim(ids, now_ms, claimed_keys != nullptr ? &keys : nullptr);
  size_t duplicates = 0;
  for (bool d : dup) duplicates += d ? 1 : 0;
  if (claimed_keys != nullptr) {
    claimed_keys->reserve(claimed_keys->size() + ids.size() - duplicates);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!dup[i] && !ids[i].empty()) claimed_keys->push_back(keys[i]);
    }
  }
  if (duplicates > 0) batch->Drop(dup);
  claimed->reserve(claimed->size() + batch->size());
  for (size_t i = 0; i < batch->size(); ++i) claimed->push_back(batch->key(i));
  return duplicates;
}

void DecodeForIngest(const std::vector<RawRecord>& records, std::string_view format,
                     const spec::CompiledSpecs* specs, const IngestOptions& options, Arena* arena,
                     IngestBatch* accepted, std::vector<Rejection>* rejected) {
  pipeline::DecodeOptions dopts;
  dopts.max_record_bytes = options.max_record_bytes;
  dopts.max_depth = options.max_json_depth;
  if (specs != nullptr) dopts.redact = specs->redact_paths();
  std::vector<json::Value> exchanges;
  // The decoders write each exchange's JSON as they finish it (for a record without an id,
  // in the walk that hashes its stable id), so it is not serialised again here.
  thread_local std::string texts;
  thread_local std::vector<size_t> text_sizes;
  dopts.json_out = &texts;
  dopts.json_sizes = &text_sizes;
  // Records that are canonical exchanges already are written straight from their text (the
  // same bytes and id as the tree path below, which takes every record it declines).
  const bool fast = format == "detect" || format == "canonical";
  // Kept per thread across requests (built per request it cost ~16k instructions and a 12 KB
  // clear of its tables), built again when the options it was built for change (a spec
  // reload with other redact paths); bound to this call's options before its first record.
  thread_local std::optional<pipeline::CanonicalTextDecoder> text_decoder;
  bool decoder_bound = false;
  // Stable ids are hashed two records at once (canonical_text_hash.h): a record's hashed text
  // waits in hash_texts until the next record that needs one is hashed with it (in Decode, its
  // own text where it is written). pending is the batch entry whose digits are '0's still.
  thread_local std::string hash_texts;
  hash_texts.clear();
  size_t pending = 0;
  auto too_big = [&](size_t index) {
    rejected->push_back({index,
                         "the decoded exchange is larger than limits.max_record_bytes (" +
                             std::to_string(options.max_record_bytes) + ")",
                         InfoOf(ErrorCode::kLimitExceeded).name});
  };
  for (const RawRecord& r : records) {
    if (!r.error.ok()) {
      rejected->push_back({r.index, r.error.message(), InfoOf(r.error.code()).name});
      continue;
    }
    json::Value raw = r.value;
    if (!r.parsed) {
      if (fast) {
        if (!decoder_bound) {
          if (text_decoder && text_decoder->BuiltAs(dopts)) {
            text_decoder->Rebind(dopts);
          } else {
            text_decoder.emplace(dopts);
          }
          decoder_bound = true;
        }
        // Written straight into the batch, where its record goes (Decode leaves the buffer as
        // it was when it declines).
        const size_t at = accepted->BeginWritten();
        std::string* out = accepted->write_buffer();
        size_t id_at = 0, id_size = 0;
        bool deferred = false, paired = false;
        char pending_digits[pipeline::kSha256Hex128Length];
        if (text_decoder->Decode(r.text, out, &id_at, &id_size, &hash_texts, &deferred, &paired, pending_digits)) {
          if (paired) {
            accepted->WriteStableIdDigits(pending, pending_digits);
            hash_texts.clear();
          }
          if (out->size() - at > options.max_record_bytes) {
            accepted->DropWritten(at);
            if (deferred) hash_texts.clear();
            too_big(r.index);
          } else {
            accepted->AddWritten(at, id_at, id_size);
            if (deferred) pending = accepted->size() - 1;
          }
          continue;
        }
        accepted->DropWritten(at);
      }
      if (Status s = ParseLine(r.text, r.line, options.max_json_depth, arena, &raw); !s.ok()) {
        rejected->push_back({r.index, s.message(), InfoOf(s.code()).name});
        continue;
      }
    }
    exchanges.clear();
    texts.clear();
    text_sizes.clear();
    Status s = pipeline::DecodeRecords(raw, format, dopts, arena, &exchanges);
    if (!s.ok()) {
      rejected->push_back({r.index, s.message(), InfoOf(s.code()).name});
      continue;
    }
    const bool have_texts = text_sizes.size() == exchanges.size();
    size_t first = accepted->size();
    bool too_large = false;
    size_t text_at = 0;
    for (size_t i = 0; i < exchanges.size(); ++i) {
      size_t n;
      if (have_texts) {
        n = accepted->Add(exchanges[i], std::string_view(texts).substr(text_at, text_sizes[i]));
        text_at += text_sizes[i];
      } else {
        n = accepted->Add(exchanges[i]);
      }
      if (n > options.max_record_bytes) {
        too_large = true;
        break;
      }
    }
    if (too_large) {
      accepted->Truncate(first);  // a record is accepted whole or not at all
      too_big(r.index);
    }
  }
  if (!hash_texts.empty()) {  // the last one alone
    char digits[pipeline::kSha256Hex128Length];
    pipeline::Sha256Hex128To(hash_texts, digits);
    accepted->WriteStableIdDigits(pending, digits);
    hash_texts.clear();
  }
  if (hash_texts.capacity() > (8 << 20)) std::string().swap(hash_texts);  // after a huge record
  if (texts.capacity() > (8 << 20)) std::string().swap(texts);  // after a huge HAR file
}

namespace {

// Record batches of `n` records (key(i), value(i)); the common single batch is moved out, not
// copied once more.
template <typename KeyFn, typename ValueFn>
Result<std::string> BuildBatchesOf(size_t n, KeyFn key, ValueFn value, int64_t timestamp_ms) {
  std::string out;
  log::RecordBatchBuilder builder;
  // Marks the value as a canonical, redacted exchange: the pipeline need not decode it again.
  const log::RecordHeader decoded[] = {{kDecodedHeader, std::string_view("1")}};
  auto flush = [&]() -> Status {
    EC_ASSIGN_OR_RETURN(std::string b, builder.Build());
    if (out.empty()) out = std::move(b);
    else out += b;
    return Status::Ok();
  };
  // Room for all the batches at once: the first batch's buffer becomes `out`, and the others
  // are appended to it without growing it (no reallocation and copy per doubling, no page
  // faults of fresh buffers per request).
  auto room = [&](size_t i) { return key(i).size() + value(i).size() + 48 + sizeof(kDecodedHeader); };
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += room(i);
  builder.Reserve(total + log::kBatchHeaderSize * (1 + total / kMaxBatchBytes));
  size_t left = total;  // room of the records not added yet
  for (size_t i = 0; i < n; ++i) {
    std::string_view k = key(i);
    builder.Add(k.empty() ? std::nullopt : std::optional<std::string_view>(k), value(i), timestamp_ms, decoded);
    left -= room(i);
    if (builder.uncompressed_size() >= kMaxBatchBytes) {
      EC_RETURN_IF_ERROR(flush());
      // The builder's buffer went into `out`: the next batch gets room for all of it at once,
      // not a buffer grown by doubling from empty (a 1000-line request's second batch took
      // ~14 reallocations and copies).
      if (left > 0) builder.Reserve(std::min(left, kMaxBatchBytes + (64 << 10)));
    }
  }
  if (!builder.empty()) EC_RETURN_IF_ERROR(flush());
  return out;
}

}  // namespace

Result<std::string> BuildBatches(const std::vector<IngestRecord>& records, int64_t timestamp_ms) {
  return BuildBatchesOf(
      records.size(), [&](size_t i) { return std::string_view(records[i].key); },
      [&](size_t i) { return std::string_view(records[i].value); }, timestamp_ms);
}

Result<std::string> BuildBatches(const IngestBatch& records, int64_t timestamp_ms) {
  return BuildBatchesOf(
      records.size(), [&](size_t i) { return records.key(i); }, [&](size_t i) { return records.value(i); },
      timestamp_ms);
}

Result<std::span<char>> IngestBatch::Seal(int64_t timestamp_ms) {
  AbandonOpen();
  if (entries_.empty()) return InvalidArgument("a record batch needs at least one record");
  if (dropped_) {
    // Entries were dropped (duplicates): the others' offset deltas changed, so they are copied
    // into fresh batches (the rare case).
    EC_ASSIGN_OR_RETURN(sealed_, BuildBatches(*this, timestamp_ms));
    return std::span<char>(sealed_.data(), sealed_.size());
  }
  // The header as RecordBatchBuilder::Build writes it with its default options (offset 0,
  // no producer, create time, no compression); the bytes equal BuildBatches' (tested).
  for (size_t b = 0; b < batches_.size(); ++b) {
    const size_t at = batches_[b].at;
    const size_t end = b + 1 < batches_.size() ? batches_[b + 1].at : bytes_.size();
    const size_t count = (b + 1 < batches_.size() ? batches_[b + 1].first : entries_.size()) - batches_[b].first;
    char* h = bytes_.data() + at;
    using log::bytes::StoreBe;
    StoreBe(h, 0, 8);                                             // base offset
    StoreBe(h + 8, end - at - log::kBatchLengthFieldEnd, 4);      // batch length
    StoreBe(h + 12, static_cast<uint32_t>(-1), 4);                // partition leader epoch
    h[16] = log::kMagicV2;
    StoreBe(h + 17, 0, 4);                                        // CRC, set below
    StoreBe(h + 21, 0, 2);                                        // attributes
    StoreBe(h + 23, count - 1, 4);                                // last offset delta
    StoreBe(h + 27, static_cast<uint64_t>(timestamp_ms), 8);     // first timestamp
    StoreBe(h + 35, static_cast<uint64_t>(timestamp_ms), 8);     // max timestamp
    StoreBe(h + 43, static_cast<uint64_t>(int64_t{-1}), 8);      // producer id
    StoreBe(h + 51, static_cast<uint16_t>(-1), 2);                // producer epoch
    StoreBe(h + 53, static_cast<uint32_t>(-1), 4);                // base sequence
    StoreBe(h + 57, count, 4);                                    // records
    static_assert(log::kBatchHeaderSize == 61, "the header's fields above fill it exactly");
    log::RecordBatchView::UpdateCrc(h, end - at);
  }
  return std::span<char>(bytes_.data() + batches_.front().at, bytes_.size() - batches_.front().at);
}

void KeepFreedMemoryForReuse() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

Ingest::Ingest(IngestOptions options, log::LogManager* logs,
               SpecsProvider specs, MetricsRegistry* metrics,
               std::function<int64_t()> lag)
    : options_(std::move(options)),
      logs_(logs),
      specs_(std::move(specs)),
      metrics_(metrics),
      lag_(std::move(lag)) {
  ingested_ = metrics_->GetCounter("eventception_ingested_total",
                                   "Exchanges durably appended to the raw topic", {{"source", "http"}});
  duplicates_ = metrics_->GetCounter("eventception_ingest_duplicates_total",
                                     "Exchanges acknowledged without an append: their id was ingested within "
                                     "ingest.dedupe_window",
                                     {{"source", "http"}});
  append_seconds_ = metrics_->GetHistogram("eventception_ingest_append_seconds",
                                           "HTTP ingest: a request's durable append to the raw topic (fdatasync included)",
                                           MetricsRegistry::LatencyBuckets());
}

Status Ingest::CheckFormat(std::string_view format) {
  if (format == "detect") return Status::Ok();
  std::string known = "detect";
  for (const pipeline::DecoderInfo& d : pipeline::Decoders()) {
    if (d.name == format) return Status::Ok();
    known += ", " + std::string(d.name);
  }
  return InvalidArgument("unknown format '" + std::string(format) + "'; use one of: " + known);
}

HttpResponse Ingest::Handle(HttpRequest& req) {
  auto reject_all = [this](std::string_view reason) {
    metrics_->GetCounter("eventception_rejected_total", "Records or requests rejected at ingest, by reason",
                         {{"reason", std::string(reason)}})
        ->Inc();
  };
  int64_t lag = lag_ ? lag_() : 0;
  if (lag > options_.max_lag_records) {
    reject_all("backpressure");
    HttpResponse r = HttpResponse::Error(
        429, "backpressure",
        "the pipeline is " + std::to_string(lag) + " records behind (limits.max_lag_records = " +
            std::to_string(options_.max_lag_records) + "); retry after the Retry-After delay");
    r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_seconds));
    return r;
  }
  bool has_format = false;
  std::string format = req.QueryParam("format", &has_format);
  if (!has_format || format.empty()) format = options_.default_format;
  if (Status s = CheckFormat(format); !s.ok()) {
    reject_all("unknown_format");
    return HttpResponse::Error(400, "unknown_format", s.message());
  }
  Arena arena(64 << 10);
  // Kept per thread like the batch below (a 1000-line request's records are ~80 KB).
  thread_local std::vector<RawRecord> records_buffer;
  std::vector<RawRecord>& records = records_buffer;
  records.clear();
  if (records.capacity() > (1u << 16)) std::vector<RawRecord>().swap(records);  // after a huge request
  BodyShape shape;
  SplitOptions split{options_.max_record_bytes, options_.max_json_depth, /*defer_parse=*/true};
  if (Status s = SplitBody(req.body, req.Header("content-type"), split, &arena, &records, &shape);
      !s.ok()) {
    if (s.code() != ErrorCode::kLimitExceeded) {
      reject_all("bad_json");
      return HttpResponse::Error(400, "bad_json", s.message());
    }
    // Too large a single record is 413; too deep a document is unprocessable content.
    bool too_big = req.body.size() > options_.max_record_bytes;
    reject_all(too_big ? "too_large" : "too_deep");
    return HttpResponse::Error(too_big ? 413 : 422, too_big ? "too_large" : "too_deep", s.message());
  }
  // The serialised exchanges: one buffer per thread, reused, so a request does not allocate
  // (and page-fault in) its output afresh.
  thread_local IngestBatch batch;
  IngestBatch& accepted = batch;
  accepted.Clear();
  std::vector<Rejection> rejected;
  std::shared_ptr<const spec::CompiledSpecs> specs = specs_ ? specs_() : nullptr;
  DecodeForIngest(records, format, specs.get(), options_, &arena, &accepted, &rejected);
  for (const Rejection& r : rejected) reject_all(r.code);

  // Idempotent ingest: duplicates are acknowledged, not appended; the others are claimed until
  // the append's outcome is known (a concurrent retry of the same id waits its turn as a duplicate).
  size_t duplicates = 0;
  std::vector<std::string_view> claimed;
  std::vector<DedupeKey> claimed_keys;  // their keys (made once, by Claim)
  const int64_t now = WallClockMs();
  if (dedupe_ != nullptr && !accepted.empty()) {
    duplicates = ClaimNewExchanges(*dedupe_, now, &accepted, &claimed, &claimed_keys);
    duplicates_->Inc(duplicates);
  }
  // Every return below a failed append releases the claims (a retry is accepted then).
  struct ReleaseClaims {
    DedupeIndex* d;
    const std::vector<DedupeKey>& keys;
    bool done = false;
    int64_t now;
    ~ReleaseClaims() {
      if (d != nullptr && !done && !keys.empty()) d->Release(keys, /*stored=*/false, now);
    }
  } release{dedupe_, claimed_keys, false, now};

  const size_t accepted_count = accepted.size();
  if (!accepted.empty()) {
    std::optional<log::TopicInfo> topic = logs_->DescribeTopic(options_.raw_topic);
    int32_t partitions = topic ? topic->partitions : 0;
    if (partitions <= 0) {
      return HttpResponse::Error(503, "unavailable", "raw topic '" + options_.raw_topic + "' does not exist");
    }
    int32_t p = static_cast<int32_t>(next_partition_.fetch_add(1) % static_cast<uint32_t>(partitions));
    std::shared_ptr<log::PartitionLog> log = logs_->GetPartition(options_.raw_topic, p);
    // The batch's own buffer is appended (no copy into a record batch builder, none for the
    // append); it is this thread's, so it is not reused before the append's outcome is known.
    Result<std::span<char>> batches = accepted.Seal(now);
    if (!batches.ok()) return HttpResponse::Error(500, "internal", batches.status().message());
    if (log == nullptr) return HttpResponse::Error(503, "unavailable", "raw topic partition missing");
    const auto append_start = std::chrono::steady_clock::now();
    std::promise<log::AppendResult> appended;
    std::future<log::AppendResult> outcome = appended.get_future();
    log::AppendOptions durable;
    durable.durability = log::Durability::kSync;
    durable.built_here = true;  // Seal set the CRCs just now: the log need not compute them again
    {
      // This thread waits for the append's journal sync and holds no lock: it runs the sync
      // round itself (Journal::RequestSync) instead of waking the sync thread and being woken
      // by the completion, two wake-ups across the cores per request.
      log::Journal::SyncsOnThisThread here;
      log->AppendInPlace(batches->data(), batches->size(), durable,
                         [&appended](const log::AppendResult& r) { appended.set_value(r); });
    }
    log::AppendResult ar = outcome.get();
    append_seconds_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - append_start).count());
    if (!ar.ok()) {
      return HttpResponse::Error(503, "append_failed",
                                 "could not append to '" + options_.raw_topic + "': " + ar.message +
                                     "; nothing of this request was stored, retry it");
    }
    if (dedupe_ != nullptr && !claimed_keys.empty()) {
      dedupe_->Release(claimed_keys, /*stored=*/true, now);
      release.done = true;
      // The indexer takes these ids from here instead of reading the records back (released
      // first: a round that indexes them then also ends their stored state).
      dedupe_->Appended(options_.raw_topic, p, ar.base_offset, ar.last_offset, std::move(claimed_keys),
                        ar.log_append_time_ms >= 0 ? ar.log_append_time_ms : now);
    }
    ingested_->Inc(accepted_count);
  }
  std::string body = "{\"accepted\":" + std::to_string(accepted_count);
  // Only when there are some: the answer to a fresh request keeps its documented shape.
  if (duplicates > 0) body += ",\"duplicates\":" + std::to_string(duplicates);
  body += ",\"rejected\":";
  AppendRejections(rejected, &body);
  body += "}";
  // 202 when something was stored or nothing was wrong; 422 when every record was rejected.
  return HttpResponse::Json(accepted_count == 0 && duplicates == 0 && !rejected.empty() ? 422 : 202, std::move(body));
}

}  // namespace ec::server
