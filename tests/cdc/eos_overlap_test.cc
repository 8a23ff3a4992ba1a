// Overlapped passes (docs/exactly-once.md "Overlapped passes"): pass N+1 is read and processed
// while pass N's log transaction commits, over N's frozen state generation. Shop traffic
// streams into the raw topic in small appends over a slow disk (every fdatasync delayed), so
// that nearly every pass is processed while the one before commits, and every 7th log
// transaction fails before its decision (aborted: abort markers). When that happens the pass
// processed meanwhile was built over the aborted pass's states and must be dropped, and both
// run again from N's position. The committed outputs (read_committed, record by record: key,
// value, headers, time) and every resource's state must equal a serial run's without failures,
// and so must the state after a restart (RocksDB caught up from the state topic).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cdc/changelog_service.h"
#include "cdc/txn_state_store.h"
#include "log/committed_reader.h"
#include "log/fault_injection_env.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"
#include "shop_traffic.h"
#include "spec/spec.h"

namespace ec::cdc {
namespace {

const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";

struct RunResult {
  std::map<std::string, std::vector<std::string>> topics;  // topic-partition -> committed records
  std::map<std::string, std::string> states;               // resource/key -> state
  std::map<std::string, std::string> states_after_restart;
  size_t uncommitted_records = 0;  // every output record in the logs, aborted ones included
  uint64_t overlapped = 0;
  uint64_t dropped = 0;
};

std::string RecordText(const log::Record& r) {
  std::string s = r.key ? std::string(*r.key) : "<null>";
  s += "|";
  s += r.value ? std::string(*r.value) : "<null>";
  s += "|";
  for (const log::RecordHeader& h : r.headers) s += std::string(h.key) + "=" + (h.value ? std::string(*h.value) : "<null>") + ";";
  return s + "|" + std::to_string(r.timestamp);
}

void ReadStates(StateStore* store, std::map<std::string, std::string>* out) {
  for (const std::string resource : {"order", "customer"}) {
    auto keys = store->List(resource, "", 1 << 20);
    ASSERT_TRUE(keys.ok()) << keys.status().message();
    for (const std::string& k : *keys) {
      auto st = store->Get(resource, k);
      ASSERT_TRUE(st.ok() && st->has_value()) << resource << "/" << k;
      (*out)[resource + "/" + k] = std::to_string((*st)->ts_ms) + " " + (*st)->value;
    }
  }
}

struct Stack {
  std::unique_ptr<log::LogManager> logs;
  std::shared_ptr<const spec::CompiledSpecs> specs;
  std::unique_ptr<ChangelogService> service;
  server::ServerConfig config;
  std::unique_ptr<server::TopicWriter> writer;
  std::unique_ptr<pipeline::Processor> processor;
  server::MetricsRegistry metrics;
  std::unique_ptr<server::PipelineRunner> runner;

