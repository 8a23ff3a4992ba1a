#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <pthread.h>

#include "cli/commands.h"
#include "server/application.h"
#include "server/config.h"

namespace ec::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> specs;
  std::string config_file;
  std::string data_dir;
  std::string http;
  std::string kafka;
  std::vector<std::string> webhook_allow;
};

int RunServe(const ServeArgs& args) {
  server::ServerConfig config;
  if (!args.config_file.empty()) {
    Status s = server::LoadConfigFile(args.config_file, &config);
    if (!s.ok()) {
      std::cerr << "eventception serve: " << s.message() << "\n";
      return 2;
    }
  }
  // The command line overrides the file.
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  if (!args.http.empty()) config.http_address = args.http;
  if (!args.kafka.empty()) config.kafka_address = args.kafka;
  for (const std::string& cidr : args.webhook_allow) config.webhook_allow.push_back(cidr);

  // Block the stop signals in every thread; this one waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::Application app(config, args.specs);
  Status s = app.Start();
  if (!s.ok()) {
    std::cerr << "eventception serve: " << s.message() << "\n";
    app.Stop();
    return 1;
  }
  std::cerr << "eventception: HTTP listening on " << config.http_address.substr(0, config.http_address.rfind(':'))
            << ":" << app.http_port() << ", Kafka protocol on "
            << config.kafka_address.substr(0, config.kafka_address.rfind(':')) << ":" << app.kafka_port() << "\n";
  std::cout << app.Banner() << std::flush;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "eventception: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
  app.Stop();
  std::cerr << "eventception: stopped\n";
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve ingest, the pipeline, the Kafka protocol and the admin API");
  cmd->add_option("--spec", args->specs, "OpenAPI document(s) with x-eventception annotations")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--config", args->config_file, "YAML config file (options below)");
  cmd->add_option("--data-dir", args->data_dir, "data directory (data_dir; default ./eventception-data)");
  cmd->add_option("--http", args->http, "HTTP listener HOST:PORT (listeners.http; default 127.0.0.1:8080, port 0 = free)");
  cmd->add_option("--kafka", args->kafka, "Kafka listener HOST:PORT (listeners.kafka; default 127.0.0.1:9092, port 0 = free)");
  cmd->add_option("--webhook-allow", args->webhook_allow,
                  "CIDR webhooks may reach although private/loopback (webhooks.allow; repeatable)");
  cmd->footer("Config file options (docs/configuration.md):\n" + server::DescribeConfigOptions());
  cmd->callback([args] {
    int rc = RunServe(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
