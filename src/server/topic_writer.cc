#include "server/topic_writer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>

#include "log/journal.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"

namespace ec::server {

int32_t KafkaMurmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t len = static_cast<uint32_t>(data.size());
  uint32_t h = seed ^ len;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  uint32_t len4 = len / 4;
  for (uint32_t i = 0; i < len4; i++) {
    uint32_t i4 = i * 4;
    uint32_t k = p[i4] | (p[i4 + 1] << 8) | (p[i4 + 2] << 16) | (uint32_t(p[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (len % 4) {
    case 3: h ^= uint32_t(p[(len & ~3u) + 2]) << 16; [[fallthrough]];
    case 2: h ^= uint32_t(p[(len & ~3u) + 1]) << 8; [[fallthrough]];
    case 1: h ^= p[len & ~3u]; h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  if (partitions <= 1) return 0;
  return static_cast<int32_t>((static_cast<uint32_t>(KafkaMurmur2(key)) & 0x7fffffffu) %
                              static_cast<uint32_t>(partitions));
}

Result<int32_t> TopicWriter::EnsureTopic(const std::string& topic) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = known_.find(topic);
    if (it != known_.end()) return it->second;
  }
  std::optional<log::TopicInfo> info = logs_->DescribeTopic(topic);
  if (!info) {
    const TopicOptions& o = config_->OptionsFor(topic);
    std::map<std::string, std::string> configs;
    configs["retention.ms"] = std::to_string(o.retention_ms);
    configs["retention.bytes"] = std::to_string(o.retention_bytes);
    Status s = logs_->CreateTopic(topic, o.partitions, configs);
    if (!s.ok() && s.code() != ErrorCode::kAlreadyExists) {
      return Status(s.code(), "cannot create topic '" + topic + "': " + s.message());
    }
    info = logs_->DescribeTopic(topic);
    if (!info) return Internal("topic '" + topic + "' vanished after creation");
  }
  std::lock_guard<std::mutex> lock(mu_);
  known_[topic] = info->partitions;
  return info->partitions;
}

Status TopicWriter::Append(const std::vector<pipeline::OutputRecord>& records) {
  return AppendWith(records, log::BatchBuilderOptions{}, true, nullptr);
}

Status TopicWriter::AppendTransactional(const std::vector<pipeline::OutputRecord>& records, const Txn& txn,
                                        bool sync, std::set<TopicPartition>* touched) {
  log::BatchBuilderOptions o;
  o.producer_id = txn.producer_id;
  o.producer_epoch = txn.epoch;
  o.transactional = true;
  return AppendWith(records, o, sync, touched);
}

void TopicWriter::WriteMarkersAsync(const std::set<TopicPartition>& partitions, const Txn& txn, bool commit,
                                    std::function<void(Status)> done) {
  struct State {
    std::mutex mu;
    size_t pending = 1;  // released after the loop, so `done` cannot run early
    Status first_error;
    std::function<void(Status)> done;
  };
  auto st = std::make_shared<State>();
  st->done = std::move(done);
  auto finish = [st](const Status& s) {
    std::function<void(Status)> cb;
    Status result;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (!s.ok() && st->first_error.ok()) st->first_error = s;
      if (--st->pending > 0) return;
      cb = std::move(st->done);
      result = st->first_error;
    }
    if (cb) cb(result);
  };
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const TopicPartition& tp : partitions) {
    std::shared_ptr<log::PartitionLog> log = logs_->GetPartition(tp.first, tp.second);
    if (log == nullptr) {
      finish(NotFound("topic '" + tp.first + "' has no partition " + std::to_string(tp.second)));
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(st->mu);
      ++st->pending;
    }
    std::string marker = log::RecordBatchBuilder::MakeControlBatch(
        txn.producer_id, txn.epoch, commit ? log::ControlType::kCommit : log::ControlType::kAbort, 0, now);
    std::string topic = tp.first;
    log->AppendAsync(std::move(marker), {log::Durability::kSync}, [finish, topic](const log::AppendResult& ar) {
      finish(ar.ok() ? Status::Ok() : IoError("transaction marker on '" + topic + "' failed: " + ar.message));
    });
  }
  finish(Status::Ok());
}

void TopicWriter::KeepSpares(std::vector<std::string> buffers) {
  // Bounded: a pass with an unusually large batch must not pin its memory for good.
  constexpr size_t kMaxSpares = 64;
  constexpr size_t kMaxSpareBytes = 16u << 20;
  std::lock_guard<std::mutex> lock(spare_mu_);
  for (std::string& b : buffers) spare_batches_.push_back(std::move(b));
  std::sort(spare_batches_.begin(), spare_batches_.end(),
            [](const std::string& a, const std::string& b) { return a.capacity() > b.capacity(); });
  size_t kept = 0, bytes = 0;
  for (std::string& b : spare_batches_) {
    if (kept == kMaxSpares) break;
    if (bytes + b.capacity() > kMaxSpareBytes) continue;  // freed below
    bytes += b.capacity();
    if (&spare_batches_[kept] != &b) spare_batches_[kept] = std::move(b);
    ++kept;
  }
  spare_batches_.resize(kept);
}

Status TopicWriter::AppendWith(const std::vector<pipeline::OutputRecord>& records,
                               const log::BatchBuilderOptions& options, bool sync,
                               std::set<TopicPartition>* touched) {
  if (records.empty()) return Status::Ok();
  // A pass writes to a handful of topic-partitions: a short list searched linearly beats a map
  // keyed by a copied topic string per record, and each topic's partition count is looked up
  // (under the mutex) once per call rather than once per record.
  struct Target {
    std::string_view topic;
    int32_t partition;
    log::RecordBatchBuilder builder;
    bool all_keyed = true;  // so the log need not decode a compacted topic's batch to check
  };
  std::vector<Target> builders;
  builders.reserve(16);
  // Passes interleave a few topics (events, changelogs, state): each one's partition count is
  // asked for (EnsureTopic: mutex + map) once per call, not at every change of topic.
  struct Known {
    std::string_view topic;
    int32_t partitions;
  };
  std::vector<Known> topics;
  topics.reserve(8);
  // The last calls' batch buffers and batch sizes. Each batch is sized when its first record
  // comes, from what its topic-partition took last call (scaled by the record counts), so
  // the records are walked once: each record's partition is found and its bytes copied in the
  // same step. A walk to size the batches first read every record twice, records the pipeline
  // thread wrote on the other core (~1 MB a pass, latency-bound).
  std::vector<std::string> spares;
  std::vector<LastBatch> last;
  size_t last_records = 0;
  {
    std::lock_guard<std::mutex> lock(spare_mu_);
    spares.swap(spare_batches_);
    last.swap(last_batches_);
    last_records = last_records_;
  }
  auto start_batch = [&](Target& t) {
    // No history (the first call, a new topic-partition): start small and grow.
    size_t want = 16u << 10;
    for (const LastBatch& l : last) {
      if (l.partition == t.partition && l.topic == t.topic) {
        const size_t scaled = last_records == 0 ? l.bytes : l.bytes / last_records * records.size() +
                                                                 l.bytes % last_records * records.size() / last_records;
        want = scaled + scaled / 8 + 1024;  // a little over: one growth copies the whole batch
        break;
      }
    }
    // The smallest spare that holds it; none: a fresh buffer (a smaller spare would be
    // reallocated by the reserve all the same).
    size_t best = spares.size();
    for (size_t k = 0; k < spares.size(); ++k) {
      if (spares[k].capacity() >= want + log::kBatchHeaderSize &&
          (best == spares.size() || spares[k].capacity() < spares[best].capacity())) {
        best = k;
      }
    }
    if (best == spares.size()) {
      t.builder.Reserve(want);
      return;
    }
    t.builder.Reserve(want, std::move(spares[best]));
    if (best + 1 != spares.size()) spares[best] = std::move(spares.back());
    spares.pop_back();
  };
  // The records were written by the pipeline thread on the other core; each one's buffer is
  // a separate heap block, so the next ones' are fetched ahead of use.
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < records.size(); ++i) {
    const pipeline::OutputRecord& r = records[i];
    if (i + kAhead < records.size()) {
      const std::string_view next = records[i + kAhead].encoded();
      for (size_t at = 0; at < next.size() && at < 2048; at += 64) __builtin_prefetch(next.data() + at);
      // Its topic name too when it is a heap block of its own (names over 15 characters): the
      // compares below were the first touch of it (memcmp in the commit thread's profile).
      __builtin_prefetch(records[i + kAhead].topic.data());
    }
    const Known* known = nullptr;
    for (const Known& k : topics) {
      if (k.topic == r.topic) {
        known = &k;
        break;
      }
    }
    if (known == nullptr) {
      Result<int32_t> n = EnsureTopic(r.topic);
      if (!n.ok()) {
        // The buffers taken stay for the next call.
        for (Target& t : builders) {
          if (Result<std::string> b = t.builder.Build(); b.ok()) spares.push_back(std::move(b).value());
        }
        KeepSpares(std::move(spares));
        return n.status();
      }
      known = &topics.emplace_back(Known{r.topic, *n});
    }
    const int32_t partitions = known->partitions;
    int32_t p = 0;
    const std::optional<std::string_view> key = r.key();
    if (key) {
      p = PartitionForKey(*key, partitions);
    } else if (partitions > 1) {
      std::lock_guard<std::mutex> lock(mu_);
      p = static_cast<int32_t>(round_robin_++ % static_cast<uint32_t>(partitions));
    }
    size_t t = 0;
    while (t < builders.size() && !(builders[t].partition == p && builders[t].topic == r.topic)) ++t;
    if (t == builders.size()) {
      builders.push_back(Target{r.topic, p, log::RecordBatchBuilder(options)});
      start_batch(builders.back());
    }
    if (!key) builders[t].all_keyed = false;
    // Each record is already in the record layout (OutputRecord): its bytes are copied behind
    // the few fields that depend on its place in the batch.
    builders[t].builder.AddEncoded(r.timestamp_ms, r.encoded());
  }
  // This call's batch sizes, for the next call's.
  last.clear();
  for (const Target& t : builders) {
    last.push_back(LastBatch{std::string(t.topic), t.partition, t.builder.uncompressed_size() - log::kBatchHeaderSize});
  }
  {
    std::lock_guard<std::mutex> lock(spare_mu_);
    last_batches_ = std::move(last);
    last_records_ = records.size();
  }
  // The batches' buffers after their appends (and spares this call did not use), kept for the
  // next call.
  std::vector<std::string> built = std::move(spares);
  built.reserve(built.size() + builders.size());
  // One batch per partition, appended concurrently so their fdatasyncs share group commits.
  // With the commit journal, the journal's sync thread is woken once, after the last of them
  // (AppendOptions::defer_journal_sync): woken by the first, its fdatasync covered that one
  // (and the pass's offset record) only and the others waited for a second one.
  log::Journal* journal = sync ? logs_->journal() : nullptr;
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;
  Status first_error;
  for (Target& t : builders) {
    const std::string topic_name(t.topic);
    std::shared_ptr<log::PartitionLog> log = logs_->GetPartition(topic_name, t.partition);
    if (log == nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      known_.erase(topic_name);
      if (first_error.ok()) first_error = NotFound("topic '" + topic_name + "' has no partition " + std::to_string(t.partition));
      continue;
    }
    Result<std::string> batch = t.builder.Build();
    if (!batch.ok()) {
      if (first_error.ok()) first_error = batch.status();
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      ++pending;
    }
    std::string topic = topic_name;
    if (touched != nullptr) touched->insert({topic_name, t.partition});
    // Built just now (its CRC set by Build): the log need not compute it again, nor decode the
    // records of a compacted topic's batch when each of them has a key. Written from our buffer
    // (AppendInPlace writes it before it returns), which is then kept for the next call.
    std::string& bytes = built.emplace_back(std::move(batch).value());
    log->AppendInPlace(bytes.data(), bytes.size(),
                       {.durability = sync ? log::Durability::kSync : log::Durability::kWritten,
                        .defer_journal_sync = journal != nullptr,
                        .built_here = true,
                        .all_keyed = t.all_keyed},
                       [&, topic](const log::AppendResult& ar) {
                         std::lock_guard<std::mutex> lock(mu);
                         if (!ar.ok() && first_error.ok()) {
                           first_error = IoError("append to '" + topic + "' failed: " + ar.message);
                         }
                         if (--pending == 0) cv.notify_all();
                       });
  }
  KeepSpares(std::move(built));
  // A failed journal fails every waiting append itself (its sync thread's error path).
  if (journal != nullptr) (void)journal->RequestSync();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return pending == 0; });
  return first_error;
}

}  // namespace ec::server
