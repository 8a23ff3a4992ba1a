#include "server/ingest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "json/document.h"
#include "log/journal.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

constexpr char kExchange[] =
    R"({"id":"x1","time":"2026-11-27T10:15:30.123Z","request":{"method":"POST","path":"/orders","headers":{"Content-Type":"application/json"},"body":{"a":1}},"response":{"status":201,"headers":{},"body":{"id":"o-1"}}})";

std::vector<RawRecord> Split(std::string_view body, Arena* arena, BodyShape* shape, Status* status,
                             SplitOptions options = {}) {
  std::vector<RawRecord> out;
  *status = SplitBody(body, "", options, arena, &out, shape);
  return out;
}

TEST(SplitBodyTest, ObjectArrayAndNdjson) {
  Arena arena;
  BodyShape shape;
  Status s;
  auto one = Split(kExchange, &arena, &shape, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(shape, BodyShape::kObject);
  EXPECT_EQ(one.size(), 1u);

  auto arr = Split(std::string("[") + kExchange + "," + kExchange + "]", &arena, &shape, &s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(shape, BodyShape::kArray);
  EXPECT_EQ(arr.size(), 2u);

  auto nd = Split(std::string(kExchange) + "\n\n{\"broken\": }\n" + kExchange + "\n", &arena, &shape, &s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(shape, BodyShape::kNdjson);
  ASSERT_EQ(nd.size(), 3u);
  EXPECT_TRUE(nd[0].error.ok());
  EXPECT_FALSE(nd[1].error.ok());
  EXPECT_EQ(nd[1].index, 1u);
  EXPECT_NE(nd[1].error.message().find("line 3"), std::string::npos) << nd[1].error.message();
  EXPECT_TRUE(nd[2].error.ok());
}

TEST(SplitBodyTest, PrettyPrintedObjectIsOneRecord) {
  Arena arena;
  BodyShape shape;
  Status s;
  auto r = Split("{\n  \"id\": \"x\",\n  \"nested\": {\"a\": 1}\n}\n", &arena, &shape, &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(shape, BodyShape::kObject);
  EXPECT_EQ(r.size(), 1u);
}

TEST(SplitBodyTest, WholeBodyErrorsSayWhere) {
  Arena arena;
  BodyShape shape;
  Status s;
  Split("{\"a\": [1, 2,,]}", &arena, &shape, &s);
  EXPECT_EQ(s.code(), ErrorCode::kParseError);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.message();
  Split("   \n ", &arena, &shape, &s);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
}

TEST(SplitBodyTest, LimitsOnRecordSizeAndDepth) {
  Arena arena;
  BodyShape shape;
  Status s;
  SplitOptions small{64, 8};
  std::string big = std::string("{\"a\":\"") + std::string(100, 'x') + "\"}";
  auto r = Split(big + "\n" + "{\"a\":1}\n", &arena, &shape, &s, small);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].error.code(), ErrorCode::kLimitExceeded);
  EXPECT_TRUE(r[1].error.ok());
  std::string deep;
  for (int i = 0; i < 50; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 50; ++i) deep += "}";
  Split(deep, &arena, &shape, &s, small);
  EXPECT_EQ(s.code(), ErrorCode::kLimitExceeded) << s.ToString();
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ec_ingest_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    log::LogManagerOptions o;
    o.data_dir = dir_.string();
    o.maintenance_interval_ms = 0;
    auto logs = log::LogManager::Open(o);
    ASSERT_TRUE(logs.ok()) << logs.status().ToString();
    logs_ = std::move(logs).value();
    ASSERT_TRUE(logs_->CreateTopic("api-logs", 1).ok());
    ingest_ = std::make_unique<Ingest>(IngestOptions{}, logs_.get(), nullptr, &metrics_, [this] { return lag_; });
  }
  void TearDown() override {
    ingest_.reset();
    logs_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpResponse Post(std::string body, std::string query = "") {
    HttpRequest req;
    req.method = "POST";
    req.path = "/v1/exchanges";
    req.query = std::move(query);
    req.body = std::move(body);
    return ingest_->Handle(req);
  }

  std::vector<std::string> StoredValues() {
    std::vector<std::string> out;
    auto log = logs_->GetPartition("api-logs", 0);
    log::ReadResult rr = log->Read(0, 1 << 20);
    std::string bytes;
    EXPECT_TRUE(rr.CopyTo(&bytes).ok());
    Status s = log::ForEachBatch(bytes, true, [&](const log::RecordBatchView& b) {
      return b.ForEachRecord([&](const log::Record& r) {
        EXPECT_EQ(r.headers.size(), 1u);
        if (!r.headers.empty()) { EXPECT_EQ(r.headers[0].key, kDecodedHeader); }
        out.emplace_back(*r.value);
        return Status::Ok();
      });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<log::LogManager> logs_;
  MetricsRegistry metrics_;
  std::unique_ptr<Ingest> ingest_;
  int64_t lag_ = 0;
};

TEST_F(IngestTest, AcceptsNdjsonAndListsRejections) {
  std::string body = std::string(kExchange) + "\n{\"broken\": }\n" + kExchange + "\n[1,2]\n";
  HttpResponse r = Post(body);
  EXPECT_EQ(r.status, 202) << r.body;
  auto doc = json::Parse(r.body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("accepted")->number(), 2);
  const json::Value* rejected = (*doc)->root().Find("rejected");
  ASSERT_EQ(rejected->size(), 2u);  // the broken line and the array that is no exchange
  EXPECT_EQ(rejected->At(0)->Find("index")->number(), 1);
  EXPECT_EQ(rejected->At(1)->Find("index")->number(), 3);
  EXPECT_NE(rejected->At(0)->Find("reason")->string().find("line 2"), std::string::npos);
  std::vector<std::string> stored = StoredValues();
  ASSERT_EQ(stored.size(), 2u);
  // Stored as canonical exchanges: header names lower-cased by the decoder.
  EXPECT_NE(stored[0].find("\"content-type\""), std::string::npos) << stored[0];
  EXPECT_NE(stored[0].find("\"id\":\"x1\""), std::string::npos) << stored[0];
  EXPECT_NE(metrics_.RenderPrometheus().find("eventception_ingested_total{source=\"http\"} 2"), std::string::npos);
}

// The request's thread waits for its append's journal sync: it runs the sync round itself
// (Journal::RunSyncsOnThisThread) instead of waking the journal's sync thread.
TEST_F(IngestTest, TheRequestsThreadRunsItsOwnJournalSync) {
  log::Journal* journal = logs_->journal();
  if (journal == nullptr) GTEST_SKIP() << "no commit journal (EC_LOG_JOURNAL=0)";
  const uint64_t inline_before = journal->inline_sync_calls();
  HttpResponse r = Post(std::string(kExchange) + "\n" + kExchange + "\n");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(journal->inline_sync_calls() - inline_before, 1u);
  EXPECT_EQ(logs_->GetPartition("api-logs", 0)->durable_offset(), 2);
  EXPECT_FALSE(log::Journal::RunsSyncsOnThisThread()) << "the thread's setting is restored";
}

TEST_F(IngestTest, ArrayWithWrongTypesIsRejectedPerRecord) {
  HttpResponse r = Post(std::string("[") + kExchange + ", {\"request\": 5}, \"text\"]");
  EXPECT_EQ(r.status, 202) << r.body;
  auto doc = json::Parse(r.body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)->root().Find("accepted")->number(), 1);
  EXPECT_EQ((*doc)->root().Find("rejected")->size(), 2u);
  EXPECT_EQ(StoredValues().size(), 1u);
}

TEST_F(IngestTest, EverythingRejectedIs422AndNothingStored) {
  HttpResponse r = Post("{\"hello\": \"world\"}");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("\"accepted\":0"), std::string::npos);
  EXPECT_TRUE(StoredValues().empty());
}

TEST_F(IngestTest, BadJsonIs400WithLineAndColumn) {
  HttpResponse r = Post("{\n \"a\": tru }");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("line 2"), std::string::npos) << r.body;
}

TEST_F(IngestTest, UnknownFormatIs400ListingFormats) {
  HttpResponse r = Post(kExchange, "format=fluentd");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("fluentd"), std::string::npos);
  EXPECT_NE(r.body.find("canonical"), std::string::npos) << r.body;
  EXPECT_EQ(Post(kExchange, "format=canonical").status, 202);
}

TEST_F(IngestTest, BackPressureIs429WithRetryAfter) {
  lag_ = 1000000;
  HttpResponse r = Post(kExchange);
  EXPECT_EQ(r.status, 429);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_TRUE(StoredValues().empty());
  lag_ = 0;
  EXPECT_EQ(Post(kExchange).status, 202);
}

TEST(BuildBatchesTest, SplitsLargeInputsIntoSeveralValidBatches) {
  std::vector<IngestRecord> records;
  for (int i = 0; i < 300; ++i) records.push_back({"k" + std::to_string(i), std::string(4000, 'v')});
  Result<std::string> bytes = BuildBatches(records, 1);
  ASSERT_TRUE(bytes.ok());
  int batches = 0;
  size_t count = 0;
  Status s = log::ForEachBatch(*bytes, false, [&](const log::RecordBatchView& b) {
    ++batches;
    count += static_cast<size_t>(b.record_count());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(batches, 1);
  EXPECT_EQ(count, 300u);
}

TEST(IngestBatchTest, KeepsKeysAndValuesThroughTruncateDropAndClear) {
  Arena arena;
  IngestBatch batch;
  std::vector<std::string> texts;
  for (int i = 0; i < 5; ++i) {
    json::Value v;
    std::string text = R"({"id":"x)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}";
    ASSERT_TRUE(json::ParseInto(text, &arena, &v).ok());
    EXPECT_EQ(batch.Add(v), text.size());
    texts.push_back(text);
  }
  ASSERT_EQ(batch.size(), 5u);
  EXPECT_EQ(batch.key(3), "x3");
  EXPECT_EQ(batch.value(3), texts[3]);
  batch.Truncate(4);  // drops x4 and its bytes
  ASSERT_EQ(batch.size(), 4u);
  batch.Drop({false, true, false, true});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch.key(0), "x0");
  EXPECT_EQ(batch.key(1), "x2");
  EXPECT_EQ(batch.value(1), texts[2]);
  // A record without an id has an empty key (a null key in the batch).
  json::Value no_id;
  ASSERT_TRUE(json::ParseInto(R"({"n":9})", &arena, &no_id).ok());
  batch.Add(no_id);
  EXPECT_EQ(batch.key(2), "");
  EXPECT_EQ(batch.value(2), R"({"n":9})");

  // The same records as IngestRecords give the same bytes.
  std::vector<IngestRecord> records;
  for (size_t i = 0; i < batch.size(); ++i) records.push_back({std::string(batch.key(i)), std::string(batch.value(i))});
  Result<std::string> a = BuildBatches(batch, 7);
  Result<std::string> b = BuildBatches(records, 7);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  size_t seen = 0;
  ASSERT_TRUE(log::ForEachBatch(*a, true, [&](const log::RecordBatchView& v) {
                return v.ForEachRecord([&](const log::Record& r) {
                  EXPECT_EQ(r.key.has_value(), seen < 2);
                  EXPECT_EQ(*r.value, batch.value(seen));
                  ++seen;
                  return Status::Ok();
                });
              }).ok());
  EXPECT_EQ(seen, 3u);
  batch.Clear();
  EXPECT_TRUE(batch.empty());
}

