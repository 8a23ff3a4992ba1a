#pragma once
// All the wiring of `eventception serve` in one place (Redpanda's application.cc habit): specs,
// log, pipeline runner, HTTP server (ingest, admin API, metrics) and Kafka-protocol server.
// Start order: specs, log, topics, runner, Kafka, HTTP; Stop runs it backwards.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/config.h"

namespace ec::log {
class LogManager;
}
namespace ec::spec {
class CompiledSpecs;
}
namespace ec::pipeline {
class Processor;
}
namespace ec::cdc {
class ChangelogService;
}
namespace ec::kafka {
class Server;
}
namespace ec::delivery {
class Dispatcher;
class DeliveryApi;
class LogEventLog;
}

namespace ec::server {

struct AdminContext;
class CaptureSources;
class FileSources;
class FirehoseIngest;
class HttpServer;
class LocalIngest;
class Ingest;
class MetricsRegistry;
class PipelineRunner;
class DedupeIndex;
class Router;
class ReplayJobs;
class SpecRegistry;
class TopicWriter;

class Application {
 public:
  Application(ServerConfig config, std::vector<std::string> spec_files);
  ~Application();  // Stop()s
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Loads and compiles the specs, opens the data dir, creates the raw and dead-letter topics,
  // starts the pipeline and both listeners. Errors say which part failed and why (a spec
  // error lists file:line:col lines).
  Status Start();
  // Stops accepting, lets requests in flight finish, finishes the pipeline pass, closes the log.
  void Stop();

  // SIGHUP: re-reads every spec file; a set that fails to compile is refused (logged, counted
  // in eventception_spec_reloads_total) and the running one stays.
  Status ReloadSpecs();

  uint16_t http_port() const;
  uint16_t kafka_port() const;
  const CaptureSources* capture_sources() const { return capture_.get(); }
  // What to print at start: where to send traffic and how to consume it.
  std::string Banner() const;

 private:
  Status StartDelivery();

  ServerConfig config_;
  std::vector<std::string> spec_files_;
  std::atomic<bool> ready_{false};
  bool started_ = false;

  std::shared_ptr<const spec::CompiledSpecs> specs_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<SpecRegistry> spec_registry_;  // its processors outlive the runner
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<cdc::ChangelogService> changelogs_;  // before processor_: outlives the runner
  std::unique_ptr<pipeline::Processor> processor_;
  std::unique_ptr<TopicWriter> writer_;
  std::unique_ptr<PipelineRunner> runner_;
  std::unique_ptr<DedupeIndex> dedupe_;
  std::unique_ptr<Ingest> ingest_;
  std::unique_ptr<AdminContext> admin_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<ReplayJobs> replay_;  // POST /v1/replay jobs
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<kafka::Server> kafka_;
  std::unique_ptr<delivery::LogEventLog> delivery_log_;
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  std::unique_ptr<delivery::DeliveryApi> delivery_api_;
  // In-process capture sources (capture_sources.h, firehose_ingest.h, file_source.h).
  std::unique_ptr<LocalIngest> source_ingest_;
  std::unique_ptr<FirehoseIngest> firehose_;
  std::unique_ptr<CaptureSources> capture_;
  std::unique_ptr<FileSources> files_;
};

}  // namespace ec::server
