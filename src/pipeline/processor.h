#pragma once
// The processing core (contract §2-§3): an exchange in, output records out.
//
// For each canonical exchange: match the operation, build the expression context (a small
// object whose members are the exchange's own values: nothing is copied), then for each event
// definition evaluate `when`, `key`, `subject`, `data` and write a CloudEvent 1.0 record to its
// topic. Anything that fails becomes a dead-letter record (docs/dead-letters.md) and the other
// definitions still run. A Processor is immutable after construction and may be shared by
// threads; each call uses the caller's Arena and output vector.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "spec/spec.h"

namespace ec::pipeline {

inline constexpr std::string_view kDeadLetterTopic = "eventception.dlq";

// One record for the log: what `serve` appends and `eventception test` prints.
//
// Its key, value and headers are kept as one buffer in the layout a Kafka record (RecordBatch
// v2) gives them, from the key's length on: keyLength key valueLength value headerCount
// (headerKeyLength headerKey headerValueLength headerValue)*, zigzag varints, -1 for null. The
// commit path copies that into its batch behind the few batch-relative fields (length,
// attributes, timestamp and offset deltas): a pass makes ~1,700 records per 1,000 lines, and a
// record of separate strings (an event record has ~10 headers) cost the pipeline thread a heap
// string per field and the commit thread a walk over all of them to size and encode it.
// Built with a RecordWriter; read through the accessors.
class OutputRecord {
 public:
  std::string topic;
  int64_t timestamp_ms = 0;  // the exchange time

  OutputRecord() = default;
  // A record with these fields (dead letters, replays, tests; the hot paths use RecordWriter).
  OutputRecord(std::string topic, std::optional<std::string_view> key, std::optional<std::string_view> value,
               std::span<const std::pair<std::string_view, std::string_view>> headers = {}, int64_t timestamp_ms = 0);

  std::optional<std::string_view> key() const {
    if (key_len_ < 0) return std::nullopt;
    return std::string_view(bytes_.data() + key_at_, static_cast<size_t>(key_len_));
  }
  std::optional<std::string_view> value() const {
    if (value_len_ < 0) return std::nullopt;
    return std::string_view(bytes_.data() + value_at_, static_cast<size_t>(value_len_));
  }
  size_t header_count() const { return header_count_; }
  // The headers in order, decoded (a vector per call: for tests, printing and dead letters, not
  // for the hot paths).
  std::vector<std::pair<std::string_view, std::string_view>> headers() const;
  // The first header named `name`, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;

  // The Kafka record layout from the key's length on (see above), what RecordBatchBuilder's
  // AddEncoded takes.
  std::string_view encoded() const { return bytes_.empty() ? kEmptyEncoded : std::string_view(bytes_); }
  // Heap bytes held (for the reuse pool's bound).
  size_t held_bytes() const { return bytes_.capacity() + (topic.capacity() > 15 ? topic.capacity() : 0); }

  friend bool operator==(const OutputRecord& a, const OutputRecord& b) {
    return a.topic == b.topic && a.timestamp_ms == b.timestamp_ms && a.encoded() == b.encoded();
  }