// The fast path writes an exchange straight into the batch, its key a span of its own JSON:
// truncating, dropping and adding after it keep every key and value intact.
TEST(IngestBatchTest, WrittenEntriesKeepTheirKeyInsideTheirValue) {
  IngestBatch batch;
  auto write = [&](const std::string& id, const std::string& rest) {
    const size_t at = batch.BeginWritten();
    std::string* out = batch.write_buffer();
    out->append("{\"id\":\"");
    const size_t id_at = out->size();
    out->append(id);
    out->append("\"" + rest + "}");
    return batch.AddWritten(at, id_at, id.size());
  };
  const std::string v0 = "{\"id\":\"xa\",\"n\":0}";
  EXPECT_EQ(write("xa", ",\"n\":0"), v0.size());
  EXPECT_EQ(batch.Add("kb", "{\"n\":1}"), 7u);
  write("xc", ",\"n\":2");
  const size_t before_xd = batch.write_buffer()->size();
  write("xd", ",\"n\":3");
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(batch.key(0), "xa");
  EXPECT_EQ(batch.value(0), v0);
  EXPECT_EQ(batch.key(1), "kb");
  EXPECT_EQ(batch.value(1), "{\"n\":1}");
  EXPECT_EQ(batch.key(3), "xd");
  // A written JSON that is not added (too large) leaves nothing behind.
  const size_t before = batch.write_buffer()->size();
  const size_t at = batch.BeginWritten();
  batch.write_buffer()->append("{\"id\":\"junk\"}");
  batch.DropWritten(at);
  EXPECT_EQ(batch.write_buffer()->size(), before);
  batch.Truncate(3);  // drops xd: its bytes start at its value, before its key
  EXPECT_EQ(batch.write_buffer()->size(), before_xd);
  write("xe", ",\"n\":4");
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(batch.key(3), "xe");
  EXPECT_EQ(batch.value(3), "{\"id\":\"xe\",\"n\":4}");
  EXPECT_EQ(batch.value(2), "{\"id\":\"xc\",\"n\":2}");
  batch.Drop({false, true, false, false});
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.key(0), "xa");
  EXPECT_EQ(batch.key(1), "xc");
  EXPECT_EQ(batch.key(2), "xe");
  Result<std::string> built = BuildBatches(batch, 7);
  ASSERT_TRUE(built.ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(log::ForEachBatch(*built, true, [&](const log::RecordBatchView& v) {
                return v.ForEachRecord([&](const log::Record& r) {
                  keys.emplace_back(*r.key);
                  EXPECT_EQ(*r.value, batch.value(keys.size() - 1));
                  return Status::Ok();
                });
              }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"xa", "xc", "xe"}));
  // After a Drop, Seal copies the others into fresh batches: the same bytes.
  Result<std::span<char>> sealed = batch.Seal(7);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(std::string_view(sealed->data(), sealed->size()), *built);
}

