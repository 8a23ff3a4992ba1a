// Embedded log (src/log) throughput: appends of 1 KiB records in batches with Durability::kSync
// (group commit) and with the flush interval; one fdatasync per append as the baseline group
// commit is measured against; read throughput. Data goes to $EC_BENCH_DIR or a directory under
// the current one (not /tmp if that is tmpfs: fdatasync must reach a disk to mean anything).
// Issue 4 states the disk sustains about 4,600 small fdatasyncs per second.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include <sys/resource.h>
#include <time.h>

#include "log/crc32c.h"
#include "log/flusher.h"
#include "log/journal.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch_builder.h"

namespace ec::log {
namespace {

constexpr int kRecordBytes = 1024;

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("EC_BENCH_DIR");
  std::string dir = std::string(base ? base : "./bench-log-data") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

std::string MakeBatch(int records, Compression c = Compression::kNone) {
  BatchBuilderOptions o;
  o.compression = c;
  RecordBatchBuilder b(o);
  std::string value(kRecordBytes, 'v');
  for (int i = 0; i < records; ++i) {
    for (int k = 0; k < 16; ++k) value[(i * 16 + k) % kRecordBytes] = static_cast<char>('a' + (i + k) % 26);
    b.Add("key-" + std::to_string(i), value, 1'700'000'000'000 + i);
  }
  return std::move(b.Build()).value();
}

std::shared_ptr<const TopicConfig> Config() {
  return std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"segment.bytes", "268435456"}}, {}).value());
}

// Appends from `threads` writers, each `per_thread` batches of `records` records.
// group_commit=false: no Flusher, so every kSync append issues its own fdatasync.
void RunAppends(benchmark::State& state, Durability durability, bool group_commit,
                int64_t flush_interval_ms) {
  const int threads = static_cast<int>(state.range(0));
  const int records = static_cast<int>(state.range(1));
  const int per_thread = static_cast<int>(state.range(2));
  const std::string batch = MakeBatch(records);
  int64_t total_records = 0, total_bytes = 0;
  uint64_t syncs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = BenchDir("append");
    const int sync_threads = state.range(3) > 0 ? static_cast<int>(state.range(3)) : 1;
    auto flusher = group_commit ? std::make_unique<Flusher>(flush_interval_ms, sync_threads) : nullptr;
    auto log = PartitionLog::Open(Env::Default(), dir, "bench", 0, Config(), flusher.get()).value();
    state.ResumeTiming();
    std::atomic<bool> failed{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i) {
          if (!log->Append(batch, {durability}).ok()) failed = true;
        }
      });
    }
    for (auto& th : pool) th.join();
    state.PauseTiming();
    if (failed) state.SkipWithError("append failed");
    syncs += flusher ? flusher->sync_calls() : static_cast<uint64_t>(threads) * per_thread;
    log.reset();
    flusher.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
    total_records += int64_t{threads} * per_thread * records;
    total_bytes += int64_t{threads} * per_thread * static_cast<int64_t>(batch.size());
  }
  state.counters["records/s"] = benchmark::Counter(static_cast<double>(total_records), benchmark::Counter::kIsRate);
  state.counters["MiB/s"] = benchmark::Counter(static_cast<double>(total_bytes) / (1 << 20), benchmark::Counter::kIsRate);
  state.counters["appends/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * threads * per_thread, benchmark::Counter::kIsRate);
  if (durability == Durability::kSync) {
    state.counters["fdatasync/s"] = benchmark::Counter(static_cast<double>(syncs), benchmark::Counter::kIsRate);
    state.counters["appends/fdatasync"] =
        static_cast<double>(state.iterations()) * threads * per_thread / static_cast<double>(syncs);
  }
}

// kSync through the Flusher: concurrent appends share fdatasyncs.
void BM_AppendSyncGroupCommit(benchmark::State& state) { RunAppends(state, Durability::kSync, true, 0); }
// kSync with one fdatasync per append (what group commit avoids).
void BM_AppendSyncFsyncPerAppend(benchmark::State& state) { RunAppends(state, Durability::kSync, false, 0); }
// kWritten: acknowledged from the page cache; the Flusher syncs every 100 ms.
void BM_AppendFlushInterval(benchmark::State& state) { RunAppends(state, Durability::kWritten, true, 100); }

