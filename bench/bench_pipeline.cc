// The processing core on one core, in process (no HTTP, no log): parse + decode (canonical,
// with the shop spec's redaction) + match + CEL/JSONata for every event definition + the
// output records, over the anchors' 1.5 KB exchange record (../shared/anchors/gen/record.json)
// with the shop example spec (examples/shop/openapi.yaml: 2 definitions on createOrder).
//   build-*/bench_pipeline [--benchmark_min_time=1]
// items_per_second is exchanges per second per core. End-to-end figures (HTTP ingest -> topic)
// belong to the server benchmark.
#include <benchmark/benchmark.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "json/compact_parser.h"
#include "json/document.h"
#include "log/log_manager.h"
#include "pipeline/exchange.h"
#include "pipeline/processor.h"
#include "server/dedupe_index.h"
#include "server/ingest.h"
#include "spec/spec.h"
#include "shop_traffic_lines.h"

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

// An NDJSON body of `n` copies of the record, each with its own id (as one HTTP request).
std::string Body(size_t n) {
  std::string rec = Record();
  std::string body;
  for (size_t i = 0; i < n; ++i) {
    std::string r = rec;
    size_t at = r.find("ex-0000000000");
    if (at != std::string::npos) {
      std::string id = std::to_string(i);
      r.replace(at + 13 - id.size(), id.size(), id);
    }
    body += r;
    body += '\n';
  }
  return body;
}

// One NDJSON request through ingest as serve runs it, without the HTTP and the append:
// split + parse, decode + redact, serialise, record batches. Returns the records split.
size_t IngestRequest(benchmark::State& state, const std::string& body, const ec::spec::CompiledSpecs* specs,
                     const ec::server::IngestOptions& io) {
  ec::Arena arena(64 << 10);
  std::vector<ec::server::RawRecord> records;
  ec::server::BodyShape shape;
  ec::server::SplitOptions split;
  split.defer_parse = true;  // as serve splits: DecodeForIngest parses what the fast path declines
  if (!ec::server::SplitBody(body, "application/x-ndjson", split, &arena, &records, &shape).ok()) {
    state.SkipWithError("split failed");
  }
  // One batch per thread, cleared per request, as Ingest::Handle keeps it: a fresh one grew its
  // ~700 KB buffer by doubling in every request (~1,100 instructions per line of copies that
  // serve does not make, counted wherever the growth happened to fall).
  thread_local ec::server::IngestBatch accepted;
  accepted.Clear();
  std::vector<ec::server::Rejection> rejected;
  ec::server::DecodeForIngest(records, "detect", specs, io, &arena, &accepted, &rejected);
  auto batches = accepted.Seal(1);  // as serve: the batch's own buffer becomes the record batches
  benchmark::DoNotOptimize(batches.ok());
  return records.size();
}

// What HTTP ingest does with one request of 1000 NDJSON records, without the HTTP and the
// append: split + parse, decode + redact, serialise, record batches. items = records.
// (Without KeepFreedMemoryForReuse this measured 51 ms per 1000 records instead of ~6.5 ms:
// page faults of the request's fresh megabytes.)
void BM_IngestBody(benchmark::State& state) {
  ec::server::KeepFreedMemoryForReuse();  // as serve does at startup
  const size_t n = 1000;
  std::string body = Body(n);
  auto specs = Specs();
  ec::server::IngestOptions io;
  for (auto _ : state) IngestRequest(state, body, specs.get(), io);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_IngestBody)->Unit(benchmark::kMillisecond);

// BM_IngestBody on the shop traffic. items = records.
void BM_IngestShop(benchmark::State& state) {
  ec::server::KeepFreedMemoryForReuse();
  std::string body = ShopTrafficLines(1000);
  if (body.empty()) {
    state.SkipWithError("examples/shop/traffic.py gave nothing");
    return;
  }
  auto specs = Specs();
  ec::server::IngestOptions io;
  size_t n = 0;
  for (auto _ : state) n += IngestRequest(state, body, specs.get(), io);
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_IngestShop)->Unit(benchmark::kMillisecond);