// Seal writes the batch headers into the records the batch framed as it went: the bytes must
// be exactly BuildBatches' (RecordBatchBuilder's) of the same keys and values, across several
// batches, wrong framing guesses (sizes and offset deltas whose varints grow), null and long
// keys, records dropped or truncated away (a batch header they opened with them), and reuse.
TEST(IngestBatchTest, SealWritesWhatBuildBatchesBuilds) {
  IngestBatch batch;
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    batch.Clear();
    std::vector<IngestRecord> expect;
    for (int i = 0; i < 1500; ++i) {
      const size_t size = rng() % 5 == 0 ? 20 + rng() % 9000 : 600 + rng() % 200;
      std::string id = rng() % 7 == 0 ? "" : "x" + std::to_string(rng()) + std::string(rng() % 3 == 0 ? 200 : 0, 'k');
      std::string rest = ",\"v\":\"" + std::string(size, static_cast<char>('a' + i % 26)) + "\"}";
      switch (rng() % 5) {
        case 0:  // a JSON written in place, then dropped (too large)
        {
          const size_t before = batch.write_buffer()->size();
          const size_t at = batch.BeginWritten();
          batch.write_buffer()->append("{\"id\":\"" + id + "\"" + rest);
          batch.DropWritten(at);
          ASSERT_EQ(batch.write_buffer()->size(), before);
          break;
        }
        case 1:  // Add with the id given
        {
          const std::string json = "{\"n\":" + std::to_string(i) + rest;
          EXPECT_EQ(batch.Add(id, json), json.size());
          expect.push_back({id, json});
          break;
        }
        default:  // written in place, the key inside the JSON
        {
          const size_t at = batch.BeginWritten();
          std::string* out = batch.write_buffer();
          out->append("{\"id\":\"");
          const size_t id_at = out->size();
          out->append(id);
          out->append("\"" + rest);
          const std::string json = out->substr(at);
          EXPECT_EQ(batch.AddWritten(at, id_at, id.size()), json.size());
          expect.push_back({id, json});
          break;
        }
      }
      if (i % 500 == 499) {  // a multi-record exchange found too large: its records go
        const size_t keep = expect.size() - std::min<size_t>(expect.size(), 1 + rng() % 3);
        batch.Truncate(keep);
        expect.resize(keep);
      }
    }
    ASSERT_EQ(batch.size(), expect.size());
    for (size_t i = 0; i < expect.size(); ++i) {
      ASSERT_EQ(batch.key(i), expect[i].key) << i;
      ASSERT_EQ(batch.value(i), expect[i].value) << i;
    }
    Result<std::string> built = BuildBatches(expect, 1764000000000 + round);
    ASSERT_TRUE(built.ok());
    Result<std::span<char>> sealed = batch.Seal(1764000000000 + round);
    ASSERT_TRUE(sealed.ok());
    ASSERT_EQ(std::string_view(sealed->data(), sealed->size()), *built) << round;
    int batches = 0;
    ASSERT_TRUE(log::ForEachBatch(*built, false, [&](const log::RecordBatchView&) {
                  ++batches;
                  return Status::Ok();
                }).ok());
    EXPECT_GE(batches, 3);
  }
  // The seventh record of 100 kB opens the second batch (six take the first past 512 KiB):
  // truncated away, or dropped when written, it takes that batch's header with it.
  for (bool written : {false, true}) {
    batch.Clear();
    std::vector<IngestRecord> expect;
    const std::string big(100000, 'b');
    for (int i = 0; i < 6; ++i) {
      expect.push_back({"k" + std::to_string(i), big});
      batch.Add(expect.back().key, big);
    }
    if (written) {
      const size_t at = batch.BeginWritten();
      batch.write_buffer()->append(big);
      batch.DropWritten(at);
    } else {
      batch.Add("gone", big);
      batch.Truncate(6);
    }
    expect.push_back({"k6", "{}"});
    batch.Add("k6", "{}");
    Result<std::span<char>> sealed = batch.Seal(5);
    Result<std::string> built = BuildBatches(expect, 5);
    ASSERT_TRUE(sealed.ok() && built.ok());
    EXPECT_EQ(std::string_view(sealed->data(), sealed->size()), *built) << written;
  }
  batch.Clear();
  EXPECT_FALSE(batch.Seal(1).ok());  // nothing to append
}

}  // namespace
}  // namespace ec::server

