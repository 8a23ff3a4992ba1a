#include "server/application.h"

#include <iostream>

#include "cdc/changelog_service.h"
#include "delivery/api.h"
#include "delivery/dispatcher.h"
#include "delivery/log_event_log.h"
#include "delivery/ssrf_guard.h"
#include "kafka/server/server.h"
#include "log/log_manager.h"
#include "pipeline/processor.h"
#include "server/admin_api.h"
#include "server/capture_sources.h"
#include "server/file_source.h"
#include "server/firehose_ingest.h"
#include "server/local_ingest.h"
#include "server/http/http_server.h"
#include "server/ingest.h"
#include "server/kafka_ingest.h"
#include "server/metrics.h"
#include "server/dedupe_index.h"
#include "server/pipeline_runner.h"
#include "server/replay_job.h"
#include "server/spec_registry.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace ec::server {

Application::Application(ServerConfig config, std::vector<std::string> spec_files)
    : config_(std::move(config)), spec_files_(std::move(spec_files)) {}

Application::~Application() { Stop(); }

Status Application::Start() {
  if (spec_files_.empty()) return InvalidArgument("no spec given; pass --spec FILE (an OpenAPI document)");
  KeepFreedMemoryForReuse();  // ingest.h: no page faults per request and pass
  // 1. Specs: every annotation compiled before anything listens. --spec files, with the specs
  // PUT /v1/specs stored under the data dir taking their place (spec_registry.h).
  metrics_ = std::make_unique<MetricsRegistry>();
  spec_registry_ = std::make_unique<SpecRegistry>(SpecRegistryOptions{spec_files_, config_.data_dir}, metrics_.get());
  Result<std::shared_ptr<const spec::CompiledSpecs>> specs = spec_registry_->LoadInitial();
  if (!specs.ok()) return specs.status();
  specs_ = std::move(specs).value();

  // 2. The log.
  log::LogManagerOptions lo;
  lo.data_dir = config_.data_dir;
  lo.default_partitions = config_.topic_defaults.partitions;
  lo.preallocate_bytes = config_.log_preallocate_bytes;
  lo.sync_threads = config_.log_sync_threads;
  lo.compaction_map_bytes = config_.log_compaction_map_bytes;
  if (config_.log_journal_set) lo.journal = config_.log_journal;
  if (config_.log_journal_direct_io_set) lo.journal_direct_io = config_.log_journal_direct_io;
  lo.journal_fill_on_start = config_.log_journal_fill_on_start;
  Result<std::unique_ptr<log::LogManager>> logs = log::LogManager::Open(lo);
  if (!logs.ok()) {
    return Status(logs.status().code(), "cannot open data dir '" + config_.data_dir + "': " + logs.status().message());
  }
  logs_ = std::move(logs).value();
  writer_ = std::make_unique<TopicWriter>(logs_.get(), &config_);
  for (const std::string& t : {config_.raw_topic, config_.dead_letter_topic}) {
    Result<int32_t> p = writer_->EnsureTopic(t);
    if (!p.ok()) return p.status();
  }

  // 3. The pipeline.
  pipeline::ProcessorOptions po;
  po.dead_letter_topic = config_.dead_letter_topic;
  po.structured_all = config_.topic_defaults.cloudevents_mode == CloudEventsMode::kStructured;
  for (const auto& [name, t] : config_.topics) {
    if (t.cloudevents_mode == CloudEventsMode::kStructured) po.structured_topics.push_back(name);
  }
  processor_ = std::make_unique<pipeline::Processor>(specs_, po);
  // Changelogs (docs/changelogs.md): RocksDB state under the data dir, compacted topics.
  cdc::ChangelogServiceOptions co;
  co.data_dir = config_.data_dir;
  co.partitions = config_.topic_defaults.partitions;
  co.dead_letter_topic = config_.dead_letter_topic;
  co.state = StateStoreOptions(config_);
  Result<std::unique_ptr<cdc::ChangelogService>> changelogs = cdc::ChangelogService::Open(co, *specs_, logs_.get());
  if (!changelogs.ok()) return changelogs.status();
  changelogs_ = std::move(changelogs).value();
  processor_->AddStage(changelogs_->stage());
  RunnerOptions ro;
  ro.raw_topic = config_.raw_topic;
  ro.max_record_bytes = config_.max_record_bytes;
  ro.max_json_depth = config_.max_json_depth;
  ro.exactly_once = config_.exactly_once;
  ro.overlap_passes = config_.overlap_passes;
  ro.input_sync_hold_us = config_.input_sync_hold_us;
  ro.background_nice = config_.background_nice;
  runner_ = std::make_unique<PipelineRunner>(ro, logs_.get(), processor_.get(), writer_.get(), metrics_.get());
  runner_->SetStateStore(changelogs_->txn_store());
  // Exactly once: finish what a crash left open before anything reads or writes.
  if (Status s = runner_->Recover(); !s.ok()) return s;
  runner_->Start();
  // Idempotent ingest: the index catches up with the raw topics before ingest opens.
  if (config_.dedupe_window_ms > 0) {
    DedupeOptions dopt;
    dopt.dir = config_.data_dir + "/ingest-dedupe";
    dopt.raw_topic = config_.raw_topic;
    dopt.window_ms = config_.dedupe_window_ms;
    dopt.memory_bytes = config_.dedupe_memory_bytes;
    dopt.write_rate_bytes = config_.dedupe_write_rate_bytes;
    dopt.filter_bytes = config_.dedupe_filter_bytes;
    Result<std::unique_ptr<DedupeIndex>> dedupe = DedupeIndex::Open(dopt, logs_.get());
    if (!dedupe.ok()) return dedupe.status();
    dedupe_ = std::move(dedupe).value();
    dedupe_->SetMetrics(metrics_.get());
    dedupe_->StartBackground();
  }

  // 4. Kafka protocol, with the ingest interceptor on api-logs and api-logs.*.
  Result<kafka::ListenerAddress> ka = kafka::ParseListenerAddress(config_.kafka_address);
  if (!ka.ok()) return ka.status();
  kafka::ServerOptions ko;
  ko.listeners = {*ka};
  if (!config_.kafka_advertised.empty()) {
    Result<kafka::ListenerAddress> adv = kafka::ParseListenerAddress(config_.kafka_advertised);
    if (!adv.ok()) return adv.status();
    ko.advertised_host = adv->host;
    ko.advertised_port = adv->port;
  }
  ko.default_partitions = config_.topic_defaults.partitions;
  KafkaIngestOptions kio;
  kio.raw_topic = config_.raw_topic;
  kio.max_record_bytes = config_.max_record_bytes;
  kio.max_json_depth = config_.max_json_depth;
  kio.max_lag_records = config_.max_lag_records;
  PipelineRunner* lag_source = runner_.get();
  kio.lag = [lag_source] { return lag_source->Lag(); };
  kio.dedupe = dedupe_.get();
  // Ingest redacts with the spec set in force, so a reload's redaction paths apply from the
  // next request or produce on.
  SpecsProvider current_specs = [registry = spec_registry_.get()] { return registry->current(); };
  ko.interceptors.push_back(MakeKafkaIngestInterceptor(kio, current_specs, metrics_.get()));
  kafka_ = std::make_unique<kafka::Server>(ko, logs_.get());
  if (Status s = kafka_->Start(); !s.ok()) return s;

  // 5. HTTP: ingest, admin API, metrics.
  IngestOptions io;
  io.raw_topic = config_.raw_topic;
  io.default_format = config_.default_format;
  io.max_record_bytes = config_.max_record_bytes;
  io.max_json_depth = config_.max_json_depth;
  io.max_body_bytes = config_.max_body_bytes;
  io.max_lag_records = config_.max_lag_records;
  io.retry_after_seconds = config_.retry_after_seconds;
  if (Status s = Ingest::CheckFormat(io.default_format); !s.ok()) {
    return InvalidArgument("ingest.default_format: " + s.message());
  }
  PipelineRunner* runner = runner_.get();
  ingest_ = std::make_unique<Ingest>(io, logs_.get(), current_specs, metrics_.get(), [runner] { return runner->Lag(); });
  ingest_->SetDedupe(dedupe_.get());
  admin_ = std::make_unique<AdminContext>();
  admin_->config = &config_;
  admin_->logs = logs_.get();
  admin_->specs = specs_;
  admin_->runner = runner_.get();
  admin_->resources = changelogs_->store();
  admin_->metrics = metrics_.get();
  admin_->ready = &ready_;
  spec_registry_->Attach({logs_.get(), runner_.get(), po, {changelogs_->stage()},
                          config_.topic_defaults.partitions, &admin_->specs});
  replay_ = std::make_unique<ReplayJobs>(ReplayContext{logs_.get(), writer_.get(), runner_.get(), spec_registry_.get(),
                                                      changelogs_->store(), po, config_.raw_topic});
  router_ = std::make_unique<Router>();
  Ingest* ingest = ingest_.get();
  router_->Add("POST", "/v1/exchanges", [ingest](HttpRequest& r) { return ingest->Handle(r); });
  // Capture sources share one in-process ingest (docs/configuration.md, "Capture sources").
  source_ingest_ = std::make_unique<LocalIngest>(io, config_.dead_letter_topic, logs_.get(), writer_.get(),
                                                 current_specs, metrics_.get(), "capture");
  source_ingest_->SetDedupe(dedupe_.get());
  firehose_ = std::make_unique<FirehoseIngest>(config_.firehose, source_ingest_.get(), metrics_.get(),
                                               [runner] { return runner->Lag(); }, config_.max_lag_records);
  FirehoseIngest* firehose = firehose_.get();
  router_->Add("POST", "/v1/ingest/firehose", [firehose](HttpRequest& r) { return firehose->Handle(r); });
  AddAdminRoutes(admin_.get(), router_.get());
  spec_registry_->AddRoutes(router_.get());
  replay_->AddRoutes(router_.get());
  EC_RETURN_IF_ERROR(StartDelivery());
  HttpServerOptions ho;
  EC_RETURN_IF_ERROR(ParseHostPort(config_.http_address, &ho.host, &ho.port));
  ho.max_body_bytes = config_.max_body_bytes;
  ho.threads = config_.http_threads;
  http_ = std::make_unique<HttpServer>(ho, router_.get());
  EC_RETURN_IF_ERROR(http_->Start());
  capture_ = std::make_unique<CaptureSources>(config_.syslog, config_.proxy, source_ingest_.get(),
                                              source_ingest_.get(), metrics_.get());
  EC_RETURN_IF_ERROR(capture_->Start());
  files_ = std::make_unique<FileSources>(config_.files, config_.data_dir, source_ingest_.get());
  EC_RETURN_IF_ERROR(files_->Start());
  started_ = true;
  ready_ = true;
  return Status::Ok();
}

