#pragma once
// HTTP handlers of delivery (subscriptions, topic records, SSE, consumer positions), as a route
// table the server registers on its router. Own request/response types keep this library free
// of the server's (delivery sits below server in the dependency graph); the server adapts them
// field by field (docs/http-consumption.md shows the adapter).

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery/dispatcher.h"
#include "delivery/event_log.h"

namespace ec::log {
class GroupOffsets;
}

namespace ec::delivery {

struct ApiRequest {
  std::string method;
  std::vector<std::pair<std::string, std::string>> params;   // {name} segments of the route
  std::string query;                                         // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string_view Param(std::string_view name) const;
  std::string_view Header(std::string_view name) const;
  // The first query parameter `name`, percent-decoded; `found` says whether it was present.
  std::string Query(std::string_view name, bool* found = nullptr) const;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;

struct ApiRoute {
  std::string method;
  std::string pattern;  // "/v1/subscriptions/{id}"
  ApiHandler handler;
};

struct ConsumptionLimits {
  size_t max_records = 1000;                          // per response (limit= is capped to it)
  size_t max_bytes = 4 << 20;                         // per response, about
  std::chrono::milliseconds max_wait{30000};          // wait_ms is capped to it
  std::chrono::milliseconds sse_window{25000};        // one SSE response lasts at most this
};

class DeliveryApi {
 public:
  // `dispatcher` may be null (no webhook routes then); `offsets` may be null (no consumer
  // routes). Pointers must outlive the routes.
  DeliveryApi(Dispatcher* dispatcher, EventLog* log, log::GroupOffsets* offsets,
              ConsumptionLimits limits = {})
      : dispatcher_(dispatcher), log_(log), offsets_(offsets), limits_(limits) {}

  // Every route, for the server's router.
  std::vector<ApiRoute> Routes();

  // Handlers (public for tests and for servers that route themselves).
  ApiResponse CreateSubscription(const ApiRequest& r);
  ApiResponse ListSubscriptions(const ApiRequest& r);
  ApiResponse GetSubscription(const ApiRequest& r);
  ApiResponse PatchSubscription(const ApiRequest& r);
  ApiResponse DeleteSubscription(const ApiRequest& r);
  ApiResponse Attempts(const ApiRequest& r);
  ApiResponse Pause(const ApiRequest& r, bool paused);
  ApiResponse Replay(const ApiRequest& r);
  ApiResponse Records(const ApiRequest& r);
  ApiResponse Stream(const ApiRequest& r);
  ApiResponse Commit(const ApiRequest& r);
  ApiResponse GroupPositions(const ApiRequest& r);

 private:
  Dispatcher* dispatcher_;
  EventLog* log_;
  log::GroupOffsets* offsets_;
  ConsumptionLimits limits_;
};

// {"error": {"code": <stable code name>, "message": ...}} with the code's HTTP status.
ApiResponse ErrorResponse(const Status& status);

// A record as JSON: {"topic","partition","offset","timestamp","key","headers","value"}; the
// value is embedded when it is JSON, a string when it is UTF-8 text, else "value_base64".
void AppendRecordJson(const SourceRecord& record, std::string* out);

// Milliseconds since the epoch of an RFC 3339 time ("2026-11-27T10:15:30.123Z", offsets
// allowed), or nullopt.
std::optional<int64_t> ParseTimeMs(std::string_view text);

}  // namespace ec::delivery
