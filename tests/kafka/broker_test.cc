// The broker over real sockets with our own codecs: negotiation, produce/fetch, pipelining,
// long-poll, interceptors, and bad input (which must only affect the offending connection).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "kafka/broker_fixture.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"

namespace ec::kafka {
namespace {

using testing::RawClient;
using testing::TestBroker;

std::string Batch(int n, const std::string& prefix = "v") {
  log::RecordBatchBuilder b;
  for (int i = 0; i < n; ++i) {
    std::string v = prefix + std::to_string(i);
    b.Add(std::nullopt, std::string_view(v), 1700000000000 + i);
  }
  return b.Build().value();
}

ProduceRequest MakeProduce(const std::string& topic, int32_t partition, const std::string& records,
                           int16_t acks = 1) {
  ProduceRequest p;
  p.acks = acks;
  p.timeout_ms = 5000;
  auto& t = p.topic_data.emplace_back();
  t.name = topic;
  auto& pd = t.partition_data.emplace_back();
  pd.index = partition;
  pd.records = Records(records);
  return p;
}

FetchRequest MakeFetch(const std::string& topic, int64_t offset, int32_t max_wait = 0,
                       int32_t min_bytes = 1) {
  FetchRequest f;
  f.max_wait_ms = max_wait;
  f.min_bytes = min_bytes;
  f.max_bytes = 1 << 20;
  auto& t = f.topics.emplace_back();
  t.topic = topic;
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.fetch_offset = offset;
  p.partition_max_bytes = 1 << 20;
  return f;
}

int CountRecords(std::string_view bytes) {
  int n = 0;
  Status st = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& b) {
    n += b.record_count();
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

void CreateTopic(RawClient& c, const std::string& name, int32_t partitions) {
  CreateTopicsRequest req;
  auto& t = req.topics.emplace_back();
  t.name = name;
  t.num_partitions = partitions;
  t.replication_factor = 1;
  req.timeout_ms = 1000;
  auto resp = c.Call<CreateTopicsResponse>(req, 5);
  ASSERT_EQ(resp.topics.size(), 1u);
  ASSERT_EQ(resp.topics[0].error_code, 0) << resp.topics[0].error_message.value_or("");
}

TEST(KafkaBroker, ApiVersionsAdvertisesTheHandlerRanges) {
  TestBroker broker;
  RawClient c(broker.port());
  for (int16_t v = 0; v <= 3; ++v) {
    auto resp = c.Call<ApiVersionsResponse>(ApiVersionsRequest{}, v);
    EXPECT_EQ(resp.error_code, 0);
    ASSERT_EQ(resp.api_keys.size(), ApiTable().size());
    bool saw_fetch = false;
    for (const auto& k : resp.api_keys) {
      if (k.api_key == 1) {
        saw_fetch = true;
        EXPECT_EQ(k.min_version, 4);
        EXPECT_EQ(k.max_version, 12);
      }
    }
    EXPECT_TRUE(saw_fetch);
  }
}

TEST(KafkaBroker, TooNewApiVersionsIsDeclinedWithV0ErrorNotDropped) {
  TestBroker broker;
  RawClient c(broker.port());
  // ApiVersions v9 (we support 0-3): header v2 as a future client would send it.
  Writer w;
  w.WriteInt32(0);
  EncodeRequestHeader(w, RequestHeader{18, 9, 77, std::string("future")}, 2);
  w.WriteUnsignedVarint(1);
  w.WriteUnsignedVarint(1);
  w.WriteUnsignedVarint(0);
  w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
  ASSERT_TRUE(c.SendRaw(w.buffer()));
  auto frame = c.ReadFrame();
  ASSERT_TRUE(frame.has_value());
  Reader r(*frame);
  EXPECT_EQ(r.ReadInt32(), 77);
  ApiVersionsResponse resp;
  ASSERT_TRUE(resp.Decode(r, 0).ok());
  EXPECT_EQ(resp.error_code, err::kUnsupportedVersion);
  EXPECT_FALSE(resp.api_keys.empty());
  // The connection stays usable.
  EXPECT_EQ(c.Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0);
}

TEST(KafkaBroker, MetadataAutoCreatesAndAdvertisesBoundPort) {
  TestBroker broker;
  RawClient c(broker.port());
  MetadataRequest m;
  m.topics.emplace().push_back({"auto-made"});
  auto resp = c.Call<MetadataResponse>(m, 9);
  ASSERT_EQ(resp.brokers.size(), 1u);
  EXPECT_EQ(resp.brokers[0].port, broker.port());
  EXPECT_EQ(resp.brokers[0].host, "127.0.0.1");
  ASSERT_EQ(resp.topics.size(), 1u);
  EXPECT_EQ(resp.topics[0].error_code, 0);
  EXPECT_EQ(resp.topics[0].partitions.size(), 1u);
  // Auto-creation can be refused by the client.
  MetadataRequest m2;
  m2.topics.emplace().push_back({"not-made"});
  m2.allow_auto_topic_creation = false;
  auto r2 = c.Call<MetadataResponse>(m2, 9);
  EXPECT_EQ(r2.topics[0].error_code, err::kUnknownTopicOrPartition);
  // v0 with an empty list means every topic.
  auto r3 = c.Call<MetadataResponse>(MetadataRequest{.topics = std::vector<MetadataRequest::MetadataRequestTopic>{}}, 0);
  ASSERT_EQ(r3.topics.size(), 1u);
  EXPECT_EQ(r3.topics[0].name, "auto-made");
}

TEST(KafkaBroker, ProduceThenFetchEveryAcksAndVersion) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "t", 1);
  int64_t expected = 0;
  for (int16_t acks : {1, -1}) {
    for (int16_t v : {0, 2, 3, 7, 9}) {
      auto resp = c.Call<ProduceResponse>(MakeProduce("t", 0, Batch(3), acks), v);
      ASSERT_EQ(resp.responses.size(), 1u);
      const auto& p = resp.responses[0].partition_responses[0];
      EXPECT_EQ(p.error_code, 0);
      EXPECT_EQ(p.base_offset, expected);
      expected += 3;
    }
  }
  // acks=0 gets no response: the next request's response is the next frame.
  ASSERT_TRUE(c.SendRaw(c.Frame(MakeProduce("t", 0, Batch(2), 0), 9, 1000)));
  expected += 2;
  for (int16_t v : {4, 11, 12}) {
    auto f = c.Call<FetchResponse>(MakeFetch("t", 0), v);
    ASSERT_EQ(f.responses.size(), 1u);
    const auto& p = f.responses[0].partitions[0];
    EXPECT_EQ(p.error_code, 0);
    EXPECT_EQ(p.high_watermark, expected);
    EXPECT_EQ(CountRecords(p.records.data), expected);
  }
  // Out of range.
  auto f = c.Call<FetchResponse>(MakeFetch("t", 1000), 11);
  EXPECT_EQ(f.responses[0].partitions[0].error_code, err::kOffsetOutOfRange);
  // ListOffsets earliest/latest/by time.
  ListOffsetsRequest lo;
  auto& lt = lo.topics.emplace_back();
  lt.name = "t";
  lt.partitions.push_back({0, -1, -2});
  lt.partitions.push_back({0, -1, -1});
  lt.partitions.push_back({0, -1, 1700000000001});
  auto l = c.Call<ListOffsetsResponse>(lo, 6);
  ASSERT_EQ(l.topics[0].partitions.size(), 3u);
  EXPECT_EQ(l.topics[0].partitions[0].offset, 0);
  EXPECT_EQ(l.topics[0].partitions[1].offset, expected);
  EXPECT_EQ(l.topics[0].partitions[2].offset, 1);
}

TEST(KafkaBroker, PipelinedRequestsAnswerInOrder) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "p", 1);
  std::string burst;
  // A long-poll fetch first: later requests must wait behind it in the response order.
  burst += c.Frame(MakeFetch("p", 0, 300, 1), 11, 1);
  for (int i = 2; i <= 20; ++i) burst += c.Frame(ApiVersionsRequest{}, 3, i);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.SendRaw(burst));
  for (int i = 1; i <= 20; ++i) {
    auto frame = c.ReadFrame();
    ASSERT_TRUE(frame.has_value());
    Reader r(*frame);
    EXPECT_EQ(r.ReadInt32(), i);
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(250));
}