 private:
  friend class RecordWriter;
  // null key, null value, no headers
  static constexpr std::string_view kEmptyEncoded{"\x01\x01\x00", 3};
  std::string bytes_;         // empty: kEmptyEncoded
  uint32_t key_at_ = 0;       // where the key's bytes start in bytes_
  int32_t key_len_ = -1;      // -1: null
  uint32_t value_at_ = 0;
  int32_t value_len_ = -1;    // -1: null (a tombstone)
  uint32_t header_count_ = 0;
};

// Writes a record's key, value and headers, in that order (the layout's), over whatever the
// record held (its buffer is kept: a reused record mostly allocates nothing):
//   RecordWriter w(&rec, key);  w.Value(value);  w.Header(name, value)...  (ended by the destructor)
// or, for a value written in place, std::string* v = w.BeginValue(); append to *v; w.EndValue().
// Headers follow the value (none given: null); the record is consistent once the writer is
// destroyed.
class RecordWriter {
 public:
  // The optionals are unpacked here, inline, into pointer, size and presence passed in
  // registers: an optional<string_view> passed as it is goes through the stack, written as two
  // 8-byte halves and read back as one 16-byte load, a store-forwarding stall per key and value
  // (perf on serve put ~1.5% of the pipeline thread on the two in StateRecords alone).
  RecordWriter(OutputRecord* record, std::optional<std::string_view> key) : r_(record) {
    Start(key ? key->data() : nullptr, key ? key->size() : 0, key.has_value());
  }
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  void Value(std::optional<std::string_view> value) {
    PutValue(value ? value->data() : nullptr, value ? value->size() : 0, value.has_value());
  }
  // The record's buffer, to append the value to; EndValue (before any Header) closes it.
  std::string* BeginValue();
  void EndValue();
  void Header(std::string_view name, std::string_view value) {
    if (count_at_ == 0) Value(std::nullopt);  // no value given: null
    std::string& b = r_->bytes_;
    PutLength(&b, name.size());
    b.append(name);
    PutLength(&b, value.size());
    b.append(value);
    ++r_->header_count_;
  }
  // Several headers at once, as Header one by one would write them: the buffer grows once and
  // each name and value is one copy (binary-mode events have eight or nine; one by one each
  // was four appends with their capacity checks, ~130 instructions per header).
  struct HeaderField {
    std::string_view name;
    std::string_view value;
  };
  void Headers(std::span<const HeaderField> headers);
  // Headers already partly encoded: each piece's bytes are copied as they are, after their
  // zigzag length when `length` is set; `count` headers in all. Binary-mode events write their
  // constant runs (names and per-definition values, encoded once) this way.
  struct EncodedPiece {
    std::string_view bytes;
    bool length;
  };
  void EncodedHeaders(std::span<const EncodedPiece> pieces, uint32_t count);
  // `name` (then `value`) as Headers writes them, appended to `*out`, to prepare such runs.
  static void EncodeName(std::string_view name, std::string* out);
  static void EncodeHeader(std::string_view name, std::string_view value, std::string* out);

 private:
  // A non-negative length as a zigzag varint (the common one-byte case inline).
  static void PutLength(std::string* b, size_t n) {
    if (n < 64) {
      b->push_back(static_cast<char>(n << 1));
    } else {
      PutLongLength(b, n);
    }
  }
  static void PutLongLength(std::string* b, size_t n);
  // A key or value: its length (-1 for none) and bytes; where they start and their length
  // (-1: none) go to *at and *len.
  static void PutNullable(std::string* b, const char* data, size_t size, bool present, uint32_t* at, int32_t* len);
  void Start(const char* key, size_t size, bool present);
  void PutValue(const char* data, size_t size, bool present);

  OutputRecord* r_;
  size_t count_at_ = 0;  // where the header count goes (one byte kept for it); 0: no value yet
};

// Record storage reuse. A pass makes thousands of records, each a buffer of a few hundred
// bytes. NewOutputRecord appends a record to `*out` that reuses the storage of one handed back
// by RecycleOutputRecords on this thread, or a new one; write it with a RecordWriter and set
// its topic and timestamp. RecycleOutputRecords moves `*records` (written, no longer needed)
// into this thread's pool and clears it; records holding more than kMaxSpareRecordBytes are
// freed instead, and the pool holds at most kMaxSpareRecords (a few MiB), and no more than
// were asked for since the last call (records nobody builds over would fill it for good).
inline constexpr size_t kMaxSpareRecords = 4096;
inline constexpr size_t kMaxSpareRecordBytes = 4096;
OutputRecord& NewOutputRecord(std::vector<OutputRecord>* out);
void RecycleOutputRecords(std::vector<OutputRecord>* records);

// Per-call tallies (the process-wide counters live in spec::CompiledSpecs).
struct ProcessStats {
  uint64_t exchanges = 0;
  uint64_t matched = 0;
  uint64_t unmatched = 0;
  uint64_t events = 0;
  uint64_t dead_letters = 0;
};

struct ProcessorOptions {
  // Topics whose CloudEvents are written in structured mode (value = the CloudEvent JSON);
  // every other topic gets binary mode (ce_* headers, value = data).
  std::vector<std::string> structured_topics;
  bool structured_all = false;  // `eventception test` prints structured events
  std::string dead_letter_topic{kDeadLetterTopic};
};

// What an extension (the changelog/CDC stage) sees for a matched exchange.
struct MatchedExchange {
  const json::Value* exchange;         // canonical exchange
  const json::Value* context;          // expression context (see Processor)
  const spec::Operation* operation;    // the match
  int64_t timestamp_ms;                // exchange time
  std::string_view exchange_id{};
  // The exchange's `request` and `response` members as Process found them (a null value when
  // absent; null pointers: not given, look them up in `exchange`), so that stages do not
  // search the exchange's members for them again.
  const json::Value* request = nullptr;
  const json::Value* response = nullptr;
};

// Extension point: runs after the events of every matched exchange, in exchange order, on the
// thread that called Process. It appends its own records (changelog changes, tombstones, dead
// letters) to `out`.
class ExchangeStage {
 public:
  virtual ~ExchangeStage() = default;
  // Called for the same exchange before its events are processed, then OnMatched after them:
  // a stage can start memory reads there that OnMatched will need (the changelog stage fetches
  // its state's index bucket), so that the events' work overlaps them. No output, no effect a
  // later OnMatched of another exchange could see.
  virtual void Prepare(const MatchedExchange& /*matched*/, Arena* /*arena*/) {}
  virtual void OnMatched(const MatchedExchange& matched, Arena* arena,
                         std::vector<OutputRecord>* out) = 0;
};

class Processor {
 public:
  explicit Processor(std::shared_ptr<const spec::CompiledSpecs> specs, ProcessorOptions options = {});