  void Open(const std::filesystem::path& dir, log::Env* env, const server::RunnerOptions& ro) {
    log::LogManagerOptions lo;
    lo.data_dir = (dir / "data").string();
    lo.env = env;
    lo.maintenance_interval_ms = 0;
    auto opened = log::LogManager::Open(lo);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    logs = std::move(opened).value();
    if (!logs->DescribeTopic("api-logs")) { ASSERT_TRUE(logs->CreateTopic("api-logs", 1).ok()); }
    std::vector<std::string> files{kSpec};
    auto loaded = spec::LoadSpecs(files);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    specs = *loaded;
    ChangelogServiceOptions co;
    co.data_dir = (dir / "data").string();
    auto svc = ChangelogService::Open(co, *specs, logs.get());
    ASSERT_TRUE(svc.ok()) << svc.status().message();
    service = std::move(svc).value();
    writer = std::make_unique<server::TopicWriter>(logs.get(), &config);
    processor = std::make_unique<pipeline::Processor>(specs);
    processor->AddStage(service->stage());
    runner = std::make_unique<server::PipelineRunner>(ro, logs.get(), processor.get(), writer.get(), &metrics);
    runner->SetStateStore(service->txn_store());
    Status s = runner->Recover();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void Close() {
    runner.reset();
    processor.reset();
    writer.reset();
    service.reset();
    logs.reset();
  }
};

// backlog_first: every line is appended before the runner starts (a pipeline that is behind),
// instead of streaming in while it runs.
void RunPipeline(const std::filesystem::path& dir, const std::vector<std::string>& lines, const server::RunnerOptions& ro,
                 RunResult* out, bool backlog_first = false) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  log::FaultInjectionEnv env(log::Env::Default());
  env.SetSyncDelayMicros(1500);  // a slow disk: each pass's commit takes a few ms
  {
    Stack stack;
    stack.Open(dir, &env, ro);
    if (::testing::Test::HasFatalFailure()) return;
    if (!backlog_first) stack.runner->Start();
    auto raw = stack.logs->GetPartition("api-logs", 0);
    for (size_t i = 0; i < lines.size(); i += 4) {
      log::RecordBatchBuilder b;
      for (size_t j = i; j < std::min(lines.size(), i + 4); ++j) b.Add(std::nullopt, lines[j], 1'700'000'000'000);
      auto bytes = b.Build();
      ASSERT_TRUE(bytes.ok());
      ASSERT_TRUE(raw->Append(std::move(bytes).value(), {log::Durability::kWritten}).ok());
      if (!backlog_first) std::this_thread::sleep_for(std::chrono::microseconds(700));
    }
    if (backlog_first) stack.runner->Start();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (stack.runner->Lag() > 0 || stack.runner->processed() < lines.size()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "lag " << stack.runner->Lag();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stack.runner->Stop();
    raw.reset();  // before the log manager closes
    out->overlapped = stack.runner->overlapped_passes();
    out->dropped = stack.runner->dropped_passes();
    auto committed = stack.logs->group_offsets()->Fetch(server::kPipelineGroup, "api-logs", 0);
    ASSERT_TRUE(committed.has_value());
    ASSERT_EQ(committed->offset, static_cast<int64_t>(lines.size()));
    for (const log::TopicInfo& t : stack.logs->ListTopics()) {
      if (t.name == "api-logs" || t.name.rfind("__", 0) == 0) continue;
      for (int32_t p = 0; p < t.partitions; ++p) {
        auto pl = stack.logs->GetPartition(t.name, p);
        std::vector<std::string>& recs = out->topics[t.name + "-" + std::to_string(p)];
        ASSERT_TRUE(log::ForEachCommittedRecord(*pl, 0, INT64_MAX, [&](const log::RecordBatchView&, const log::Record& r) {
                      recs.push_back(RecordText(r));
                      return Status::Ok();
                    }).ok());
        std::string bytes;
        ASSERT_TRUE(pl->Read(0, 256 << 20).CopyTo(&bytes).ok());
        ASSERT_TRUE(log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& batch) {
                      if (batch.is_control()) return Status::Ok();
                      return batch.ForEachRecord([&](const log::Record&) {
                        out->uncommitted_records++;
                        return Status::Ok();
                      });
                    }).ok());
      }
    }
    ReadStates(stack.service->store(), &out->states);
    stack.Close();
  }
  // A restart: the state store (deferred writes written at close, or not) agrees with the
  // committed state topic after the catch-up.
  {
    Stack stack;
    stack.Open(dir, &env, ro);
    if (::testing::Test::HasFatalFailure()) return;
    ReadStates(stack.service->store(), &out->states_after_restart);
    stack.Close();
  }
  std::filesystem::remove_all(dir);
}

TEST(EosOverlap, AbortedPassesAndThePassesProcessedMeanwhileRunAgainExactlyOnce) {
  testing::ShopTraffic traffic(42);
  std::vector<std::string> lines;
  const size_t n = std::getenv("EC_TEST_SHORT") != nullptr ? 1200 : 2400;
  for (size_t i = 0; i < n; ++i) lines.push_back(traffic.Next());
  const auto base = std::filesystem::temp_directory_path() / ("ec_eos_overlap_" + std::to_string(getpid()));

  server::RunnerOptions serial;
  serial.overlap_passes = false;
  RunResult want;
  RunPipeline(base / "serial", lines, serial, &want);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(want.overlapped, 0u);

  server::RunnerOptions overlapped;
  overlapped.overlap_passes = true;
  overlapped.test_fail_every_nth_commit = 7;
  RunResult got;
  RunPipeline(base / "overlapped", lines, overlapped, &got);
  if (::testing::Test::HasFatalFailure()) return;

  // The orderings under test happened: passes processed while the one before committed, and
  // passes dropped because the one before them aborted (their outputs never written).
  std::printf("overlapped passes %llu, dropped after an abort %llu, records in the logs %zu\n",
              static_cast<unsigned long long>(got.overlapped), static_cast<unsigned long long>(got.dropped),
              got.uncommitted_records);
  EXPECT_GT(got.overlapped, 3u);
  EXPECT_GT(got.dropped, 0u);
  size_t committed_records = 0;
  for (const auto& [tp, recs] : got.topics) committed_records += recs.size();
  EXPECT_GT(got.uncommitted_records, committed_records) << "no aborted output in the log";

  ASSERT_EQ(got.topics.size(), want.topics.size());
  for (const auto& [tp, recs] : want.topics) {
    ASSERT_TRUE(got.topics.count(tp)) << tp;
    const std::vector<std::string>& g = got.topics.at(tp);
    ASSERT_EQ(g.size(), recs.size()) << tp;
    for (size_t i = 0; i < recs.size(); ++i) ASSERT_EQ(g[i], recs[i]) << tp << " record " << i;
  }
  EXPECT_FALSE(want.states.empty());
  EXPECT_EQ(got.states, want.states);
  EXPECT_EQ(got.states_after_restart, want.states);
  EXPECT_EQ(want.states_after_restart, want.states);
}

// A pipeline that is behind reads full passes; those are committed before the next pass starts
// (overlapping them only contends for the CPU: docs/ingest-performance.md), so a backlog is
// worked off in serial passes even with overlap_passes, with the same outputs and states as
// without it.
TEST(EosOverlap, ABacklogIsWorkedOffInSerialPasses) {
  testing::ShopTraffic traffic(7);
  std::vector<std::string> lines;
  for (size_t i = 0; i < 1200; ++i) lines.push_back(traffic.Next());
  const auto base = std::filesystem::temp_directory_path() / ("ec_eos_backlog_" + std::to_string(getpid()));

  server::RunnerOptions serial;
  serial.overlap_passes = false;
  serial.max_read_bytes = 32 << 10;  // ~25 passes over the ~800 KB of lines
  RunResult want;
  RunPipeline(base / "serial", lines, serial, &want, /*backlog_first=*/true);
  if (::testing::Test::HasFatalFailure()) return;

  server::RunnerOptions overlap = serial;
  overlap.overlap_passes = true;
  RunResult got;
  RunPipeline(base / "overlap", lines, overlap, &got, /*backlog_first=*/true);
  if (::testing::Test::HasFatalFailure()) return;
  // Only the last pass may read less than half of max_read_bytes and so overlap none.
  EXPECT_LE(got.overlapped, 1u);
  EXPECT_EQ(got.topics, want.topics);
  EXPECT_FALSE(want.states.empty());
  EXPECT_EQ(got.states, want.states);
}

}  // namespace
}  // namespace ec::cdc