// Produce appends each batch in place from the connection's request buffer, which is reused
// for the next request: a pipelined burst of produce requests (two partitions per request,
// different sizes, acks=1 and -1 mixed) must store every record exactly as sent.
TEST(KafkaBroker, PipelinedProducesAppendedInPlaceKeepEveryRecord) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "ip", 2);
  std::string burst;
  const int kRequests = 30;
  for (int i = 0; i < kRequests; ++i) {
    // Records only view their bytes: keep both batches alive until the frame is encoded.
    const std::string b0 = Batch(1 + i % 5, "a" + std::to_string(i) + "-");
    const std::string b1 = Batch(2 + i % 3, std::string(100 * (i % 7), 'b') + std::to_string(i) + "-");
    ProduceRequest p = MakeProduce("ip", 0, b0, i % 3 == 0 ? -1 : 1);
    auto& pd = p.topic_data[0].partition_data.emplace_back();
    pd.index = 1;
    pd.records = Records(b1);
    burst += c.Frame(p, 9, i + 1);
  }
  ASSERT_TRUE(c.SendRaw(burst));
  for (int i = 0; i < kRequests; ++i) {
    auto frame = c.ReadFrame();
    ASSERT_TRUE(frame.has_value());
    Reader r(*frame);
    EXPECT_EQ(r.ReadInt32(), i + 1);
  }
  // Read both partitions back through the log and compare record by record.
  for (int32_t part : {0, 1}) {
    auto plog = broker.logs()->GetPartition("ip", part);
    ASSERT_NE(plog, nullptr);
    log::ReadResult rr = plog->Read(0, 64 << 20);
    std::string bytes;
    ASSERT_TRUE(rr.CopyTo(&bytes).ok());
    std::vector<std::string> values;
    int64_t next_offset = 0;
    Status st = log::ForEachBatch(bytes, false, [&](const log::RecordBatchView& b) -> Status {
      EXPECT_EQ(b.base_offset(), next_offset);
      next_offset = b.last_offset() + 1;
      EC_ASSIGN_OR_RETURN(log::RecordSet set, b.Records());
      for (const log::Record& rec : set.records()) values.emplace_back(*rec.value);
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<std::string> expected;
    for (int i = 0; i < kRequests; ++i) {
      int n = part == 0 ? 1 + i % 5 : 2 + i % 3;
      std::string prefix = part == 0 ? "a" + std::to_string(i) + "-"
                                     : std::string(100 * (i % 7), 'b') + std::to_string(i) + "-";
      for (int k = 0; k < n; ++k) expected.push_back(prefix + std::to_string(k));
    }
    EXPECT_EQ(values, expected) << "partition " << part;
  }
}

// A multi-megabyte Fetch spanning several segments goes out as file ranges (sendfile) while
// the client does not read yet, so the send loop meets a full socket and resumes on
// writability; the bytes must equal what the log holds, in order, for two pipelined fetches.
TEST(KafkaBroker, LargeFetchAcrossSegmentsArrivesWhole) {
  TestBroker broker;
  ASSERT_TRUE(broker.logs()->CreateTopic("big", 1, {{"segment.bytes", "1048576"}}).ok());
  RawClient c(broker.port());
  const std::string value(10 * 1024, 'z');
  for (int i = 0; i < 40; ++i) {
    auto r = c.Call<ProduceResponse>(MakeProduce("big", 0, Batch(10, value + std::to_string(i))), 9);
    ASSERT_EQ(r.responses[0].partition_responses[0].error_code, 0);
  }
  auto plog = broker.logs()->GetPartition("big", 0);
  ASSERT_GE(plog->segment_count(), 3u);
  log::ReadResult rr = plog->Read(0, 64 << 20);
  std::string expected;
  ASSERT_TRUE(rr.CopyTo(&expected).ok());
  ASSERT_GT(expected.size(), 3u << 20);
  FetchRequest f = MakeFetch("big", 0);
  f.max_bytes = 64 << 20;
  f.topics[0].partitions[0].partition_max_bytes = 64 << 20;
  std::string burst = c.Frame(f, 11, 1) + c.Frame(f, 11, 2);
  ASSERT_TRUE(c.SendRaw(burst));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the socket fill up
  for (int corr = 1; corr <= 2; ++corr) {
    auto frame = c.ReadFrame();
    ASSERT_TRUE(frame.has_value());
    Reader r(*frame);
    EXPECT_EQ(r.ReadInt32(), corr);
    FetchResponse resp;
    ASSERT_TRUE(resp.Decode(r, 11).ok());
    const Records& got = resp.responses[0].partitions[0].records;
    EXPECT_EQ(got.data.size(), expected.size());
    EXPECT_TRUE(got.data == expected);
    EXPECT_EQ(CountRecords(got.data), 400);
  }
}

TEST(KafkaBroker, LongPollFetchWakesOnProduce) {
  TestBroker broker;
  RawClient c(broker.port());
  RawClient producer(broker.port());
  CreateTopic(c, "lp", 1);
  std::thread th([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    producer.Call<ProduceResponse>(MakeProduce("lp", 0, Batch(1)), 9);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto f = c.Call<FetchResponse>(MakeFetch("lp", 0, 4000, 1), 12);
  auto took = std::chrono::steady_clock::now() - t0;
  th.join();
  EXPECT_EQ(CountRecords(f.responses[0].partitions[0].records.data), 1);
  EXPECT_GE(took, std::chrono::milliseconds(150));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  // Nothing arrives: answered empty after max_wait.
  t0 = std::chrono::steady_clock::now();
  auto e = c.Call<FetchResponse>(MakeFetch("lp", 1, 300, 1), 12);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(280));
  EXPECT_TRUE(e.responses[0].partitions[0].records.data.empty());
}

TEST(KafkaBroker, BadCrcIsACorruptMessageErrorNotAClose) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "crc", 1);
  std::string b = Batch(2);
  b[b.size() - 1] ^= 0x55;  // inside the CRC-covered records
  auto resp = c.Call<ProduceResponse>(MakeProduce("crc", 0, b), 9);
  EXPECT_EQ(resp.responses[0].partition_responses[0].error_code, err::kCorruptMessage);
  EXPECT_EQ(c.Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0);
}

