#pragma once
// Idempotent ingest: which exchange ids were ingested within the dedupe window
// (ingest.dedupe_window, default 24 h), so a retried delivery is acknowledged without being
// appended again. docs/exactly-once.md, "Idempotent ingest".
//
// The raw topics are the source of truth. An indexer reads them (api-logs and api-logs.*,
// record key = exchange id, record timestamp = ingest time) into RocksDB under
// <data_dir>/ingest-dedupe together with the offset it has read to, in one WriteBatch; on
// open it catches up from those offsets before ingest starts, so every id that reached the
// log before a crash (kill -9 included) is known after the restart. Ids accepted since the
// last indexing round are held in memory (claimed: append in flight; stored: appended, not
// indexed yet). Entries older than the window are deleted (a time-ordered secondary key),
// so the index is bounded by the ids of one window.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace ec::log {
class LogManager;
}

namespace ec::server {

struct DedupeOptions {
  std::string dir;             // RocksDB directory
  std::string raw_topic = "api-logs";
  int64_t window_ms = 24 * 3600 * 1000;
  int64_t index_interval_ms = 200;
  // A stored id the indexer has not found in the log after this long was not appended after
  // all (e.g. a Kafka produce whose append failed): it is forgotten, so a retry is accepted.
  int64_t unconfirmed_ms = 30000;
};

class DedupeIndex {
 public:
  // Opens the index and catches up with the raw topics. Errors: IoError.
  static Result<std::unique_ptr<DedupeIndex>> Open(DedupeOptions options, log::LogManager* logs);
  ~DedupeIndex();

  // For each id, in order: true if it is a duplicate (ingested within the window, in flight,
  // or equal to an earlier id of this call); otherwise it is claimed and false. Empty ids are
  // never duplicates (and not claimed).
  std::vector<bool> Claim(const std::vector<std::string_view>& ids, int64_t now_ms);
  // Ends the claims of `ids` (those Claim returned false for): `stored` = the records were
  // appended (they stay known), else they are forgotten.
  void Release(const std::vector<std::string_view>& ids, bool stored, int64_t now_ms);

  // One indexing round: reads the raw topics' new records into RocksDB and drops expired
  // entries. The background thread calls it every index_interval_ms.
  Status IndexTail(int64_t now_ms);
  void StartBackground();
  void Stop();

  int64_t window_ms() const { return options_.window_ms; }
  // Ids known to RocksDB (approximate; for tests and metrics).
  uint64_t indexed() const { return indexed_.load(std::memory_order_relaxed); }

 private:
  struct Db;
  DedupeIndex(DedupeOptions options, log::LogManager* logs);
  bool KnownLocked(std::string_view id, int64_t now_ms);

  DedupeOptions options_;
  log::LogManager* logs_;
  std::unique_ptr<Db> db_;
  std::mutex mu_;  // the maps below and RocksDB reads for Claim
  // Looked up by string_view (no std::string per id and lookup); a claimed id's node moves into
  // stored_ on Release, so an id is allocated once on its way through.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  using IdMap = std::unordered_map<std::string, int64_t, IdHash, std::equal_to<>>;
  IdMap claimed_;  // id -> claim time
  IdMap stored_;   // id -> store time, not indexed yet
  std::string key_buffer_;  // under mu_: the RocksDB key of KnownLocked's lookup
  std::mutex index_mu_;  // one IndexTail at a time
  std::map<std::pair<std::string, int32_t>, int64_t> positions_;  // raw partition -> next offset
  std::atomic<uint64_t> indexed_{0};
  std::atomic<bool> stop_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::thread thread_;
};

}  // namespace ec::server
