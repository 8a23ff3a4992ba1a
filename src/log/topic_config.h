#pragma once
// Per-topic configuration with Kafka's names, defaults and validation. Immutable once built;
// partitions hold a shared_ptr<const TopicConfig> that LogManager swaps on AlterConfigs.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "log/record_batch.h"

namespace ec::log {

struct TopicConfig {
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;   // retention.ms (-1 = forever)
  int64_t retention_bytes = -1;                    // retention.bytes per partition (-1 = none)
  int64_t segment_bytes = 1LL << 30;               // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;     // segment.ms
  bool cleanup_delete = true;                      // cleanup.policy contains "delete"
  bool cleanup_compact = false;                    // cleanup.policy contains "compact"
  int64_t delete_retention_ms = 24LL * 3600 * 1000;  // delete.retention.ms (tombstone lifetime)
  int64_t min_compaction_lag_ms = 0;               // min.compaction.lag.ms
  double min_cleanable_dirty_ratio = 0.5;          // min.cleanable.dirty.ratio (Kafka's default)
  TimestampType message_timestamp_type = TimestampType::kCreateTime;  // message.timestamp.type
  int32_t max_message_bytes = 1048588;             // max.message.bytes (per batch)
  int32_t index_interval_bytes = 4096;             // index.interval.bytes (sparse index step)
  int64_t flush_ms = -1;                           // flush.ms (-1 = the manager's flush interval)

  // The explicit settings (name -> value) as given, for DescribeConfigs "is default".
  std::map<std::string, std::string> overrides;

  // Applies `settings` (Kafka names) over `base`. Unknown names are InvalidArgument naming the
  // key and listing the nearest known one; bad values are InvalidArgument quoting the value.
  // Known Kafka names that we store but do not act on (e.g. min.insync.replicas) are accepted.
  static Result<TopicConfig> FromMap(const std::map<std::string, std::string>& settings,
                                     const TopicConfig& base);

  struct Entry {
    std::string name;
    std::string value;
    bool is_default = true;
    bool read_only = false;
  };
  // Every known config with its effective value (DescribeConfigs).
  std::vector<Entry> Describe() const;

  // Serialised form stored in the topic directory ("name=value\n" per override).
  std::string Serialize() const;
  static Result<TopicConfig> Deserialize(std::string_view text, const TopicConfig& base);
};

// Whether `name` is a Kafka topic config we know (accepted by FromMap).
bool IsKnownTopicConfig(std::string_view name);

}  // namespace ec::log
