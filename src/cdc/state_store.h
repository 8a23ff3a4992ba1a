#pragma once
// Keyed state of CDC resources: for each (resource, key) the last known domain object and the
// exchange time it was applied at. `serve` keeps it in RocksDB under the data dir
// (OpenRocksStateStore); `eventception test` in memory (MemoryStateStore). Same interface.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ec::cdc {

struct StoredState {
  bool deleted = false;   // a DELETE was applied: `value` is empty, the time still orders
  int64_t ts_ms = 0;      // exchange time of the last applied exchange
  std::string value;      // the domain object as JSON text
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Result<std::optional<StoredState>> Get(std::string_view resource, std::string_view key) = 0;
  virtual Status Put(std::string_view resource, std::string_view key, const StoredState& state) = 0;
  // Keys of `resource` that are not deleted, in byte order, strictly after `after`, at most
  // `limit` of them.
  virtual Result<std::vector<std::string>> List(std::string_view resource, std::string_view after,
                                                size_t limit) = 0;
};

class MemoryStateStore final : public StateStore {
 public:
  Result<std::optional<StoredState>> Get(std::string_view resource, std::string_view key) override;
  Status Put(std::string_view resource, std::string_view key, const StoredState& state) override;
  Result<std::vector<std::string>> List(std::string_view resource, std::string_view after, size_t limit) override;

 private:
  std::mutex mu_;
  std::map<std::string, StoredState, std::less<>> states_;  // EncodeKey(resource, key)
};

// Opens (creating) a RocksDB state store in `dir`. Errors: kIoError with RocksDB's message.
Result<std::unique_ptr<StateStore>> OpenRocksStateStore(const std::string& dir);

// Storage encoding, shared by both stores (exposed for tests): key = resource '\0' key;
// value = flag byte ('d' deleted / 's' state), 8-byte big-endian ts_ms, JSON text.
std::string EncodeKey(std::string_view resource, std::string_view key);
std::string EncodeState(const StoredState& state);
std::optional<StoredState> DecodeState(std::string_view bytes);

}  // namespace ec::cdc
