// Changelogs' cost against events only, in process on one core: decode + match + events
// (+ the changelog stage) over shop traffic from examples/shop/traffic.py (--seed 42; reads,
// creates, updates, patches, deletes, failures), each iteration one whole pass over the
// traffic with a fresh state store (created outside the timing).
//   build-*/bench_cdc [--benchmark_min_time=1]
// items_per_second is exchanges per CPU-second (the machine is shared). Variants: events only; + changelogs with the
// in-memory store (what `eventception test` uses); + changelogs with RocksDB (what `serve`
// uses, no fsync: RocksDB's default WAL writes, one Put per exchange); + changelogs with RocksDB
// behind the transactional overlay (what exactly-once `serve` does: the stage writes to
// TxnStateStore and each pass commits its states to the store, which defers and coalesces
// them into RocksDB WriteBatches; a pass here is kPassExchanges exchanges; each pass also
// builds its state-topic records, as the runner does, but appends nothing to a log).
// Records are handed back with RecycleOutputRecords and reused, as the runner does after a pass.
// commit_ms and flush_ms: CPU per iteration of the pass commits (state records, overlay to
// store) and of the final write of the deferred states to RocksDB, both inside the timing.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cdc/changelog_stage.h"
#include "cdc/state_store.h"
#include "cdc/state_topic.h"
#include "cdc/txn_state_store.h"
#include "pipeline/exchange.h"
#include "pipeline/processor.h"
#include "spec/spec.h"

namespace {

constexpr int kExchanges = 20000;
constexpr int kPassExchanges = 500;

const std::vector<std::string>& Traffic() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    std::string cmd = "python3 '" + std::string(EC_SOURCE_DIR) + "/examples/shop/traffic.py' --seed 42 --count " +
                      std::to_string(kExchanges) + " --out -";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    pclose(p);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      if (nl > pos) out.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }();
  return lines;
}

std::shared_ptr<const ec::spec::CompiledSpecs> Specs() {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto s = ec::spec::LoadSpecs(files);
  if (!s.ok()) return nullptr;
  return *s;
}

// kRocksPerPassNoCache: kRocksPerPass with the store's hot-key cache off and every write sent
// to RocksDB at once (how the store worked before both), for a same-run comparison.
double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

enum Mode { kEventsOnly = 0, kMemory = 1, kRocks = 2, kRocksPerPass = 3, kRocksPerPassNoCache = 4 };

