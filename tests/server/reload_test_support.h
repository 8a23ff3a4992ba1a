#pragma once
// Helpers shared by the spec-reload and replay tests: a small spec family, shop-like exchanges
// and reading a topic's records over the HTTP consumption API.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "json/document.h"
#include "json/writer.h"
#include "server/test_http_client.h"

namespace ec::server::testing {

// A spec with POST /orders (event order.placed -> topic "orders"), PUT /orders/{id}, the
// resource `order` with changelog "orders.changelog", plus `extra` event definitions on POST.
inline std::string OrdersSpec(const std::string& version, const std::string& extra_events = "") {
  return "openapi: 3.1.0\n"
         "info: {title: Orders, version: \"" + version + "\"}\n"
         "x-eventception:\n"
         "  resources:\n"
         "    order:\n"
         "      key: \"has(params.id) ? params.id : response.body.id\"\n"
         "      state: \"response.body\"\n"
         "      changelog: orders.changelog\n"
         "paths:\n"
         "  /orders:\n"
         "    post:\n"
         "      operationId: createOrder\n"
         "      x-eventception:\n"
         "        resource: order\n"
         "        events:\n"
         "          - type: order.placed\n"
         "            topic: orders\n"
         "            key: \"response.body.id\"\n"
         "            data: \"response.body\"\n" +
         extra_events +
         "      responses: {\"201\": {description: created}}\n"
         "  /orders/{id}:\n"
         "    put:\n"
         "      operationId: updateOrder\n"
         "      x-eventception: {resource: order}\n"
         "      responses: {\"200\": {description: updated}}\n";
}

// An extra event definition for OrdersSpec.
inline std::string ExtraEvent(const std::string& type, const std::string& topic) {
  return "          - type: " + type + "\n"
         "            topic: " + topic + "\n"
         "            key: \"response.body.id\"\n"
         "            data: \"{'order': response.body.id, 'total': response.body.total}\"\n";
}

// Exchange `i`: creates order o<i>, or (update = true) updates it.
inline std::string OrderExchange(int i, bool update = false, int total = 0) {
  std::string id = "o" + std::to_string(1000 + i);
  std::string xid = (update ? "u" : "c") + std::to_string(1000 + i) + "-" + std::to_string(total);
  std::string body = "{\"id\":\"" + id + "\",\"total\":" + std::to_string(total) + "}";
  std::string time = "2026-11-27T10:" + std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + ":" +
                     std::string(total % 60 < 10 ? "0" : "") + std::to_string(total % 60) + ".000Z";
  return "{\"id\":\"" + xid + "\",\"time\":\"" + time + "\",\"request\":{\"method\":\"" +
         (update ? "PUT" : "POST") + "\",\"path\":\"/orders" + (update ? "/" + id : "") +
         "\",\"headers\":{},\"body\":" + body + "},\"response\":{\"status\":" + (update ? "200" : "201") +
         ",\"headers\":{},\"body\":" + body + "}}";
}

struct TopicRecord {
  std::string key;
  std::string exchange;  // ce_eventceptionexchange header
  std::string ce_id;
  std::string ce_type;
  std::string value;     // JSON text ("null" for tombstones)
};

// Every record of partition 0 of `topic` (empty when the topic does not exist).
inline std::vector<TopicRecord> ReadTopic(uint16_t port, const std::string& topic) {
  std::vector<TopicRecord> out;
  TestHttpClient c(port);
  int64_t offset = 0;
  for (int round = 0; round < 100; ++round) {
    ClientResponse r = c.Request("GET", "/v1/topics/" + topic + "/records?offset=" + std::to_string(offset) + "&limit=1000");
    if (r.status != 200) return out;
    auto doc = json::Parse(r.body);
    if (!doc.ok()) return out;
    const json::Value& root = (*doc)->root();
    const json::Value* recs = root.Find("records");
    if (recs == nullptr || recs->size() == 0) return out;
    for (const json::Value& rec : recs->array()) {
      TopicRecord t;
      if (const json::Value* k = rec.Find("key"); k && k->is_string()) t.key = std::string(k->string());
      if (const json::Value* h = rec.Find("headers")) {
        if (const json::Value* v = h->Find("ce_eventceptionexchange"); v && v->is_string()) t.exchange = std::string(v->string());
        if (const json::Value* v = h->Find("ce_id"); v && v->is_string()) t.ce_id = std::string(v->string());
        if (const json::Value* v = h->Find("ce_type"); v && v->is_string()) t.ce_type = std::string(v->string());
      }
      if (const json::Value* v = rec.Find("value")) {
        json::AppendJson(*v, &t.value);
      }
      out.push_back(std::move(t));
    }
    const json::Value* next = root.Find("next_offset");
    if (next == nullptr || !next->is_number()) return out;
    offset = static_cast<int64_t>(next->number());
  }
  return out;
}

// Waits (up to 30 s) until `topic` holds at least `n` records; returns them.
inline std::vector<TopicRecord> WaitTopic(uint16_t port, const std::string& topic, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::vector<TopicRecord> got;
  do {
    got = ReadTopic(port, topic);
    if (got.size() >= n) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return got;
}

// exchange id -> number of records carrying it.
inline std::map<std::string, int> CountByExchange(const std::vector<TopicRecord>& recs) {
  std::map<std::string, int> m;
  for (const TopicRecord& r : recs) m[r.exchange]++;
  return m;
}

inline void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

}  // namespace ec::server::testing