// Args: writer threads, records per batch (1 KiB each), batches per writer, Flusher sync threads.
BENCHMARK(BM_AppendSyncGroupCommit)
    ->Args({1, 16, 400, 1})->Args({8, 1, 400, 1})->Args({8, 1, 400, 4})->Args({8, 16, 200, 4})
    ->Args({32, 1, 100, 1})->Args({32, 1, 100, 4})
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AppendSyncFsyncPerAppend)->Args({1, 16, 400, 0})->Args({8, 1, 400, 0})->Args({32, 1, 100, 0})
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AppendFlushInterval)->Args({1, 16, 4000, 1})->Args({4, 16, 1000, 1})
    ->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// Sequential read of ~256 MiB of 16-record batches in 1 MiB fetches, copying the bytes out
// (the server would sendfile the slices instead).
void BM_ReadSequential(benchmark::State& state) {
  std::string dir = BenchDir("read");
  auto log = PartitionLog::Open(Env::Default(), dir, "bench", 0, Config(), nullptr).value();
  const std::string batch = MakeBatch(16);
  const int batches = static_cast<int>((256ll << 20) / static_cast<int64_t>(batch.size()));
  for (int i = 0; i < batches; ++i) (void)log->Append(batch, {});
  int64_t bytes = 0;
  std::string buf;
  buf.reserve(2 << 20);
  for (auto _ : state) {
    int64_t offset = 0;
    while (offset < log->log_end_offset()) {
      ReadResult rr = log->Read(offset, 1 << 20);
      if (rr.error != LogError::kNone || rr.total_bytes == 0) {
        state.SkipWithError("read failed");
        break;
      }
      buf.clear();
      (void)rr.CopyTo(&buf);
      bytes += static_cast<int64_t>(buf.size());
      // Next offset: the last batch's end (batches are whole).
      const char* last = buf.data();
      size_t pos = 0;
      while (pos < buf.size()) {
        auto v = RecordBatchView::ParseTrusted(std::string_view(buf).substr(pos));
        last = buf.data() + pos;
        offset = v->last_offset() + 1;
        pos += v->size();
      }
      benchmark::DoNotOptimize(last);
    }
  }
  state.counters["MiB/s"] = benchmark::Counter(static_cast<double>(bytes) / (1 << 20), benchmark::Counter::kIsRate);
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ReadSequential)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// Round A of a pass: `batch` appended to each of the first `n` logs at once. Returns when every
// append completed; false when one failed. `issued` runs once all are issued (a journal sync
// request, as TopicWriter makes it).
template <class LogPtr>
bool AppendToEachAndWait(const std::vector<LogPtr>& logs, int n, const std::string& batch,
                         const AppendOptions& options, const std::function<void()>& issued = {}) {
  std::atomic<int> pending{n};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  for (int p = 0; p < n; ++p) {
    logs[p]->AppendAsync(batch, options, [&](const AppendResult& r) {
      if (!r.ok()) failed = true;
      std::lock_guard l(mu);
      if (--pending == 0) cv.notify_all();
    });
  }
  if (issued) issued();
  std::unique_lock l(mu);
  cv.wait(l, [&] { return pending.load() == 0; });
  return !failed;
}

