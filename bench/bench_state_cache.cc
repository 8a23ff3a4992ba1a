// The state cache's longest single insert while it fills: the pause a doubling of its index puts
// into the pipeline thread (and so into the latency of every record behind the pass that meets
// it). Issue 5's figure is p99 ingest->topic latency < 10 ms at half rate; this benchmark
// isolates the one pause of that tail that grows with the number of resource keys.
//
//   build/bench/bench_state_cache
//
// Counters: longest_insert_ms and inserts_over_1ms are thread CPU time per Insert (not wall
// time, so another process on the machine does not add to them); ns_per_insert is the mean.
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cdc/state_cache.h"

namespace {

int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Keys shaped like the shop's (resource prefix, then an id), made before the clock starts.
std::vector<std::string> Keys(size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  char buf[48];
  for (size_t i = 0; i < n; ++i) {
    int len = std::snprintf(buf, sizeof buf, "shop.orders%cord-%012zu", '\0', i * 7919 + 13);
    keys.emplace_back(buf, static_cast<size_t>(len));
  }
  return keys;
}

void BM_FillTheStateCache(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<std::string> keys = Keys(n);
  int64_t longest = 0;
  int64_t over_1ms = 0;
  int64_t total = 0;
  for (auto _ : state) {
    ec::cdc::StateCache cache(size_t{64} << 30);  // no eviction: every key stays
    for (const std::string& key : keys) {
      const int64_t t0 = ThreadCpuNs();
      cache.Insert(key, nullptr);  // "known absent": a POST's new key
      const int64_t d = ThreadCpuNs() - t0;
      longest = std::max(longest, d);
      over_1ms += d > 1000000 ? 1 : 0;
      total += d;
    }
    benchmark::DoNotOptimize(cache.entries());
  }
  state.counters["longest_insert_ms"] = static_cast<double>(longest) / 1e6;
  state.counters["inserts_over_1ms"] = static_cast<double>(over_1ms) / static_cast<double>(state.iterations());
  state.counters["ns_per_insert"] = static_cast<double>(total) / static_cast<double>(n * state.iterations());
}
// 300,000 keys reach the 2^19-bucket table (8 MiB), 1,100,000 the 2^21 one (32 MiB).
BENCHMARK(BM_FillTheStateCache)->Arg(300000)->Arg(1100000)->Unit(benchmark::kMillisecond)->Iterations(3);

// A lookup of a random key in a cache of 1,100,000 (the 2^21-bucket index, 32 MiB): what the
// index's page size costs every exchange once the table is in place.
void BM_LookUpInAFullCache(benchmark::State& state) {
  const std::vector<std::string> keys = Keys(1100000);
  ec::cdc::StateCache cache(size_t{64} << 30);
  for (const std::string& key : keys) cache.Insert(key, nullptr);
  uint64_t x = 88172645463325252ull;
  ec::cdc::StatePtr out;
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    benchmark::DoNotOptimize(cache.Lookup(keys[x % keys.size()], &out));
  }
}
BENCHMARK(BM_LookUpInAFullCache);

}  // namespace

BENCHMARK_MAIN();
