// The exactly-once proof: shop traffic into `eventception serve` (the built binary) with a
// client that retries every batch until it is acknowledged, while the server is SIGKILLed at
// random moments and restarted; then every output topic (read committed, record by record:
// key, value, headers, timestamp) and every resource's state must equal those of a run that
// was never killed. Record offsets are not compared: aborted passes and transaction markers
// legitimately take offsets. No header or timestamp differs between runs: every output time is
// the exchange's own time.
//
// Short by default (3,000 exchanges, 4 kills); EC_TEST_LONG=1: 50,000 exchanges, >= 20 kills.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "json/document.h"
#include "log/committed_reader.h"
#include "log/log_manager.h"
#include "server/pipeline_runner.h"
#include "server/serve_process.h"
#include "server/test_http_client.h"
#include "shop_traffic.h"

namespace ec::cdc {
namespace {

using ec::server::testing::ClientResponse;
using ec::server::testing::ServeProcess;
using ec::server::testing::TestHttpClient;

const std::string kSpec = std::string(EC_SOURCE_DIR) + "/examples/shop/openapi.yaml";

bool LongRun() { return std::getenv("EC_TEST_LONG") != nullptr && std::string(std::getenv("EC_TEST_LONG")) == "1"; }

struct RunResult {
  // topic-partition -> records "key|value|headers|timestamp"
  std::map<std::string, std::vector<std::string>> topics;
  // "resource/key" -> GET body
  std::map<std::string, std::string> states;
  int kills = 0;
  int retries = 0;
  int duplicates = 0;
  int resent = 0;             // exchanges sent again after their batch was acknowledged
  int resent_duplicates = 0;  // how many of those ingest acknowledged as duplicates
};

class Server {
 public:
  explicit Server(std::filesystem::path data) : data_(std::move(data)) {}
  bool Start() {
    proc_ = std::make_unique<ServeProcess>(std::vector<std::string>{
        "--spec", kSpec, "--data-dir", data_.string(), "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"});
    if (!proc_->Start()) return false;
    http_ = std::make_unique<TestHttpClient>(proc_->http_port());
    return true;
  }
  ServeProcess& proc() { return *proc_; }
  TestHttpClient& http() { return *http_; }
  std::string log() { return proc_ ? proc_->log() : ""; }

