#pragma once
// The admin API's resource reads, independent of HTTP (the server routes call these):
//   GET /v1/resources/{name}/{key}  -> ResourceState
//   GET /v1/resources/{name}?after=KEY&limit=N -> ResourceKeys
// Each returns an HTTP status and a JSON body; errors are {"error": {"code", "message"}} (the
// admin API's shape), the message saying what is wrong.

#include <cstddef>
#include <string>
#include <string_view>

#include "cdc/state_store.h"
#include "spec/spec.h"

namespace ec::cdc {

struct QueryResponse {
  int status = 200;
  std::string body;  // JSON
};

inline constexpr size_t kDefaultKeysLimit = 100;
inline constexpr size_t kMaxKeysLimit = 1000;

// 200 {"resource", "key", "state", "ts_ms"}; 404 for an unknown resource, an unknown key or a
// deleted key (code "deleted", plus "deleted": true and "ts_ms", for the latter).
QueryResponse ResourceState(StateStore* store, const spec::CompiledSpecs& specs, std::string_view name,
                            std::string_view key);

// 200 {"resource", "keys": [...], "next": KEY|null}: keys after `after` in byte order, at most
// `limit` (`limit_text` empty: kDefaultKeysLimit; 1..kMaxKeysLimit, else 400).
QueryResponse ResourceKeys(StateStore* store, const spec::CompiledSpecs& specs, std::string_view name,
                           std::string_view after, std::string_view limit_text);

}  // namespace ec::cdc
