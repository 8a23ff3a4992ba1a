// Exactly-once vs at-least-once processing in `serve`'s pipeline, in one process: shop
// traffic (tests/cdc/shop_traffic.h, seed 7: events, changelogs, dead letters) is appended to
// the raw topic the way HTTP ingest does, outside the timing; then a PipelineRunner with the
// RocksDB state store drains it, as `serve` runs it (real log, fdatasync on every pass).
// Wall time (the runner is one thread; fdatasync dominates small passes).
//   build-*/bench_eos [--benchmark_repetitions=3]
// Args: guarantee (0 = at_least_once, 1 = exactly_once), pass size (max bytes read per pass:
// 1 MiB drains a backlog; 16 KiB is ~20 exchanges, like live traffic arriving slowly).
// items_per_second = exchanges per second; compare the two guarantees at the same pass size.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../tests/cdc/shop_traffic.h"
#include "cdc/changelog_service.h"
#include "log/log_manager.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/ingest.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace {

constexpr int kExchanges = 20000;

std::vector<ec::server::IngestRecord> Traffic() {
  ec::testing::ShopTraffic t(7);
  std::vector<ec::server::IngestRecord> out;
  for (int i = 0; i < kExchanges; ++i) {
    std::string line = t.Next();
    std::string id = line.substr(7, line.find('"', 7) - 7);  // {"id":"x-N",...
    out.push_back({id, line});
  }
  return out;
}

void BM_Pipeline(benchmark::State& state) {
  const bool exactly_once = state.range(0) == 1;
  const size_t pass_bytes = static_cast<size_t>(state.range(1));
  static const std::vector<ec::server::IngestRecord> traffic = Traffic();
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = std::move(ec::spec::LoadSpecs(files)).value();
  const auto dir = std::filesystem::temp_directory_path() / ("ec_bench_eos_" + std::to_string(getpid()));
  ec::server::ServerConfig config;
  uint64_t outputs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    ec::log::LogManagerOptions lo;
    lo.data_dir = dir.string();
    auto logs = std::move(ec::log::LogManager::Open(lo)).value();
    (void)logs->CreateTopic("api-logs", 1, {});
    auto raw = logs->GetPartition("api-logs", 0);
    for (size_t i = 0; i < traffic.size(); i += 100) {
      std::vector<ec::server::IngestRecord> chunk(traffic.begin() + i,
                                                  traffic.begin() + std::min(traffic.size(), i + 100));
      (void)raw->Append(std::move(ec::server::BuildBatches(chunk, 1795773600000).value()), {});
    }
    ec::server::MetricsRegistry metrics;
    ec::server::TopicWriter writer(logs.get(), &config);
    ec::pipeline::Processor processor(specs, {});
    ec::cdc::ChangelogServiceOptions co;
    co.data_dir = dir.string();
    auto changelogs = std::move(ec::cdc::ChangelogService::Open(co, *specs, logs.get())).value();
    processor.AddStage(changelogs->stage());
    ec::server::RunnerOptions ro;
    ro.exactly_once = exactly_once;
    ro.max_read_bytes = pass_bytes;
    ec::server::PipelineRunner runner(ro, logs.get(), &processor, &writer, &metrics);
    runner.SetStateStore(changelogs->txn_store());
    if (!runner.Recover().ok()) {
      state.SkipWithError("recovery failed");
      break;
    }
    state.ResumeTiming();
    runner.Start();
    const int64_t end = raw->log_end_offset();
    while (true) {
      auto c = logs->group_offsets()->Fetch(ec::server::kPipelineGroup, "api-logs", 0);
      if (c && c->offset >= end) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    runner.Stop();
    state.PauseTiming();
    for (const ec::log::TopicInfo& t : logs->ListTopics()) {
      if (t.name.rfind("__", 0) == 0 || t.name == "api-logs") continue;
      for (int32_t p = 0; p < t.partitions; ++p) outputs += logs->GetPartition(t.name, p)->log_end_offset();
    }
    state.ResumeTiming();
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * kExchanges);
  state.counters["output_offsets"] = static_cast<double>(outputs) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Pipeline)
    ->ArgNames({"eos", "pass_bytes"})
    ->Args({0, 1 << 20})
    ->Args({1, 1 << 20})
    ->Args({0, 16 << 10})
    ->Args({1, 16 << 10})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

}  // namespace
BENCHMARK_MAIN();
