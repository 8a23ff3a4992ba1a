// The ingest dedupe index (src/server/dedupe_index.*): what the ec-dedupe thread does per raw
// record (IndexTail: read the raw topic, write the ids to RocksDB) and what ingest's HTTP thread
// does per id (Claim + Release). items = exchange ids.
//
//   build-*/bench/bench_dedupe [--benchmark_filter=Dedupe]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "log/log_manager.h"
#include "pipeline/ids.h"
#include "server/dedupe_index.h"
#include "server/ingest.h"

namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<ec::log::LogManager> logs;
  std::unique_ptr<ec::server::DedupeIndex> index;

  explicit Fixture(const char* name) {
    dir = (std::filesystem::temp_directory_path() / (std::string(name) + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir);
    ec::log::LogManagerOptions lo;
    lo.data_dir = dir + "/log";
    lo.maintenance_interval_ms = 0;
    logs = std::move(ec::log::LogManager::Open(lo)).value();
    (void)logs->CreateTopic("api-logs", 1, {});
    ec::server::DedupeOptions o;
    o.dir = dir + "/dedupe";
    o.unconfirmed_ms = 0;  // IndexTail forgets every stored id
    index = std::move(ec::server::DedupeIndex::Open(o, logs.get())).value();
  }
  ~Fixture() {
    index.reset();
    logs.reset();
    std::filesystem::remove_all(dir);
  }
};

// A shop exchange's id as ingest makes it when the record has none: 32 hex digits of SHA-256.
std::string HashId(uint64_t i) { return ec::pipeline::Sha256Hex128("exchange-" + std::to_string(i)); }

// Appends `ids` new raw records (1000 per request, ids from *next_id on, "{}" values) and
// indexes them: in rounds of 20,000 (serve's 200 ms rounds at full rate) when `in_rounds`,
// else in one round at the end (a catch-up after a long downtime).
void AppendAndIndex(Fixture& f, benchmark::State& state, int64_t ids, int64_t now, bool in_rounds,
                    uint64_t* next_id) {
  auto pl = f.logs->GetPartition("api-logs", 0);
  for (int64_t req = 0; req < ids / 1000; ++req) {
    std::vector<ec::server::IngestRecord> recs;
    for (int i = 0; i < 1000; ++i) recs.push_back({HashId((*next_id)++), "{}"});
    auto batches = ec::server::BuildBatches(recs, now);
    if (!batches.ok() || !pl->Append(std::move(*batches), {}).ok()) state.SkipWithError("append failed");
    if (in_rounds && req % 20 == 19 && !f.index->IndexTail(now).ok()) state.SkipWithError("IndexTail failed");
  }
  if (!f.index->IndexTail(now).ok()) state.SkipWithError("IndexTail failed");
}

// One indexing round over 10 requests of 1000 new raw records each (ids as above, ~600-byte
// canonical JSON values, as ingest appends them). The index grows over the iterations as it
// does in serve (no expiry within the run).
void BM_DedupeIndexTail(benchmark::State& state) {
  Fixture f("ec_bench_dedupe_tail_");
  const std::string value =
      R"({"time":"2026-11-27T20:08:35.580Z","latency_ms":12.9,"request":{"method":"POST","url":"https://shop.example.com/api/customers","path":"/api/customers","query":{},"headers":{"user-agent":"shop-web/2.3","content-type":"application/json"},"body":{"email":"c-1@example.com","tier":"Gold"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"c-1","email":"c-1@example.com","tier":"Gold"}},"client":{"ip":"10.0.1.174","consumer":"shop-android"},"gateway":{"kind":"kong","route":"customers","service":"shop-svc"}})";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto pl = f.logs->GetPartition("api-logs", 0);
  uint64_t next_id = 0;
  const size_t per_round = 10000;
  for (auto _ : state) {
    state.PauseTiming();
    for (int req = 0; req < 10; ++req) {
      std::vector<ec::server::IngestRecord> recs;
      for (int i = 0; i < 1000; ++i) recs.push_back({HashId(next_id++), value});
      auto batches = ec::server::BuildBatches(recs, now);
      if (!batches.ok() || !pl->Append(std::move(*batches), {}).ok()) state.SkipWithError("append failed");
    }
    state.ResumeTiming();
    if (!f.index->IndexTail(now).ok()) state.SkipWithError("IndexTail failed");
  }
  state.SetItemsProcessed(state.iterations() * per_round);
  state.counters["indexed"] = static_cast<double>(f.index->indexed());
}
BENCHMARK(BM_DedupeIndexTail)->Unit(benchmark::kMillisecond)->Iterations(20);