 private:
  std::filesystem::path data_;
  std::unique_ptr<ServeProcess> proc_;
  std::unique_ptr<TestHttpClient> http_;
};

std::string RecordText(const log::Record& r) {
  std::string s = r.key ? std::string(*r.key) : "<null>";
  s += "|";
  s += r.value ? std::string(*r.value) : "<null>";
  s += "|";
  for (const log::RecordHeader& h : r.headers) {
    s += std::string(h.key) + "=" + (h.value ? std::string(*h.value) : "<null>") + ";";
  }
  s += "|" + std::to_string(r.timestamp);
  return s;
}

// Every committed record of every output topic, read from the (stopped) server's data dir.
void ReadTopics(const std::filesystem::path& data, RunResult* out, int64_t* raw_end, int64_t* committed_pos) {
  log::LogManagerOptions o;
  o.data_dir = data.string();
  o.maintenance_interval_ms = 0;
  auto logs = log::LogManager::Open(o);
  ASSERT_TRUE(logs.ok()) << logs.status().message();
  out->topics.clear();
  for (const log::TopicInfo& t : (*logs)->ListTopics()) {
    if (t.name == "api-logs") {
      auto pl = (*logs)->GetPartition(t.name, 0);
      *raw_end = pl->log_end_offset();
      auto c = (*logs)->group_offsets()->Fetch(server::kPipelineGroup, t.name, 0);
      *committed_pos = c ? c->offset : -1;
      continue;
    }
    if (t.name.rfind("__", 0) == 0) continue;  // internal: offsets, state topic
    for (int32_t p = 0; p < t.partitions; ++p) {
      auto pl = (*logs)->GetPartition(t.name, p);
      std::vector<std::string>& recs = out->topics[t.name + "-" + std::to_string(p)];
      ASSERT_TRUE(log::ForEachCommittedRecord(*pl, 0, INT64_MAX, [&](const log::RecordBatchView&, const log::Record& r) {
                    recs.push_back(RecordText(r));
                    return Status::Ok();
                  }).ok());
    }
  }
}

// Every key of every resource through the admin API, and each key's state.
void ReadStates(TestHttpClient& http, RunResult* out) {
  for (const std::string resource : {"order", "customer"}) {
    std::string after;
    while (true) {
      ClientResponse r = http.Request("GET", "/v1/resources/" + resource + "?limit=1000" + (after.empty() ? "" : "&after=" + after));
      ASSERT_EQ(r.status, 200) << r.body;
      Arena arena;
      json::Value v;
      ASSERT_TRUE(json::ParseInto(r.body, &arena, &v).ok()) << r.body;
      const json::Value* keys = v.Find("keys");
      ASSERT_NE(keys, nullptr);
      for (const json::Value& k : keys->array()) {
        std::string key(k.string());
        ClientResponse s = http.Request("GET", "/v1/resources/" + resource + "/" + key);
        out->states[resource + "/" + key] = std::to_string(s.status) + " " + s.body;
      }
      const json::Value* next = v.Find("next");
      if (next == nullptr || !next->is_string()) break;
      after = std::string(next->string());
    }
  }
}

// One run: `batches` sent in order, each retried until acknowledged; kills SIGKILL the server
// at random moments (0 = never) and restart it.
void RunScenario(const std::filesystem::path& dir, const std::vector<std::string>& batches, int kills, uint64_t seed,
                 bool resend, RunResult* out) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto data = dir / "data";
  Server server(data);
  ASSERT_TRUE(server.Start()) << server.log();
  std::mt19937_64 rng(seed);
  // Kill before these batches (spread over the run), after a random delay while it is sent.
  std::set<size_t> kill_at;
  while (static_cast<int>(kill_at.size()) < kills) kill_at.insert(1 + rng() % (batches.size() - 1));
  for (size_t b = 0; b < batches.size(); ++b) {
    // The killer SIGKILLs the live server after a random delay, while this batch is sent (or
    // just after its answer); each scheduled kill ends one server process.
    std::thread killer;
    bool pending_kill = false;
    if (kill_at.count(b)) {
      int delay_us = static_cast<int>(rng() % 8000);  // about a request's duration
      pid_t pid = server.proc().pid();
      pending_kill = true;
      killer = std::thread([pid, delay_us] {
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        kill(pid, SIGKILL);
      });
    }
    auto restart_after_kill = [&] {
      if (killer.joinable()) killer.join();
      server.proc().Wait();
      out->kills++;
      pending_kill = false;
      return server.Start();
    };
    bool acked = false;
    for (int attempt = 0; !acked; ++attempt) {
      ASSERT_LT(attempt, 50) << "batch " << b << " never acknowledged\n" << server.log();
      if (attempt > 0) out->retries++;
      ClientResponse r = server.http().Request("POST", "/v1/exchanges", batches[b], {{"Content-Type", "application/x-ndjson"}});
      if (r.status == 202) {
        acked = true;
        size_t p = r.body.find("\"duplicates\":");
        if (p != std::string::npos) out->duplicates += std::atoi(r.body.c_str() + p + 13);
        break;
      }
      if (r.status == 429) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      // No answer: the server was killed. Restart it (new ports) and retry the batch.
      ASSERT_TRUE(pending_kill) << "batch " << b << " failed without a kill: " << r.status << " " << r.body << "\n" << server.log();
      ASSERT_TRUE(restart_after_kill()) << server.log();
    }
    if (pending_kill) { ASSERT_TRUE(restart_after_kill()) << server.log(); }  // killed after the answer
    if (resend && b % 7 == 3) {
      // A client whose answer got lost sends the batch again: every exchange is a duplicate.
      ClientResponse r = server.http().Request("POST", "/v1/exchanges", batches[b], {{"Content-Type", "application/x-ndjson"}});
      ASSERT_EQ(r.status, 202) << r.body;
      size_t p = r.body.find("\"duplicates\":");
      ASSERT_NE(p, std::string::npos) << r.body;
      out->resent_duplicates += std::atoi(r.body.c_str() + p + 13);
      out->resent += static_cast<int>(std::count(batches[b].begin(), batches[b].end(), '\n'));
      EXPECT_NE(r.body.find("\"accepted\":0,"), std::string::npos) << r.body;
    }
  }
  // Let the pipeline finish: stop cleanly once the committed position reaches the raw end.
  int64_t raw_end = -1, committed = -2;
  for (int round = 0; round < 120; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_EQ(server.proc().Stop(), 0) << server.log();
    ReadTopics(data, out, &raw_end, &committed);
    if (committed == raw_end) break;
    ASSERT_TRUE(server.Start()) << server.log();
  }
  ASSERT_EQ(committed, raw_end) << "the pipeline did not finish";
  ASSERT_TRUE(server.Start()) << server.log();
  ReadStates(server.http(), out);
  ASSERT_EQ(server.proc().Stop(), 0) << server.log();
}

TEST(EosKillTest, SigkilledRunsEqualAnUnkilledRun) {
  const bool long_run = LongRun();
  const size_t exchanges = long_run ? 50000 : 3000;
  const int kills = long_run ? 24 : 4;
  const size_t per_batch = long_run ? 100 : 50;
  ec::testing::ShopTraffic traffic(7);
  std::vector<std::string> batches;
  for (size_t i = 0; i < exchanges; i += per_batch) {
    std::string b;
    for (size_t j = i; j < std::min(exchanges, i + per_batch); ++j) b += traffic.Next() + "\n";
    batches.push_back(std::move(b));
  }
  const auto dir = std::filesystem::temp_directory_path() / ("ec_eos_kill_" + std::to_string(getpid()));
  auto start = std::chrono::steady_clock::now();
  RunResult reference, killed;
  RunScenario(dir / "reference", batches, 0, 1, /*resend=*/false, &reference);
  ASSERT_FALSE(HasFatalFailure());
  auto mid = std::chrono::steady_clock::now();
  RunScenario(dir / "killed", batches, kills, 2, /*resend=*/true, &killed);
  ASSERT_FALSE(HasFatalFailure());
  auto end = std::chrono::steady_clock::now();
  std::filesystem::remove_all(dir);

  EXPECT_GE(killed.kills, kills);
  EXPECT_GT(killed.resent, 0);
  EXPECT_EQ(killed.resent_duplicates, killed.resent);
  // The outputs exist in every kind: events, changelogs (with tombstones), dead letters.
  ASSERT_TRUE(reference.topics.count("shop.orders.changelog-0"));
  ASSERT_TRUE(reference.topics.count("eventception.dlq-0"));
  ASSERT_GT(reference.topics["eventception.dlq-0"].size(), 10u);
  ASSERT_GT(reference.states.size(), 100u);
  size_t records = 0;
  for (const auto& [tp, recs] : reference.topics) records += recs.size();
  EXPECT_EQ(reference.topics.size(), killed.topics.size());
  for (const auto& [tp, recs] : reference.topics) {
    const std::vector<std::string>& other = killed.topics[tp];
    ASSERT_EQ(recs.size(), other.size()) << tp;
    for (size_t i = 0; i < recs.size(); ++i) ASSERT_EQ(recs[i], other[i]) << tp << " record " << i;
  }
  EXPECT_EQ(reference.states.size(), killed.states.size());
  for (const auto& [k, v] : reference.states) ASSERT_EQ(v, killed.states[k]) << k;
  std::printf("exactly-once: %zu exchanges in %zu batches; %zu output records in %zu topic-partitions, %zu "
              "resource states identical; killed run: %d SIGKILLs, %d retried requests (%d exchanges acknowledged "
              "as duplicates), %d exchanges re-sent after their ack (all duplicates); reference %.1f s, killed %.1f s\n",
              exchanges, batches.size(), records, reference.topics.size(), reference.states.size(), killed.kills,
              killed.retries, killed.duplicates, killed.resent, std::chrono::duration<double>(mid - start).count(),
              std::chrono::duration<double>(end - mid).count());
}

}  // namespace
}  // namespace ec::cdc