void BM_ShopTraffic(benchmark::State& state) {
  const auto& lines = Traffic();
  if (lines.size() != static_cast<size_t>(kExchanges)) {
    state.SkipWithError("examples/shop/traffic.py did not produce the traffic");
    return;
  }
  auto specs = Specs();
  ec::pipeline::DecodeOptions o;
  o.redact = specs->redact_paths();
  const Mode mode = static_cast<Mode>(state.range(0));
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ec_bench_cdc_" + std::to_string(getpid()));
  uint64_t records = 0, changes = 0, state_record_count = 0;
  double commit_ms = 0, flush_ms = 0;  // CPU of the pass commits and of the final RocksDB write
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::unique_ptr<ec::cdc::StateStore> store;
    if (mode == kMemory) store = std::make_unique<ec::cdc::MemoryStateStore>();
    const bool rocks = mode == kRocks || mode == kRocksPerPass || mode == kRocksPerPassNoCache;
    ec::cdc::RocksStateOptions ro;
    // A native iteration takes well under defer_ms, so the store writes its deferred states to
    // RocksDB once, at the List below; a long defer_ms keeps it so under valgrind (callgrind
    // instruction counts of this variant then match what a native run executes).
    ro.defer_ms = 600000;
    if (mode == kRocksPerPassNoCache) ro = {.cache_bytes = 0, .defer_bytes = 0};
    if (rocks) store = std::move(ec::cdc::OpenRocksStateStore(dir.string(), ro)).value();
    std::unique_ptr<ec::cdc::TxnStateStore> txn;
    if (mode == kRocksPerPass || mode == kRocksPerPassNoCache) txn = std::make_unique<ec::cdc::TxnStateStore>(store.get());
    ec::pipeline::Processor p(specs, {});
    std::unique_ptr<ec::cdc::ChangelogStage> stage;
    if (store) {
      stage = std::make_unique<ec::cdc::ChangelogStage>(txn ? static_cast<ec::cdc::StateStore*>(txn.get()) : store.get());
      p.AddStage(stage.get());
    }
    // What the runner does at the end of an exactly-once pass besides the log append: the
    // pass's state-topic records, then the store commit.
    std::vector<ec::pipeline::OutputRecord> state_records;
    auto commit_pass = [&] {
      const double start = ThreadCpuMs();
      ec::pipeline::RecycleOutputRecords(&state_records);  // as the runner hands a pass's records back
      ec::cdc::StateRecords(txn->Pending(), &state_records);
      state_record_count += state_records.size();
      if (!txn->Commit("bench", 0).ok()) state.SkipWithError("commit failed");
      commit_ms += ThreadCpuMs() - start;
    };
    int in_pass = 0;
    std::vector<ec::json::Value> xs;
    std::vector<ec::pipeline::OutputRecord> out;
    state.ResumeTiming();
    for (const std::string& line : lines) {
      ec::Arena arena(8192);
      xs.clear();
      ec::pipeline::RecycleOutputRecords(&out);  // the runner recycles its records after each pass
      if (!ec::pipeline::DecodeBytes(line, "detect", o, &arena, &xs).ok()) continue;
      for (const ec::json::Value& x : xs) p.Process(x, &arena, &out, nullptr);
      records += out.size();
      if (txn && ++in_pass == kPassExchanges) {
        commit_pass();
        in_pass = 0;
      }
    }
    if (txn) commit_pass();
    // The RocksDB store defers committed writes; List writes them, inside the timing.
    if (rocks) {
      const double start = ThreadCpuMs();
      (void)store->List("order", "", 1);
      flush_ms += ThreadCpuMs() - start;
    }
    state.PauseTiming();
    if (stage) changes += stage->counters().changes.load();
    stage.reset();
    txn.reset();
    store.reset();
    state.ResumeTiming();
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * kExchanges);
  state.counters["records_per_pass"] = static_cast<double>(records) / static_cast<double>(state.iterations());
  state.counters["state_records_per_pass"] =
      static_cast<double>(state_record_count) / static_cast<double>(state.iterations());
  state.counters["commit_ms"] = commit_ms / static_cast<double>(state.iterations());
  state.counters["flush_ms"] = flush_ms / static_cast<double>(state.iterations());
  state.counters["changes_per_pass"] = static_cast<double>(changes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ShopTraffic)->Arg(kEventsOnly)->Arg(kMemory)->Arg(kRocks)->Arg(kRocksPerPass)->Arg(kRocksPerPassNoCache)->Unit(benchmark::kMillisecond);

