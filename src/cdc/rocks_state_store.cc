// The RocksDB StateStore (RocksDB headers stay in this file).
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "cdc/state_store.h"

namespace ec::cdc {
namespace {

class RocksStateStore final : public StateStore {
 public:
  explicit RocksStateStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}

  Result<std::optional<StoredState>> Get(std::string_view resource, std::string_view key) override {
    std::string bytes;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), EncodeKey(resource, key), &bytes);
    if (s.IsNotFound()) return std::optional<StoredState>();
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    std::optional<StoredState> state = DecodeState(bytes);
    if (!state) return Status(ErrorCode::kIoError, "state store: corrupt entry for " + std::string(resource) + "/" + std::string(key));
    return state;
  }

  Status Put(std::string_view resource, std::string_view key, const StoredState& state) override {
    rocksdb::WriteOptions wo;
    rocksdb::Status s = db_->Put(wo, EncodeKey(resource, key), EncodeState(state));
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    return Status();
  }

  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override {
    std::string prefix = EncodeKey(resource, "");
    std::string start = EncodeKey(resource, after);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::string> keys;
    for (it->Seek(start); it->Valid() && keys.size() < limit; it->Next()) {
      std::string_view k(it->key().data(), it->key().size());
      if (!k.starts_with(prefix)) break;
      if (k == start) continue;  // strictly after `after`
      std::optional<StoredState> st = DecodeState(std::string_view(it->value().data(), it->value().size()));
      if (st && !st->deleted) keys.emplace_back(k.substr(prefix.size()));
    }
    if (!it->status().ok()) return Status(ErrorCode::kIoError, "state store: " + it->status().ToString());
    return keys;
  }

  Status Apply(const std::vector<StateWrite>& writes, std::string_view checkpoint, int64_t offset) override {
    rocksdb::WriteBatch batch;
    for (const StateWrite& w : writes) batch.Put(w.encoded_key, EncodeState(w.state));
    if (!checkpoint.empty()) {
      std::string v;
      uint64_t o = static_cast<uint64_t>(offset);
      for (int i = 7; i >= 0; --i) v += static_cast<char>((o >> (8 * i)) & 0xff);
      batch.Put(CheckpointKey(checkpoint), v);
    }
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    return Status();
  }

  Status ClearResource(std::string_view resource) override {
    // [resource '\0', resource '\1'): every key of the resource and nothing else.
    std::string begin = EncodeKey(resource, "");
    std::string end = begin;
    end.back() = '\1';
    rocksdb::WriteBatch batch;
    batch.DeleteRange(begin, end);
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return Status(ErrorCode::kIoError, "state store: " + s.ToString());
    return Status();
  }

  Result<std::optional<int64_t>> Checkpoint(std::string_view checkpoint) override {
    std::string bytes;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), CheckpointKey(checkpoint), &bytes);
    if (s.IsNotFound()) return std::optional<int64_t>();
    if (!s.ok() || bytes.size() != 8) return Status(ErrorCode::kIoError, "state store: checkpoint: " + s.ToString());
    uint64_t o = 0;
    for (char c : bytes) o = (o << 8) | static_cast<unsigned char>(c);
    return std::optional<int64_t>(static_cast<int64_t>(o));
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

Result<std::unique_ptr<StateStore>> OpenRocksStateStore(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return Status(ErrorCode::kIoError, "cannot open the state store in " + dir + ": " + s.ToString());
  return std::unique_ptr<StateStore>(new RocksStateStore(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace ec::cdc
