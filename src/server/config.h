#pragma once
// The server's configuration: defaults, then the YAML file (--config), then command-line
// overrides. docs/configuration.md documents every option; `eventception serve --help` lists
// them too. Errors name file:line:col, quote the offending text and say what to write instead.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/source_config.h"

namespace ec::cdc {
struct RocksStateOptions;
}  // namespace ec::cdc

namespace ec::server {

enum class CloudEventsMode { kBinary, kStructured };

// Options of a topic the server creates (output topics, the raw topic, the dead-letter topic).
struct TopicOptions {
  int32_t partitions = 1;
  int64_t retention_ms = -1;     // -1: keep forever
  int64_t retention_bytes = -1;  // per partition; -1: unlimited
  CloudEventsMode cloudevents_mode = CloudEventsMode::kBinary;
};

struct ServerConfig {
  // listeners
  std::string http_address = "127.0.0.1:8080";
  int http_threads = 4;
  std::string kafka_address = "127.0.0.1:9092";
  std::string kafka_advertised;  // host:port clients should connect to; empty: the bound one
  // storage
  std::string data_dir = "./eventception-data";
  // log.preallocate_bytes: zero-filled space kept ahead of each partition's active segment, so
  // an append's fdatasync writes data only (log::LogManagerOptions::preallocate_bytes; 0 = off).
  uint64_t log_preallocate_bytes = 8ull << 20;
  // log.sync_threads: fdatasyncs that may run at once (log::LogManagerOptions::sync_threads).
  int log_sync_threads = 16;
  // log.journal: durable appends wait for one fdatasync of a broker-wide commit journal instead
  // of one per partition file (log::LogManagerOptions::journal; docs/log-format.md).
  // Unset: the log's default (true; EC_LOG_JOURNAL=0 in the environment makes it false, for
  // running test suites in both modes).
  bool log_journal = true;
  bool log_journal_set = false;
  // log.journal_direct_io: the journal's files are written with direct I/O, bypassing the page
  // cache (log::LogManagerOptions::journal_direct_io). Unset: the log's default (true;
  // EC_LOG_JOURNAL_DIRECT=0 in the environment makes it false).
  bool log_journal_direct_io = true;
  bool log_journal_direct_io_set = false;
  // log.journal_fill_on_start: the journal's first file and its spare are zero-filled to a
  // checkpoint's size at startup (log::LogManagerOptions::journal_fill_on_start).
  bool log_journal_fill_on_start = true;
  // log.compaction_map_bytes: memory of one compaction round's key map
  // (log::LogManagerOptions::compaction_map_bytes).
  uint64_t log_compaction_map_bytes = 8ull << 20;
  // limits
  uint64_t max_body_bytes = 16ull << 20;   // one HTTP request body (after gunzip too)
  uint64_t max_record_bytes = 1ull << 20;  // one raw exchange record
  uint32_t max_json_depth = 64;            // nesting of a record and of its bodies
  int64_t max_lag_records = 100000;        // ingest answers 429 when the pipeline lags more
  int retry_after_seconds = 1;             // Retry-After of those 429s
  // ingest
  std::string raw_topic = "api-logs";
  std::string default_format = "detect";
  std::string dead_letter_topic = "eventception.dlq";
  // An exchange id ingested within this window is acknowledged, not appended again (0 = off).
  int64_t dedupe_window_ms = 24ll * 3600 * 1000;
  // RocksDB memory of the dedupe index (DedupeOptions::memory_bytes): write buffers + block cache.
  uint64_t dedupe_memory_bytes = 16ull << 20;
  // Bytes per second the dedupe index's flushes and compactions may write (DedupeOptions::
  // write_rate_bytes; 0 = unlimited).
  uint64_t dedupe_write_rate_bytes = 48ull << 20;
  // Bytes of the dedupe index's in-memory "certainly new" filter (DedupeOptions::filter_bytes;
  // 0 = none).
  uint64_t dedupe_filter_bytes = 8ull << 20;
  // processing.guarantee: exactly_once (true, default) or at_least_once (docs/exactly-once.md).
  bool exactly_once = true;
  // processing.overlap_passes: the next pass is read and processed while the last one commits
  // (RunnerOptions::overlap_passes, docs/exactly-once.md "Overlapped passes").
  bool overlap_passes = true;
  // processing.input_sync_hold_us: a durable append to the raw topics may wait this long for
  // the journal sync of the pass that reads it (RunnerOptions::input_sync_hold_us).
  int64_t input_sync_hold_us = 0;
  // processing.background_nice: the nice value the background threads are lowered to
  // (RunnerOptions::background_nice; 0 = off).
  int background_nice = 0;
  // The changelog state store (cdc::RocksStateOptions, docs/changelogs.md "State"): bytes of
  // the hot-key cache (0 = off), and how many bytes / how long committed state writes wait
  // to be written to RocksDB in one batch (0 bytes = at once).
  uint64_t state_cache_bytes = 48ull << 20;
  uint64_t state_write_defer_bytes = 4ull << 20;
  int64_t state_write_defer_ms = 1000;
  // RocksDB memory of the state store (cdc::RocksStateOptions::rocksdb_memory_bytes).
  uint64_t state_memory_bytes = 16ull << 20;
  // processing.state_write_rate_bytes: bytes per second the state store's RocksDB flushes and
  // compactions may write (cdc::RocksStateOptions::write_rate_bytes; 0 = unlimited).
  uint64_t state_write_rate_bytes = 48ull << 20;
  // webhooks
  std::vector<std::string> webhook_allow;  // CIDRs exempt from the SSRF guard (--webhook-allow)
  // capture sources run inside serve (source_config.h)
  SyslogSourceConfig syslog;
  ProxySourceConfig proxy;
  FirehoseConfig firehose;
  std::vector<FileSourceConfig> files;
  // topics
  TopicOptions topic_defaults;
  std::map<std::string, TopicOptions> topics;  // per-topic overrides, by exact name

  // Options for `topic`: its entry in `topics`, else topic_defaults.
  const TopicOptions& OptionsFor(const std::string& topic) const;
};

// Reads `path` over `config` (keys absent from the file keep their value). Errors:
// kIoError (unreadable), kInvalidArgument / kParseError naming path:line:col.
Status LoadConfigFile(const std::string& path, ServerConfig* config);
// Same, from YAML text; `name` is used in error messages.
Status LoadConfigText(const std::string& text, const std::string& name, ServerConfig* config);

// One line per option, "key  default  what" (for --help and docs).
std::string DescribeConfigOptions();

// "binary" / "structured".
const char* CloudEventsModeName(CloudEventsMode mode);

// The changelog state store's options from `config` (serve and the offline replay open the
// same store with the same limits).
cdc::RocksStateOptions StateStoreOptions(const ServerConfig& config);

}  // namespace ec::server
