#pragma once
// LogManager: the durable topics under one data directory. Creates, deletes, lists topics and
// partitions; holds per-topic configs (persisted); runs the group-commit flusher thread and the
// maintenance thread (retention, compaction, roll by age); owns GroupOffsets and the producer
// id allocator. This is the in-process API the pipeline and the Kafka server share.
//
// Layout: <data_dir>/<topic>-<partition>/ per partition, <data_dir>/.topics/<topic>.conf per
// topic (partition count and config overrides); see docs/log-format.md.
// Threading: every method is thread-safe.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "log/env.h"
#include "log/flusher.h"
#include "log/group_offsets.h"
#include "log/journal.h"
#include "log/partition_log.h"
#include "log/topic_config.h"

namespace ec::log {

// The default of LogManagerOptions::journal: true, unless EC_LOG_JOURNAL=0 is in the
// environment (to run a whole test suite with per-partition fdatasyncs).
bool JournalDefaultFromEnvironment();
// The default of LogManagerOptions::journal_direct_io: true, unless EC_LOG_JOURNAL_DIRECT=0 is
// in the environment (A/B measurements, and a way out on a filesystem that misbehaves with it).
bool JournalDirectIoDefaultFromEnvironment();

struct LogManagerOptions {
  std::string data_dir;
  Env* env = nullptr;  // nullptr = Env::Default(); not owned
  TopicConfig default_config;  // broker-level defaults (log.retention.ms etc.)
  int32_t default_partitions = 1;
  int32_t max_partitions = 10000;
  // Periodic fdatasync of kWritten appends (ms); <= 0 disables (only kSync appends sync).
  int64_t flush_interval_ms = 1000;
  // fdatasyncs that may run at once for group commit (see flusher.h). An exactly-once pipeline
  // pass syncs its outputs, state records and offset record together (about 10 partitions for
  // the shop spec) and ingest syncs the raw topic meanwhile: with fewer threads than that, the
  // pass's first sync round runs in several serial waves (docs/exactly-once.md, "Cost").
  int32_t sync_threads = 16;
  // How often retention/compaction/age-roll run; <= 0 disables the maintenance thread
  // (tests then call RunMaintenance themselves).
  int64_t maintenance_interval_ms = 5000;
  // Memory of one compaction round's key -> latest offset map (PartitionLog::Compact; Kafka's
  // log.cleaner.dedupe.buffer.size): a round maps what fits, the next goes on from there.
  size_t compaction_map_bytes = PartitionLog::kDefaultCompactionMapBytes;
  // Bytes of each partition's newest data kept in the OS page cache; older bytes are written
  // back and dropped as appends go on (PartitionLog::SetPageCacheWindow; 0 = no limit). Fresh
  // page-cache pages are the largest cost of a produce on VMs whose hypervisor takes back free
  // guest memory (docs/kafka.md, Performance); consumers further behind read from disk.
  uint64_t page_cache_window_bytes = 64ull << 20;
  // Zero-filled space kept ahead of each partition's active segment (PartitionLog::
  // SetPreallocateBytes; 0 = off): appends then overwrite allocated blocks, and their fdatasync
  // costs no journal commit for the file's growth (docs/log-format.md). Up to this much per
  // partition, starting at 64 KiB and growing with the segment.
  uint64_t preallocate_bytes = 8ull << 20;
  // Commit journal (journal.h, docs/log-format.md "Commit journal"): every append is also
  // written to <data_dir>/.journal/, and a durable append waits for one fdatasync of the
  // journal instead of one per partition file; partitions are fdatasynced at checkpoints.
  // Default true (see JournalDefaultFromEnvironment); false = one fdatasync per partition.
  // Segments are then not preallocated (their fdatasyncs are rare): preallocate_bytes applies
  // to the journal file instead.
  bool journal = JournalDefaultFromEnvironment();
  // Checkpoint after this many journal bytes or this age of the oldest entry (ms).
  uint64_t journal_checkpoint_bytes = 64ull << 20;
  int64_t journal_checkpoint_ms = 5000;
  // Journal files written with direct I/O (JournalOptions::direct_io).
  bool journal_direct_io = JournalDirectIoDefaultFromEnvironment();
  // At startup, zero-fill the journal's first file and a spare for the next one up to a
  // checkpoint's size (JournalOptions::start_fill_bytes), so a fresh data dir reaches the
  // recycled steady state before traffic. Off by default here (tests open many journals);
  // the server turns it on (log.journal_fill_on_start).
  bool journal_fill_on_start = false;
};

struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  bool internal = false;  // e.g. __consumer_offsets
  std::shared_ptr<const TopicConfig> config;
};

