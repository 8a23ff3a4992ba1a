#include <csignal>
#include <CLI/CLI.hpp>
#include <iostream>
#include <mutex>
#include <string>

#include "capture/capture_shipper.h"
#include "capture/ingest_sink.h"
#include "capture/proxy.h"
#include "cli/commands.h"

namespace ec::cli {
namespace {

struct ProxyArgs {
  std::string listen = "127.0.0.1:8081";
  std::string upstream;
  std::string ingest;
  bool local = false;
  size_t max_body = 1 << 20;
  size_t queue = 10000;
  int threads = 2;
};

// Waits for SIGINT/SIGTERM (blocked in every thread, taken here with sigwait).
int WaitForSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int RunProxy(const ProxyArgs& args) {
  if (!args.ingest.empty() && args.local) {
    std::cerr << "eventception proxy: give --ingest URL or --local, not both\n";
    return 2;
  }
  std::unique_ptr<capture::CaptureSink> sink;
  std::mutex out_mu;
  if (!args.ingest.empty()) {
    sink = capture::MakeIngestSink({args.ingest});
  } else {
    // --local outside `serve`: the in-process target is stdout, one exchange per line.
    sink = capture::MakeCallbackSink([&out_mu](std::span<const std::string> lines) {
      std::lock_guard<std::mutex> lock(out_mu);
      for (const std::string& l : lines) std::cout << l << '\n';
      std::cout.flush();
      return Status::Ok();
    });
  }
  capture::ShipperOptions so;
  so.max_queue_items = args.queue;
  capture::CaptureShipper shipper(std::move(sink), so);

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  capture::ProxyOptions po;
  po.listen = args.listen;
  po.upstream = args.upstream;
  po.max_body_bytes = args.max_body;
  po.threads = args.threads;
  auto proxy = capture::CaptureProxy::Start(
      po, [&shipper](capture::CapturedExchange&& x) { shipper.Offer(capture::ToExchangeJson(x)); });
  if (!proxy.ok()) {
    std::cerr << "eventception proxy: " << proxy.status().ToString() << "\n";
    return 1;
  }
  std::cerr << "eventception proxy: listening on " << (*proxy)->address() << ", forwarding to "
            << args.upstream << ", captures to "
            << (args.ingest.empty() ? std::string("stdout") : args.ingest) << std::endl;
  WaitForSignal(set);
  (*proxy)->Stop();
  shipper.Stop();
  capture::ProxyStats ps = (*proxy)->stats();
  capture::ShipperStats ss = shipper.stats();
  std::cerr << "eventception proxy: " << ps.connections_accepted << " connections, "
            << ps.exchanges << " exchanges captured, " << ss.shipped << " shipped, "
            << ss.dropped_queue_full << " dropped (queue full), " << ss.dropped_failed
            << " dropped (ingest failed), " << ps.upstream_connect_failures
            << " upstream connect failures" << std::endl;
  return 0;
}

}  // namespace

void AddProxyCommand(CLI::App& app) {
  auto args = std::make_shared<ProxyArgs>();
  auto* cmd = app.add_subcommand(
      "proxy", "Run the capture proxy: forward HTTP/1.1 unchanged to an upstream, record exchanges");
  cmd->add_option("--listen", args->listen, "HOST:PORT to accept clients on (port 0 = any free)")
      ->capture_default_str();
  cmd->add_option("--upstream", args->upstream, "http://HOST:PORT of the API to forward to")
      ->required();
  auto* ingest = cmd->add_option(
      "--ingest", args->ingest,
      "POST captures as NDJSON here, e.g. http://127.0.0.1:8080/v1/exchanges?format=canonical");
  cmd->add_flag("--local", args->local, "Write captures to stdout, one JSON exchange per line")
      ->excludes(ingest);
  cmd->add_option("--max-body", args->max_body, "Bytes of each body to record (the rest is counted)")
      ->capture_default_str();
  cmd->add_option("--queue", args->queue, "Captures waiting to ship; more are dropped and counted")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "I/O threads")->capture_default_str();
  cmd->callback([args] {
    int rc = RunProxy(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