namespace ec::server {
namespace {

// Serve splits NDJSON with defer_parse, and DecodeForIngest writes canonical records straight
// from their text (pipeline/canonical_text.h): the batch and the rejections must be exactly
// those of parsing every line first and decoding the trees.
TEST(DecodeForIngestTest, DeferredParseAndFastPathGiveTheSameBatch) {
  const std::string shop =
      R"({"time":"2026-11-27T20:07:53.831Z","latency_ms":12.0,"request":{"method":"POST","url":"https://shop.example.com/api/customers","path":"/api/customers","query":{},"headers":{"user-agent":"shop-web/2.3","authorization":"Bearer secret-token-5","content-type":"application/json"},"body":{"email":"c-1@example.com","tier":"Gold","password":"hunter2"}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"c-1"}},"client":{"ip":"10.0.1.174"},"gateway":{"kind":"kong"}})";
  const std::string kong =
      R"({"started_at":1700000000000,"request":{"method":"GET","uri":"/a?x=1","headers":{"Host":"h"}},"response":{"status":200}})";
  std::string big_body(3000, 'a');
  const std::string big = R"({"request":{"method":"POST","path":"/a","body":")" + big_body + R"("},"response":{"status":200}})";
  const std::string body = shop + "\n" + kExchange + "\n{\"broken\": }\n\n  " + shop + "  \n" + kong + "\n" + big +
                           "\n[1]\n" + std::string(R"({"request":{"method":"get","path":"/b"},"response":{"status":204}})") +
                           "\n" + shop + "\n";
  // The shop spec redacts request.headers.authorization.
  const std::vector<std::string> files = {std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = spec::LoadSpecs(files);
  ASSERT_TRUE(specs.ok()) << specs.status().ToString();
  auto run = [&](bool defer, std::string_view format, IngestOptions io, std::vector<std::string>* kv,
                 std::vector<std::string>* rej) {
    Arena arena;
    std::vector<RawRecord> records;
    BodyShape shape;
    SplitOptions so{io.max_record_bytes, io.max_json_depth, defer};
    ASSERT_TRUE(SplitBody(body, "application/x-ndjson", so, &arena, &records, &shape).ok());
    IngestBatch batch;
    std::vector<Rejection> rejected;
    DecodeForIngest(records, format, specs->get(), io, &arena, &batch, &rejected);
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string v(batch.value(i));
      // Records without a time get the clock's: compare without the time member.
      size_t t = v.find(",\"time\":\"");
      if (t != std::string::npos) v.erase(t, v.find('"', t + 9) + 1 - t);
      kv->push_back(std::string(batch.key(i)) + " " + v);
    }
    for (const Rejection& r : rejected) rej->push_back(std::to_string(r.index) + " " + std::string(r.code) + " " + r.reason);
  };
  for (std::string_view format : {"detect", "canonical", "kong"}) {
    for (size_t max_record : {size_t{1} << 20, size_t{2000}}) {
      IngestOptions io;
      io.max_record_bytes = max_record;
      std::vector<std::string> kv_tree, rej_tree, kv_fast, rej_fast;
      run(false, format, io, &kv_tree, &rej_tree);
      run(true, format, io, &kv_fast, &rej_fast);
      EXPECT_EQ(kv_fast, kv_tree) << format << " " << max_record;
      EXPECT_EQ(rej_fast, rej_tree) << format << " " << max_record;
      if (format == "detect" && max_record > 4000) {
        EXPECT_EQ(kv_tree.size(), 7u);
        EXPECT_EQ(rej_tree.size(), 2u);
        for (const std::string& x : kv_fast) EXPECT_EQ(x.find("secret-token"), std::string::npos) << x;
      }
    }
  }
}

// Records without an id get their stable id hashed two at a time (the fast path defers each
// record's hash to the next one's): every record's id and text must be the tree path's,
// whichever record it is paired with, across the hash's block edges (a body of 0-129 bytes),
// with records that bring their own id, records the tree path takes and records dropped as too
// large between them, and an odd or even number of records in the request.
TEST(DecodeForIngestTest, StableIdsHashedInPairsAreTheTreePathsIds) {
  const std::vector<std::string> files = {std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = spec::LoadSpecs(files);
  ASSERT_TRUE(specs.ok()) << specs.status().ToString();
  auto line = [](size_t pad, bool with_id) {
    return std::string("{") + (with_id ? "\"id\":\"own-" + std::to_string(pad) + "\"," : "") +
           R"("time":"2026-11-27T20:07:53.831Z","latency_ms":12.0,"request":{"method":"POST","path":"/api/customers","headers":{"authorization":"Bearer secret-token-5"},"body":{"pad":")" +
           std::string(pad, 'p') + R"("}},"response":{"status":201,"body":{"id":"c-1"}}})";
  };
  std::string body;
  for (size_t pad = 0; pad < 130; ++pad) {
    body += line(pad, pad % 7 == 3) + "\n";
    if (pad % 11 == 5) {
      std::string lower = line(pad, false);  // a method in lower case: the tree path's record
      body += lower.replace(lower.find("POST"), 4, "post") + "\n";
    }
  }
  auto run = [&](bool defer, size_t max_record, size_t lines, std::vector<std::string>* out) {
    std::string part;
    for (size_t at = 0, n = 0; n < lines; ++n) {
      const size_t nl = body.find('\n', at);
      part += body.substr(at, nl + 1 - at);
      at = nl + 1;
    }
    IngestOptions io;
    io.max_record_bytes = max_record;
    Arena arena;
    std::vector<RawRecord> records;
    BodyShape shape;
    ASSERT_TRUE(SplitBody(part, "application/x-ndjson", {max_record, io.max_json_depth, defer}, &arena, &records, &shape).ok());
    IngestBatch batch;
    std::vector<Rejection> rejected;
    DecodeForIngest(records, "detect", specs->get(), io, &arena, &batch, &rejected);
    for (size_t i = 0; i < batch.size(); ++i) out->push_back(std::string(batch.key(i)) + " " + std::string(batch.value(i)));
    for (const Rejection& r : rejected) out->push_back(std::to_string(r.index) + " " + std::string(r.code));
  };
  size_t stable = 0;
  for (size_t max_record : {size_t{1} << 20, size_t{420}}) {  // 420: the longer pads are too large
    for (size_t lines : {size_t{142}, size_t{141}, size_t{2}, size_t{1}}) {
      std::vector<std::string> tree, fast;
      run(false, max_record, lines, &tree);
      run(true, max_record, lines, &fast);
      EXPECT_EQ(fast, tree) << max_record << " " << lines;
      for (const std::string& x : fast) stable += x.rfind("x", 0) == 0 ? 1 : 0;
    }
  }
  EXPECT_GT(stable, 200u);
}

