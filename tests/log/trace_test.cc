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

}  // namespace
}  // namespace ec::log