TEST(KafkaBroker, BadFramesCloseOnlyThatConnection) {
  ServerOptions o;
  o.max_frame_bytes = 1 << 20;
  TestBroker broker(o);
  RawClient good(broker.port());
  EXPECT_EQ(good.Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0);
  struct Case {
    const char* what;
    std::string bytes;
  };
  std::vector<Case> cases = {
      {"oversized frame", std::string("\x7f\xff\xff\xff", 4)},
      {"negative frame size", std::string("\xff\xff\xff\xf0", 4)},
      {"frame shorter than a header", std::string("\x00\x00\x00\x03\x00\x12\x00", 7)},
      {"unknown api key", std::string("\x00\x00\x00\x0a\x03\xe7\x00\x00\x00\x00\x00\x01\x00\x00", 14)},
      {"unsupported produce version", std::string("\x00\x00\x00\x0a\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00", 14)},
      {"truncated metadata body", std::string("\x00\x00\x00\x0e\x00\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x05", 18)},
      {"absurd array length", std::string("\x00\x00\x00\x0e\x00\x14\x00\x00\x00\x00\x00\x01\x00\x00\x7f\xff\xff\xff", 18)},
  };
  for (const Case& k : cases) {
    RawClient bad(broker.port());
    ASSERT_TRUE(bad.SendRaw(k.bytes)) << k.what;
    EXPECT_TRUE(bad.ClosedByPeer()) << k.what;
    EXPECT_EQ(good.Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0) << k.what;
  }
  // A client that vanishes mid-frame does not disturb others either.
  {
    RawClient half(broker.port());
    ASSERT_TRUE(half.SendRaw(std::string("\x00\x00\x01\x00\x00\x12", 6)));
  }
  EXPECT_EQ(good.Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0);
}

