// Processor: binary vs structured CloudEvents records, deterministic ids, counters, the
// expression context, and the changelog extension point.
#include "pipeline/processor.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "json/builder.h"
#include "json/document.h"
#include "json/writer.h"
#include "pipeline/decode_util.h"
#include "pipeline/exchange.h"
#include "pipeline/ids.h"

namespace ec::pipeline {
namespace {

std::shared_ptr<const spec::CompiledSpecs> ShopSpecs() {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto s = spec::LoadSpecs(files);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

constexpr const char* kCreate =
    R"({"id":"ex-1","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,"request":{"method":"POST","path":"/api/orders",
    "headers":{"content-type":"application/json","authorization":"Bearer x"},"body":{"customer":{"id":"c-42"},
    "items":[{"sku":"A1","price":12.5,"qty":2}],"currency":"EUR"}},"response":{"status":201,
    "headers":{"content-type":"application/json"},"body":{"id":"o-1001","status":"placed","total":25.0}},
    "client":{"ip":"10.0.0.7","consumer":"shop-web"}})";

std::string Header(const OutputRecord& r, std::string_view name) {
  return std::string(r.header(name).value_or("<absent>"));
}

TEST(ProcessorTest, BinaryModeByDefault) {
  auto specs = ShopSpecs();
  Processor p(specs);
  Arena arena;
  std::vector<json::Value> xs;
  ASSERT_TRUE(DecodeBytes(kCreate, "canonical", {}, &arena, &xs).ok());
  std::vector<OutputRecord> out;
  ProcessStats stats;
  p.Process(xs[0], &arena, &out, &stats);
  ASSERT_EQ(out.size(), 1u);  // placed; not large (25 < 500)
  const OutputRecord& r = out[0];
  EXPECT_EQ(r.topic, "shop.order.placed");
  EXPECT_EQ(r.key().value_or("<null>"), "o-1001");
  EXPECT_EQ(r.timestamp_ms, 1795774530123);
  EXPECT_EQ(r.value().value_or("<null>"),
            R"({"orderId":"o-1001","customer":"c-42","items":1,"total":25,"currency":"EUR"})");
  EXPECT_EQ(Header(r, "ce_specversion"), "1.0");
  EXPECT_EQ(Header(r, "ce_id"), EventId("ex-1", "shop.order.placed", 0));
  EXPECT_EQ(Header(r, "ce_source"), "https://shop.example.com");
  EXPECT_EQ(Header(r, "ce_type"), "shop.order.placed");
  EXPECT_EQ(Header(r, "ce_time"), "2026-11-27T10:15:30.123Z");
  EXPECT_EQ(Header(r, "ce_subject"), "customer/c-42");
  EXPECT_EQ(Header(r, "ce_eventceptionoperation"), "createOrder");
  EXPECT_EQ(Header(r, "ce_eventceptionexchange"), "ex-1");
  EXPECT_EQ(Header(r, "content-type"), "application/json");
  EXPECT_EQ(stats.matched, 1u);
  EXPECT_EQ(stats.events, 1u);
  // Counters the admin API reads.
  const spec::Operation* op = specs->Match("POST", "/api/orders", nullptr);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->counters.matched.load(), 1u);
  EXPECT_EQ(op->counters.emitted.load(), 1u);
  EXPECT_EQ(op->events[0]->counters.matched.load(), 1u);
  EXPECT_EQ(op->events[0]->counters.emitted.load(), 1u);
  EXPECT_EQ(op->events[1]->counters.matched.load(), 0u);
}

