// The ingest dedupe index (RocksDB headers stay in this file).
#include "server/dedupe_index.h"

#include <pthread.h>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "log/committed_reader.h"
#include "log/log_manager.h"

namespace ec::server {
namespace {

// Keys: 'i' id -> ts (8 bytes BE); 't' ts id -> "" (expiry order); 'p' topic '\0' partition ->
// next raw offset to index.
std::string Be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * (7 - i))) & 0xff);
  return out;
}
int64_t LoadBe64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return static_cast<int64_t>(v);
}
std::string IdKey(std::string_view id) { return "i" + std::string(id); }
std::string TimeKey(int64_t ts, std::string_view id) { return "t" + Be64(ts) + std::string(id); }
std::string PositionKey(const std::string& topic, int32_t partition) {
  return "p" + topic + '\0' + std::to_string(partition);
}

}  // namespace

struct DedupeIndex::Db {
  std::unique_ptr<rocksdb::DB> db;
};

DedupeIndex::DedupeIndex(DedupeOptions options, log::LogManager* logs)
    : options_(std::move(options)), logs_(logs), db_(std::make_unique<Db>()) {}

DedupeIndex::~DedupeIndex() { Stop(); }

Result<std::unique_ptr<DedupeIndex>> DedupeIndex::Open(DedupeOptions options, log::LogManager* logs) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IoError("cannot create " + options.dir + ": " + ec.message());
  std::unique_ptr<DedupeIndex> index(new DedupeIndex(std::move(options), logs));
  rocksdb::Options ro;
  ro.create_if_missing = true;
  // Nearly every id ingest asks about is new: bloom filters (memtable and table files) answer
  // those without walking the skip list or reading an index block per file.
  ro.memtable_prefix_bloom_size_ratio = 0.05;
  ro.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, index->options_.dir, &raw);
  if (!s.ok()) return IoError("cannot open the ingest dedupe index in " + index->options_.dir + ": " + s.ToString());
  index->db_->db.reset(raw);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EC_RETURN_IF_ERROR(index->IndexTail(now));
  return index;
}

bool DedupeIndex::KnownLocked(std::string_view id, int64_t now_ms) {
  if (claimed_.find(id) != claimed_.end() || stored_.find(id) != stored_.end()) return true;
  key_buffer_.assign(1, 'i');  // IdKey(id), in a buffer kept between calls
  key_buffer_.append(id);
  rocksdb::PinnableSlice v;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), db_->db->DefaultColumnFamily(),
                                   rocksdb::Slice(key_buffer_.data(), key_buffer_.size()), &v);
  // A read error counts as unknown: accepting a rare duplicate beats refusing an exchange.
  return s.ok() && LoadBe64(std::string_view(v.data(), v.size())) >= now_ms - options_.window_ms;
}

std::vector<bool> DedupeIndex::Claim(const std::vector<std::string_view>& ids, int64_t now_ms) {
  std::vector<bool> dup(ids.size(), false);
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) continue;
    if (KnownLocked(ids[i], now_ms)) {
      dup[i] = true;
    } else {
      claimed_.emplace(std::string(ids[i]), now_ms);
    }
  }
  return dup;
}

void DedupeIndex::Release(const std::vector<std::string_view>& ids, bool stored, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (std::string_view id : ids) {
    if (id.empty()) continue;
    auto it = claimed_.find(id);
    if (it == claimed_.end()) {
      if (stored) stored_.insert_or_assign(std::string(id), now_ms);
      continue;
    }
    IdMap::node_type node = claimed_.extract(it);
    if (!stored) continue;
    node.mapped() = now_ms;
    auto [pos, inserted, rest] = stored_.insert(std::move(node));
    if (!inserted) pos->second = now_ms;
  }
}