void Application::Stop() {
  ready_ = false;
  if (files_) files_->Stop();
  if (capture_) capture_->Stop();
  if (http_) http_->Stop(5000);
  if (dispatcher_) dispatcher_->Stop();
  if (kafka_) kafka_->Stop();
  replay_.reset();  // cancels and joins a running replay
  if (runner_) runner_->Stop();
  if (dedupe_) dedupe_->Stop();
  http_.reset();
  files_.reset();
  capture_.reset();
  firehose_.reset();
  source_ingest_.reset();
  delivery_api_.reset();
  dispatcher_.reset();
  delivery_log_.reset();
  kafka_.reset();
  runner_.reset();
  ingest_.reset();
  dedupe_.reset();
  logs_.reset();  // flushes and closes every partition
}

// Webhooks and HTTP consumption (docs/webhooks.md, docs/http-consumption.md): the dispatcher
// reads the topics through the log; its handlers use delivery's own request/response types,
// adapted here so `delivery` stays below `server` in the dependency graph.
Status Application::StartDelivery() {
  delivery_log_ = std::make_unique<delivery::LogEventLog>(logs_.get());
  delivery::DispatcherOptions options;
  options.dir = config_.data_dir + "/delivery";
  for (const std::string& text : config_.webhook_allow) {
    Result<delivery::Cidr> cidr = delivery::ParseCidr(text);
    if (!cidr.ok()) return InvalidArgument("webhooks.allow / --webhook-allow: " + cidr.status().message());
    options.allow.push_back(*cidr);
  }
  dispatcher_ = std::make_unique<delivery::Dispatcher>(delivery_log_.get(), options);
  EC_RETURN_IF_ERROR(dispatcher_->Start());
  delivery_api_ = std::make_unique<delivery::DeliveryApi>(dispatcher_.get(), delivery_log_.get(),
                                                           logs_->group_offsets());
  for (delivery::ApiRoute& route : delivery_api_->Routes()) {
    router_->Add(route.method, route.pattern, [handler = std::move(route.handler)](HttpRequest& r) {
      delivery::ApiRequest request{r.method, r.params, r.query, r.headers, r.body};
      delivery::ApiResponse d = handler(request);
      HttpResponse out;
      out.status = d.status;
      out.content_type = std::move(d.content_type);
      out.headers = std::move(d.headers);
      out.body = std::move(d.body);
      return out;
    });
  }
  return Status::Ok();
}

