// librdkafka (the C API, in this process) against the broker: an idempotent producer, a
// consumer group of two that rebalances when a member leaves, commits that survive a broker
// restart, and consumption resuming exactly at the committed offsets.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <thread>

#include "kafka/broker_fixture.h"
#include "log/record_batch.h"

namespace ec::kafka {
namespace {

using testing::TestBroker;

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& conf) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : conf) {
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << k << ": " << err;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, c, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

struct DeliveryCount {
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<DeliveryCount*>(opaque);
  if (m->err) {
    ++d->failed;
  } else {
    ++d->ok;
  }
}

void ProduceN(const std::string& bootstrap, const std::string& topic, int n) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err));
  rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
  DeliveryCount dc;
  rd_kafka_conf_set_opaque(c, &dc);
  rd_kafka_conf_set_dr_msg_cb(c, OnDelivery);
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
  ASSERT_NE(p, nullptr) << err;
  for (int i = 0; i < n; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string value = "value-" + std::to_string(i);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(i % 2),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    rd_kafka_poll(p, 0);
  }
  ASSERT_EQ(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(dc.ok.load(), n);
  EXPECT_EQ(dc.failed.load(), 0);
  // The idempotent producer really negotiated a producer id with us.
  char reason[256];
  EXPECT_EQ(rd_kafka_fatal_error(p, reason, sizeof(reason)), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
}

std::map<std::string, std::string> ConsumerConf(const std::string& bootstrap) {
  return {{"bootstrap.servers", bootstrap},
          {"group.id", "rg"},
          {"auto.offset.reset", "earliest"},
          {"enable.auto.commit", "false"},
          {"session.timeout.ms", "6000"},
          {"heartbeat.interval.ms", "200"},
          {"fetch.wait.max.ms", "100"}};
}

int AssignmentSize(rd_kafka_t* c) {
  rd_kafka_topic_partition_list_t* l = nullptr;
  if (rd_kafka_assignment(c, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  int n = l->cnt;
  rd_kafka_topic_partition_list_destroy(l);
  return n;
}

void Subscribe(rd_kafka_t* c, const std::string& topic) {
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t* t = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(t, topic.c_str(), RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(c, t), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(t);
}

TEST(LibrdkafkaTest, IdempotentProducerGroupRebalanceCommitRestartResume) {
  TestBroker broker;
  ASSERT_TRUE(broker.logs()->CreateTopic("rk", 2).ok());
  ProduceN(broker.bootstrap(), "rk", 1000);
  EXPECT_EQ(broker.logs()->GetPartition("rk", 0)->log_end_offset(), 500);
  EXPECT_EQ(broker.logs()->GetPartition("rk", 1)->log_end_offset(), 500);
  {
    // The batches carry the producer id we handed out (InitProducerId) and sequences.
    log::ReadResult rr = broker.logs()->GetPartition("rk", 0)->Read(0, 1 << 20);
    std::string bytes;
    ASSERT_TRUE(rr.CopyTo(&bytes).ok());
    int batches = 0;
    ASSERT_TRUE(log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& v) {
                  EXPECT_GE(v.producer_id(), 0);
                  EXPECT_GE(v.base_sequence(), 0);
                  ++batches;
                  return Status::Ok();
                }).ok());
    EXPECT_GT(batches, 0);
  }

  // Two members: each ends up with one partition.
  rd_kafka_t* a = NewClient(RD_KAFKA_CONSUMER, ConsumerConf(broker.bootstrap()));
  rd_kafka_t* b = NewClient(RD_KAFKA_CONSUMER, ConsumerConf(broker.bootstrap()));
  Subscribe(a, "rk");
  Subscribe(b, "rk");
  std::map<int, int64_t> next_offset;  // what a has consumed, per partition
  auto poll_a = [&] {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(a, 50);
    if (m == nullptr) return;
    if (!m->err) next_offset[m->partition] = m->offset + 1;
    rd_kafka_message_destroy(m);
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((AssignmentSize(a) != 1 || AssignmentSize(b) != 1) &&
         std::chrono::steady_clock::now() < deadline) {
    poll_a();
    rd_kafka_message_t* m = rd_kafka_consumer_poll(b, 50);
    if (m) rd_kafka_message_destroy(m);
  }
  ASSERT_EQ(AssignmentSize(a), 1);
  ASSERT_EQ(AssignmentSize(b), 1);

  // b leaves: a is given both partitions by the next generation.
  ASSERT_EQ(rd_kafka_consumer_close(b), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(b);
  while (AssignmentSize(a) != 2 && std::chrono::steady_clock::now() < deadline) poll_a();
  ASSERT_EQ(AssignmentSize(a), 2);

  // Consume a while, then commit explicit positions (different per partition).
  while ((next_offset[0] < 200 || next_offset[1] < 200) && std::chrono::steady_clock::now() < deadline) {
    poll_a();
  }
  ASSERT_GE(next_offset[0], 200);
  ASSERT_GE(next_offset[1], 200);
  rd_kafka_topic_partition_list_t* commit = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(commit, "rk", 0)->offset = 123;
  rd_kafka_topic_partition_list_add(commit, "rk", 1)->offset = 77;
  ASSERT_EQ(rd_kafka_commit(a, commit, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(commit);
  rd_kafka_consumer_close(a);
  rd_kafka_destroy(a);

  broker.Restart();

  // A new member of the group resumes exactly at the committed offsets.
  rd_kafka_t* c = NewClient(RD_KAFKA_CONSUMER, ConsumerConf(broker.bootstrap()));
  Subscribe(c, "rk");
  std::map<int, int64_t> first;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (first.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
    if (m == nullptr) continue;
    if (!m->err && first.find(m->partition) == first.end()) first[m->partition] = m->offset;
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(first[0], 123);
  EXPECT_EQ(first[1], 77);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
}

}  // namespace
}  // namespace ec::kafka
