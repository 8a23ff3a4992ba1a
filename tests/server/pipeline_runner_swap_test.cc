// PipelineRunner::SwapProcessor: a new processor takes effect between passes, at a clean
// position: every exchange is processed exactly once, by the old or by the new processor, and
// the exchanges the new one saw are exactly the ones after the switch.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

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

constexpr char kSpecV1[] = R"(openapi: 3.1.0
info: {title: Swap, version: "1"}
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

constexpr char kSpecV2[] = R"(openapi: 3.1.0
info: {title: Swap, version: "2"}
paths:
  /orders:
    post:
      operationId: createOrder
      x-eventception:
        events:
          - type: order.placed
            key: "response.body.id"
            data: "response.body"
          - type: order.audited
            key: "response.body.id"
            topic: audit
            data: "response.body"
      responses: {"201": {description: ok}}
)";

std::string Exchange(int i) {
  std::string id = "x" + std::to_string(100000 + i);
  return R"({"id":")" + id + R"(","time":"2026-11-27T10:00:00.000Z","request":{"method":"POST","path":"/orders","headers":{},"body":null},"response":{"status":201,"headers":{},"body":{"id":")" +
         id + R"("}}})";
}

class SwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_swap_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    v1_ = Load("v1.yaml", kSpecV1);
    v2_ = Load("v2.yaml", kSpecV2);
    log::LogManagerOptions lo;
    lo.data_dir = (dir_ / "data").string();
    auto logs = log::LogManager::Open(lo);
    ASSERT_TRUE(logs.ok()) << logs.status().message();
    logs_ = std::move(logs).value();
    ASSERT_TRUE(logs_->CreateTopic("api-logs", 1).ok());
    writer_ = std::make_unique<TopicWriter>(logs_.get(), &config_);
    p1_ = std::make_unique<pipeline::Processor>(v1_);
    p2_ = std::make_unique<pipeline::Processor>(v2_);
    runner_ = std::make_unique<PipelineRunner>(RunnerOptions{}, logs_.get(), p1_.get(), writer_.get(), &metrics_);
  }
  void TearDown() override {
    runner_.reset();
    logs_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<const spec::CompiledSpecs> Load(const std::string& name, const char* text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    std::vector<std::string> files{path};
    auto specs = spec::LoadSpecs(files);
    EXPECT_TRUE(specs.ok()) << specs.status().message();
    return specs.ok() ? *specs : nullptr;
  }

  void Produce(int from, int to) {
    auto log = logs_->GetPartition("api-logs", 0);
    log::RecordBatchBuilder b;
    for (int i = from; i < to; ++i) {
      std::string v = Exchange(i);
      b.Add(std::nullopt, v, 1700000000000);
    }
    auto bytes = b.Build();
    ASSERT_TRUE(bytes.ok());
    log->Append(std::move(bytes).value(), {log::Durability::kSync});
  }

  void WaitProcessed(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (runner_->processed() < n || runner_->Lag() > 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "processed " << runner_->processed();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // exchange id -> how many records of `topic` carry it.
  std::map<std::string, int> Read(const std::string& topic) {
    std::map<std::string, int> ids;
    std::optional<log::TopicInfo> info = logs_->DescribeTopic(topic);
    if (!info) return ids;
    for (int32_t p = 0; p < info->partitions; ++p) {
      auto log = logs_->GetPartition(topic, p);
      auto rr = log->Read(0, 64 << 20);
      std::string bytes;
      EXPECT_TRUE(rr.CopyTo(&bytes).ok());
      Status s = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& batch) {
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

  std::filesystem::path dir_;
  ServerConfig config_;
  MetricsRegistry metrics_;
  std::shared_ptr<const spec::CompiledSpecs> v1_, v2_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<TopicWriter> writer_;
  std::unique_ptr<pipeline::Processor> p1_, p2_;
  std::unique_ptr<PipelineRunner> runner_;
};

TEST_F(SwapTest, NotRunningTakesEffectAtOnce) {
  EXPECT_EQ(runner_->SwapProcessor(p2_.get()), p1_.get());
  EXPECT_EQ(runner_->processor(), p2_.get());
  runner_->Start();
  Produce(0, 10);
  WaitProcessed(10);
  runner_->Stop();
  EXPECT_EQ(Read("audit").size(), 10u);
}

TEST_F(SwapTest, SwitchAtAKnownPosition) {
  runner_->Start();
  Produce(0, 50);
  WaitProcessed(50);
  EXPECT_EQ(runner_->SwapProcessor(p2_.get()), p1_.get());
  p1_.reset();  // the runner no longer uses it once SwapProcessor returned
  Produce(50, 100);
  WaitProcessed(100);
  runner_->Stop();
  std::map<std::string, int> placed = Read("order.placed");
  std::map<std::string, int> audited = Read("audit");
  ASSERT_EQ(placed.size(), 100u);
  for (const auto& [id, n] : placed) EXPECT_EQ(n, 1) << id;
  ASSERT_EQ(audited.size(), 50u);
  for (const auto& [id, n] : audited) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_GE(id, "x100050");
  }
}

// Swaps back and forth while exchanges flow: each exchange is processed once, and the ones
// the v2 processor saw (with an audit event) form contiguous runs that match the swaps.
TEST_F(SwapTest, SwitchWhileFlowing) {
  runner_->Start();
  const int kBatches = 40, kPer = 25;
  std::thread producer([&] {
    for (int b = 0; b < kBatches; ++b) {
      Produce(b * kPer, (b + 1) * kPer);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int i = 0; i < 6; ++i) {
    runner_->SwapProcessor(i % 2 == 0 ? p2_.get() : p1_.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(7));
  }
  producer.join();
  WaitProcessed(kBatches * kPer);
  runner_->Stop();
  std::map<std::string, int> placed = Read("order.placed");
  std::map<std::string, int> audited = Read("audit");
  ASSERT_EQ(placed.size(), static_cast<size_t>(kBatches * kPer));
  for (const auto& [id, n] : placed) EXPECT_EQ(n, 1) << id;
  for (const auto& [id, n] : audited) EXPECT_EQ(n, 1) << id;
  // The last swap installed p1: at most 3 runs of audited exchanges (one per v2 period).
  int runs = 0;
  bool in = false;
  for (const auto& [id, n] : placed) {
    bool a = audited.count(id) > 0;
    if (a && !in) runs++;
    in = a;
  }
  EXPECT_LE(runs, 3);
}

}  // namespace
}  // namespace ec::server
