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
struct OutputRecord {
  std::string topic;
  std::optional<std::string> key;                            // nullopt: null key
  std::vector<std::pair<std::string, std::string>> headers;  // in order
  std::optional<std::string> value;                          // nullopt: null value (tombstone)
  int64_t timestamp_ms = 0;                                  // the exchange time
  // The headers' string capacities summed by the HeaderSetter that wrote them (kUnknown:
  // written otherwise), for RecycleOutputRecords: reading them back there touched every
  // record's header block again, long after it left the cache.
  static constexpr size_t kUnknown = ~size_t{0};
  size_t header_bytes = kUnknown;
};

// Record storage reuse. A pass makes thousands of records whose strings (topic, ids, times,
// header names, values) each cost a heap allocation when built afresh. NewOutputRecord appends
// a record to `*out` that reuses the storage of one handed back by RecycleOutputRecords on
// this thread that had `headers` headers (records of one shape keep strings of about the same
// sizes), or a new one. Its fields keep their old contents: assign every one (HeaderSetter
// helps). RecycleOutputRecords moves `*records` (written, no longer needed) into this
// thread's pool and clears it; records with large buffers or more than kMaxSpareHeaders
// headers are freed instead, and the pool holds at most kMaxSpareRecords (a few MiB).
inline constexpr size_t kMaxSpareRecords = 4096;
inline constexpr size_t kMaxSpareRecordBytes = 4096;
inline constexpr size_t kMaxSpareHeaders = 15;
OutputRecord& NewOutputRecord(std::vector<OutputRecord>* out, size_t headers = 1);
void RecycleOutputRecords(std::vector<OutputRecord>* records);

// Overwrites a record's headers in order, reusing the strings already there; given the record,
// it also sets its header_bytes.
class HeaderSetter {
 public:
  explicit HeaderSetter(std::vector<std::pair<std::string, std::string>>* headers) : headers_(headers) {}
  explicit HeaderSetter(OutputRecord* record) : headers_(&record->headers), bytes_(&record->header_bytes) {}
  ~HeaderSetter() {
    headers_->resize(n_);
    if (bytes_ == nullptr) return;
    size_t bytes = 0;  // the strings were just written: in cache
    for (const auto& [k, v] : *headers_) bytes += k.capacity() + v.capacity();
    *bytes_ = bytes;
  }
  HeaderSetter(const HeaderSetter&) = delete;
  HeaderSetter& operator=(const HeaderSetter&) = delete;
  void Add(std::string_view name, std::string_view value) {
    if (n_ < headers_->size()) {
      // A reused record of the same shape mostly has this name already: compared, not copied.
      std::string& old_name = (*headers_)[n_].first;
      if (old_name != name) old_name.assign(name);
      (*headers_)[n_].second.assign(value);
    } else {
      headers_->emplace_back(name, value);
    }
    ++n_;
  }

 private:
  std::vector<std::pair<std::string, std::string>>* headers_;
  size_t* bytes_ = nullptr;
  size_t n_ = 0;
};

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

  std::shared_ptr<const spec::CompiledSpecs> specs_;
  ProcessorOptions options_;
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
