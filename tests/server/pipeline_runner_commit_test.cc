// Where a pass is committed. A pass whose commit nothing overlaps (a backlog's full pass, or
// every pass with overlap_passes off) is committed on the pipeline thread itself
// (PipelineRunner::CommitHere), its journal syncs run there too; a small pass of a pipeline
// that keeps up is handed to the commit thread, so the next pass can be read meanwhile. Either
// way every exchange gives its event exactly once and the committed position is the log's end.

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "log/journal.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"
#include "pipeline/processor.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

constexpr char kSpec[] = R"(openapi: 3.1.0
info: {title: Commit, version: "1"}
paths:
  /orders:
    post:
      operationId: createOrder
      x-eventception:
        events:
          - type: order.placed
            key: "response.body.id"
            data: "response.body"
      responses: {"201": {description: ok}}
)";

std::string Exchange(int i) {
  std::string id = "x" + std::to_string(100000 + i);
  return R"({"id":")" + id + R"(","time":"2026-11-27T10:00:00.000Z","request":{"method":"POST","path":"/orders","headers":{},"body":null},"response":{"status":201,"headers":{},"body":{"id":")" +
         id + R"(","pad":")" + std::string(200, 'p') + R"("}}})";
}

class CommitPlaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_commit_place_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const std::string path = (dir_ / "spec.yaml").string();
    std::ofstream(path) << kSpec;
    std::vector<std::string> files{path};
    auto specs = spec::LoadSpecs(files);
    ASSERT_TRUE(specs.ok()) << specs.status().message();
    log::LogManagerOptions lo;
    lo.data_dir = (dir_ / "data").string();
    lo.journal = true;
    lo.maintenance_interval_ms = 0;
    auto logs = log::LogManager::Open(lo);
    ASSERT_TRUE(logs.ok()) << logs.status().message();
    logs_ = std::move(logs).value();
    ASSERT_NE(logs_->journal(), nullptr);
    ASSERT_TRUE(logs_->CreateTopic("api-logs", 1).ok());
    writer_ = std::make_unique<TopicWriter>(logs_.get(), &config_);
    processor_ = std::make_unique<pipeline::Processor>(*specs);
  }
  void TearDown() override {
    runner_.reset();
    logs_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartRunner(RunnerOptions ro) {
    runner_ = std::make_unique<PipelineRunner>(ro, logs_.get(), processor_.get(), writer_.get(), &metrics_);
    runner_->Start();
  }

  void Produce(int from, int to) {
    auto log = logs_->GetPartition("api-logs", 0);
    for (int i = from; i < to; i += 10) {
      log::RecordBatchBuilder b;
      for (int j = i; j < std::min(to, i + 10); ++j) b.Add(std::nullopt, Exchange(j), 1700000000000);
      auto bytes = b.Build();
      ASSERT_TRUE(bytes.ok());
      ASSERT_TRUE(log->Append(std::move(bytes).value(), {log::Durability::kSync}).ok());
    }
  }

  void WaitProcessed(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (runner_->processed() < n || runner_->Lag() > 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "processed " << runner_->processed();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // exchange id -> how many committed events carry it.
  std::map<std::string, int> Events() {
    std::map<std::string, int> ids;
    std::optional<log::TopicInfo> info = logs_->DescribeTopic("order.placed");
    if (!info) return ids;
    for (int32_t p = 0; p < info->partitions; ++p) {
      auto log = logs_->GetPartition("order.placed", p);
      auto rr = log->Read(0, 64 << 20, {.isolation = log::IsolationLevel::kReadCommitted});
      std::string bytes;
      EXPECT_TRUE(rr.CopyTo(&bytes).ok());
      Status s = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& batch) {
        if (batch.is_control()) return Status::Ok();
        return batch.ForEachRecord([&](const log::Record& r) {
          for (const log::RecordHeader& h : r.headers) {
            if (h.key == "ce_eventceptionexchange" && h.value) ids[std::string(*h.value)]++;
          }
          return Status::Ok();
        });
      });
      EXPECT_TRUE(s.ok()) << s.message();
    }
    return ids;
  }

  void ExpectEachOnceAndCommittedToTheEnd(int n) {
    std::map<std::string, int> ids = Events();
    EXPECT_EQ(ids.size(), static_cast<size_t>(n));
    for (const auto& [id, count] : ids) EXPECT_EQ(count, 1) << id;
    auto committed = logs_->group_offsets()->Fetch(kPipelineGroup, "api-logs", 0);
    ASSERT_TRUE(committed.has_value());
    EXPECT_EQ(committed->offset, logs_->GetPartition("api-logs", 0)->log_end_offset());
  }

  std::filesystem::path dir_;
  ServerConfig config_;
  MetricsRegistry metrics_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<TopicWriter> writer_;
  std::unique_ptr<pipeline::Processor> processor_;
  std::unique_ptr<PipelineRunner> runner_;
};

TEST_F(CommitPlaceTest, ABacklogsFullPassesAreCommittedOnThePipelineThread) {
  constexpr int kBacklog = 400;  // ~150 KB: about ten full passes of 16 KiB
  Produce(0, kBacklog);
  RunnerOptions ro;
  ro.max_read_bytes = 16 << 10;
  const uint64_t inline_before = logs_->journal()->inline_sync_calls();
  StartRunner(ro);
  WaitProcessed(kBacklog);
  const uint64_t here = runner_->passes_committed_here();
  EXPECT_GE(here, 5u) << "the backlog's full passes";
  // Each committed here runs its rounds (outputs, decision) on the pipeline thread.
  EXPECT_GE(logs_->journal()->inline_sync_calls() - inline_before, 2 * here);
  // Caught up: a small pass is handed to the commit thread.
  Produce(kBacklog, kBacklog + 1);
  WaitProcessed(kBacklog + 1);
  runner_->Stop();
  EXPECT_EQ(runner_->passes_committed_here(), here);
  ExpectEachOnceAndCommittedToTheEnd(kBacklog + 1);
}

TEST_F(CommitPlaceTest, WithoutOverlapEveryPassIsCommittedOnThePipelineThread) {
  RunnerOptions ro;
  ro.overlap_passes = false;
  StartRunner(ro);
  for (int i = 0; i < 5; ++i) {
    Produce(i * 10, i * 10 + 10);
    WaitProcessed(i * 10 + 10);
  }
  runner_->Stop();
  EXPECT_GE(runner_->passes_committed_here(), 5u);
  ExpectEachOnceAndCommittedToTheEnd(50);
}

}  // namespace
}  // namespace ec::server
