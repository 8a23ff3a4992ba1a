// ChangelogStage on the shop example: c/u/r/d envelopes, JSON Patch changes, merge-patch
// PATCHes, tombstones, unchanged GETs, non-2xx, the out-of-order rule and the state store.
#include "cdc/changelog_stage.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cdc/state_topic.h"
#include "cdc/txn_state_store.h"

#include "json/document.h"
#include "json/writer.h"
#include "pipeline/exchange.h"
#include "pipeline/processor.h"

namespace ec::cdc {
namespace {

std::shared_ptr<const spec::CompiledSpecs> ShopSpecs() {
  std::vector<std::string> files{std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml"};
  auto s = spec::LoadSpecs(files);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

class ChangelogStageTest : public ::testing::Test {
 protected:
  ChangelogStageTest() : processor_(ShopSpecs()), stage_(&store_) { processor_.AddStage(&stage_); }

  // The records the exchange gives on `topic` (all topics when empty), values as JSON text.
  std::vector<pipeline::OutputRecord> Run(const std::string& exchange, std::string_view topic = "shop.orders.changelog") {
    Arena arena;
    std::vector<json::Value> xs;
    Status s = pipeline::DecodeBytes(exchange, "canonical", {}, &arena, &xs);
    EXPECT_TRUE(s.ok()) << s.message();
    std::vector<pipeline::OutputRecord> out, picked;
    for (const json::Value& x : xs) processor_.Process(x, &arena, &out, nullptr);
    for (auto& r : out) {
      if (topic.empty() || r.topic == topic) picked.push_back(std::move(r));
    }
    return picked;
  }

  static std::string Exchange(std::string_view id, std::string_view time, std::string_view method, std::string_view path,
                              std::string_view request_body, int status, std::string_view response_body) {
    return std::string(R"({"id":")") + std::string(id) + R"(","time":")" + std::string(time) +
           R"(","request":{"method":")" + std::string(method) + R"(","url":"https://shop.example.com/api)" +
           std::string(path) + R"(","path":"/api)" + std::string(path) + R"(","headers":{},"body":)" +
           std::string(request_body) + R"(},"response":{"status":)" + std::to_string(status) +
           R"(,"headers":{},"body":)" + std::string(response_body) + "}}";
  }

  static json::Value Parse(std::string_view text, Arena* arena) {
    json::Value v;
    EXPECT_TRUE(json::ParseInto(text, arena, &v).ok()) << text;
    return v;
  }

  static void ExpectJson(std::string_view got, std::string_view want) {
    Arena arena;
    EXPECT_TRUE(json::Equal(Parse(got, &arena), Parse(want, &arena))) << "got:  " << got << "\nwant: " << want;
  }

  MemoryStateStore store_;
  pipeline::Processor processor_;
  ChangelogStage stage_;
};

TEST_F(ChangelogStageTest, APrepareOfAnotherExchangeIsNotUsed) {
  // Prepare evaluates the key ahead of the events; OnMatched takes it only for the exchange
  // (and context) it was evaluated for. Here Prepare saw order o-1, OnMatched gets o-2.
  Arena arena;
  auto matched = [&](const std::string& text, json::Value* x, json::Value* context) {
    std::vector<json::Value> xs;
    EXPECT_TRUE(pipeline::DecodeBytes(text, "canonical", {}, &arena, &xs).ok());
    *x = xs.at(0);
    std::vector<spec::PathParam> params;
    const spec::Operation* op = processor_.specs().Match("POST", "/api/orders", &params);
    EXPECT_NE(op, nullptr);
    *context = pipeline::BuildContext(*x, *op, params, &arena);
    return pipeline::MatchedExchange{x, context, op, 1795773600000, "x"};
  };
  json::Value xa, ca, xb, cb;
  const auto a = matched(Exchange("x1", "2026-11-27T10:00:00.000Z", "POST", "/orders", "{}", 201, R"({"id":"o-1"})"), &xa, &ca);
  const auto b = matched(Exchange("x2", "2026-11-27T10:00:00.000Z", "POST", "/orders", "{}", 201, R"({"id":"o-2"})"), &xb, &cb);
  std::vector<pipeline::OutputRecord> out;
  stage_.Prepare(a, &arena);
  stage_.OnMatched(b, &arena, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key(), "o-2");
  out.clear();
  stage_.Prepare(a, &arena);  // and the prepared key is right for its own exchange
  stage_.OnMatched(a, &arena, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key(), "o-1");
}

TEST_F(ChangelogStageTest, CreateUpdateReadPatchDelete) {
  auto r = Run(Exchange("x1", "2026-11-27T10:00:00.000Z", "POST", "/orders", R"({"customer":{"id":"c-1"},"items":[]})",
                        201, R"({"id":"o-1","status":"placed"})"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].key(), "o-1");
  EXPECT_EQ(r[0].timestamp_ms, 1795773600000);
  ExpectJson(*r[0].value(), R"({"op":"c","before":null,"after":{"id":"o-1","status":"placed"},
      "changes":[{"op":"replace","path":"","value":{"id":"o-1","status":"placed"}}],
      "source":{"api":"Shop API","operation":"createOrder","method":"POST","path":"/api/orders","exchange":"x1"},
      "ts_ms":1795773600000})");

  r = Run(Exchange("x2", "2026-11-27T10:00:01.000Z", "PUT", "/orders/o-1", "{}", 200, R"({"id":"o-1","status":"shipped"})"));
  ASSERT_EQ(r.size(), 1u);
  ExpectJson(*r[0].value(), R"({"op":"u","before":{"id":"o-1","status":"placed"},"after":{"id":"o-1","status":"shipped"},
      "changes":[{"op":"replace","path":"/status","value":"shipped"}],
      "source":{"api":"Shop API","operation":"updateOrder","method":"PUT","path":"/api/orders/o-1","exchange":"x2"},
      "ts_ms":1795773601000})");

  // A GET that shows the known state emits nothing; one that differs emits `r`.
  EXPECT_TRUE(Run(Exchange("x3", "2026-11-27T10:00:02.000Z", "GET", "/orders/o-1", "null", 200,
                           R"({"status":"shipped","id":"o-1"})")).empty());
  r = Run(Exchange("x4", "2026-11-27T10:00:03.000Z", "GET", "/orders/o-1", "null", 200, R"({"id":"o-1","status":"paid"})"));
  ASSERT_EQ(r.size(), 1u);
  Arena arena;
  json::Value v = Parse(*r[0].value(), &arena);
  EXPECT_EQ(v.Find("op")->string(), "r");

  // PATCH with 204 and no body: before merged with the request body (RFC 7386).
  r = Run(Exchange("x5", "2026-11-27T10:00:04.000Z", "PATCH", "/orders/o-1", R"({"status":"shipped","note":"gift"})",
                   204, "null"));
  ASSERT_EQ(r.size(), 1u);
  ExpectJson(*r[0].value(), R"({"op":"u","before":{"id":"o-1","status":"paid"},"after":{"id":"o-1","status":"shipped","note":"gift"},
      "changes":[{"op":"replace","path":"/status","value":"shipped"},{"op":"add","path":"/note","value":"gift"}],
      "source":{"api":"Shop API","operation":"patchOrder","method":"PATCH","path":"/api/orders/o-1","exchange":"x5"},
      "ts_ms":1795773604000})");