TEST(ProcessorTest, StructuredPerTopicAndDeterministicIds) {
  auto specs = ShopSpecs();
  ProcessorOptions o;
  o.structured_topics = {"shop.order.placed"};
  Processor p(specs, o);
  std::string first, second;
  for (std::string* v : {&first, &second}) {
    Arena arena;
    std::vector<json::Value> xs;
    ASSERT_TRUE(DecodeBytes(kCreate, "detect", {}, &arena, &xs).ok());
    std::vector<OutputRecord> out;
    p.Process(xs[0], &arena, &out, nullptr);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(Header(out[0], "content-type"), "application/cloudevents+json");
    EXPECT_EQ(Header(out[0], "ce_id"), "<absent>");
    *v = out[0].value().value_or("");
  }
  EXPECT_EQ(first, second);  // a replay gives the same event, id included
  auto doc = json::Parse(first);
  ASSERT_TRUE(doc.ok());
  const json::Value& ce = (*doc)->root();
  EXPECT_EQ(ce.Find("id")->string(), EventId("ex-1", "shop.order.placed", 0));
  EXPECT_EQ(ce.Find("datacontenttype")->string(), "application/json");
  EXPECT_EQ(json::ToJson(*ce.Find("data")->Find("total")), "25");
}

TEST(ProcessorTest, UnmatchedIsCountedAndSilent) {
  auto specs = ShopSpecs();
  Processor p(specs);
  Arena arena;
  std::vector<json::Value> xs;
  ASSERT_TRUE(DecodeBytes(R"({"id":"u","time":"2026-11-27T10:15:30Z","request":{"method":"GET","path":"/nope"},
                              "response":{"status":200}})", "canonical", {}, &arena, &xs).ok());
  std::vector<OutputRecord> out;
  ProcessStats stats;
  p.Process(xs[0], &arena, &out, &stats);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(stats.unmatched, 1u);
  EXPECT_EQ(specs->unmatched.load(), 1u);
}

class RecordingStage : public ExchangeStage {
 public:
  void OnMatched(const MatchedExchange& m, Arena* arena, std::vector<OutputRecord>* out) override {
    seen.push_back(m.operation->id + " " + std::string(m.exchange_id) + " " +
                   json::ToJson(*m.context->Find("params")) + " " + json::ToJson(*m.context->Find("operation")));
    // The context references the exchange's values rather than copies of them.
    same_request = m.context->Find("request")->object().data() == m.exchange->Find("request")->object().data();
  }
  std::vector<std::string> seen;
  bool same_request = false;
};

TEST(ProcessorTest, StagesSeeTheContext) {
  auto specs = ShopSpecs();
  Processor p(specs);
  RecordingStage stage;
  p.AddStage(&stage);
  Arena arena;
  std::vector<json::Value> xs;
  ASSERT_TRUE(DecodeBytes(R"({"id":"g","time":"2026-11-27T10:15:30Z","request":{"method":"GET","path":"/api/orders/o%201"},
                              "response":{"status":200,"body":{"id":"o 1"}}})", "canonical", {}, &arena, &xs).ok());
  std::vector<OutputRecord> out;
  p.Process(xs[0], &arena, &out, nullptr);
  ASSERT_EQ(stage.seen.size(), 1u);
  EXPECT_EQ(stage.seen[0],
            R"(getOrder g {"orderId":"o 1"} {"id":"getOrder","method":"GET","template":"/orders/{orderId}","api":"Shop API"})");
  EXPECT_TRUE(stage.same_request);
}

// Records built over recycled ones (NewOutputRecord) equal records built afresh, whatever the
// recycled ones held: more or fewer headers, keys and values present or not.
void ExpectSameRecords(const std::vector<OutputRecord>& a, const std::vector<OutputRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].topic, b[i].topic) << i;
    EXPECT_EQ(a[i].key(), b[i].key()) << i;
    EXPECT_EQ(a[i].headers(), b[i].headers()) << i;
    EXPECT_EQ(a[i].value(), b[i].value()) << i;
    EXPECT_EQ(a[i].encoded(), b[i].encoded()) << i;
    EXPECT_EQ(a[i].timestamp_ms, b[i].timestamp_ms) << i;
  }
}

