// Kafka-protocol broker benchmark, every figure in one run, each against its peer:
//   produce throughput (librdkafka producer, 1 KiB values, batching; acks=1 and acks=-1),
//   consume throughput (librdkafka consumer; and our raw Fetch client that discards),
//   p99 produce-to-consume latency at 10k msg/s with linger.ms=0,
// against our broker and against librdkafka's mock cluster with the same clients; iperf3 on
// loopback as the physical limit; 10,000 idle connections (RSS). Prints ratios.
// Usage: bench_kafka [--messages N] (default 200000)
//                    [--only produce,rawproduce,consume,latency,iperf,idle]
//                    [--io-threads N] (broker I/O threads; default: the ServerOptions default)
//                    [--producers N] (parallel producers, one partition each; default 2)
//                    [--fetch-seconds S] (raw Fetch run length; default 3)
//                    [--page-cache-window-mib N] (the log's page-cache window; 0 = none,
//                    the OS keeps every written page; default: the LogManager default)
//                    [--latency-breakdown] (our broker: stamp when each offset became readable,
//                    splitting the latency in two legs; the stamping thread wakes on every
//                    append, so it adds load: off by default, the quoted p99 is without it)
// With one librdkafka producer the client saturates a core before either broker does, so the
// produce runs use several producers and also report each broker's own CPU per GB; the raw
// produce runs (our client sending ready-made batches, to both brokers) are broker-bound.
// Not a test: run by `make bench`.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kafka/bench_util.h"
#include "kafka/server/server.h"
#include "log/log_manager.h"

using namespace ec::kafka::bench;  // NOLINT: bench-local helpers