  // DELETE: `d` then a tombstone; a second DELETE changes nothing.
  r = Run(Exchange("x6", "2026-11-27T10:00:05.000Z", "DELETE", "/orders/o-1", "null", 204, "null"));
  ASSERT_EQ(r.size(), 2u);
  ExpectJson(*r[0].value(), R"({"op":"d","before":{"id":"o-1","status":"shipped","note":"gift"},"after":null,
      "changes":[{"op":"replace","path":"","value":null}],
      "source":{"api":"Shop API","operation":"deleteOrder","method":"DELETE","path":"/api/orders/o-1","exchange":"x6"},
      "ts_ms":1795773605000})");
  EXPECT_EQ(r[1].key(), "o-1");
  EXPECT_FALSE(r[1].value().has_value());
  EXPECT_TRUE(Run(Exchange("x7", "2026-11-27T10:00:06.000Z", "DELETE", "/orders/o-1", "null", 204, "null")).empty());
  EXPECT_TRUE(store_.List("order", "", 10)->empty());

  // Re-created after the delete: `c` from nothing.
  r = Run(Exchange("x8", "2026-11-27T10:00:07.000Z", "POST", "/orders", "{}", 201, R"({"id":"o-1","status":"placed"})"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(Parse(*r[0].value(), &arena).Find("before")->is_null());
  EXPECT_EQ(stage_.counters().changes.load(), 6u);
  EXPECT_EQ(stage_.counters().unchanged.load(), 2u);
}

TEST_F(ChangelogStageTest, Non2xxAndResourcesWithoutChangesEmitNothing) {
  EXPECT_TRUE(Run(Exchange("x1", "2026-11-27T10:00:00.000Z", "POST", "/orders", "{}", 422, R"({"error":"bad"})")).empty());
  EXPECT_TRUE(Run(Exchange("x2", "2026-11-27T10:00:00.000Z", "PUT", "/orders/o-9", "{}", 404, "null")).empty());
  EXPECT_TRUE(store_.List("order", "", 10)->empty());
  // A PUT that repeats the known state: nothing.
  ASSERT_EQ(Run(Exchange("x3", "2026-11-27T10:00:01.000Z", "PUT", "/orders/o-9", "{}", 200, R"({"id":"o-9"})")).size(), 1u);
  EXPECT_TRUE(Run(Exchange("x4", "2026-11-27T10:00:02.000Z", "PUT", "/orders/o-9", "{}", 200, R"({"id":"o-9"})")).empty());
}

TEST_F(ChangelogStageTest, StateExpressionShapesTheDomainObject) {
  auto r = Run(Exchange("x1", "2026-11-27T10:00:00.000Z", "POST", "/customers", "{}", 201,
                        R"({"id":"c-1","email":"a@example.com","password":"hunter2"})"),
               "shop.customers.changelog");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].key(), "c-1");
  Arena arena;
  ExpectJson(json::ToJson(*Parse(*r[0].value(), &arena).Find("after")), R"({"id":"c-1","email":"a@example.com"})");
  auto stored = store_.Get("customer", "c-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  ExpectJson((*stored)->value, R"({"id":"c-1","email":"a@example.com"})");
}

// The rule (docs/changelogs.md): an exchange older than the key's last applied one is not
// applied; it goes to the dead-letter topic and is counted. Equal times apply in arrival order.
TEST_F(ChangelogStageTest, OutOfOrderExchangeIsDeadLetteredNotApplied) {
  ASSERT_EQ(Run(Exchange("x1", "2026-11-27T10:00:10.000Z", "PUT", "/orders/o-2", "{}", 200,
                         R"({"id":"o-2","status":"shipped"})")).size(), 1u);
  auto all = Run(Exchange("x0", "2026-11-27T10:00:05.000Z", "PUT", "/orders/o-2", "{}", 200,
                          R"({"id":"o-2","status":"paid"})"), "");
  size_t changelog = 0, dead = 0;
  for (const auto& rec : all) {
    changelog += rec.topic == "shop.orders.changelog";
    if (rec.topic == pipeline::kDeadLetterTopic) {
      ++dead;
      EXPECT_NE(rec.value()->find("out of order"), std::string::npos) << *rec.value();
      EXPECT_NE(rec.value()->find("changelog"), std::string::npos) << *rec.value();
    }
  }
  EXPECT_EQ(changelog, 0u);
  EXPECT_EQ(dead, 1u);
  EXPECT_EQ(stage_.counters().out_of_order.load(), 1u);
  ExpectJson(store_.Get("order", "o-2")->value().value, R"({"id":"o-2","status":"shipped"})");
  // The same time as the last applied one is not "older": applied.
  EXPECT_EQ(Run(Exchange("x2", "2026-11-27T10:00:10.000Z", "PUT", "/orders/o-2", "{}", 200,
                         R"({"id":"o-2","status":"cancelled"})")).size(), 1u);
  // Other keys are not affected by o-2's clock.
  EXPECT_EQ(Run(Exchange("x3", "2026-11-27T09:00:00.000Z", "PUT", "/orders/o-3", "{}", 200, R"({"id":"o-3"})")).size(), 1u);
}

TEST_F(ChangelogStageTest, KeyErrorGoesToDeadLetters) {
  // POST /orders without a response id: the key expression fails.
  auto all = Run(Exchange("x1", "2026-11-27T10:00:00.000Z", "POST", "/customers", "{}", 201, R"({"email":"x"})"), "");
  size_t dead = 0;
  for (const auto& rec : all) {
    EXPECT_NE(rec.topic, "shop.customers.changelog");
    dead += rec.topic == pipeline::kDeadLetterTopic;
  }
  EXPECT_GE(dead, 1u);
  EXPECT_GE(stage_.counters().errors.load(), 1u);
}

// The envelope is written as text around the stored states (not re-serialised): it must be
// exactly what AppendJson of the parsed envelope gives (canonical JSON), escapes, non-ASCII
// text and numbers included; and a read whose members come in another order is no change.
TEST_F(ChangelogStageTest, EnvelopeTextIsCanonicalAndMemberOrderIsNoChange) {
  const std::string body1 = R"({"id":"o-7","note":"caf\u00e9 \"q\" \\ \n\t\u0001 \ud83d\ude00","n":1e21,"f":0.1,"z":-0,"a":[1,{"b":null}]})";
  const std::string body2 = R"({"id":"o-7","note":"d\u00e9j\u00e0","n":123456789012,"f":-2.5e-7,"z":0,"a":[true,false]})";
  std::vector<pipeline::OutputRecord> all;
  for (auto& r : Run(Exchange("e1", "2026-11-27T10:00:00.000Z", "POST", "/orders", "{}", 201, body1))) all.push_back(std::move(r));
  for (auto& r : Run(Exchange("e2", "2026-11-27T10:00:01.000Z", "PUT", "/orders/o-7", "{}", 200, body2))) all.push_back(std::move(r));
  for (auto& r : Run(Exchange("e3", "2026-11-27T10:00:02.000Z", "PATCH", "/orders/o-7", R"({"note":"\u00fcber","x":{"y":[2]}})", 204, "null"))) all.push_back(std::move(r));
  for (auto& r : Run(Exchange("e4", "2026-11-27T10:00:03.000Z", "DELETE", "/orders/o-7", "null", 204, "null"))) all.push_back(std::move(r));
  ASSERT_EQ(all.size(), 5u);  // c, u, u, d, tombstone
  Arena arena;
  const char ops[] = {'c', 'u', 'u', 'd'};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(all[i].value().has_value());
    json::Value v = Parse(*all[i].value(), &arena);
    EXPECT_EQ(json::ToJson(v), *all[i].value());
    EXPECT_EQ(v.Find("op")->string(), std::string(1, ops[i]));
  }
  ExpectJson(json::ToJson(*Parse(*all[1].value(), &arena).Find("before")), body1);
  ExpectJson(json::ToJson(*Parse(*all[3].value(), &arena).Find("after")), "null");

  // Same members, other order: json::Equal says equal, so no record (the text differs).
  ASSERT_EQ(Run(Exchange("e5", "2026-11-27T10:00:04.000Z", "PUT", "/orders/o-8", "{}", 200, R"({"id":"o-8","s":"a","t":[1]})")).size(), 1u);
  EXPECT_TRUE(Run(Exchange("e6", "2026-11-27T10:00:05.000Z", "GET", "/orders/o-8", "null", 200, R"({"t":[1],"s":"a","id":"o-8"})")).empty());
  EXPECT_EQ(Run(Exchange("e7", "2026-11-27T10:00:06.000Z", "GET", "/orders/o-8", "null", 200, R"({"t":[2],"s":"a","id":"o-8"})")).size(), 1u);
}

