#pragma once
// POST /v1/replay: replay (replay.h) as an asynchronous job inside the server, with
// GET /v1/replay/{id} for its status. One job runs at a time. An event replay reads up to where
// the running spec took effect (or the pipeline's committed position), so with a spec that
// just gained a definition it covers exactly the history the new definition missed. A
// resource rebuild pauses the pipeline's state writes between two passes (a processor whose
// CDC stage waits at a gate is swapped in), rebuilds from history up to the committed
// position, then lets the pipeline go on. docs/replay.md.

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/processor.h"
#include "server/replay.h"

namespace ec::server {

class PipelineRunner;
class Router;
class SpecRegistry;

struct ReplayContext {
  log::LogManager* logs = nullptr;
  TopicWriter* writer = nullptr;
  PipelineRunner* runner = nullptr;
  SpecRegistry* specs = nullptr;
  cdc::StateStore* store = nullptr;  // the committed CDC state (RocksDB)
  pipeline::ProcessorOptions processor;
  std::string raw_topic = "api-logs";
};

class ReplayJobs {
 public:
  explicit ReplayJobs(ReplayContext context);
  ~ReplayJobs();  // cancels a running job and waits for it

  // Starts a job; returns its id. kInvalidArgument for a bad request, kUnavailable while
  // another job runs.
  Result<std::string> Start(const ReplayRequest& request);
  // The job's status as JSON, or nullopt for an unknown id.
  std::optional<std::string> StatusJson(const std::string& id) const;

  void AddRoutes(Router* router);

 private:
  struct Job;
  void Run(Job* job);

  ReplayContext context_;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<Job>> jobs_;  // the last kKeepJobs
  std::thread thread_;
  uint64_t next_id_ = 1;
};

}  // namespace ec::server
