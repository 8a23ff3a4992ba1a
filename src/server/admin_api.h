#pragma once
// The admin API (JSON; documented by the OpenAPI document served at /v1/openapi.json, the
// checked-in file admin_openapi.json): specs and operations with counters, topics with
// offsets, streams (event definitions) with counters, dead letters (list, inspect, replay,
// purge), plus /healthz, /readyz and /metrics.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "server/http/router.h"

namespace ec::log {
class LogManager;
}
namespace ec::spec {
class CompiledSpecs;
}
namespace ec::cdc {
class StateStore;
}

namespace ec::server {

class MetricsRegistry;
class PipelineRunner;
struct ServerConfig;

struct AdminContext {
  const ServerConfig* config = nullptr;
  log::LogManager* logs = nullptr;
  std::shared_ptr<const spec::CompiledSpecs> specs;
  PipelineRunner* runner = nullptr;
  MetricsRegistry* metrics = nullptr;
  const std::atomic<bool>* ready = nullptr;
  cdc::StateStore* resources = nullptr;  // CDC state (GET /v1/resources/...); null: none
};

// Adds every admin route to `router`. `ctx` must outlive the router's use.
void AddAdminRoutes(const AdminContext* ctx, Router* router);

// The OpenAPI 3.1 document of the HTTP API (embedded at build time).
std::string_view AdminOpenApiJson();

// The /metrics text: the registry plus per-event-type and per-operation counters of the specs.
std::string RenderMetrics(const AdminContext& ctx);

}  // namespace ec::server