  // Processes one canonical exchange (as produced by DecodeRecords). Never fails as a whole:
  // problems become dead-letter records in `*out`. Temporary values go to `arena`. `stats`
  // may be null.
  void Process(const json::Value& exchange, Arena* arena, std::vector<OutputRecord>* out,
               ProcessStats* stats) const;

  // Adds a stage run for every matched exchange (not owned; must outlive the Processor).
  void AddStage(ExchangeStage* stage) { stages_.push_back(stage); }

  const spec::CompiledSpecs& specs() const { return *specs_; }
  const ProcessorOptions& options() const { return options_; }

 private:
  bool Structured(std::string_view topic) const;

  // A binary-mode event's headers (ce_specversion, ce_id, ce_source, ce_type, ce_time,
  // [ce_subject], ce_eventceptionoperation, ce_eventceptionexchange, [content-type]) with what
  // is constant per definition encoded once, at construction: the runs between the values that
  // vary (id, time, subject, exchange id). Written as RecordWriter::Headers would write them.
  struct CeHeaderRuns {
    const spec::EventDefinition* event = nullptr;
    std::string to_id;        // ce_specversion, "1.0", the name ce_id
    std::string to_time;      // ce_source, source, ce_type, type, the name ce_time
    std::string to_exchange;  // ce_eventceptionoperation, operation id, the name ce_eventceptionexchange
  };
  static CeHeaderRuns MakeRuns(std::string_view source, const spec::EventDefinition& event,
                               std::string_view operation_id);
  const CeHeaderRuns* RunsOf(const spec::EventDefinition* event) const;

  std::shared_ptr<const spec::CompiledSpecs> specs_;
  ProcessorOptions options_;
  std::vector<CeHeaderRuns> ce_runs_;  // sorted by `event`
  std::vector<ExchangeStage*> stages_;
};

// Builds the expression context of contract §2 for `exchange` matched to `operation` with
// `params`. Its members reference the exchange's values (no copy); new storage is in `arena`.
json::Value BuildContext(const json::Value& exchange, const spec::Operation& operation,
                         std::span<const spec::PathParam> params, Arena* arena);

// A dead-letter record (docs/dead-letters.md). `record` is the original input: the canonical
// exchange for stages after decoding; for `decode` pass the raw text as `raw_text` instead.
struct DeadLetter {
  std::string_view stage{};  // decode, match, when, key, subject, data, topic, changelog, ...
  const Status* error = nullptr;
  const json::Value* exchange = nullptr;  // the exchange, when decoded
  std::string_view raw_text{};            // the raw record, when it could not be decoded
  std::string_view format{};              // decode: the format asked for
  const spec::EventDefinition* event = nullptr;    // the definition that failed, if any
  const spec::Expression* expression = nullptr;    // the expression that failed, if any
  const spec::Operation* operation = nullptr;      // the operation, if matched
  std::string_view exchange_id{};
  int64_t timestamp_ms = 0;
};
OutputRecord MakeDeadLetter(const DeadLetter& dead_letter, std::string_view topic = kDeadLetterTopic);

// Milliseconds since the epoch of an RFC 3339 time, or nullopt when it is not one.
std::optional<int64_t> ParseRfc3339Ms(std::string_view text);
// "2026-11-27T10:15:30.123Z" for `ms` since the epoch.
std::string FormatRfc3339Ms(int64_t ms);

}  // namespace ec::pipeline
