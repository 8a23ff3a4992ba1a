#pragma once
// Helpers of the tests that run the real `serve` binary with capture sources: the shop
// example's exchange, reading topics back with kcat, ports from the start-up banner.

#include <chrono>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "json/document.h"
#include "server/serve_process.h"

namespace ec::capture::testing {

using server::testing::RunCommand;

inline const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";

inline std::string OrderExchange(const std::string& id, const std::string& order_id) {
  return R"({"id":")" + id + R"(","time":"2026-11-27T10:15:30.123Z","latency_ms":12.5,)"
         R"("request":{"method":"POST","path":"/api/orders","headers":{"Content-Type":"application/json"},)"
         R"("body":{"customer":{"id":"c-1"},"items":[{"sku":"A1","price":12.5,"qty":2}],"currency":"EUR"}},)"
         R"("response":{"status":201,"headers":{"content-type":"application/json"},"body":{"id":")" +
         order_id + R"(","status":"placed"}}})";
}

struct Message {
  std::string key;
  std::string payload;
};

// Every message of `topic`, read with kcat.
inline std::vector<Message> Consume(uint16_t port, const std::string& topic) {
  std::string out = RunCommand("kcat -C -b 127.0.0.1:" + std::to_string(port) + " -t " + topic +
                               " -o beginning -e -J -q 2>/dev/null");
  std::vector<Message> msgs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto doc = json::Parse(line);
    if (!doc.ok() || !(*doc)->root().is_object()) continue;
    Message m;
    if (const json::Value* v = (*doc)->root().Find("key"); v && v->is_string()) m.key = std::string(v->string());
    if (const json::Value* v = (*doc)->root().Find("payload"); v && v->is_string()) m.payload = std::string(v->string());
    msgs.push_back(std::move(m));
  }
  return msgs;
}

inline std::vector<Message> WaitFor(uint16_t port, const std::string& topic, size_t n, int seconds = 15) {
  std::vector<Message> msgs;
  for (int i = 0; i < seconds * 10; ++i) {
    msgs = Consume(port, topic);
    if (msgs.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return msgs;
}

inline std::set<std::string> Keys(const std::vector<Message>& msgs) {
  std::set<std::string> keys;
  for (const Message& m : msgs) keys.insert(m.key);
  return keys;
}

inline uint16_t PortFromLog(const std::string& log, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex(pattern))) return 0;
  return static_cast<uint16_t>(std::stoi(m[1]));
}

}  // namespace ec::capture::testing