int main(int argc, char** argv) {
  int messages = 200000;
  std::string only = "produce,rawproduce,consume,latency,iperf,idle";
  int io_threads = 0;
  int producers = 2;
  double fetch_seconds = 3;
  bool breakdown = false;
  int64_t window_mib = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--latency-breakdown") breakdown = true;
  }
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages") messages = std::stoi(argv[i + 1]);
    if (a == "--only") only = argv[i + 1];
    if (a == "--io-threads") io_threads = std::stoi(argv[i + 1]);
    if (a == "--producers") producers = std::max(1, std::stoi(argv[i + 1]));
    if (a == "--fetch-seconds") fetch_seconds = std::stod(argv[i + 1]);
    if (a == "--page-cache-window-mib") window_mib = std::stoll(argv[i + 1]);
  }
  auto want = [&](const char* what) { return ("," + only + ",").find("," + std::string(what) + ",") != std::string::npos; };
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  TempDir dir;
  ec::log::LogManagerOptions lo;
  lo.data_dir = dir.path;
  if (window_mib >= 0) lo.page_cache_window_bytes = static_cast<uint64_t>(window_mib) << 20;
  auto logs = ec::log::LogManager::Open(lo);
  if (!logs.ok()) {
    std::fprintf(stderr, "%s\n", logs.status().ToString().c_str());
    return 1;
  }
  ec::kafka::ServerOptions so;
  so.listeners = {{"127.0.0.1", 0}};
  if (io_threads > 0) so.io_threads = io_threads;
  ec::kafka::Server server(so, logs->get());
  if (!server.Start().ok()) return 1;
  std::string ours = "127.0.0.1:" + std::to_string(server.bound_port());

  MockCluster mock;
  std::string theirs = mock.bootstrap();

  std::printf("bench_kafka: %d messages of %zu bytes per run; page-cache window %llu MiB\n", messages,
              kValueSize, static_cast<unsigned long long>(lo.page_cache_window_bytes >> 20));
  // The clients' memory: librdkafka allocates ~1 MB request buffers, which glibc would map
  // fresh for each (and a fresh page costs ~10 us on the VMs we measure on), and the broker
  // measured first would pay for growing the process's heaps. So freed memory stays in the
  // process, and a warm-up produce run against each broker (not measured) grows the heaps
  // before either is measured: both brokers' clients then start from the same memory.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (want("produce")) {
    const std::vector<std::string> none;
    (void)(*logs)->CreateTopic("warmup", producers);
    mock.CreateTopic("warmup", producers);
    (void)ProduceRun(ours, "warmup", messages, "-1", producers, none);
    (void)ProduceRun(theirs, "warmup", messages, "-1", producers, none);
  }
  Figures f_ours, f_mock;
  LatencyBreakdown lat_breakdown;
  for (auto* target : {&f_ours, &f_mock}) {
    bool is_ours = target == &f_ours;
    const std::string& bs = is_ours ? ours : theirs;
    auto create = [&](const std::string& t, int partitions) {
      if (is_ours) {
        (void)(*logs)->CreateTopic(t, partitions);
      } else {
        mock.CreateTopic(t, partitions);
      }
    };
    create("p1", producers);
    create("pall", producers);
    create("lat", 1);
    const std::vector<std::string> threads =
        is_ours ? std::vector<std::string>{"ec-kafka", "ec-log"} : std::vector<std::string>{"rdk:mock"};
    if (want("produce") || want("consume")) {
      target->produce_acks1 = ProduceRun(bs, "p1", messages, "1", producers, threads);
    }
    if (want("produce")) target->produce_acksall = ProduceRun(bs, "pall", messages, "-1", producers, threads);
    if (want("rawproduce")) {
      create("rp1", producers);
      create("rpall", producers);
      target->raw_produce_acks1 = RawProduceRun(bs, "rp1", producers, "1", fetch_seconds, threads);
      target->raw_produce_acksall = RawProduceRun(bs, "rpall", producers, "-1", fetch_seconds, threads);
    }
    if (want("consume")) {
      auto [lo, hi] = Watermarks(bs, "p1");
      target->retained = hi - lo;
      target->consume_rdkafka = ConsumeRun(bs, "p1", static_cast<int>(hi - lo));
      target->consume_raw = RawFetchRun(bs, "p1", lo, hi, fetch_seconds);
    }
    if (want("latency")) {
      bool split = is_ours && breakdown;
      target->latency = LatencyRun(bs, "lat", 10000, 3, split ? (*logs)->GetPartition("lat", 0) : nullptr,
                                   split ? &lat_breakdown : nullptr);
    }
  }
  double iperf_gbit = want("iperf") ? Iperf3Loopback() : 0;
  IdleResult idle = want("idle") ? IdleConnections(server, 10000) : IdleResult{};

  std::printf("\n%-44s %14s %14s %8s\n", "figure", "eventception", "mock cluster", "ratio");
  auto row = [](const char* name, double a, double b, const char* unit) {
    std::printf("%-44s %10.1f %-3s %10.1f %-3s %7.2fx\n", name, a, unit, b, unit, b > 0 ? a / b : 0);
  };
  std::printf("(produce: %d producers in parallel, one partition each)\n", producers);
  row("produce acks=1 (MB/s)", f_ours.produce_acks1.tp.mb_s, f_mock.produce_acks1.tp.mb_s, "");
  row("produce acks=1 (msg/s, k)", f_ours.produce_acks1.tp.msg_s / 1e3, f_mock.produce_acks1.tp.msg_s / 1e3, "");
  row("produce acks=-1 (MB/s)", f_ours.produce_acksall.tp.mb_s, f_mock.produce_acksall.tp.mb_s, "");
  // Cost, lower is better: a ratio below 1 means our broker uses less CPU per GB.
  row("broker CPU ms/GB acks=1 (lower=better)", f_ours.produce_acks1.broker_cpu_s_per_gb * 1e3,
      f_mock.produce_acks1.broker_cpu_s_per_gb * 1e3, "");
  row("broker CPU ms/GB acks=-1 (lower=better)", f_ours.produce_acksall.broker_cpu_s_per_gb * 1e3,
      f_mock.produce_acksall.broker_cpu_s_per_gb * 1e3, "");
  // The clients' side of the same librdkafka runs: what the same clients cost against each.
  for (auto [name, a, b] : {std::tuple{"acks=1", &f_ours.produce_acks1, &f_mock.produce_acks1},
                            std::tuple{"acks=-1", &f_ours.produce_acksall, &f_mock.produce_acksall}}) {
    std::string n = name;
    row(("  client CPU ms/GB " + n + " (lower=better)").c_str(), a->client_cpu_s_per_gb * 1e3,
        b->client_cpu_s_per_gb * 1e3, "");
    row(("    of which producing threads " + n).c_str(), a->client_app_cpu_s_per_gb * 1e3,
        b->client_app_cpu_s_per_gb * 1e3, "");
    row(("  flush wait after the last produce " + n + " (s)").c_str(), a->flush_wait_s, b->flush_wait_s, "");
    row(("  Produce requests per GB " + n).c_str(), a->requests_per_gb, b->requests_per_gb, "");
    row(("  messages per Produce request " + n).c_str(), a->msgs_per_request, b->msgs_per_request, "");
    row(("  request rtt avg " + n + " (ms)").c_str(), a->rtt_avg_ms, b->rtt_avg_ms, "");
    row(("  request rtt p99 " + n + " (ms)").c_str(), a->rtt_p99_ms, b->rtt_p99_ms, "");
  }
  row("raw produce acks=1 (MB/s)", f_ours.raw_produce_acks1.tp.mb_s, f_mock.raw_produce_acks1.tp.mb_s, "");
  row("raw produce acks=-1 (MB/s)", f_ours.raw_produce_acksall.tp.mb_s, f_mock.raw_produce_acksall.tp.mb_s, "");
  row("  broker CPU ms/GB raw acks=1", f_ours.raw_produce_acks1.broker_cpu_s_per_gb * 1e3,
      f_mock.raw_produce_acks1.broker_cpu_s_per_gb * 1e3, "");
  std::printf("%-44s %10lld     %10lld\n", "messages held for the consume runs", (long long)f_ours.retained, (long long)f_mock.retained);
  row("consume librdkafka (MB/s)", f_ours.consume_rdkafka.mb_s, f_mock.consume_rdkafka.mb_s, "");
  row("consume raw Fetch, discard (MB/s)", f_ours.consume_raw.mb_s, f_mock.consume_raw.mb_s, "");
  row("consume raw Fetch, discard (records/s, k)", f_ours.consume_raw.msg_s / 1e3, f_mock.consume_raw.msg_s / 1e3, "");
  std::printf("%-44s %10.3f ms %10.3f ms\n", "latency p50 @10k msg/s, linger.ms=0", f_ours.latency.p50_ms, f_mock.latency.p50_ms);
  std::printf("%-44s %10.3f ms %10.3f ms  (target < 2 ms)\n", "latency p99 @10k msg/s, linger.ms=0", f_ours.latency.p99_ms, f_mock.latency.p99_ms);
  if (breakdown) {
    std::printf("%-44s p50 %.3f ms, p99 %.3f ms (%zu messages)\n", "  of which produce -> readable in the log",
                lat_breakdown.to_append.p50_ms, lat_breakdown.to_append.p99_ms, lat_breakdown.matched);
    std::printf("%-44s p50 %.3f ms, p99 %.3f ms\n", "  of which readable -> consumed",
                lat_breakdown.append_to_consume.p50_ms, lat_breakdown.append_to_consume.p99_ms);
  }
  double raw_gbit = f_ours.consume_raw.mb_s * 8 / 1000;
  std::printf("%-44s %10.2f Gbit/s\n", "iperf3 loopback, one stream", iperf_gbit);
  std::printf("%-44s %10.2f Gbit/s = %.0f%% of iperf3 (target >= 50%%)\n", "raw Fetch consume", raw_gbit,
              iperf_gbit > 0 ? 100 * raw_gbit / iperf_gbit : 0);
  std::printf("%-44s %d held, RSS %+.1f MiB (%.0f bytes/conn), served after: %s\n",
              "idle connections", idle.held, idle.rss_delta_mib,
              idle.held ? idle.rss_delta_mib * 1048576 / idle.held : 0, idle.still_serving ? "yes" : "NO");
  std::printf("%-44s %llu\n", "fdatasync calls (group commit)",
              static_cast<unsigned long long>((*logs)->flusher()->sync_calls()));
  server.Stop();
  return 0;
}