// The shape of an exactly-once pipeline pass (src/server/pipeline_txn.cc): one kSync batch
// (~8 KiB) to each of `partitions` partitions at once (outputs + offset record, group-committed
// by the flusher's `sync_threads`), then one small kSync append to another partition (the
// decision). Reports p50/p99 of the pass's two rounds (ms), with and without segment
// preallocation (PartitionLog::SetPreallocateBytes, 8 MiB as `serve` runs it).
// Args: preallocate (0/1), partitions, sync threads.
void BM_PassCommitShape(benchmark::State& state) {
  const bool preallocate = state.range(0) != 0;
  const int partitions = static_cast<int>(state.range(1));
  const int sync_threads = static_cast<int>(state.range(2));
  const std::string output = MakeBatch(8), decision = MakeBatch(1);
  std::string dir = BenchDir("pass");
  Flusher flusher(1000, sync_threads);
  std::vector<std::unique_ptr<PartitionLog>> logs;
  for (int p = 0; p <= partitions; ++p) {
    logs.push_back(PartitionLog::Open(Env::Default(), dir + "/p-" + std::to_string(p), "bench", p, Config(), &flusher).value());
    logs.back()->SetPreallocateBytes(preallocate ? 8u << 20 : 0);
  }
  std::vector<double> ms;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    bool failed = !AppendToEachAndWait(logs, partitions, output, {Durability::kSync});
    if (!logs[partitions]->Append(decision, {Durability::kSync}).ok()) failed = true;
    if (failed) state.SkipWithError("append failed");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    state.counters["p50_ms"] = ms[ms.size() / 2];
    state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    state.counters["max_ms"] = ms.back();
  }
  logs.clear();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_PassCommitShape)
    ->ArgNames({"prealloc", "partitions", "sync_threads"})
    ->Args({0, 9, 4})->Args({1, 9, 4})->Args({0, 9, 12})->Args({1, 9, 12})
    ->Iterations(3000)->UseRealTime()->Unit(benchmark::kMillisecond);

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The same pass shape through the commit journal (LogManager with log.journal: true, as
// `serve` runs it): round A = one kSync batch to each of `partitions` partitions, the journal
// sync requested once after the last (AppendOptions::defer_journal_sync, as TopicWriter does),
// round B = one small kSync append. Reports the process's CPU (user + sys, every thread: the
// appender, the journal's sync and checkpoint threads) per pass in microseconds, and the
// pass's p50/p99 (ms), with the journal's direct writes off and on (JournalOptions::direct_io).
// Args: direct (0/1), partitions, records per batch (1 KiB each).
void BM_JournalPassShape(benchmark::State& state) {
  LogManagerOptions o;
  o.data_dir = BenchDir("journal-pass");
  o.journal = true;
  o.journal_direct_io = state.range(0) != 0;
  o.maintenance_interval_ms = 0;
  const int partitions = static_cast<int>(state.range(1));
  auto m = LogManager::Open(o).value();
  if (!m->CreateTopic("out", partitions).ok() || !m->CreateTopic("decision", 1).ok()) {
    state.SkipWithError("cannot create topics");
    return;
  }
  std::vector<std::shared_ptr<PartitionLog>> logs;
  for (int p = 0; p < partitions; ++p) logs.push_back(m->GetPartition("out", p));
  std::shared_ptr<PartitionLog> decision_log = m->GetPartition("decision", 0);
  const std::string output = MakeBatch(static_cast<int>(state.range(2))), decision = MakeBatch(1);
  std::vector<double> ms;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    bool failed = !AppendToEachAndWait(logs, partitions, output, {Durability::kSync, true},
                                       [&] { (void)m->journal()->RequestSync(); });
    if (!decision_log->Append(decision, {Durability::kSync}).ok()) failed = true;
    if (failed) state.SkipWithError("append failed");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    state.counters["cpu_us_per_pass"] = cpu * 1e6 / static_cast<double>(ms.size());
    state.counters["p50_ms"] = ms[ms.size() / 2];
    state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
  logs.clear();
  decision_log.reset();
  m.reset();
  std::filesystem::remove_all(o.data_dir);
}
BENCHMARK(BM_JournalPassShape)
    ->ArgNames({"direct", "partitions", "records"})
    ->Args({0, 9, 8})->Args({1, 9, 8})->Args({0, 9, 64})->Args({1, 9, 64})
    ->Iterations(2000)->UseRealTime()->Unit(benchmark::kMillisecond);

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// One compaction round (PartitionLog::Compact) over a closed segment of `mib` MiB of 1 KiB
// records in batches of 100 (a changelog's shape), `keys` distinct keys written in turn, so
// each is written about mib * 1024 / keys times and every batch but the last ones loses
// records; keys 0: each key is written twice in a row (r / 2), as an order's updates follow
// each other in the shop's changelog. Reports the round's CPU (the calling thread: reads, rewrite, indexes) in ms; the
// segment is written by each iteration's setup (not timed) and still in the page cache, as
// the server's changelog segment is when the maintenance thread cleans it. With a map too small
// for the keys (the server's 1 GiB changelog segment holds ~3 maps' worth) the round maps part
// of the segment and rewrites all of it.
// Args: MiB, keys, map KiB (log.compaction_map_bytes).
void BM_CompactRound(benchmark::State& state) {
  const int64_t mib = state.range(0);
  const int keys = static_cast<int>(state.range(1));
  const size_t map_bytes = static_cast<size_t>(state.range(2)) << 10;
  auto config = std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"cleanup.policy", "compact"}, {"segment.bytes", std::to_string(mib << 20)}}, {}).value());
  std::string value(kRecordBytes, 'v');
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = BenchDir("compact");
    auto log = PartitionLog::Open(Env::Default(), dir + "/t-0", "t", 0, config, nullptr).value();
    int64_t written = 0;
    for (int n = 0; written + 101 * (kRecordBytes + 64) < (mib << 20); ++n) {
      RecordBatchBuilder b;
      for (int i = 0; i < 100; ++i) {
        const int64_t r = int64_t{n} * 100 + i;
        for (int k = 0; k < 8; ++k) value[(r * 8 + k) % kRecordBytes] = static_cast<char>('a' + (r + k) % 26);
        b.Add("order-" + std::to_string(keys > 0 ? r % keys : r / 2), value, 1'700'000'000'000 + r);
      }
      std::string batch = std::move(b.Build()).value();
      written += static_cast<int64_t>(batch.size());
      if (!log->Append(std::move(batch), {}).ok()) state.SkipWithError("append failed");
    }
    RecordBatchBuilder filler;  // larger than what is left: rolls, the segment above closes
    filler.Add("filler", std::string(static_cast<size_t>(2 * 101 * (kRecordBytes + 64)), 'f'), 1'800'000'000'000);
    if (!log->Append(std::move(filler.Build()).value(), {}).ok()) state.SkipWithError("append failed");
    state.ResumeTiming();
    const double start = ThreadCpuSeconds();
    if (!log->Compact(1'900'000'000'000, map_bytes).ok()) state.SkipWithError("compaction failed");
    cpu += ThreadCpuSeconds() - start;
    state.PauseTiming();
    log.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["cpu_ms_per_round"] = cpu * 1e3 / static_cast<double>(state.iterations());
}
BENCHMARK(BM_CompactRound)
    ->ArgNames({"MiB", "keys", "map_KiB"})
    ->Args({256, 60000, 8192})->Args({256, 200000, 4096})->Args({256, 0, 1024})
    ->Iterations(4)->Unit(benchmark::kMillisecond);

// CRC32C throughput (bytes/s) of each implementation this CPU has, on the batch sizes the log
// checks (a few hundred bytes to tens of KiB): Crc32c picks the fastest available.
void BM_Crc32c(benchmark::State& state) {
  const auto impl = static_cast<Crc32cImpl>(state.range(0));
  if (!Crc32cAvailable(impl)) {
    state.SkipWithError("implementation not available on this CPU");
    return;
  }
  std::string data(static_cast<size_t>(state.range(1)), '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 7));
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = Crc32cWith(impl, data, crc);
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(1));
}
BENCHMARK(BM_Crc32c)
    ->ArgNames({"impl", "bytes"})
    ->ArgsProduct({{static_cast<int64_t>(Crc32cImpl::kSse42), static_cast<int64_t>(Crc32cImpl::kVpclmul256)},
                   {64, 128, 256, 1024, 4096, 16384, 65536, 262144}});

}  // namespace
}  // namespace ec::log

BENCHMARK_MAIN();
