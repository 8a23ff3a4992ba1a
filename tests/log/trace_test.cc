// The opt-in latency trace (log/trace.h, EC_TRACE_PASSES): a durable append through the
// LogManager's flusher leaves an "append" line (its size and total time) and a "sync" line (the
// fdatasync that covered it), each starting with a wall-clock time in microseconds.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/test_util.h"
#include "log/trace.h"

namespace ec::log {
namespace {

using testing::MakeBatch;
using testing::TempDir;

TEST(Trace, DurableAppendAndItsSyncAreTraced) {
  TempDir tmp;
  // The variable is read once per process, at the first use (this binary has no other), so
  // every repetition (--gtest_repeat) traces to the first one's file, under its own topic.
  static const TempDir* trace_dir = new TempDir();
  static int repetition = 0;
  const std::string trace = trace_dir->path() + "/trace.txt";
  const std::string topic = "t" + std::to_string(++repetition);
  ASSERT_EQ(setenv("EC_TRACE_PASSES", trace.c_str(), 1), 0);
  ASSERT_TRUE(TraceEnabled());
  const int64_t before_us = TraceNowUs();
  {
    LogManagerOptions o;
    o.journal = false;  // per-partition sync lines (the journal traces "tp=journal-0")
    o.data_dir = tmp.path() + "/data";
    o.maintenance_interval_ms = 0;
    auto m = LogManager::Open(o).value();
    ASSERT_TRUE(m->CreateTopic(topic, 1, {}).ok());
    std::shared_ptr<PartitionLog> log = m->GetPartition(topic, 0);
    ASSERT_NE(log, nullptr);
    const std::string batch = MakeBatch(3, "x");
    AppendResult r = log->Append(batch, {Durability::kSync});
    ASSERT_TRUE(r.ok()) << r.message;
    // Not durable: no line.
    ASSERT_TRUE(log->Append(MakeBatch(2, "y"), {Durability::kWritten}).ok());
  }
  TraceFlush();
  std::ifstream in(trace);
  std::string line;
  int appends = 0, syncs = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long t = 0;
    std::string kind;
    fields >> t >> kind;
    EXPECT_GT(t, 0) << line;
    if (line.find(" tp=" + topic + "-0 ") == std::string::npos) continue;  // another repetition's
    EXPECT_GE(t, before_us) << line;
    if (kind == "append") {
      ++appends;
      EXPECT_NE(line.find(" bytes=" + std::to_string(MakeBatch(3, "x").size()) + " "), std::string::npos) << line;
      EXPECT_NE(line.find(" ok=1"), std::string::npos) << line;
    }
    if (kind == "sync") ++syncs;
  }
  EXPECT_EQ(appends, 1);
  EXPECT_GE(syncs, 1);
}

// The run-queue delay (runnable, waiting for a core) the pass and sync lines carry: a thread's
// total only grows, and a journal sync line reports its sync thread's share.
TEST(Trace, ThreadRunDelayOnlyGrowsAndJournalSyncsReportIt) {
  int64_t last = TraceThreadRunDelayUs();
  EXPECT_GE(last, 0);
  for (int i = 0; i < 1000; ++i) {
    const int64_t now = TraceThreadRunDelayUs();
    ASSERT_GE(now, last);
    last = now;
  }
  TempDir tmp;
  static const TempDir* trace_dir = new TempDir();
  const std::string trace = trace_dir->path() + "/trace.txt";
  // Set by the test above when both run in one process; the first use reads it otherwise.
  ASSERT_EQ(setenv("EC_TRACE_PASSES", trace.c_str(), 0), 0);
  ASSERT_TRUE(TraceEnabled());
  const int64_t before_us = TraceNowUs();
  {
    LogManagerOptions o;
    o.journal = true;
    o.data_dir = tmp.path() + "/data";
    o.maintenance_interval_ms = 0;
    auto m = LogManager::Open(o).value();
    ASSERT_TRUE(m->CreateTopic("j", 1, {}).ok());
    std::shared_ptr<PartitionLog> log = m->GetPartition("j", 0);
    ASSERT_NE(log, nullptr);
    AppendResult r = log->Append(MakeBatch(3, "x"), {Durability::kSync});
    ASSERT_TRUE(r.ok()) << r.message;
  }
  TraceFlush();
  std::ifstream in(getenv("EC_TRACE_PASSES"));
  std::string line;
  int journal_syncs = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long t = 0;
    std::string kind;
    fields >> t >> kind;
    if (t < before_us || kind != "sync" || line.find(" tp=journal-0 ") == std::string::npos) continue;
    ++journal_syncs;
    const size_t at = line.find(" runq_us=");
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_GE(std::atoll(line.c_str() + at + 9), 0) << line;
  }
  EXPECT_GE(journal_syncs, 1);
}

}  // namespace
}  // namespace ec::log
