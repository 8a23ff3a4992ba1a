// eventception replay: re-runs definitions over the retained raw history (docs/replay.md).
// With --server URL the running server does it (POST /v1/replay, then its status is polled);
// without, it works offline on --data-dir, which no server may hold at the same time.

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cdc/state_store.h"
#include "cli/commands.h"
#include "delivery/http_client.h"
#include "json/document.h"
#include "json/writer.h"
#include "log/log_manager.h"
#include "server/config.h"
#include "server/replay.h"
#include "server/spec_registry.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace ec::cli {
namespace {

struct ReplayArgs {
  std::string from, to, event, resource, into, server, data_dir = "./eventception-data", config_file;
  std::vector<std::string> specs;
  bool snapshot = false;
  bool no_wait = false;
};

std::string RequestJson(const ReplayArgs& a) {
  std::string body = "{\"from\":";
  json::AppendQuoted(a.from, &body);
  for (auto [k, v] : {std::pair<const char*, const std::string*>{"to", &a.to}, {"event", &a.event},
                      {"resource", &a.resource}, {"into", &a.into}}) {
    if (v->empty()) continue;
    body += ",\"";
    body += k;
    body += "\":";
    json::AppendQuoted(*v, &body);
  }
  if (a.snapshot) body += ",\"snapshot\":true";
  return body + "}";
}

int RunOnServer(const ReplayArgs& a) {
  std::string base = a.server;
  while (!base.empty() && base.back() == '/') base.pop_back();
  delivery::HttpClientOptions options;
  options.max_response_body = 1 << 20;
  for (const char* all : {"0.0.0.0/0", "::/0"}) options.guard.Allow(*delivery::ParseCidr(all));  // the user's own server
  delivery::HttpClient client(options);
  auto send = [&](const std::string& method, const std::string& path, std::string body) -> Result<delivery::ClientResponse> {
    Result<delivery::Url> url = delivery::ParseUrl(base + path);
    if (!url.ok()) return url.status();
    delivery::ClientRequest req;
    req.method = method;
    req.url = *url;
    req.body = std::move(body);
    if (!req.body.empty()) req.headers.emplace_back("content-type", "application/json");
    return client.Send(req);
  };
  Result<delivery::ClientResponse> started = send("POST", "/v1/replay", RequestJson(a));
  if (!started.ok()) {
    std::cerr << "eventception replay: cannot reach " << a.server << ": " << started.status().message() << "\n";
    return 1;
  }
  if (started->status != 202) {
    std::cerr << "eventception replay: the server refused (HTTP " << started->status << "): " << started->body << "\n";
    return 1;
  }
  auto doc = json::Parse(started->body);
  const json::Value* id = doc.ok() ? (*doc)->root().Find("id") : nullptr;
  if (id == nullptr || !id->is_string()) {
    std::cerr << "eventception replay: unexpected answer: " << started->body << "\n";
    return 1;
  }
  std::string job(id->string());
  std::cerr << "replay job " << job << " started on " << a.server << "\n";
  if (a.no_wait) {
    std::cout << job << "\n";
    return 0;
  }
  for (;;) {
    Result<delivery::ClientResponse> st = send("GET", "/v1/replay/" + job, "");
    if (!st.ok() || st->status != 200) {
      std::cerr << "eventception replay: lost the job status: "
                << (st.ok() ? st->body : st.status().message()) << "\n";
      return 1;
    }
    auto s = json::Parse(st->body);
    const json::Value* state = s.ok() ? (*s)->root().Find("state") : nullptr;
    if (state != nullptr && state->is_string() && state->string() != "running") {
      std::cout << st->body << "\n";
      return state->string() == "done" ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int RunOffline(const ReplayArgs& a) {
  Result<server::ReplayBound> from = server::ParseReplayBound(a.from, "--from");
  if (!from.ok()) {
    std::cerr << "eventception replay: " << from.status().message() << "\n";
    return 2;
  }
  server::ReplayRequest request;
  request.from = *from;
  if (!a.to.empty()) {
    Result<server::ReplayBound> to = server::ParseReplayBound(a.to, "--to");
    if (!to.ok()) {
      std::cerr << "eventception replay: " << to.status().message() << "\n";
      return 2;
    }
    request.to = *to;
  }
  request.event_type = a.event;
  request.resource = a.resource;
  request.into = a.into;
  request.snapshot = a.snapshot;

  server::ServerConfig config;
  if (!a.config_file.empty()) {
    Status s = server::LoadConfigFile(a.config_file, &config);
    if (!s.ok()) {
      std::cerr << "eventception replay: " << s.message() << "\n";
      return 2;
    }
  }
  config.data_dir = a.data_dir;
  // The RocksDB state store doubles as the lock: a running server holds it.
  Result<std::unique_ptr<cdc::StateStore>> store = cdc::OpenRocksStateStore(config.data_dir + "/cdc-state", server::StateStoreOptions(config));
  if (!store.ok()) {
    std::cerr << "eventception replay: " << store.status().message()
              << "\nIf a server is running on " << config.data_dir
              << ", replay inside it: eventception replay --server http://HOST:PORT ...\n";
    return 1;
  }
  // The same spec set the server would run: --spec files with the PUT specs of the data dir.
  server::SpecRegistry registry(server::SpecRegistryOptions{a.specs, config.data_dir}, nullptr);
  if (registry.EffectiveFiles().empty()) {
    std::cerr << "eventception replay: no spec: pass --spec FILE (the server's --spec files)\n";
    return 2;
  }
  Result<std::shared_ptr<const spec::CompiledSpecs>> specs = registry.LoadInitial();
  if (!specs.ok()) {
    std::cerr << specs.status().message() << "\n";
    return 1;
  }
  log::LogManagerOptions lo;
  lo.data_dir = config.data_dir;
  lo.default_partitions = config.topic_defaults.partitions;
  Result<std::unique_ptr<log::LogManager>> logs = log::LogManager::Open(lo);
  if (!logs.ok()) {
    std::cerr << "eventception replay: cannot open data dir '" << config.data_dir << "': " << logs.status().message() << "\n";
    return 1;
  }
  server::TopicWriter writer(logs->get(), &config);
  server::ReplayEnv env;
  env.logs = logs->get();
  env.writer = &writer;
  env.specs = *specs;
  env.processor.dead_letter_topic = config.dead_letter_topic;
  env.processor.structured_all = config.topic_defaults.cloudevents_mode == server::CloudEventsMode::kStructured;
  for (const auto& [name, t] : config.topics) {
    if (t.cloudevents_mode == server::CloudEventsMode::kStructured) env.processor.structured_topics.push_back(name);
  }
  env.raw_topic = config.raw_topic;
  env.store = store->get();
  env.default_end = server::CommittedPositions(logs->get(), config.raw_topic);
  env.max_record_bytes = config.max_record_bytes;
  env.max_json_depth = config.max_json_depth;
  server::ReplayProgress progress;
  Status s = server::RunReplay(request, env, &progress);
  std::cerr << "replayed " << progress.exchanges.load() << " exchange(s) from " << progress.raw_records.load()
            << " raw record(s): " << progress.written.load() << " record(s) written, " << progress.skipped.load()
            << " output(s) not written (other types, state-only rebuild, " << progress.dead_letters.load()
            << " dead letter(s))\n";
  if (!s.ok()) {
    std::cerr << "eventception replay: " << s.message() << "\n";
    return s.code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace

void AddReplayCommand(CLI::App& app) {
  auto a = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Re-run event definitions over the retained raw history (same topics, same CloudEvent ids), or rebuild "
      "a resource's state (docs/replay.md)");
  cmd->add_option("--from", a->from, "first raw record: an offset (every source partition), earliest, or an RFC 3339 time")
      ->required();
  cmd->add_option("--to", a->to,
                  "end, exclusive: offset or time (default: where the pipeline is, or where the running spec took "
                  "effect when a server runs it)");
  cmd->add_option("--event", a->event, "replay only this event type");
  cmd->add_option("--resource", a->resource, "rebuild this resource's state from history (needs --from earliest)");
  cmd->add_flag("--snapshot", a->snapshot, "with --resource: afterwards one Debezium `r` record per live key");
  cmd->add_option("--into", a->into, "write every event into this topic instead of its own");
  cmd->add_option("--spec", a->specs, "the server's --spec files (offline; PUT specs in the data dir are added)");
  cmd->add_option("--data-dir", a->data_dir, "data directory (offline; default ./eventception-data)");
  cmd->add_option("--config", a->config_file, "the server's config file (offline: topic options, raw topic)");
  cmd->add_option("--server", a->server, "http://HOST:PORT of a running server: the replay runs there");
  cmd->add_flag("--no-wait", a->no_wait, "with --server: print the job id and return at once");
  cmd->callback([a] {
    int rc = a->server.empty() ? RunOffline(*a) : RunOnServer(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