TEST(ProcessorTest, RecycledRecordsGiveTheSameOutput) {
  auto specs = ShopSpecs();
  ProcessorOptions structured;
  structured.structured_topics = {"shop.order.placed"};
  Processor binary_p(specs), structured_p(specs, structured);
  std::string large = kCreate;
  large.replace(large.find("\"price\":12.5"), 12, "\"price\":300.0");  // shop.order.large too
  auto run = [&](std::vector<OutputRecord>* out) {
    Arena arena;
    for (const Processor* p : {&binary_p, &structured_p, &binary_p}) {
      for (const std::string& text : {std::string(kCreate), large}) {
        std::vector<json::Value> xs;
        ASSERT_TRUE(DecodeBytes(text, "canonical", {}, &arena, &xs).ok());
        p->Process(xs[0], &arena, out, nullptr);
      }
    }
  };
  // The reference on a thread of its own: nothing recycled there.
  std::vector<OutputRecord> fresh;
  std::thread([&] { run(&fresh); }).join();
  ASSERT_EQ(fresh.size(), 9u);  // placed (x3), placed + large (x3)

  for (int round = 0; round < 3; ++round) {
    std::vector<OutputRecord> junk(20);
    for (size_t i = 0; i < junk.size(); ++i) {
      std::vector<std::string> names, values;
      for (size_t h = 0; h < (i * 5) % 14; ++h) {
        names.push_back(std::string(h * 3, 'n'));
        values.push_back(std::string(h * 9, 'x'));
      }
      std::vector<std::pair<std::string_view, std::string_view>> headers;
      for (size_t h = 0; h < names.size(); ++h) headers.emplace_back(names[h], values[h]);
      const std::string key(i * 11, 'k'), value(i * 13, 'v');
      junk[i] = OutputRecord(std::string(5 + i * 7, 't'), i % 3 != 0 ? std::optional<std::string_view>(key) : std::nullopt,
                             i % 4 != 1 ? std::optional<std::string_view>(value) : std::nullopt, headers, -7);
    }
    // A run first, so the pool takes records of the shapes Process asks for (it keeps only as
    // many of a shape as were asked for since the last recycling), then the junk.
    std::vector<OutputRecord> warm;
    run(&warm);
    RecycleOutputRecords(&junk);
    EXPECT_TRUE(junk.empty());
    std::vector<OutputRecord> reused;
    run(&reused);
    ExpectSameRecords(fresh, reused);
  }

  // The storage is reused indeed. The pool hands records out last in, first out, so a buffer
  // serves another kind of record each run and may grow (reallocate) in the second; from the
  // third on, each one is large enough for the records it gets.
  std::vector<OutputRecord> first, second, third;
  run(&first);
  RecycleOutputRecords(&first);
  run(&second);
  std::set<const char*> buffers;
  for (const OutputRecord& r : second) buffers.insert(r.encoded().data());
  RecycleOutputRecords(&second);
  run(&third);
  size_t reused_buffers = 0;
  for (const OutputRecord& r : third) reused_buffers += buffers.count(r.encoded().data());
  EXPECT_EQ(reused_buffers, third.size());
}

