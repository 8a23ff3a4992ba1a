// kafkajs (npm, tests/peers) against the broker: admin, idempotent producer, group of two.
#include <gtest/gtest.h>

#include "kafka/broker_fixture.h"
#include "kafka/process_util.h"

namespace ec::kafka {
namespace {

TEST(KafkajsTest, ProducerAndConsumerGroup) {
  std::string peers = std::string(EC_SOURCE_DIR) + "/tests/peers/node_modules";
  if (system(("test -d " + peers + "/kafkajs").c_str()) != 0) {
    GTEST_FAIL() << "kafkajs is not installed: run scripts/install-peers.sh";
  }
  testing::TestBroker broker;
  testing::TempDir tmp;
  std::string out = tmp.path() + "/out";
  int rc = testing::RunCommand("env KAFKAJS_NO_PARTITIONER_WARNING=1 NODE_PATH=" + peers +
                                   " node " + EC_SOURCE_DIR + "/tests/kafka/kafkajs_check.js " +
                                   broker.bootstrap(),
                               out, 120);
  EXPECT_EQ(rc, 0) << testing::ReadFile(out) << testing::ReadFile(out + ".err");
  EXPECT_NE(testing::ReadFile(out).find("\"got\":60"), std::string::npos);
}

}  // namespace
}  // namespace ec::kafka