TEST(KafkaBroker, InterceptorReplacesOrRejects) {
  ServerOptions o;
  ProduceInterceptor icpt;
  icpt.topic_patterns = {"api-logs", "api-logs.*"};
  icpt.fn = [](const std::string& topic, int32_t, const std::vector<InterceptedRecord>& in) {
    InterceptDecision d;
    for (const auto& r : in) {
      if (r.value == "reject") {
        d.kafka_error = err::kInvalidRecord;
        d.error_message = "rejected by test";
        return d;
      }
      InterceptedRecord out = r;
      out.value = "redacted:" + topic + ":" + r.value.value_or("");
      d.records.push_back(std::move(out));
    }
    return d;
  };
  o.interceptors.push_back(icpt);
  TestBroker broker(o);
  RawClient c(broker.port());
  CreateTopic(c, "api-logs.x", 1);
  CreateTopic(c, "other", 1);
  auto r1 = c.Call<ProduceResponse>(MakeProduce("api-logs.x", 0, Batch(2, "secret")), 9);
  EXPECT_EQ(r1.responses[0].partition_responses[0].error_code, 0);
  auto r2 = c.Call<ProduceResponse>(MakeProduce("api-logs.x", 0, Batch(1, "reject")), 9);
  // Batch(1, "reject") makes value "reject0": not rejected; make an exact one.
  log::RecordBatchBuilder bb;
  bb.Add(std::nullopt, std::string_view("reject"), 1);
  auto r3 = c.Call<ProduceResponse>(MakeProduce("api-logs.x", 0, bb.Build().value()), 9);
  EXPECT_EQ(r3.responses[0].partition_responses[0].error_code, err::kInvalidRecord);
  EXPECT_EQ(r3.responses[0].partition_responses[0].error_message, "rejected by test");
  c.Call<ProduceResponse>(MakeProduce("other", 0, Batch(1, "secret")), 9);
  auto f = c.Call<FetchResponse>(MakeFetch("api-logs.x", 0), 12);
  std::vector<std::string> values;
  ASSERT_TRUE(log::ForEachBatch(f.responses[0].partitions[0].records.data, true,
                                [&](const log::RecordBatchView& b) {
                                  return b.ForEachRecord([&](const log::Record& r) {
                                    values.emplace_back(r.value.value_or(""));
                                    return Status::Ok();
                                  });
                                }).ok());
  EXPECT_EQ(values, (std::vector<std::string>{"redacted:api-logs.x:secret0",
                                               "redacted:api-logs.x:secret1",
                                               "redacted:api-logs.x:reject0"}));
  (void)r2;
  auto g = c.Call<FetchResponse>(MakeFetch("other", 0), 12);
  EXPECT_EQ(CountRecords(g.responses[0].partitions[0].records.data), 1);
}