// What the writer wrote reads back through the accessors, whatever the lengths (BeginValue
// keeps two bytes for the value's length: values under 64 bytes and from 8 KiB on move), over
// records that held anything before, with and without keys, values and headers.
TEST(ProcessorTest, RecordWriterReadsBack) {
  std::vector<OutputRecord> pool(3);
  pool[1] = OutputRecord("t", std::string(5000, 'k'), std::string(9000, 'v'),
                         std::vector<std::pair<std::string_view, std::string_view>>(70, {"n", "v"}));
  pool[2] = OutputRecord("t", "k", std::nullopt);
  for (size_t len : {0, 1, 63, 64, 65, 8191, 8192, 8193, 70000}) {
    for (int headers : {0, 1, 63, 64, 200}) {
      for (int form = 0; form < 3; ++form) {  // Value, BeginValue/EndValue, no value (null)
        OutputRecord& r = pool[(len + headers + form) % pool.size()];
        const std::string key(len % 100, 'K'), value(len, 'V');
        std::vector<std::string> names;
        {
          RecordWriter w(&r, form == 2 ? std::nullopt : std::optional<std::string_view>(key));
          if (form == 0) {
            w.Value(value);
          } else if (form == 1) {
            std::string* v = w.BeginValue();
            v->append(value);
            w.EndValue();
          }
          for (int h = 0; h < headers; ++h) {
            names.push_back("h" + std::to_string(h) + std::string(h % 70, 'x'));
            w.Header(names.back(), std::string(static_cast<size_t>(h) * 3, 'y'));
          }
        }
        SCOPED_TRACE(testing::Message() << "len " << len << " headers " << headers << " form " << form);
        EXPECT_EQ(r.key(), form == 2 ? std::nullopt : std::optional<std::string_view>(key));
        EXPECT_EQ(r.value(), form == 2 ? std::nullopt : std::optional<std::string_view>(value));
        ASSERT_EQ(r.header_count(), static_cast<size_t>(headers));
        const auto got = r.headers();
        ASSERT_EQ(got.size(), static_cast<size_t>(headers));
        for (int h = 0; h < headers; ++h) {
          EXPECT_EQ(got[static_cast<size_t>(h)].first, names[static_cast<size_t>(h)]);
          EXPECT_EQ(got[static_cast<size_t>(h)].second, std::string(static_cast<size_t>(h) * 3, 'y'));
        }
      }
    }
  }
  EXPECT_EQ(OutputRecord().encoded(), std::string_view("\x01\x01\x00", 3));  // null key, null value, no headers
}

// Headers (all at once) writes the bytes Header one by one writes: names and values empty,
// short and past the one-byte length (64, 8192), after a value or with none, mixed with Header.
TEST(ProcessorTest, HeadersAtOnceAreHeadersOneByOne) {
  const std::vector<std::string> texts = {"", "a", std::string(63, 'b'), std::string(64, 'c'),
                                          std::string(300, 'd'), std::string(8192, 'e')};
  for (int form = 0; form < 2; ++form) {  // a value first, or none (null)
    for (size_t split = 0; split <= texts.size(); ++split) {  // headers before `split` by Header
      OutputRecord one, many;
      {
        RecordWriter a(&one, std::string_view("key"));
        RecordWriter b(&many, std::string_view("key"));
        if (form == 0) {
          a.Value(std::string_view("value"));
          b.Value(std::string_view("value"));
        }
        std::vector<RecordWriter::HeaderField> fields;
        for (size_t i = 0; i < texts.size(); ++i) {
          const std::string_view name = texts[i], value = texts[texts.size() - 1 - i];
          a.Header(name, value);
          if (i < split) b.Header(name, value);
          else fields.push_back({name, value});
        }
        b.Headers(fields);
      }
      SCOPED_TRACE(testing::Message() << "form " << form << " split " << split);
      EXPECT_EQ(one.encoded(), many.encoded());
      EXPECT_EQ(many.header_count(), texts.size());
    }
  }
}

TEST(ProcessorTest, RecyclingFreesLargeRecords) {
  // On a thread of its own (an empty pool): a record over the limit is freed, not pooled; a
  // small one is pooled and handed out again.
  std::thread([] {
    std::vector<OutputRecord> out;
    OutputRecord& big = NewOutputRecord(&out);
    RecordWriter(&big, std::nullopt).Value(std::string(kMaxSpareRecordBytes + 1, 'x'));
    RecycleOutputRecords(&out);
    OutputRecord& fresh = NewOutputRecord(&out);
    EXPECT_EQ(fresh.encoded(), OutputRecord().encoded());  // not the big one
    RecordWriter(&fresh, std::nullopt).Value(std::string(100, 's'));  // on the heap
    const char* small = fresh.encoded().data();
    RecycleOutputRecords(&out);
    OutputRecord& again = NewOutputRecord(&out);
    EXPECT_EQ(again.encoded().data(), small);  // the pooled small one
  }).join();
}

TEST(IdsTest, UuidV5Shape) {
  std::string id = EventId("ex-1", "t", 0);
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '5');  // version
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');  // variant
  EXPECT_NE(EventId("ex-1", "t", 0), EventId("ex-1", "t", 1));
  EXPECT_NE(EventId("ex-1", "t", 0), EventId("ex-2", "t", 0));
}