Status Application::ReloadSpecs() {
  if (!spec_registry_) return Status(ErrorCode::kUnavailable, "not started");
  return spec_registry_->ReloadFiles();
}

uint16_t Application::http_port() const { return http_ ? http_->port() : 0; }
uint16_t Application::kafka_port() const { return kafka_ ? kafka_->bound_port() : 0; }

std::string Application::Banner() const {
  std::string host = http_ ? http_->host() : "127.0.0.1";
  if (host == "0.0.0.0") host = "127.0.0.1";
  std::string http = host + ":" + std::to_string(http_port());
  std::string kafka_host = config_.kafka_address.substr(0, config_.kafka_address.rfind(':'));
  if (kafka_host.empty() || kafka_host == "0.0.0.0") kafka_host = "127.0.0.1";
  std::string kafka = kafka_host + ":" + std::to_string(kafka_port());
  std::string first_topic = "eventception.dlq";
  for (const auto& api : specs_->apis()) {
    for (const auto& op : api->operations) {
      if (!op->events.empty() && first_topic == "eventception.dlq") first_topic = op->events.front()->topic;
    }
  }
  size_t ops = 0;
  for (const auto& api : specs_->apis()) ops += api->operations.size();
  std::string out;
  out += "eventception serving " + std::to_string(specs_->apis().size()) + " API(s), " +
         std::to_string(ops) + " operation(s); data in " + config_.data_dir + "\n";
  out += "  HTTP  (ingest, admin API, metrics) on http://" + http + "\n";
  out += "  Kafka protocol on " + kafka + "\n";
  if (capture_) out += capture_->Describe();
  out += "\n";
  out += "Send an exchange:\n";
  out += "  curl -s -X POST http://" + http +
         "/v1/exchanges -H 'content-type: application/json' -d @exchange.json\n";
  out += "Generate shop traffic (examples/shop):\n";
  out += "  examples/shop/traffic.py --url http://" + http + "/v1/exchanges --rate 20 --duration 60\n";
  out += "Read events:\n";
  out += "  kcat -C -b " + kafka + " -t " + first_topic + " -o beginning -e -J\n";
  out += "Admin API: http://" + http + "/v1/openapi.json   metrics: http://" + http + "/metrics\n";
  return out;
}

}  // namespace ec::server
