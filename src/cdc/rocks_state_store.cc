// The RocksDB StateStore (RocksDB headers stay in this file).
#include <rocksdb/db.h>
#include <rocksdb/options.h>

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
