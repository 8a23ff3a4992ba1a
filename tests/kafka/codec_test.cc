// Round trip of every generated message at every declared version, prefix truncation, and
// byte-exact checks of a few encodings worked out by hand from the protocol guide.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kafka/messages.h"
#include "kafka/messages_sample.h"
#include "kafka/protocol/header.h"

namespace ec::kafka {
namespace {

std::string Bytes(const Writer& w) {
  std::string out;
  for (std::string_view p : w.Gather()) out.append(p);
  return out;
}

TEST(KafkaCodec, EveryMessageEveryVersionRoundTrips) {
  int checked = 0;
  testing::ForEachMessageType([&](auto tag) {
    using M = decltype(tag);
    for (int16_t v = M::kMinVersion; v <= M::kMaxVersion; ++v) {
      for (int seed = 0; seed < 6; ++seed) {
        M in;
        testing::Sample(in, v, seed);
        Writer w;
        in.Encode(w, v);
        std::string bytes = Bytes(w);
        Reader r(bytes);
        M out;
        Status st = out.Decode(r, v);
        ASSERT_TRUE(st.ok()) << typeid(M).name() << " v" << v << ": " << st.ToString();
        EXPECT_EQ(r.remaining(), 0u) << typeid(M).name() << " v" << v;
        EXPECT_TRUE(in == out) << typeid(M).name() << " v" << v << " seed " << seed;
        Writer w2;
        out.Encode(w2, v);
        EXPECT_EQ(Bytes(w2), bytes) << typeid(M).name() << " v" << v;
        // Every field is mandatory, so every strict prefix must be rejected.
        for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 64) {
          Reader tr(std::string_view(bytes).substr(0, cut));
          M t;
          EXPECT_FALSE(t.Decode(tr, v).ok()) << typeid(M).name() << " v" << v << " cut " << cut;
        }
        ++checked;
      }
    }
  });
  EXPECT_GT(checked, 400);
}

TEST(KafkaCodec, VersionsOutsideTheRangeAreRefused) {
  std::string empty;
  Reader r(empty);
  ProduceRequest p;
  EXPECT_EQ(p.Decode(r, -1).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(p.Decode(r, 10).code(), ErrorCode::kUnsupported);
}

TEST(KafkaCodec, ApiVersionsRequestV3Bytes) {
  // Flexible: compact strings are length+1 as an unsigned varint, then an empty tag section.
  ApiVersionsRequest req;
  req.client_software_name = "kcat";
  req.client_software_version = "1.7";
  Writer w;
  req.Encode(w, 3);
  EXPECT_EQ(Bytes(w), std::string("\x05kcat\x04" "1.7\x00", 10));
}

TEST(KafkaCodec, MetadataV1NullTopicsMeansAll) {
  std::string bytes("\xff\xff\xff\xff", 4);
  Reader r(bytes);
  MetadataRequest m;
  ASSERT_TRUE(m.Decode(r, 1).ok());
  EXPECT_FALSE(m.topics.has_value());
}

TEST(KafkaCodec, FlexibleSkipsUnknownTagsAndReadsKnownOnes) {
  // FetchRequest v12 top-level tag 0 is cluster_id (compact nullable string); tag 9 is unknown.
  FetchRequest f;
  f.max_wait_ms = 500;
  Writer w;
  f.Encode(w, 12);
  std::string bytes = Bytes(w);
  ASSERT_EQ(bytes.back(), '\0');
  bytes.pop_back();
  bytes += std::string("\x02\x00\x04\x04" "abc" "\x09\x02zz", 11);
  Reader r(bytes);
  FetchRequest out;
  ASSERT_TRUE(out.Decode(r, 12).ok());
  EXPECT_EQ(out.cluster_id, std::optional<std::string>("abc"));
  EXPECT_EQ(out.max_wait_ms, 500);
}

TEST(KafkaCodec, RequestHeaderV2) {
  RequestHeader h{3, 9, 42, std::string("c")};
  Writer w;
  EncodeRequestHeader(w, h, 2);
  EXPECT_EQ(Bytes(w), std::string("\x00\x03\x00\x09\x00\x00\x00\x2a\x00\x01" "c\x00", 12));
  std::string b = Bytes(w);
  Reader r(b);
  RequestHeader out;
  ASSERT_TRUE(DecodeRequestHeaderPrefix(r, out).ok());
  ASSERT_TRUE(DecodeRequestHeaderRest(r, 2, out).ok());
  EXPECT_EQ(out.client_id, std::optional<std::string>("c"));
  EXPECT_EQ(out.correlation_id, 42);
}

TEST(KafkaCodec, AbsurdLengthsFailWithoutAllocating) {
  // An array claiming 2^31-1 elements in a 4-byte body.
  std::string bytes("\x7f\xff\xff\xff", 4);
  Reader r(bytes);
  DeleteTopicsRequest d;
  EXPECT_FALSE(d.Decode(r, 0).ok());
  std::string s("\x00\x05\x7f\xff", 4);
  Reader r2(s);
  FindCoordinatorRequest fc;
  EXPECT_FALSE(fc.Decode(r2, 0).ok());
}

TEST(KafkaCodec, VarintsRoundTrip) {
  for (int64_t v : {0LL, 1LL, -1LL, 63LL, -64LL, 300LL, -300LL, (1LL << 40), -(1LL << 62)}) {
    Writer w;
    w.WriteVarlong(v);
    std::string b = Bytes(w);
    Reader r(b);
    EXPECT_EQ(r.ReadVarlong(), v);
    EXPECT_TRUE(r.ok());
  }
  std::string overlong(11, '\xff');
  Reader r(overlong);
  r.ReadVarlong();
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ec::kafka

namespace ec::kafka {
namespace {

// With EC_WRITE_FUZZ_CORPUS=DIR, writes one request frame body per request type and version
// (the seed corpus of tests/fuzz/kafka_request_fuzz.cc).
TEST(KafkaCodec, WriteFuzzSeedCorpus) {
  const char* dir = std::getenv("EC_WRITE_FUZZ_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "set EC_WRITE_FUZZ_CORPUS=DIR to write the seed corpus";
  testing::ForEachMessageType([&](auto tag) {
    using M = decltype(tag);
    if constexpr (M::kIsRequest) {
      for (int16_t v = M::kMinVersion; v <= M::kMaxVersion; ++v) {
        M m;
        testing::Sample(m, v, 1);
        Writer w;
        RequestHeader h{M::kApiKey, v, 1, std::string("seed")};
        EncodeRequestHeader(w, h, RequestHeaderVersion(M::IsFlexible(v)));
        m.Encode(w, v);
        std::string path = std::string(dir) + "/api" + std::to_string(M::kApiKey) + "_v" + std::to_string(v);
        FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr) << path;
        for (std::string_view p : w.Gather()) std::fwrite(p.data(), 1, p.size(), f);
        std::fclose(f);
      }
    }
  });
}

}  // namespace
}  // namespace ec::kafka
