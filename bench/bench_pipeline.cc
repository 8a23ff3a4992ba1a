// The processing core on one core, in process (no HTTP, no log): parse + decode (canonical,
// with the shop spec's redaction) + match + CEL/JSONata for every event definition + the
// output records, over the anchors' 1.5 KB exchange record (../shared/anchors/gen/record.json)
// with the shop example spec (examples/shop/openapi.yaml: 2 definitions on createOrder).
//   build-*/bench_pipeline [--benchmark_min_time=1]
// items_per_second is exchanges per second per core. End-to-end figures (HTTP ingest -> topic)
// belong to the server benchmark.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/exchange.h"
#include "pipeline/processor.h"
#include "spec/spec.h"

namespace {

std::string Record() {
  std::ifstream in(std::string(EC_SHARED_DIR) + "/anchors/gen/record.json");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::shared_ptr<const ec::spec::CompiledSpecs> Specs() {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto s = ec::spec::LoadSpecs(files);
  if (!s.ok()) return nullptr;
  return *s;
}

void BM_Decode(benchmark::State& state) {
  std::string rec = Record();
  auto specs = Specs();
  ec::pipeline::DecodeOptions o;
  o.redact = specs->redact_paths();
  std::vector<ec::json::Value> xs;
  for (auto _ : state) {
    ec::Arena arena(8192);
    xs.clear();
    ec::Status s = ec::pipeline::DecodeBytes(rec, "detect", o, &arena, &xs);
    benchmark::DoNotOptimize(s.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(rec.size()));
}
BENCHMARK(BM_Decode);

void BM_DecodeAndProcess(benchmark::State& state) {
  std::string rec = Record();
  auto specs = Specs();
  ec::pipeline::ProcessorOptions po;
  po.structured_all = state.range(0) != 0;
  ec::pipeline::Processor p(specs, po);
  ec::pipeline::DecodeOptions o;
  o.redact = specs->redact_paths();
  std::vector<ec::json::Value> xs;
  std::vector<ec::pipeline::OutputRecord> out;
  size_t records = 0;
  for (auto _ : state) {
    ec::Arena arena(8192);
    xs.clear();
    out.clear();
    if (!ec::pipeline::DecodeBytes(rec, "detect", o, &arena, &xs).ok()) state.SkipWithError("decode failed");
    for (const ec::json::Value& x : xs) p.Process(x, &arena, &out, nullptr);
    records += out.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["records_per_exchange"] =
      static_cast<double>(records) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}
BENCHMARK(BM_DecodeAndProcess)->Arg(0)->Arg(1)->ArgName("structured");

}  // namespace

BENCHMARK_MAIN();