// One change of IncrementalAlterConfigs / AlterConfigs.
struct ConfigChange {
  enum class Op : uint8_t { kSet = 0, kDelete = 1 };  // kDelete = back to the default
  std::string name;
  Op op = Op::kSet;
  std::string value;
};

class LogManager {
 public:
  // Opens (recovering every partition) or creates `options.data_dir`. Errors: IoError,
  // Corruption (unreadable topic metadata, with its path).
  static Result<std::unique_ptr<LogManager>> Open(LogManagerOptions options);
  ~LogManager();  // stops background threads, flushes and closes every partition

  // Creates a topic. Errors: InvalidArgument (bad name or partition count, or a bad config:
  // the message names the key), AlreadyExists. With validate_only nothing is created.
  Status CreateTopic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& configs = {},
                     bool validate_only = false);
  // Deletes the topic and its data (and its committed group offsets). NotFound if absent.
  // PartitionLogs already handed out keep working on their open files until released.
  Status DeleteTopic(const std::string& name);
  // Grows the topic to `total` partitions. InvalidArgument if total <= current.
  Status CreatePartitions(const std::string& name, int32_t total, bool validate_only = false);
  std::vector<TopicInfo> ListTopics() const;
  std::optional<TopicInfo> DescribeTopic(const std::string& name) const;

  // AlterConfigs (replace_all = true: unspecified overrides revert to defaults) or
  // IncrementalAlterConfigs (replace_all = false). Errors: NotFound, InvalidArgument.
  Status AlterConfigs(const std::string& topic, const std::vector<ConfigChange>& changes,
                      bool replace_all, bool validate_only = false);

  // The partition, or nullptr if the topic/partition does not exist. The shared_ptr keeps it
  // usable even if the topic is deleted meanwhile. Release every PartitionLog before
  // destroying the LogManager (their group commit runs on its Flusher).
  std::shared_ptr<PartitionLog> GetPartition(const std::string& topic, int32_t partition) const;

  GroupOffsets* group_offsets() const { return group_offsets_.get(); }
  Flusher* flusher() const { return flusher_.get(); }
  // The commit journal, or null when LogManagerOptions::journal is off.
  Journal* journal() const { return journal_.get(); }
  const LogManagerOptions& options() const { return options_; }

  // A fresh producer id for InitProducerId, unique across restarts. Errors: IoError.
  Result<int64_t> AllocateProducerId();

  // One pass of retention, age roll and compaction over every partition at `now_ms`.
  Status RunMaintenance(int64_t now_ms);

  // Whether `name` is a legal Kafka topic name ([A-Za-z0-9._-]{1,249}, not "." or "..").
  static Status ValidateTopicName(const std::string& name);

 private:
  explicit LogManager(LogManagerOptions options);
  Status Load();
  // Replays the commit journal into the opened partitions, makes them durable and starts a new
  // journal (Load, before GroupOffsets reads __consumer_offsets).
  Status RecoverJournal();
  // With log.journal off: replays a journal left by an earlier run with it on, then removes it.
  Status DrainJournal();
  // Replays the journal in `dir` into the opened partitions and fdatasyncs the ones it touched.
  Result<Journal::ReplayResult> ReplayJournal(const std::string& dir);
  Status OpenTopicPartitions(const std::string& name, int32_t from, int32_t to,
                             std::shared_ptr<const TopicConfig> config);
  Status WriteTopicMeta(const std::string& name, int32_t partitions, const TopicConfig& config);
  void MaintenanceLoop();

  struct Topic {
    int32_t partitions = 0;
    bool internal = false;
    std::shared_ptr<const TopicConfig> config;
    std::vector<std::shared_ptr<PartitionLog>> logs;
  };

  LogManagerOptions options_;
  Env* env_;
  std::unique_ptr<Flusher> flusher_;
  std::unique_ptr<Journal> journal_;  // after the partitions are gone (they Forget themselves)
  mutable std::mutex mu_;  // guards topics_ and producer id state
  std::map<std::string, Topic> topics_;
  std::unique_ptr<GroupOffsets> group_offsets_;
  int64_t next_producer_id_ = 0;
  int64_t producer_id_limit_ = 0;  // persisted block end
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stop_ = false;
  std::thread maintenance_thread_;
};

}  // namespace ec::log