// Known answers from an independent implementation (Python's uuid.uuid5 with the namespace
// 6b3e0f52-9a41-4c8e-b17d-22905ec413a7), so a faster hash path cannot change an event id.
TEST(IdsTest, KnownAnswers) {
  EXPECT_EQ(EventId("ex-1", "shop.order.placed", 0), "805160d5-b86d-5002-90f7-70d077890568");
  EXPECT_EQ(EventId("x0123456789abcdef0123456789abcdef", "shop.order.placed", 12),
            "53637324-88ca-57f5-8968-9b8fb0da3e98");
  EXPECT_EQ(UuidV5("ex-1\nshop.order.placed\n0"), "805160d5-b86d-5002-90f7-70d077890568");
  EXPECT_EQ(UuidV5(""), "5516e452-f21c-5e47-bb76-82b03f5301d0");
  char buf[kUuidLength];
  EventIdTo("ex-1", "shop.order.placed", 0, buf);
  EXPECT_EQ(std::string_view(buf, kUuidLength), "805160d5-b86d-5002-90f7-70d077890568");
  // A name too long for EventIdTo's stack buffer is hashed in pieces: the same id.
  EXPECT_EQ(EventId(std::string(300, 'x'), "shop.order.placed", 3), "d21d3d9d-ae27-51ca-a638-94ed47676456");
}

// Exchange ids are SHA-256's first 128 bits in hex (FIPS 180-2's "abc"; Python's hashlib).
TEST(IdsTest, Sha256Hex128KnownAnswers) {
  EXPECT_EQ(Sha256Hex128("abc"), "ba7816bf8f01cfea414140de5dae2223");
  EXPECT_EQ(Sha256Hex128(""), "e3b0c44298fc1c149afbf4c8996fb924");
  EXPECT_EQ(Sha256Hex128(std::string(1000, 'x')), "44f8354494a5ba03ba1792a8d3e9c534");
  std::string out = "x";
  AppendSha256Hex128("abc", &out);
  EXPECT_EQ(out, "xba7816bf8f01cfea414140de5dae2223");
}