// The shop traffic's stored records (ingest's canonical text, as bench_server.py's lines are
// stored) parsed as a pipeline pass parses them: json::ParseCompactInto into a scratch arena
// per record (PipelineRunner::kRecordArenaBytes). items = records. For instruction counts:
//   valgrind --tool=callgrind build-*/bench/bench_pipeline --benchmark_filter='BM_ParseStoredShop$'
// The stored text ingest writes for each NDJSON line of `body` (DecodeForIngest's output).
std::vector<std::string> StoredTexts(const std::string& body, const ec::spec::CompiledSpecs& specs) {
  std::vector<std::string> stored;
  ec::Arena arena(64 << 10);
  std::vector<ec::server::RawRecord> records;
  ec::server::BodyShape shape;
  (void)ec::server::SplitBody(body, "application/x-ndjson", {}, &arena, &records, &shape);
  // One batch per thread, cleared per request, as Ingest::Handle keeps it: a fresh one grew its
  // ~700 KB buffer by doubling in every request (~1,100 instructions per line of copies that
  // serve does not make, counted wherever the growth happened to fall).
  thread_local ec::server::IngestBatch accepted;
  accepted.Clear();
  std::vector<ec::server::Rejection> rejected;
  ec::server::DecodeForIngest(records, "detect", &specs, {}, &arena, &accepted, &rejected);
  for (size_t i = 0; i < accepted.size(); ++i) stored.emplace_back(accepted.value(i));
  return stored;
}

void ParseStoredShop(benchmark::State& state, size_t lines) {
  ec::server::KeepFreedMemoryForReuse();
  std::string body = ShopTrafficLines(lines);
  if (body.empty()) {
    state.SkipWithError("examples/shop/traffic.py gave nothing");
    return;
  }
  const std::vector<std::string> stored = StoredTexts(body, *Specs());
  size_t members = 0;
  for (auto _ : state) {
    for (const std::string& text : stored) {
      ec::Arena arena(64 << 10);
      ec::json::Value v;
      if (!ec::json::ParseCompactInto(text, &arena, &v, 64)) state.SkipWithError("declined");
      members += v.size();
    }
  }
  benchmark::DoNotOptimize(members);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stored.size()));
}
void BM_ParseStoredShop(benchmark::State& state) { ParseStoredShop(state, 1000); }
BENCHMARK(BM_ParseStoredShop);
// The same over 20,000 records (13.5 MB of text): each record's text comes from memory, not
// from the cache as in the 1000-record loop (a pass's records were read into a fresh buffer).
void BM_ParseStoredShopCold(benchmark::State& state) { ParseStoredShop(state, 20000); }
BENCHMARK(BM_ParseStoredShopCold)->Unit(benchmark::kMillisecond);

// What one pipeline pass does per raw record apart from the log: parse the canonical exchange
// ingest wrote, process it. items = records.
void BM_PassRecords(benchmark::State& state) {
  ec::server::KeepFreedMemoryForReuse();  // as serve does at startup
  const size_t n = 1000;
  std::string body = Body(n);
  auto specs = Specs();
  ec::pipeline::Processor p(specs, {});
  const std::vector<std::string> canonical = StoredTexts(body, *specs);
  std::vector<ec::pipeline::OutputRecord> out;
  for (auto _ : state) {
    ec::Arena arena(256 << 10);
    out.clear();
    for (const std::string& c : canonical) {
      ec::json::Value v;
      if (!ec::json::ParseInto(c, &arena, &v).ok()) state.SkipWithError("parse failed");
      p.Process(v, &arena, &out, nullptr);
    }
    benchmark::DoNotOptimize(out.size());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PassRecords)->Unit(benchmark::kMillisecond);

// What ingest's dedupe does per request of 1000 new exchange ids: Claim (lookups in the claimed
// and stored maps and in RocksDB), then Release as stored. The stored ids are forgotten after
// each iteration (as the indexer's round does), so every iteration sees new ids. items = ids.
void BM_DedupeClaimRelease(benchmark::State& state) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("ec_bench_dedupe_" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  ec::log::LogManagerOptions lo;
  lo.data_dir = dir + "/log";
  lo.maintenance_interval_ms = 0;
  auto logs = std::move(ec::log::LogManager::Open(lo)).value();
  (void)logs->CreateTopic("api-logs", 1, {});
  ec::server::DedupeOptions o;
  o.dir = dir + "/dedupe";
  o.unconfirmed_ms = 0;  // IndexTail forgets every stored id
  auto index = std::move(ec::server::DedupeIndex::Open(o, logs.get())).value();
  const size_t n = 1000;
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("0f3c7a1e-9b2d-4c5e-8f6a-" + std::to_string(100000000000 + i));
  std::vector<std::string_view> views(ids.begin(), ids.end());
  int64_t now = 1;
  for (auto _ : state) {
    std::vector<bool> dup = index->Claim(views, now);
    benchmark::DoNotOptimize(dup.size());
    index->Release(views, true, now);
    state.PauseTiming();
    (void)index->IndexTail(now + 10);  // nothing new in the log: only forgets the stored ids
    now += 20;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
  index.reset();
  logs.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DedupeClaimRelease)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
