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
  std::string syslog_udp, syslog_tcp, syslog_format;
  std::string proxy_listen, proxy_upstream;
  std::string firehose_access_key;
  std::vector<std::string> follow_files;
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
  if (!args.syslog_udp.empty()) config.syslog.udp = args.syslog_udp;
  if (!args.syslog_tcp.empty()) config.syslog.tcp = args.syslog_tcp;
  if (!args.syslog_format.empty()) config.syslog.format = args.syslog_format;
  if (!args.proxy_listen.empty()) config.proxy.listen = args.proxy_listen;
  if (!args.proxy_upstream.empty()) config.proxy.upstream = args.proxy_upstream;
  if (!args.firehose_access_key.empty()) config.firehose.access_key = args.firehose_access_key;
  for (const std::string& f : args.follow_files) config.files.push_back({f, "detect"});
  if (config.proxy.enabled() && config.proxy.upstream.empty()) {
    std::cerr << "eventception serve: --proxy-listen needs --proxy-upstream http://HOST:PORT (the API to forward to)\n";
    return 2;
  }

  // Block the stop signals in every thread; this one waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload the specs (docs/configuration.md)
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
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) (void)app.ReloadSpecs();  // logs its outcome
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
  cmd->add_option("--syslog-udp", args->syslog_udp, "syslog listener on UDP HOST:PORT (syslog.udp; port 0 = free)");
  cmd->add_option("--syslog-tcp", args->syslog_tcp, "syslog listener on TCP HOST:PORT (syslog.tcp; port 0 = free)");
  cmd->add_option("--syslog-format", args->syslog_format, "decoder of syslog messages (syslog.format; default detect)");
  cmd->add_option("--proxy-listen", args->proxy_listen, "capture proxy HOST:PORT (proxy.listen; port 0 = free)");
  cmd->add_option("--proxy-upstream", args->proxy_upstream, "http://HOST:PORT the capture proxy forwards to (proxy.upstream)");
  cmd->add_option("--firehose-access-key", args->firehose_access_key,
                  "X-Amz-Firehose-Access-Key for POST /v1/ingest/firehose (firehose.access_key)");
  cmd->add_option("--follow-file", args->follow_files, "NDJSON file to tail, rotation-safe (files[]; repeatable)");
  cmd->footer("Config file options (docs/configuration.md):\n" + server::DescribeConfigOptions());
  cmd->callback([args] {
    int rc = RunServe(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