// The stage and StateRecords write over recycled records (pipeline::NewOutputRecord), whose
// strings hold an earlier record's contents: on the shop traffic, every changelog record,
// tombstone and state-topic record must equal what fresh records give, byte for byte.
struct Written {
  std::string topic;
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms;
  std::string encoded;  // the bytes the commit path copies into the batch
  bool operator==(const Written&) const = default;
};

std::vector<Written> RunShopTraffic(const std::vector<std::string>& lines, bool recycle) {
  std::vector<Written> got;
  std::thread t([&] {  // a thread of its own: its record pool starts empty
    if (recycle) {
      // Junk records in the pool: keys, values and more headers than any record here has.
      std::vector<pipeline::OutputRecord> junk(64);
      for (size_t i = 0; i < junk.size(); ++i) {
        std::vector<std::string> names;
        for (size_t h = 0; h < i % 7; ++h) names.push_back("ce_header_" + std::to_string(h));
        std::vector<std::pair<std::string_view, std::string_view>> headers;
        for (const std::string& name : names) headers.emplace_back(name, std::string_view("hhhhhhhhhhhhhhhhhhhhhhhhhhhhhh"));
        const std::string key(20 + i, 'k'), value(40 * i, 'v');
        junk[i] = pipeline::OutputRecord("junk.topic.name.longer.than.sso",
                                         i % 3 != 0 ? std::optional<std::string_view>(key) : std::nullopt,
                                         i % 4 != 0 ? std::optional<std::string_view>(value) : std::nullopt, headers, 99);
      }
      pipeline::RecycleOutputRecords(&junk);
    }
    MemoryStateStore base;
    TxnStateStore txn(&base);
    pipeline::Processor processor(ShopSpecs());
    ChangelogStage stage(&txn);
    processor.AddStage(&stage);
    std::vector<pipeline::OutputRecord> out;
    auto keep = [&] {
      for (const pipeline::OutputRecord& r : out) {
        if (r.topic.find("changelog") == std::string::npos && r.topic != kStateTopic) continue;
        Written w{r.topic, r.key() ? std::optional<std::string>(*r.key()) : std::nullopt,
                  r.value() ? std::optional<std::string>(*r.value()) : std::nullopt, {}, r.timestamp_ms,
                  std::string(r.encoded())};
        for (const auto& [k, v] : r.headers()) w.headers.emplace_back(k, v);
        got.push_back(std::move(w));
      }
      if (recycle) pipeline::RecycleOutputRecords(&out);
      else out = {};
    };
    for (size_t i = 0; i < lines.size(); ++i) {
      Arena arena;
      std::vector<json::Value> xs;
      if (!pipeline::DecodeBytes(lines[i], "detect", {}, &arena, &xs).ok()) continue;
      for (const json::Value& x : xs) processor.Process(x, &arena, &out, nullptr);
      keep();
      if (i % 50 == 49 || i + 1 == lines.size()) {  // a pass: its state records, then the commit
        StateRecords(txn.Pending(), &out);
        keep();
        EXPECT_TRUE(txn.Commit("test", static_cast<int64_t>(i)).ok());
      }
    }
  });
  t.join();
  return got;
}

TEST(ChangelogRecycledRecords, SameBytesAsFreshRecords) {
  std::string cmd = "python3 '" + std::string(EC_SOURCE_DIR) + "/examples/shop/traffic.py' --seed 5 --count 3000 --out -";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  pclose(p);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (nl > pos) lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3000u);
  std::vector<Written> fresh = RunShopTraffic(lines, false);
  std::vector<Written> recycled = RunShopTraffic(lines, true);
  size_t changes = 0, tombstones = 0, states = 0;
  for (const Written& w : fresh) {
    if (w.topic == kStateTopic) ++states;
    else if (w.value) ++changes;
    else ++tombstones;
  }
  EXPECT_GT(changes, 500u);  // the traffic does exercise every kind of record
  EXPECT_GT(tombstones, 20u);
  EXPECT_GT(states, 500u);
  ASSERT_EQ(fresh.size(), recycled.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    ASSERT_TRUE(fresh[i] == recycled[i]) << "record " << i << " on " << fresh[i].topic << ": fresh "
                                         << fresh[i].value.value_or("<null>") << "\nrecycled "
                                         << recycled[i].value.value_or("<null>");
  }
}

}  // namespace
}  // namespace ec::cdc
