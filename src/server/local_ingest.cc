#include "server/local_ingest.h"

#include <chrono>
#include <future>

#include "base/clock.h"
#include "json/document.h"
#include "log/log_manager.h"
#include "pipeline/processor.h"
#include "server/dedupe_index.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"

namespace ec::server {
LocalIngest::LocalIngest(IngestOptions options, std::string dead_letter_topic, log::LogManager* logs,
                         TopicWriter* writer, SpecsProvider specs,
                         MetricsRegistry* metrics, std::string source)
    : options_(std::move(options)),
      dead_letter_topic_(std::move(dead_letter_topic)),
      logs_(logs),
      writer_(writer),
      specs_(std::move(specs)),
      metrics_(metrics),
      source_(std::move(source)) {
  ingested_ = metrics_->GetCounter("eventception_ingested_total",
                                   "Exchanges durably appended to the raw topic", {{"source", source_}});
  dead_lettered_ = metrics_->GetCounter("eventception_source_dead_letters_total",
                                        "Records of in-process sources that could not be decoded",
                                        {{"source", source_}});
  duplicates_ = metrics_->GetCounter("eventception_ingest_duplicates_total",
                                     "Exchanges acknowledged without an append: their id was ingested within "
                                     "ingest.dedupe_window",
                                     {{"source", source_}});
}

Result<LocalIngestResult> LocalIngest::AppendTexts(std::span<const std::string> texts,
                                                   std::string_view format) {
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return AppendViews(views, format);
}

Result<LocalIngestResult> LocalIngest::AppendViews(std::span<const std::string_view> texts,
                                                   std::string_view format) {
  Arena arena(64 << 10);
  std::vector<RawRecord> records;
  records.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    RawRecord r;
    r.index = i;
    if (texts[i].size() > options_.max_record_bytes) {
      r.error = LimitExceeded("the record has " + std::to_string(texts[i].size()) +
                              " bytes, more than limits.max_record_bytes (" +
                              std::to_string(options_.max_record_bytes) + ")");
    } else {
      // Parsed by DecodeForIngest, and only when the canonical fast path declines the record.
      r.parsed = false;
      r.text = texts[i];
    }
    records.push_back(std::move(r));
  }
  return AppendRecords(records, texts, format, &arena);
}

Result<LocalIngestResult> LocalIngest::AppendRecords(const std::vector<RawRecord>& records,
                                                     std::span<const std::string_view> texts,
                                                     std::string_view format, Arena* arena) {
  // Sources call from their own threads; each keeps its buffer between calls.
  thread_local IngestBatch batch;
  IngestBatch& accepted = batch;
  accepted.Clear();
  std::vector<Rejection> rejected;
  std::shared_ptr<const spec::CompiledSpecs> specs = specs_ ? specs_() : nullptr;
  DecodeForIngest(records, format, specs.get(), options_, arena, &accepted, &rejected);
  LocalIngestResult result;
  // Duplicates are dropped; the others are claimed until the append's outcome is known.
  std::vector<std::string_view> claimed;
  const int64_t now = WallClockMs();
  if (dedupe_ != nullptr && !accepted.empty()) {
    result.duplicates = ClaimNewExchanges(*dedupe_, now, &accepted, &claimed);
    duplicates_->Inc(result.duplicates);
  }
  Status appended = AppendCanonical(accepted);
  // The views in `claimed` point into `accepted`, which is unchanged until the next call.
  if (!claimed.empty()) dedupe_->Release(claimed, appended.ok(), now);
  EC_RETURN_IF_ERROR(appended);
  result.accepted = accepted.size();
  for (const Rejection& r : rejected) {
    Status why = InvalidArgument(r.reason);
    std::string_view raw = r.index < texts.size() ? texts[r.index] : std::string_view();
    EC_RETURN_IF_ERROR(DeadLetter(raw, why, format));
    ++result.dead_letters;
  }
  return result;
}

Status LocalIngest::AppendCanonical(IngestBatch& records) {
  if (records.empty()) return Status::Ok();
  std::optional<log::TopicInfo> topic = logs_->DescribeTopic(options_.raw_topic);
  int32_t partitions = topic ? topic->partitions : 0;
  if (partitions <= 0) return Unavailable("raw topic '" + options_.raw_topic + "' does not exist");
  int32_t p = static_cast<int32_t>(next_partition_.fetch_add(1) % static_cast<uint32_t>(partitions));
  std::shared_ptr<log::PartitionLog> log = logs_->GetPartition(options_.raw_topic, p);
  if (log == nullptr) return Unavailable("raw topic partition missing");
  // The batch's own buffer, sealed in place (no copy into a record batch builder).
  EC_ASSIGN_OR_RETURN(std::span<char> all, records.Seal(WallClockMs()));
  std::promise<log::AppendResult> appended;
  std::future<log::AppendResult> outcome = appended.get_future();
  log::AppendOptions durable;
  durable.durability = log::Durability::kSync;
  durable.built_here = true;  // Seal set the CRCs just now: the log need not compute them again
  log->AppendInPlace(all.data(), all.size(), durable,
                     [&appended](const log::AppendResult& r) { appended.set_value(r); });
  log::AppendResult ar = outcome.get();
  if (!ar.ok()) {
    return Unavailable("could not append to '" + options_.raw_topic + "': " + ar.message);
  }
  ingested_->Inc(records.size());
  return Status::Ok();
}

Status LocalIngest::DeadLetter(std::string_view raw, const Status& why, std::string_view format) {
  pipeline::DeadLetter dl;
  dl.stage = "decode";
  dl.error = &why;
  dl.raw_text = raw;
  dl.format = format;
  dl.timestamp_ms = WallClockMs();
  std::vector<pipeline::OutputRecord> out{pipeline::MakeDeadLetter(dl, dead_letter_topic_)};
  Status s = writer_->Append(out);
  if (s.ok()) dead_lettered_->Inc();
  return s;
}

}  // namespace ec::server