// What ingest's dedupe does per request of 1000 new exchange ids (32 hex digits, as ingest
// makes them): Claim (lookups in the claimed and stored maps and in RocksDB), then Release as
// stored. The index holds range(0) earlier ids, so lookups of new ids miss in a populated
// index, as in serve. range(1) = 0: they were indexed in rounds of 20,000 (serve's 200 ms
// rounds at full rate), and 100,000 are in memtables and level-0 files; 1: the index is then
// compacted, as a day's index mostly is (4,000,000 ids: ~46 exchanges per second), into
// level-1 files of RocksDB's 64 MB, each with one filter block of ~2 MB. range(1) = 2: all ids
// were indexed in one round (a catch-up after a long downtime).
void BM_DedupeClaimNew(benchmark::State& state) {
  Fixture f("ec_bench_dedupe_claim_");
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  uint64_t next_id = 0;
  AppendAndIndex(f, state, state.range(0), now, /*in_rounds=*/state.range(1) != 2, &next_id);
  if (state.range(1) == 1 && !f.index->Compact().ok()) state.SkipWithError("Compact failed");
  const size_t n = 1000;
  std::vector<std::string> ids;
  int64_t t = now;
  for (auto _ : state) {
    state.PauseTiming();
    ids.clear();
    for (size_t i = 0; i < n; ++i) ids.push_back(HashId(next_id++));
    std::vector<std::string_view> views(ids.begin(), ids.end());
    state.ResumeTiming();
    std::vector<bool> dup = f.index->Claim(views, t);
    benchmark::DoNotOptimize(dup.size());
    f.index->Release(views, true, t);
    state.PauseTiming();
    (void)f.index->IndexTail(t + 10);  // nothing new in the log: only forgets the stored ids
    t += 20;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_DedupeClaimNew)
    ->Args({100000, 0})
    ->Args({4000000, 1})
    ->Args({4000000, 2})
    ->Unit(benchmark::kMicrosecond);

// As ClaimNew, but the table of ids accepted since the last indexing round holds what it holds
// in serve at full rate: ids pile up there between the indexer's rounds (200 ms: ~25,000 ids
// at ~130,000 lines per second), so the table is megabytes and a Claim's or Release's probe
// of it is a cache miss, which ClaimNew (the table emptied after every request) never shows.
// range(0) = ids per round: every round's worth of requests the (paused) IndexTail forgets
// them all (unconfirmed_ms = 0), so the table holds range(0) / 2 ids on average.
void BM_DedupeClaimWithPending(benchmark::State& state) {
  Fixture f("ec_bench_dedupe_pending_");
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const size_t n = 1000;
  const int64_t per_round = std::max<int64_t>(1, state.range(0) / static_cast<int64_t>(n));
  uint64_t next_id = 0;
  std::vector<std::string> ids;
  int64_t t = now;
  int64_t requests = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (++requests % per_round == 0) {
      (void)f.index->IndexTail(t);  // nothing new in the log: forgets the stored ids
      t += 20;
    }
    ids.clear();
    for (size_t i = 0; i < n; ++i) ids.push_back(HashId(next_id++));
    std::vector<std::string_view> views(ids.begin(), ids.end());
    state.ResumeTiming();
    std::vector<ec::server::DedupeKey> keys;
    std::vector<bool> dup = f.index->Claim(views, t, &keys);
    benchmark::DoNotOptimize(dup.size());
    f.index->Release(keys, true, t);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_DedupeClaimWithPending)->Arg(50000)->Unit(benchmark::kMicrosecond);

// Open of an index of range(0) ids (compacted, nothing to catch up): range(1) = 1 with the
// in-memory filter (DedupeOptions::filter_bytes, default), which Open fills by a scan of the
// whole index; 0 without it. The difference is the scan's cost at start.
void BM_DedupeOpen(benchmark::State& state) {
  Fixture f("ec_bench_dedupe_open_");
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  uint64_t next_id = 0;
  AppendAndIndex(f, state, state.range(0), now, /*in_rounds=*/true, &next_id);
  if (!f.index->Compact().ok()) state.SkipWithError("Compact failed");
  f.index.reset();
  ec::server::DedupeOptions o;
  o.dir = f.dir + "/dedupe";
  if (state.range(1) == 0) o.filter_bytes = 0;
  for (auto _ : state) {
    auto index = std::move(ec::server::DedupeIndex::Open(o, f.logs.get())).value();
    benchmark::DoNotOptimize(index->filter_loaded());
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DedupeOpen)->Args({1000000, 0})->Args({1000000, 1})->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