TEST(TimeTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339Ms("2026-11-27T10:15:30.123Z").value_or(-1), 1795774530123);
  EXPECT_EQ(ParseRfc3339Ms("2026-11-27T11:15:30.123+01:00").value_or(-1), 1795774530123);
  EXPECT_EQ(ParseRfc3339Ms("1970-01-01T00:00:00Z").value_or(-1), 0);
  EXPECT_FALSE(ParseRfc3339Ms("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Ms("2026-11-27 10:15"));
  EXPECT_EQ(FormatRfc3339Ms(1795774530123), "2026-11-27T10:15:30.123Z");
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
}

// The canonical spelling ("YYYY-MM-DDTHH:MM:SS.mmmZ") takes a fast path: it must give what the
// general parse gives for the same time written with "+00:00", for every time FormatRfc3339Ms
// writes and for each of them with any one character changed (a separator, a digit, a byte
// past ASCII), accepted or not.
TEST(TimeTest, CanonicalTimesParseAsTheGeneralForm) {
  std::mt19937_64 rng(20261128);
  const char replacements[] = {'0', '5', '9', '/', ':', '-', 'T', 't', ' ', '.', 'Z', 'a', '\x80', '\xb9'};
  for (int i = 0; i < 3000; ++i) {
    const int64_t ms = static_cast<int64_t>(rng() % 253402300800000ull);  // years 1970-9999
    const std::string text = FormatRfc3339Ms(ms);
    ASSERT_EQ(text.size(), 24u);
    ASSERT_EQ(ParseRfc3339Ms(text).value_or(-1), ms) << text;
    for (size_t at = 0; at < 23; ++at) {
      std::string changed = text;
      changed[at] = replacements[rng() % sizeof(replacements)];
      const std::string general = changed.substr(0, 23) + "+00:00";
      ASSERT_EQ(ParseRfc3339Ms(changed), ParseRfc3339Ms(general)) << changed;
    }
  }
  // Edges of the ranges both ways, and the leap second (read as :59).
  for (const char* t : {"2026-12-31T23:59:59.999Z", "2026-00-10T00:00:00.000Z", "2026-01-00T00:00:00.000Z",
                        "2026-01-32T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z",
                        "2016-12-31T23:59:60.500Z", "2016-12-31T23:59:61.000Z", "0000-03-01T00:00:00.000Z"}) {
    const std::string general = std::string(t).substr(0, 23) + "+00:00";
    EXPECT_EQ(ParseRfc3339Ms(t), ParseRfc3339Ms(general)) << t;
  }
  EXPECT_EQ(ParseRfc3339Ms("2016-12-31T23:59:60.500Z").value_or(-1), ParseRfc3339Ms("2016-12-31T23:59:59.500Z").value_or(-2));
}

// A binary-mode event's headers, written from runs encoded once per definition, are byte for
// byte the record Header() writes one field at a time in the documented order: with and
// without subject and data, and with values whose lengths take two-byte varints (a source, an
// operation id and an exchange id of 64 bytes and more).
TEST(ProcessorTest, BinaryHeadersAreTheFieldsOneByOne) {
  const std::string source = "https://" + std::string(70, 's') + ".example.com";
  const std::string op_id = "op" + std::string(80, 'o');
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ec_processor_headers_" + std::to_string(::getpid()) + ".yaml")).string();
  {
    std::ofstream f(path);
    f << "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
      << "x-eventception: {source: '" << source << "'}\n"
      << "paths:\n  /things/{id}:\n    post:\n      operationId: " << op_id << "\n"
      << "      x-eventception:\n        events:\n"
      << "          - {type: thing.a, key: 'params.id', subject: \"'s/' + params.id\", data: 'request.body.x'}\n"
      << "          - {type: thing.b, data: 'request.body.missing'}\n"
      << "          - {type: thing.c}\n"
      << "      responses: {'200': {description: ok}}\n";
  }
  std::vector<std::string> files{path};
  auto specs = spec::LoadSpecs(files);
  std::filesystem::remove(path);
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  Processor p(*specs);
  for (const std::string& id : {std::string("ex-1"), std::string(100, 'x')}) {
    const std::string text = R"({"id":")" + id + R"(","time":"2026-11-27T10:15:30.123Z","request":{"method":"POST",)" +
                             R"("path":"/things/t-1","body":{"x":[1,"\u00e9"]}},"response":{"status":200,"body":{"ok":true}}})";
    Arena arena;
    std::vector<json::Value> xs;
    ASSERT_TRUE(DecodeBytes(text, "canonical", {}, &arena, &xs).ok());
    std::vector<OutputRecord> out;
    p.Process(xs[0], &arena, &out, nullptr);
    ASSERT_EQ(out.size(), 3u);
    const std::string time = "2026-11-27T10:15:30.123Z";
    using H = std::vector<std::pair<std::string_view, std::string_view>>;
    struct Want {
      const char* type;
      std::optional<std::string_view> key, value, subject;
    };
    const Want wants[] = {{"thing.a", "t-1", R"([1,"é"])", "s/t-1"},
                          {"thing.b", std::nullopt, std::nullopt, std::nullopt},
                          {"thing.c", std::nullopt, R"({"ok":true})", std::nullopt}};
    for (size_t i = 0; i < 3; ++i) {
      const Want& w = wants[i];
      const std::string ce_id = EventId(id, w.type, i);
      H h{{"ce_specversion", "1.0"}, {"ce_id", ce_id}, {"ce_source", source}, {"ce_type", w.type}, {"ce_time", time}};
      if (w.subject) h.emplace_back("ce_subject", *w.subject);
      h.emplace_back("ce_eventceptionoperation", op_id);
      h.emplace_back("ce_eventceptionexchange", id);
      if (w.value) h.emplace_back("content-type", "application/json");
      const OutputRecord want(w.type, w.key, w.value, h, out[i].timestamp_ms);
      EXPECT_EQ(out[i].encoded(), want.encoded()) << w.type << " " << id;
      EXPECT_EQ(out[i].headers(), want.headers()) << w.type;
      EXPECT_EQ(out[i].topic, w.type);
    }
  }
}

// The context BuildContext writes in place is the one json::Builder builds (the construction
// it replaced): same members in the same order, same values, same text, for operations with
// none, one and several path parameters (percent-encoded ones, a name given twice), and for
// exchanges with members absent or of other kinds.
TEST(ProcessorTest, ContextInPlaceIsTheBuildersContext) {
  auto reference = [](const json::Value& exchange, const spec::Operation& op, std::span<const spec::PathParam> params,
                      Arena* arena) {
    json::Builder b(arena);
    static Arena empty_arena(64);
    static const json::Value empty = json::Builder(&empty_arena).Object({});
    json::Value request, response, client = empty, gateway = empty, id, time, latency;
    for (const json::Member& m : exchange.object()) {
      if (m.key == "request") request = m.value;
      if (m.key == "response") response = m.value;
      if (m.key == "client") client = m.value;
      if (m.key == "gateway") gateway = m.value;
      if (m.key == "id") id = m.value;
      if (m.key == "time") time = m.value;
      if (m.key == "latency_ms") latency = m.value;
    }
    std::vector<json::Member> p;
    for (const spec::PathParam& pp : params) {
      p.push_back({pp.name, pp.value.find('%') == std::string_view::npos
                                ? json::Value::StringRef(pp.value)
                                : b.String(internal::PercentDecode(pp.value, false))});
    }
    std::vector<json::Member> o = {{"id", json::Value::StringRef(op.id)},
                                   {"method", json::Value::StringRef(op.method)},
                                   {"template", json::Value::StringRef(op.path_template)},
                                   {"api", json::Value::StringRef(op.api->title)}};
    std::vector<json::Member> m = {{"request", request}, {"response", response}, {"params", b.Object(p)},
                                   {"operation", b.Object(o)}, {"client", client}, {"gateway", gateway},
                                   {"id", id}, {"time", time}, {"latency_ms", latency}};
    return b.Object(m);
  };
  spec::Api api;
  api.title = "Shop API";
  spec::Operation op;
  op.id = "getThing";
  op.method = "GET";
  op.path_template = "/things/{a}/{b}/{c}";
  op.api = &api;
  const std::vector<std::vector<spec::PathParam>> param_sets = {
      {},
      {{"orderId", "o-1"}},
      {{"orderId", "o%2F1%20x"}},
      {{"a", "1"}, {"b", "two"}},
      {{"a", "1"}, {"b", "2%41"}, {"c", ""}},
      {{"x", "first"}, {"x", "second"}},  // a name given twice: the last value wins
      {{"x", "1"}, {"y", "2"}, {"x", "3"}},
  };
  const char* exchanges[] = {
      kCreate,
      R"({"id":"e","time":"2026-11-27T10:15:30Z","request":{"method":"GET","path":"/x"},"response":{"status":200}})",
      R"({"request":{"method":"GET","path":"/x"},"client":"not an object","gateway":{"kind":"kong"},"latency_ms":3})",
      R"({})",
      R"([1,2])",
  };
  for (const char* text : exchanges) {
    Arena arena;
    json::Value doc;
    ASSERT_TRUE(json::ParseInto(text, &arena, &doc).ok()) << text;
    for (const auto& params : param_sets) {
      const json::Value got = BuildContext(doc, op, params, &arena);
      const json::Value want = reference(doc, op, params, &arena);
      std::string got_text, want_text;
      json::AppendJson(got, &got_text);
      json::AppendJson(want, &want_text);
      EXPECT_EQ(got_text, want_text) << text << " with " << params.size() << " params";
      EXPECT_TRUE(json::Equal(got, want));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const json::Member& g = got.object()[i];
        const json::Member& w = want.object()[i];
        EXPECT_EQ(g.key, w.key);
        EXPECT_EQ(g.value.kind(), w.value.kind());
        EXPECT_EQ(g.value.size(), w.value.size()) << g.key;
        EXPECT_EQ(g.value.has_known_text(), w.value.has_known_text()) << g.key;
        // Lookups by name (CEL and JSONata read members with Find).
        ASSERT_NE(got.Find(w.key), nullptr) << w.key;
        EXPECT_TRUE(json::Equal(*got.Find(w.key), w.value)) << w.key;
        for (const json::Member& wm : w.value.object()) {
          ASSERT_NE(g.value.Find(wm.key), nullptr) << g.key << "." << wm.key;
          EXPECT_TRUE(json::Equal(*g.value.Find(wm.key), wm.value)) << g.key << "." << wm.key;
        }
      }
    }
  }
}