// The canonical decoder is kept per thread across requests: a request with other redact
// paths (a spec reload) or another depth limit must be decoded as on a thread that decoded
// nothing before, whatever this thread decoded before.
TEST(DecodeForIngestTest, TheThreadsDecoderFollowsEachRequestsOptions) {
  const std::string body =
      R"({"time":"2026-11-27T20:07:53.831Z","latency_ms":12.0,"request":{"method":"POST","url":"https://shop.example.com/api/customers","path":"/api/customers","query":{},"headers":{"user-agent":"shop-web/2.3","authorization":"Bearer secret-token-5","content-type":"application/json"},"body":{"customer":{"id":"c-1"},"items":[{"sku":"E5","qty":4}]}},"response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":"c-1"}},"client":{"ip":"10.0.1.174"},"gateway":{"kind":"kong"}})"
      "\n";
  const std::vector<std::string> files = {std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto specs = spec::LoadSpecs(files);
  ASSERT_TRUE(specs.ok()) << specs.status().ToString();
  auto run = [&](const spec::CompiledSpecs* s, uint32_t depth) {
    IngestOptions io;
    io.max_json_depth = depth;
    Arena arena;
    std::vector<RawRecord> records;
    BodyShape shape;
    EXPECT_TRUE(SplitBody(body, "application/x-ndjson", {io.max_record_bytes, depth, true}, &arena, &records, &shape).ok());
    IngestBatch batch;
    std::vector<Rejection> rejected;
    DecodeForIngest(records, "detect", s, io, &arena, &batch, &rejected);
    std::string out;
    for (size_t i = 0; i < batch.size(); ++i) out += std::string(batch.value(i)) + "\n";
    for (const Rejection& r : rejected) out += "rejected " + std::string(r.code) + "\n";
    return out;
  };
  size_t redacted = 0, kept = 0, rejected = 0;
  for (int round = 0; round < 2; ++round) {
    for (const spec::CompiledSpecs* s : {specs->get(), static_cast<const spec::CompiledSpecs*>(nullptr), specs->get()}) {
      for (uint32_t depth : {64u, 4u, 64u}) {
        // What a thread that decoded nothing before gives (a decoder built for these options).
        std::string fresh;
        std::thread([&] { fresh = run(s, depth); }).join();
        const std::string fast = run(s, depth);
        EXPECT_EQ(fast, fresh) << round << " " << (s != nullptr) << " " << depth;
        if (fast.find("rejected") != std::string::npos) {
          ++rejected;  // deeper than 4 levels
        } else if (fast.find("secret-token") == std::string::npos) {
          ++redacted;
          EXPECT_NE(s, nullptr);
        } else {
          ++kept;
          EXPECT_EQ(s, nullptr);
        }
      }
    }
  }
  EXPECT_EQ(redacted, 8u);
  EXPECT_EQ(kept, 4u);
  EXPECT_EQ(rejected, 6u);
}

}  // namespace
}  // namespace ec::server
