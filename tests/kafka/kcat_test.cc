// kcat (librdkafka) against the broker: metadata, produce, consume, a consumer group of two.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "kafka/broker_fixture.h"
#include "kafka/messages.h"
#include "kafka/process_util.h"
#include "log/record_batch.h"

namespace ec::kafka {
namespace {

using testing::Child;
using testing::CountLines;
using testing::RawClient;
using testing::ReadFile;
using testing::RunCommand;
using testing::TempDir;
using testing::TestBroker;

class KcatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (system("command -v kcat >/dev/null 2>&1") != 0) GTEST_FAIL() << "kcat is not installed (scripts/install-deps.sh)";
  }
  std::string Kcat(const std::string& args) {
    return "kcat -b " + broker_.bootstrap() + " " + args;
  }
  std::string File(const std::string& name) { return tmp_.path() + "/" + name; }
  TestBroker broker_;
  TempDir tmp_;
};

TEST_F(KcatTest, MetadataProduceConsume) {
  ASSERT_EQ(RunCommand(Kcat("-P -t kt -l " + File("none")), File("p0")), 1);  // no input file: kcat fails
  {
    std::ofstream in(File("in"));
    for (int i = 0; i < 100; ++i) in << "key" << i << ":value-" << i << "\n";
  }
  ASSERT_EQ(RunCommand(Kcat("-P -t kt -K: -l " + File("in")), File("p")), 0) << ReadFile(File("p.err"));
  ASSERT_EQ(RunCommand(Kcat("-L -t kt"), File("l")), 0);
  std::string meta = ReadFile(File("l"));
  EXPECT_NE(meta.find("broker 0 at 127.0.0.1:" + std::to_string(broker_.port())), std::string::npos) << meta;
  EXPECT_NE(meta.find("topic \"kt\" with 1 partitions"), std::string::npos) << meta;
  ASSERT_EQ(RunCommand(Kcat("-C -t kt -o beginning -e -f '%k=%s\\n'"), File("c")), 0) << ReadFile(File("c.err"));
  std::string out = ReadFile(File("c"));
  EXPECT_EQ(CountLines(out), 100);
  EXPECT_NE(out.find("key0=value-0\n"), std::string::npos);
  EXPECT_NE(out.find("key99=value-99\n"), std::string::npos);
  // Offsets: consume from 90.
  ASSERT_EQ(RunCommand(Kcat("-C -t kt -o 90 -e"), File("c90")), 0);
  EXPECT_EQ(CountLines(ReadFile(File("c90"))), 10);
}

TEST_F(KcatTest, CompressedBatchesAreStoredAndServedAsProduced) {
  {
    std::ofstream in(File("zin"));
    for (int i = 0; i < 50; ++i) in << "compressible value compressible value " << i << "\n";
  }
  for (std::string codec : {"gzip", "snappy", "lz4", "zstd"}) {
    std::string topic = "z-" + codec;
    ASSERT_EQ(RunCommand(Kcat("-P -t " + topic + " -z " + codec + " -l " + File("zin")), File("zp")), 0)
        << codec << ReadFile(File("zp.err"));
    log::ReadResult rr = broker_.logs()->GetPartition(topic, 0)->Read(0, 1 << 20);
    std::string bytes;
    ASSERT_TRUE(rr.CopyTo(&bytes).ok());
    int compressed = 0;
    ASSERT_TRUE(log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& b) {
                  compressed += b.compression() != log::Compression::kNone;
                  return Status::Ok();
                }).ok());
    EXPECT_GT(compressed, 0) << codec << ": stored batches should keep the producer's compression";
    ASSERT_EQ(RunCommand(Kcat("-C -t " + topic + " -o beginning -e"), File("zc")), 0) << codec;
    std::string out = ReadFile(File("zc"));
    EXPECT_EQ(CountLines(out), 50) << codec;
    EXPECT_NE(out.find("compressible value compressible value 49\n"), std::string::npos) << codec;
  }
}

TEST_F(KcatTest, ConsumerGroupOfTwoSplitsPartitions) {
  ASSERT_TRUE(broker_.logs()->CreateTopic("kg", 2).ok());
  Child a(Kcat("-u -G grp -X heartbeat.interval.ms=300 -o beginning -f '%p:%s\\n' -X session.timeout.ms=6000 kg"), File("a"), File("a.err"));
  Child b(Kcat("-u -G grp -X heartbeat.interval.ms=300 -o beginning -f '%p:%s\\n' -X session.timeout.ms=6000 kg"), File("b"), File("b.err"));
  // Wait until the group is stable with both members before producing.
  RawClient c(broker_.port());
  bool stable = false;
  for (int i = 0; i < 300 && !stable; ++i) {
    DescribeGroupsRequest d;
    d.groups = {"grp"};
    auto r = c.Call<DescribeGroupsResponse>(d, 5);
    stable = r.groups[0].group_state == "Stable" && r.groups[0].members.size() == 2;
    if (!stable) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(stable) << ReadFile(File("a.err")) << ReadFile(File("b.err"));
  for (int p = 0; p < 2; ++p) {
    std::ofstream in(File("in" + std::to_string(p)));
    for (int i = 0; i < 10; ++i) in << "m" << p << "-" << i << "\n";
  }
  ASSERT_EQ(RunCommand(Kcat("-P -t kg -p 0 -l " + File("in0")), File("p0")), 0);
  ASSERT_EQ(RunCommand(Kcat("-P -t kg -p 1 -l " + File("in1")), File("p1")), 0);
  for (int i = 0; i < 300; ++i) {
    if (CountLines(ReadFile(File("a"))) + CountLines(ReadFile(File("b"))) >= 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  a.Kill(SIGTERM);
  b.Kill(SIGTERM);
  std::string sa = ReadFile(File("a")), sb = ReadFile(File("b"));
  EXPECT_EQ(CountLines(sa), 10) << sa;
  EXPECT_EQ(CountLines(sb), 10) << sb;
  // Each member consumed exactly one partition.
  std::set<char> pa, pb;
  std::istringstream ia(sa), ib(sb);
  for (std::string l; std::getline(ia, l);) pa.insert(l[0]);
  for (std::string l; std::getline(ib, l);) pb.insert(l[0]);
  EXPECT_EQ(pa.size(), 1u);
  EXPECT_EQ(pb.size(), 1u);
  EXPECT_NE(pa, pb);
}

}  // namespace
}  // namespace ec::kafka