TEST(KafkaBroker, TopicAdminAndConfigs) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "adm", 2);
  CreateTopicsRequest dup;
  dup.topics.push_back({"adm", 1, 1, {}, {}});
  EXPECT_EQ(c.Call<CreateTopicsResponse>(dup, 5).topics[0].error_code, err::kTopicAlreadyExists);
  CreatePartitionsRequest cp;
  cp.topics.push_back({"adm", 4, std::nullopt});
  EXPECT_EQ(c.Call<CreatePartitionsResponse>(cp, 2).results[0].error_code, 0);
  EXPECT_EQ(broker.logs()->DescribeTopic("adm")->partitions, 4);
  IncrementalAlterConfigsRequest ia;
  auto& res = ia.resources.emplace_back();
  res.resource_type = 2;
  res.resource_name = "adm";
  res.configs.push_back({"retention.ms", 0, std::string("60000")});
  auto iar = c.Call<IncrementalAlterConfigsResponse>(ia, 1);
  EXPECT_EQ(iar.responses[0].error_code, 0) << iar.responses[0].error_message.value_or("");
  DescribeConfigsRequest dc;
  dc.resources.push_back({2, "adm", std::vector<std::string>{"retention.ms"}});
  auto dcr = c.Call<DescribeConfigsResponse>(dc, 4);
  ASSERT_EQ(dcr.results[0].configs.size(), 1u);
  EXPECT_EQ(dcr.results[0].configs[0].value, "60000");
  EXPECT_EQ(dcr.results[0].configs[0].config_source, 1);
  AlterConfigsRequest ac;
  auto& ar = ac.resources.emplace_back();
  ar.resource_type = 2;
  ar.resource_name = "adm";
  ar.configs.push_back({"no.such.config", std::string("1")});
  EXPECT_EQ(c.Call<AlterConfigsResponse>(ac, 2).responses[0].error_code, err::kInvalidConfig);
  DeleteTopicsRequest dt;
  dt.topic_names = {"adm", "missing"};
  auto dtr = c.Call<DeleteTopicsResponse>(dt, 4);
  EXPECT_EQ(dtr.responses[0].error_code, 0);
  EXPECT_EQ(dtr.responses[1].error_code, err::kUnknownTopicOrPartition);
  auto dcl = c.Call<DescribeClusterResponse>(DescribeClusterRequest{}, 0);
  EXPECT_EQ(dcl.brokers.size(), 1u);
}