// request.method and request.path are read in one walk over the request's members: wherever
// they stand among them (first, last, among twelve or more members, which objects index), the
// exchange gives the records it gives with them in front; without either, or with one not a
// string, it is a `match` dead letter.
TEST(ProcessorTest, MethodAndPathAnywhereInTheRequest) {
  auto specs = ShopSpecs();
  Processor p(specs);
  auto run = [&](const std::string& request, ProcessStats* stats) {
    const std::string text = R"({"id":"ex-1","time":"2026-11-27T10:15:30.123Z","request":)" + request +
                             R"(,"response":{"status":201,"body":{"id":"o-1001","status":"placed"}}})";
    Arena arena;
    json::Value x;
    EXPECT_TRUE(json::ParseInto(text, &arena, &x).ok()) << text;
    std::vector<OutputRecord> out;
    p.Process(x, &arena, &out, stats);
    std::vector<std::string> encoded;
    for (const OutputRecord& r : out) encoded.push_back(r.topic + "|" + std::string(r.encoded()));
    return encoded;
  };
  const std::string body = R"("body":{"customer":{"id":"c-42"},"items":[{"sku":"A1","price":12.5,"qty":2}],"currency":"EUR"})";
  std::string extra;
  for (int i = 0; i < 12; ++i) extra += R"("x)" + std::to_string(i) + R"(":)" + std::to_string(i) + ",";
  ProcessStats want_stats;
  const auto want = run(R"({"method":"POST","path":"/api/orders",)" + body + "}", &want_stats);
  ASSERT_EQ(want_stats.matched, 1u);
  ASSERT_FALSE(want.empty());
  for (const std::string& request : std::vector<std::string>{
           R"({"path":"/api/orders","method":"POST",)" + body + "}",
           R"({)" + body + R"(,"path":"/api/orders","method":"POST"})",
           R"({"url":"https://x/api/orders","method":"POST","query":{},"headers":{},"path":"/api/orders",)" + body + "}",
           "{" + extra + R"("path":"/api/orders",)" + body + R"(,"method":"POST"})",
           "{" + extra + R"("method":"POST","path":"/api/orders",)" + body + "}",
       }) {
    ProcessStats stats;
    EXPECT_EQ(run(request, &stats), want) << request;
    EXPECT_EQ(stats.matched, 1u) << request;
    EXPECT_EQ(stats.dead_letters, 0u) << request;
  }
  for (const std::string& request : std::vector<std::string>{
           R"({"path":"/api/orders",)" + body + "}",
           R"({"method":"POST",)" + body + "}",
           R"({"method":"POST","path":7,)" + body + "}",
           std::string(R"({"method":null,"path":"/api/orders"})"),
           "{" + extra + R"("path":"/api/orders"})",
           std::string(R"("POST /api/orders")"),
       }) {
    ProcessStats stats;
    const auto got = run(request, &stats);
    EXPECT_EQ(stats.dead_letters, 1u) << request;
    EXPECT_EQ(stats.matched, 0u) << request;
    ASSERT_EQ(got.size(), 1u) << request;
    EXPECT_EQ(got[0].substr(0, got[0].find('|')), kDeadLetterTopic) << request;
  }
}

}  // namespace
}  // namespace ec::pipeline
