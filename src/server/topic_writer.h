#pragma once
// Appends pipeline output records to their topics: creates missing topics with the configured
// options, picks the partition from the key (Kafka's murmur2 partitioner, so keyed records land
// where a Java producer would put them), and builds one batch per partition. Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "pipeline/processor.h"
#include "server/config.h"

namespace ec::log {
class LogManager;
struct BatchBuilderOptions;
}

namespace ec::server {

// Kafka's murmur2 (the Java client's Utils.murmur2) of `data`.
int32_t KafkaMurmur2(std::string_view data);
// The partition Kafka's default partitioner gives `key` among `partitions`.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

class TopicWriter {
 public:
  TopicWriter(log::LogManager* logs, const ServerConfig* config) : logs_(logs), config_(config) {}

  // Creates `topic` with its configured options when it does not exist yet; returns its
  // partition count. Errors: kInvalidArgument (bad topic name), kIoError.
  Result<int32_t> EnsureTopic(const std::string& topic);

  // Appends every record durably (kSync; all partitions' fdatasyncs run concurrently).
  // Errors: the first failing topic, with its name; records of other topics may be stored
  // (the pipeline replays from its committed position, so this is at-least-once).
  Status Append(const std::vector<pipeline::OutputRecord>& records);

  // A transactional producer (exactly-once pipeline): its batches carry the producer id and
  // epoch and the transactional flag, so they stay invisible to read_committed readers until
  // a commit marker follows them.
  struct Txn {
    int64_t producer_id = -1;
    int16_t epoch = 0;
  };
  using TopicPartition = std::pair<std::string, int32_t>;
  // Appends `records` as part of `txn`'s open transaction (every batch written before this
  // returns; durable when `sync`). Adds each partition written to `*touched`. Errors as Append.
  Status AppendTransactional(const std::vector<pipeline::OutputRecord>& records, const Txn& txn, bool sync,
                             std::set<TopicPartition>* touched);
  // Writes a commit (or abort) marker of `txn` on every partition of `partitions`; each is
  // written before this returns. `done` runs once, when all are durable (or the first failed).
  void WriteMarkersAsync(const std::set<TopicPartition>& partitions, const Txn& txn, bool commit,
                         std::function<void(Status)> done);

 private:
  Status AppendWith(const std::vector<pipeline::OutputRecord>& records, const log::BatchBuilderOptions& options,
                    bool sync, std::set<TopicPartition>* touched);
  // Keeps `buffers` (batches written) for the next call's batches, within a bound.
  void KeepSpares(std::vector<std::string> buffers);
  log::LogManager* logs_;
  const ServerConfig* config_;
  std::mutex mu_;
  std::map<std::string, int32_t> known_;  // topic -> partitions; guarded by mu_
  uint32_t round_robin_ = 0;              // null keys; guarded by mu_
  // The buffers of the batches the last calls built, largest first, for the next call's
  // batches (AppendWith): a pass's batches are ~1 MiB in all, and fresh memory for them each
  // pass (glibc returns the freed blocks to the OS) cost page faults and zeroing.
  std::mutex spare_mu_;
  std::vector<std::string> spare_batches_;  // guarded by spare_mu_
  // What each topic-partition's batch of the last call took (its records' bytes), and that
  // call's record count: a new batch is sized from them, scaled to this call's record count,
  // so AppendWith reads each record once (partition and copy in one walk) instead of walking
  // them first to size the batches. A batch that is short grows (the same bytes either way).
  struct LastBatch {
    std::string topic;
    int32_t partition;
    size_t bytes;
  };
  std::vector<LastBatch> last_batches_;  // guarded by spare_mu_
  size_t last_records_ = 0;              // guarded by spare_mu_
};

}  // namespace ec::server