TEST(KafkaBroker, IdempotentProduceDedupesRetries) {
  TestBroker broker;
  RawClient c(broker.port());
  CreateTopic(c, "idem", 1);
  auto pid = c.Call<InitProducerIdResponse>(InitProducerIdRequest{}, 4);
  ASSERT_EQ(pid.error_code, 0);
  auto make = [&](int32_t seq, int n) {
    log::BatchBuilderOptions bo;
    bo.producer_id = pid.producer_id;
    bo.producer_epoch = pid.producer_epoch;
    bo.base_sequence = seq;
    log::RecordBatchBuilder b(bo);
    for (int i = 0; i < n; ++i) b.Add(std::nullopt, std::string_view("x"), 1);
    return b.Build().value();
  };
  auto r1 = c.Call<ProduceResponse>(MakeProduce("idem", 0, make(0, 3), -1), 9);
  EXPECT_EQ(r1.responses[0].partition_responses[0].error_code, 0);
  auto dup = c.Call<ProduceResponse>(MakeProduce("idem", 0, make(0, 3), -1), 9);
  EXPECT_EQ(dup.responses[0].partition_responses[0].error_code, 0);
  EXPECT_EQ(dup.responses[0].partition_responses[0].base_offset, 0);
  auto gap = c.Call<ProduceResponse>(MakeProduce("idem", 0, make(7, 1), -1), 9);
  EXPECT_EQ(gap.responses[0].partition_responses[0].error_code, 45);  // OUT_OF_ORDER_SEQUENCE
  auto next = c.Call<ProduceResponse>(MakeProduce("idem", 0, make(3, 1), -1), 9);
  EXPECT_EQ(next.responses[0].partition_responses[0].base_offset, 3);
  EXPECT_EQ(broker.logs()->GetPartition("idem", 0)->log_end_offset(), 4);
}

TEST(KafkaBroker, ManyIdleConnections) {
  TestBroker broker;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 300; ++i) clients.push_back(std::make_unique<RawClient>(broker.port()));
  for (int i = 0; i < 200 && broker.server()->connection_count() < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(broker.server()->connection_count(), 300u);
  EXPECT_EQ(clients.back()->Call<ApiVersionsResponse>(ApiVersionsRequest{}, 3).error_code, 0);
  clients.clear();
  for (int i = 0; i < 200 && broker.server()->connection_count() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(broker.server()->connection_count(), 0u);
}

}  // namespace
}  // namespace ec::kafka