// A store much larger than its RocksDB block cache, looked up at random with the state cache
// off: what every changelog lookup costs once an API's resources outgrow processing.
// state_cache_bytes (uniform traffic over ~600,000 orders does at ~2,000,000 exchanges). The
// table files' index and filters are partitioned (rocks_state_store.cc): with one index and one
// filter block per file, they were evicted between lookups and read whole again by each:
// 38.7 us per lookup here with those options, 3.8 with partitioned ones (2026-11-28, load ~8).
// Args: states stored; LookupMany batch (below); states written after the reopen, which stay in
// the memtable (0 = an empty memtable: the lookups read table files only). A fifth of the
// lookups ask for keys never stored. us_per_lookup is CPU per lookup.
// With a memtable: written as the store's writer does (8 jobs, each its keys in key order:
// WriteSorted), and every other lookup asks for one of those keys, so that the memtable's own
// search (after its bloom filter said maybe) is measured, not only its filter.
void BM_LookupPastTheCache(benchmark::State& state) {
  const int64_t states = state.range(0);
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ec_bench_cdc_big_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const ec::cdc::RocksStateOptions ro{.cache_bytes = 0, .defer_bytes = 0};
  {
    auto filled = ec::cdc::OpenRocksStateStore(dir.string(), ro);
    if (!filled.ok()) {
      state.SkipWithError("cannot open the store");
      return;
    }
    ec::cdc::StoredState s{.deleted = false, .ts_ms = 1, .value = std::string(300, 'x')};
    for (int64_t i = 0; i < states; i++) {
      s.value.replace(0, 20, std::to_string(i * 7919 + 1000000000000000000));  // distinct blocks
      if (!(*filled)->Put("order", "o-" + std::to_string(i), s).ok()) {
        state.SkipWithError("put failed");
        return;
      }
    }
  }  // closed: the memtables are flushed, the lookups below read table files
  auto store = std::move(ec::cdc::OpenRocksStateStore(dir.string(), ro)).value();
  const int64_t in_memtable = state.range(2);
  std::vector<int64_t> recent;  // the keys written into the memtable
  {
    uint64_t y = 2463534242ull;
    ec::cdc::StoredState s{.deleted = false, .ts_ms = 2, .value = std::string(300, 'y')};
    const int64_t per_job = in_memtable / 8;
    for (int job = 0; job < 8 && per_job > 0; job++) {
      std::vector<ec::cdc::StateWrite> writes;
      for (int64_t k = 0; k < per_job; k++) {
        y ^= y << 13, y ^= y >> 7, y ^= y << 17;
        const int64_t i = static_cast<int64_t>(y % static_cast<uint64_t>(states));
        recent.push_back(i);
        writes.emplace_back(ec::cdc::EncodeKey("order", "o-" + std::to_string(i)), s);
      }
      std::sort(writes.begin(), writes.end(), [](const auto& a, const auto& b) { return a.encoded_key < b.encoded_key; });
      writes.erase(std::unique(writes.begin(), writes.end(),
                               [](const auto& a, const auto& b) { return a.encoded_key == b.encoded_key; }),
                   writes.end());
      if (!store->Apply(writes, "bench", job).ok()) {
        state.SkipWithError("apply failed");
        return;
      }
    }
  }
  // range(1): 0 = one Lookup per key; n = LookupMany of n keys at a time (a pass's misses).
  const size_t batch = static_cast<size_t>(state.range(1));
  uint64_t x = 88172645463325252ull, lookups = 0, found = 0;
  double cpu_ms = 0;
  std::vector<std::string> keys;
  std::vector<std::string_view> views;
  std::vector<ec::cdc::StatePtr> got;
  for (auto _ : state) {
    const double start = ThreadCpuMs();
    for (int n = 0; n < 1000; n++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: no locality between lookups
      int64_t i = static_cast<int64_t>(x % static_cast<uint64_t>(states + states / 4));
      if (!recent.empty() && n % 2 == 0) i = recent[(x >> 32) % recent.size()];
      if (batch == 0) {
        auto r = store->Lookup(ec::cdc::EncodeKey("order", "o-" + std::to_string(i)));
        found += r.ok() && *r != nullptr;
        continue;
      }
      keys.push_back(ec::cdc::EncodeKey("order", "o-" + std::to_string(i)));
      if (keys.size() == batch || n == 999) {
        views.assign(keys.begin(), keys.end());
        if (store->LookupMany(views, &got).ok()) {
          for (const auto& g : got) found += g != nullptr;
        }
        keys.clear();
      }
    }
    cpu_ms += ThreadCpuMs() - start;
    lookups += 1000;
  }
  store.reset();
  std::filesystem::remove_all(dir);
  state.counters["us_per_lookup"] = cpu_ms * 1e3 / static_cast<double>(lookups);
  state.counters["found_share"] = static_cast<double>(found) / static_cast<double>(lookups);
}
BENCHMARK(BM_LookupPastTheCache)
    ->Args({600000, 0, 0})
    ->Args({600000, 100, 0})
    ->Args({600000, 1000, 0})
    ->Args({600000, 0, 8000})
    ->Args({600000, 100, 8000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(200);

// The state store's own RocksDB work (its writer thread, flushes and compactions) for a stream
// of committed states like serve's: passes of 1,300 states with a checkpoint each (Apply: the
// store defers and coalesces them, then writes them in key order on ec-state-write), ~135-byte
// JSON values (the shop's average state), keys drawn from range(1) keys of "order" (overwrites,
// as updates of a resource), range(0) states in all. CPU of each thread kind per iteration, read
// from /proc (RocksDB's flush and compaction threads are the process's pool: rocksdb:high and
// rocksdb:low; nothing else uses RocksDB here). The store is closed inside the iteration (its
// memtables flushed). Under `valgrind --tool=callgrind --separate-threads=yes` each thread's
// instructions are in its own file: a count that the machine's load does not move.
double ThreadKindCpuMs(std::string_view kind) {
  double ms = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::FILE* f = std::fopen((task.path() / "stat").c_str(), "r");
    if (f == nullptr) continue;
    char buf[1024] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string_view stat(buf, n);
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos) continue;
    if (stat.substr(open + 1, close - open - 1).substr(0, kind.size()) != kind) continue;
    // Fields after the name: state is the 1st, utime the 12th, stime the 13th (in ticks).
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(buf + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2) {
      ms += static_cast<double>(utime + stime) * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return ms;
}

void BM_StateStoreWrites(benchmark::State& state) {
  const int64_t total = state.range(0), keys = state.range(1);
  constexpr int64_t kPerPass = 1300;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ec_bench_cdc_writes_" + std::to_string(getpid()));
  double writer_ms = 0, flush_ms = 0, compaction_ms = 0;
  for (auto _ : state) {
    std::filesystem::remove_all(dir);
    const double high0 = ThreadKindCpuMs("rocksdb:high"), low0 = ThreadKindCpuMs("rocksdb:low");
    auto store = std::move(ec::cdc::OpenRocksStateStore(dir.string(), {})).value();
    uint64_t x = 88172645463325252ull;
    std::vector<ec::cdc::StateWrite> writes;
    for (int64_t written = 0, pass = 0; written < total; ++pass) {
      writes.clear();
      for (int64_t i = 0; i < kPerPass && written < total; ++i, ++written) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const int64_t k = static_cast<int64_t>(x % static_cast<uint64_t>(keys));
        ec::cdc::StoredState s{.deleted = false, .ts_ms = 1795940000000 + written, .value = {}};
        s.value = "{\"id\":\"o-" + std::to_string(k) + "\",\"status\":\"" + (x % 3 == 0 ? "paid" : "placed") +
                  "\",\"total\":" + std::to_string(x % 100000) + ",\"items\":[{\"sku\":\"sku-" + std::to_string(x % 977) +
                  "\",\"qty\":" + std::to_string(x % 7 + 1) + ",\"price\":" + std::to_string(x % 9000) +
                  "}],\"customer\":\"c-" + std::to_string(x % 50000) + "\"}";
        writes.emplace_back(ec::cdc::EncodeKey("order", "o-" + std::to_string(k)), s);
      }
      // A pass's writes: one per key (the overlay keeps a key's last state).
      std::stable_sort(writes.begin(), writes.end(), [](const auto& a, const auto& b) { return a.encoded_key < b.encoded_key; });
      writes.erase(writes.begin(), std::unique(writes.rbegin(), writes.rend(), [](const auto& a, const auto& b) {
                                     return a.encoded_key == b.encoded_key;
                                   }).base());
      if (!store->Apply(writes, "bench", pass).ok()) {
        state.SkipWithError("apply failed");
        return;
      }
    }
    writer_ms += ThreadKindCpuMs("ec-state-write");  // before the close ends the thread
    store.reset();
    flush_ms += ThreadKindCpuMs("rocksdb:high") - high0;
    compaction_ms += ThreadKindCpuMs("rocksdb:low") - low0;
  }
  std::filesystem::remove_all(dir);
  const double n = static_cast<double>(state.iterations());
  state.counters["writer_ms"] = writer_ms / n;
  state.counters["flush_ms"] = flush_ms / n;
  state.counters["compaction_ms"] = compaction_ms / n;
}
BENCHMARK(BM_StateStoreWrites)->Args({800000, 200000})->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
BENCHMARK_MAIN();