Status DedupeIndex::IndexTail(int64_t now_ms) {
  std::lock_guard index_lock(index_mu_);
  rocksdb::DB* db = db_->db.get();
  rocksdb::WriteBatch batch;
  std::vector<std::string> seen;
  // The round's id and expiry entries, put in key order: RocksDB's memtable keeps the position
  // of its last insert, so sorted inserts each walk a short way from there instead of down the
  // whole skip list (the inserts were nearly all of the indexer's CPU).
  std::vector<std::pair<std::string, std::string>> entries;
  const std::string prefix = options_.raw_topic + ".";
  for (const log::TopicInfo& t : logs_->ListTopics()) {
    if (t.name != options_.raw_topic && t.name.rfind(prefix, 0) != 0) continue;
    for (int32_t p = 0; p < t.partitions; ++p) {
      std::shared_ptr<log::PartitionLog> pl = logs_->GetPartition(t.name, p);
      if (pl == nullptr) continue;
      auto pos = positions_.find({t.name, p});
      if (pos == positions_.end()) {
        std::string v;
        int64_t from;
        if (db->Get(rocksdb::ReadOptions(), PositionKey(t.name, p), &v).ok()) {
          from = LoadBe64(v);
        } else {
          // Never indexed: what is older than the window cannot be a duplicate anyway.
          log::TimestampOffset to = pl->OffsetForTimestamp(now_ms - options_.window_ms);
          from = to.offset >= 0 ? to.offset : pl->log_end_offset();
        }
        pos = positions_.emplace(std::make_pair(t.name, p), from).first;
      }
      if (pos->second >= pl->log_end_offset()) continue;
      int64_t next = pos->second;
      EC_RETURN_IF_ERROR(log::ForEachCommittedRecord(
          *pl, pos->second, INT64_MAX,
          [&](const log::RecordBatchView&, const log::Record& r) -> Status {
            if (!r.key || r.key->empty()) return Status::Ok();
            entries.emplace_back(IdKey(*r.key), Be64(r.timestamp));
            entries.emplace_back(TimeKey(r.timestamp, *r.key), std::string());
            seen.emplace_back(*r.key);
            return Status::Ok();
          },
          &next));
      if (next != pos->second) {
        batch.Put(PositionKey(t.name, p), Be64(next));
        pos->second = next;
      }
    }
  }
  // Stable: an id seen twice in a round keeps its last timestamp, as before.
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, v] : entries) batch.Put(k, v);
  // Expiry, oldest first, bounded per round.
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    const std::string end = "t" + Be64(now_ms - options_.window_ms);
    int n = 0;
    for (it->Seek("t"); it->Valid() && n < 100000; it->Next(), ++n) {
      std::string_view k(it->key().data(), it->key().size());
      if (k.empty() || k[0] != 't' || k.compare(end) >= 0 || k.size() < 9) break;
      int64_t ts = LoadBe64(k.substr(1, 8));
      std::string id(k.substr(9));
      std::string v;
      if (db->Get(rocksdb::ReadOptions(), IdKey(id), &v).ok() && LoadBe64(v) == ts) batch.Delete(IdKey(id));
      batch.Delete(std::string(k));
    }
  }
  if (batch.Count() > 0) {
    rocksdb::Status s = db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return IoError("ingest dedupe index: " + s.ToString());
  }
  indexed_.fetch_add(seen.size(), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  for (const std::string& id : seen) stored_.erase(id);
  for (auto it = stored_.begin(); it != stored_.end();) {
    if (it->second < now_ms - options_.unconfirmed_ms) it = stored_.erase(it); else ++it;
  }
  return Status::Ok();
}

void DedupeIndex::StartBackground() {
  stop_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ec-dedupe");  // for top/perf and the benchmark
    while (!stop_) {
      {
        std::unique_lock lock(wait_mu_);
        wait_cv_.wait_for(lock, std::chrono::milliseconds(options_.index_interval_ms), [&] { return stop_.load(); });
      }
      if (stop_) break;
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      (void)IndexTail(now);  // retried next round
    }
  });
}

void DedupeIndex::Stop() {
  {
    std::lock_guard lock(wait_mu_);
    stop_ = true;
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ec::server
