#include "cdc/resource_queries.h"

#include <charconv>

#include "json/writer.h"

namespace ec::cdc {
namespace {

const spec::ResourceDefinition* FindResource(const spec::CompiledSpecs& specs, std::string_view name) {
  for (const auto& api : specs.apis()) {
    for (const auto& res : api->resources) {
      if (res->name == name) return res.get();
    }
  }
  return nullptr;
}

// The admin API's error shape: {"error": {"code", "message"}}.
QueryResponse Error(int status, std::string_view code, const std::string& message) {
  QueryResponse r{status, "{\"error\":{\"code\":"};
  json::AppendQuoted(code, &r.body);
  r.body += ",\"message\":";
  json::AppendQuoted(message, &r.body);
  r.body += "}}";
  return r;
}

std::string Names(const spec::CompiledSpecs& specs) {
  std::string names;
  for (const auto& api : specs.apis()) {
    for (const auto& res : api->resources) names += (names.empty() ? "" : ", ") + res->name;
  }
  return names.empty() ? "(none)" : names;
}

}  // namespace

QueryResponse ResourceState(StateStore* store, const spec::CompiledSpecs& specs, std::string_view name,
                            std::string_view key) {
  if (FindResource(specs, name) == nullptr) {
    return Error(404, "not_found", "unknown resource \"" + std::string(name) + "\"; resources: " + Names(specs));
  }
  Result<std::optional<StoredState>> got = store->Get(name, key);
  if (!got.ok()) return Error(500, "internal", got.status().message());
  if (!got->has_value()) {
    return Error(404, "not_found", "no state for " + std::string(name) + " \"" + std::string(key) +
                          "\": no 2xx exchange of this resource has shown this key yet");
  }
  const StoredState& s = **got;
  std::string ts;
  json::AppendJsNumber(static_cast<double>(s.ts_ms), &ts);
  if (s.deleted) {
    QueryResponse r = Error(404, "deleted", std::string(name) + " \"" + std::string(key) + "\" was deleted");
    r.body.pop_back();
    r.body += ",\"deleted\":true,\"ts_ms\":" + ts + "}";
    return r;
  }
  QueryResponse r{200, "{\"resource\":"};
  json::AppendQuoted(name, &r.body);
  r.body += ",\"key\":";
  json::AppendQuoted(key, &r.body);
  r.body += ",\"state\":" + s.value + ",\"ts_ms\":" + ts + "}";
  return r;
}

QueryResponse ResourceKeys(StateStore* store, const spec::CompiledSpecs& specs, std::string_view name,
                           std::string_view after, std::string_view limit_text) {
  if (FindResource(specs, name) == nullptr) {
    return Error(404, "not_found", "unknown resource \"" + std::string(name) + "\"; resources: " + Names(specs));
  }
  size_t limit = kDefaultKeysLimit;
  if (!limit_text.empty()) {
    auto [ptr, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (ec != std::errc() || ptr != limit_text.data() + limit_text.size() || limit < 1 || limit > kMaxKeysLimit) {
      return Error(400, "invalid_argument", "limit \"" + std::string(limit_text) + "\" must be an integer from 1 to " +
                            std::to_string(kMaxKeysLimit));
    }
  }
  // One more than asked tells whether there is a next page.
  Result<std::vector<std::string>> keys = store->List(name, after, limit + 1);
  if (!keys.ok()) return Error(500, "internal", keys.status().message());
  bool more = keys->size() > limit;
  if (more) keys->pop_back();
  QueryResponse r{200, "{\"resource\":"};
  json::AppendQuoted(name, &r.body);
  r.body += ",\"keys\":[";
  for (size_t i = 0; i < keys->size(); ++i) {
    if (i > 0) r.body += ",";
    json::AppendQuoted((*keys)[i], &r.body);
  }
  r.body += "],\"next\":";
  if (more) json::AppendQuoted(keys->back(), &r.body);
  else r.body += "null";
  r.body += "}";
  return r;
}

}  // namespace ec::cdc
