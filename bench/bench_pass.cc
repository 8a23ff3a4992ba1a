// The pipeline thread of `serve` on its own (issue 5: CPU per shop line of `ec-pipeline`): the
// shop traffic bench_server.py sends (examples/shop/traffic.py, its fixed seed) is ingested as
// serve ingests it (decode + redact, canonical JSON, the raw batches) into `api-logs` of a fresh
// log, then a real PipelineRunner (exactly once, changelogs on RocksDB, TopicWriter) processes it
// all: reads, decodes the stored records, Process, changelog, state records, transactional
// appends, markers, the state checkpoint. Everything but the runner's own thread is setup.
//   build-*/bench/bench_pass [--benchmark_min_time=1]
// BM_PipelineThreadShopEvents runs the shop's events only (no changelog stage), so the events'
// cost per event is its count minus that of the ingest-only pass, divided by the events.
// Reported time = the `ec-pipeline` thread's CPU per iteration (manual time); ns_per_line too.
// For instruction counts (stable on a loaded machine) count that thread only:
//   valgrind --tool=callgrind --toggle-collect='ec::server::PipelineRunner::Run()'
//       build-*/bench/bench_pass --benchmark_min_time=0.01
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cdc/changelog_service.h"
#include "shop_traffic_lines.h"
#include "log/log_manager.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/ingest.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace {

constexpr size_t kLines = 20000;
constexpr size_t kRequestLines = 1000;  // bench_server.py's --batch

// The raw batches ingest appends for the traffic, one string per request of kRequestLines.
std::vector<std::string> RawBatches(const ec::spec::CompiledSpecs* specs, size_t* lines, size_t count = kLines) {
  // Generated once per count and process: --benchmark_repetitions of 200,000 lines spent most
  // of their wall time in traffic.py.
  static std::map<size_t, std::string> generated;
  auto [at, fresh] = generated.try_emplace(count);
  if (fresh) at->second = ShopTrafficLines(count);
  const std::string& text = at->second;
  std::vector<std::string> out;
  *lines = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    for (size_t k = 0; k < kRequestLines && end < text.size(); ++k) {
      size_t nl = text.find('\n', end);
      end = nl == std::string::npos ? text.size() : nl + 1;
    }
    std::string body = text.substr(pos, end - pos);
    pos = end;
    ec::Arena arena(64 << 10);
    std::vector<ec::server::RawRecord> records;
    ec::server::BodyShape shape;
    if (!ec::server::SplitBody(body, "application/x-ndjson", {}, &arena, &records, &shape).ok()) continue;
    ec::server::IngestBatch accepted;
    std::vector<ec::server::Rejection> rejected;
    ec::server::DecodeForIngest(records, "detect", specs, {}, &arena, &accepted, &rejected);
    auto batches = ec::server::BuildBatches(accepted, 1764000000000);
    if (!batches.ok()) continue;
    *lines += accepted.size();
    out.push_back(std::move(batches).value());
  }
  return out;
}

// Nanoseconds on CPU of this process's thread named `name` (0 when there is none).
uint64_t ThreadCpuNs(const char* name) {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  uint64_t ns = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream sched(base + "/schedstat");
    uint64_t on_cpu = 0;
    sched >> on_cpu;
    ns = on_cpu;
  }
  closedir(d);
  return ns;
}

// changelogs: the shop spec as it is (events and changelogs, `--annotations all`); without,
// its events only (no changelog stage, no state store: bench_server.py's `--annotations
// events`, whose spec has no resources), to count the events' own cost.
// `count` lines (kLines unless told).
void RunPipelineThreadShop(benchmark::State& state, bool changelogs, size_t count = kLines) {
  ec::server::KeepFreedMemoryForReuse();  // as serve does at startup
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto loaded = ec::spec::LoadSpecs(files);
  if (!loaded.ok()) {
    state.SkipWithError("cannot load the shop spec");
    return;
  }
  std::shared_ptr<const ec::spec::CompiledSpecs> specs = *loaded;
  size_t lines = 0;
  const std::vector<std::string> raw = RawBatches(specs.get(), &lines, count);
  if (lines == 0) {
    state.SkipWithError("examples/shop/traffic.py gave nothing");
    return;
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ec_bench_pass_" + std::to_string(getpid()));
  uint64_t outputs = 0;
  for (auto _ : state) {
    std::filesystem::remove_all(dir);
    ec::server::ServerConfig config;
    config.data_dir = dir.string();
    ec::log::LogManagerOptions lo;
    lo.data_dir = (dir / "log").string();
    lo.maintenance_interval_ms = 0;
    auto logs = std::move(ec::log::LogManager::Open(lo)).value();
    (void)logs->CreateTopic("api-logs", 1, {});
    auto raw_log = logs->GetPartition("api-logs", 0);
    for (const std::string& b : raw) (void)raw_log->Append(b, {ec::log::Durability::kWritten});
    ec::cdc::ChangelogServiceOptions co;
    co.data_dir = (dir / "state").string();
    std::unique_ptr<ec::cdc::ChangelogService> service;
    if (changelogs) service = std::move(ec::cdc::ChangelogService::Open(co, *specs, logs.get())).value();
    ec::pipeline::Processor processor(specs, {});
    if (service) processor.AddStage(service->stage());
    ec::server::TopicWriter writer(logs.get(), &config);
    ec::server::MetricsRegistry metrics;
    ec::server::PipelineRunner runner({}, logs.get(), &processor, &writer, &metrics);
    if (service) runner.SetStateStore(service->txn_store());
    if (!runner.Recover().ok()) {
      state.SkipWithError("recovery failed");
      break;
    }
    runner.Start();
    while (runner.processed() < lines) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const uint64_t cpu_ns = ThreadCpuNs("ec-pipeline");  // read while the thread exists
    runner.Stop();
    state.SetIterationTime(static_cast<double>(cpu_ns) / 1e9);
    state.counters["ns_per_line"] = static_cast<double>(cpu_ns) / static_cast<double>(lines);
    outputs = static_cast<uint64_t>(metrics.GetCounter("eventception_matched_total", "")->value());
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines));
  state.counters["matched"] = static_cast<double>(outputs);
}
void BM_PipelineThreadShop(benchmark::State& state) { RunPipelineThreadShop(state, true); }
BENCHMARK(BM_PipelineThreadShop)->UseManualTime()->Unit(benchmark::kMillisecond);
void BM_PipelineThreadShopEvents(benchmark::State& state) { RunPipelineThreadShop(state, false); }
BENCHMARK(BM_PipelineThreadShopEvents)->UseManualTime()->Unit(benchmark::kMillisecond);
// 200,000 lines, bench_server.py's default count: the state map then holds ~66,000 keys, tens of
// megabytes, as in serve, so the changelog stage's cache and TLB misses show (at 20,000 lines
// its states mostly stay in the CPU's caches). Native timing only (for perf stat, alternating
// binaries); Iterations(1): one pass over the lines is ~1 s.
void BM_PipelineThreadShop200k(benchmark::State& state) { RunPipelineThreadShop(state, true, 200000); }
BENCHMARK(BM_PipelineThreadShop200k)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
