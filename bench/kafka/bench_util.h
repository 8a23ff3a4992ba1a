#pragma once
// Helpers of bench/bench_kafka.cc: librdkafka producer/consumer runs, our raw Fetch client,
// the latency probe, librdkafka's mock cluster, iperf3 and the idle-connection probe.

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "json/document.h"
#include "kafka/messages.h"
#include "kafka/protocol/header.h"
#include "kafka/server/server.h"
#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"

namespace ec::kafka::bench {

inline constexpr size_t kValueSize = 1024;
using Clock = std::chrono::steady_clock;

struct TempDir {
  std::string path;
  TempDir() {
    std::random_device rd;
    path = (std::filesystem::temp_directory_path() / ("ec-bench-kafka-" + std::to_string(rd()))).string();
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct Throughput {
  double msg_s = 0;
  double mb_s = 0;
};
struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
};
struct ProduceResult {
  Throughput tp;
  double broker_cpu_s_per_gb = 0;  // broker CPU seconds per GB of values produced
  // librdkafka runs only (ProduceRun): the clients' side, from the same run.
  double client_cpu_s_per_gb = 0;  // producing threads + librdkafka's threads, per GB
  double client_app_cpu_s_per_gb = 0;  // of which the producing threads (produce + flush)
  double flush_wait_s = 0;             // longest rd_kafka_flush() wait after the last produce
  double requests_per_gb = 0;      // Produce requests sent (librdkafka statistics), per GB
  double msgs_per_request = 0;     // messages per Produce request (the batch size reached)
  double rtt_avg_ms = 0, rtt_p99_ms = 0;  // librdkafka's request round-trip time (broker)
};

struct Figures {
  ProduceResult produce_acks1, produce_acksall, raw_produce_acks1, raw_produce_acksall;
  Throughput consume_rdkafka, consume_raw;
  Latency latency;
  int64_t retained = 0;
};

inline rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& conf,
                             rd_kafka_conf_t* c = nullptr) {
  if (c == nullptr) c = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : conf) {
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "config %s: %s\n", k.c_str(), err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, c, err, sizeof(err));
  if (rk == nullptr) std::fprintf(stderr, "rd_kafka_new: %s\n", err);
  return rk;
}

class MockCluster {
 public:
  MockCluster() {
    handle_ = NewClient(RD_KAFKA_PRODUCER, {});
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void CreateTopic(const std::string& t, int partitions = 1) {
    rd_kafka_mock_topic_create(cluster_, t.c_str(), partitions, 1);
  }

 private:
  rd_kafka_t* handle_;
  rd_kafka_mock_cluster_t* cluster_;
};

// The last statistics JSON a librdkafka client emitted (statistics.interval.ms), and whether
// one arrived after `mark` was set (so the final counts include every request).
struct ClientStats {
  std::mutex mu;
  std::string last;
  bool mark = false, fresh = false;
};

inline int StatsCallback(rd_kafka_t*, char* json, size_t len, void* opaque) {
  auto* st = static_cast<ClientStats*>(opaque);
  std::lock_guard l(st->mu);
  st->last.assign(json, len);
  if (st->mark) st->fresh = true;
  return 0;  // librdkafka frees `json`
}

// From a statistics JSON: Produce requests sent to every broker, and the round-trip time
// (average, p99, microseconds) of the broker that got the most of them.
struct RequestStats {
  double produce_requests = 0, rtt_avg_us = 0, rtt_p99_us = 0;
};
inline RequestStats ParseRequestStats(const std::string& text) {
  RequestStats out;
  auto doc = ec::json::Parse(text);
  if (!doc.ok()) return out;
  const ec::json::Value* brokers = (*doc)->root().Find("brokers");
  if (brokers == nullptr) return out;
  double most = -1;
  for (const ec::json::Member& b : brokers->object()) {
    const ec::json::Value* req = b.value.Find("req");
    const ec::json::Value* produce = req ? req->Find("Produce") : nullptr;
    double n = produce && produce->is_number() ? produce->number() : 0;
    out.produce_requests += n;
    const ec::json::Value* rtt = b.value.Find("rtt");
    if (n > most && rtt != nullptr) {
      most = n;
      const ec::json::Value* avg = rtt->Find("avg");
      const ec::json::Value* p99 = rtt->Find("p99");
      out.rtt_avg_us = avg && avg->is_number() ? avg->number() : 0;
      out.rtt_p99_us = p99 && p99->is_number() ? p99->number() : 0;
    }
  }
  return out;
}

inline double ThisThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// CPU seconds used so far by this process's threads whose name starts with one of `prefixes`
// (our broker: "ec-kafka", "ec-log"; the mock cluster: "rdk:mock"), from the scheduler's
// nanosecond run time (/proc/self/task/*/schedstat), so the broker's own cost can be compared
// even when the clients are what limits throughput. A thread that exited is not counted.
inline double ThreadCpuSeconds(const std::vector<std::string>& prefixes) {
  double ns = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream cf(e.path() / "comm");
    std::string comm;
    std::getline(cf, comm);
    bool match = std::any_of(prefixes.begin(), prefixes.end(),
                             [&](const std::string& p) { return comm.rfind(p, 0) == 0; });
    if (!match) continue;
    std::ifstream sf(e.path() / "schedstat");
    double run_ns = 0;
    if (sf >> run_ns) ns += run_ns;
  }
  return ns / 1e9;
}

// `producers` librdkafka producers in parallel, producer i writing n/producers messages to
// partition i (the topic must have `producers` partitions). Values are sent without a copy
// into librdkafka (one constant buffer; librdkafka copies it into its batch), so each
// client spends its CPU on the protocol, not on malloc. The same setup for both brokers.
inline ProduceResult ProduceRun(const std::string& bs, const std::string& topic, int n,
                                const std::string& acks, int producers,
                                const std::vector<std::string>& broker_threads) {
  static const std::string value(kValueSize, 'x');
  std::atomic<int64_t> delivered{0};
  std::vector<rd_kafka_t*> clients;
  std::vector<std::unique_ptr<ClientStats>> stats;
  for (int k = 0; k < producers; ++k) {
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(c, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
      if (!m->err) ++*static_cast<std::atomic<int64_t>*>(m->_private);
    });
    stats.push_back(std::make_unique<ClientStats>());
    // Deliveries are counted through each message's opaque (the counter), so the client's
    // opaque can be its ClientStats for the stats callback.
    rd_kafka_conf_set_opaque(c, stats.back().get());
    rd_kafka_conf_set_stats_cb(c, StatsCallback);
    clients.push_back(NewClient(RD_KAFKA_PRODUCER,
                                {{"bootstrap.servers", bs}, {"acks", acks}, {"linger.ms", "5"},
                                 {"batch.size", "1000000"}, {"queue.buffering.max.kbytes", "1048576"},
                                 {"compression.type", "none"}, {"statistics.interval.ms", "500"}},
                                c));
  }
  const std::vector<std::string> client_threads = {"rdk:broker", "rdk:main"};
  // Connected and metadata known before the clock starts.
  for (rd_kafka_t* p : clients) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(p, topic.c_str(), nullptr);
    if (rd_kafka_metadata(p, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
  }
  double cpu0 = ThreadCpuSeconds(broker_threads);
  double client_cpu0 = ThreadCpuSeconds(client_threads);
  std::atomic<int64_t> app_cpu_ns{0};  // the producing threads' own CPU (they exit before the end)
  std::atomic<int64_t> flush_ns{0};    // longest flush wait
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  int per = n / producers;
  for (int k = 0; k < producers; ++k) {
    threads.emplace_back([&, k] {
      double c0 = ThisThreadCpuSeconds();
      rd_kafka_t* p = clients[k];
      for (int i = 0; i < per; ++i) {
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(k),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                 RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_OPAQUE(&delivered),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(p, 1);
        }
        if ((i & 1023) == 0) rd_kafka_poll(p, 0);
      }
      auto f0 = Clock::now();
      rd_kafka_flush(p, 120000);
      int64_t f = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - f0).count();
      for (int64_t cur = flush_ns.load(); f > cur && !flush_ns.compare_exchange_weak(cur, f);) {
      }
      app_cpu_ns += static_cast<int64_t>((ThisThreadCpuSeconds() - c0) * 1e9);
    });
  }
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = ThreadCpuSeconds(broker_threads) - cpu0;
  double client_cpu = ThreadCpuSeconds(client_threads) - client_cpu0 + app_cpu_ns.load() / 1e9;
  // Statistics emitted after the flush hold every Produce request: wait for one per client.
  RequestStats req;
  for (int k = 0; k < producers; ++k) {
    {
      std::lock_guard l(stats[k]->mu);
      stats[k]->mark = true;
    }
    auto until = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < until) {
      rd_kafka_poll(clients[k], 50);
      std::lock_guard l(stats[k]->mu);
      if (stats[k]->fresh) break;
    }
    std::lock_guard l(stats[k]->mu);
    RequestStats one = ParseRequestStats(stats[k]->last);
    req.produce_requests += one.produce_requests;
    req.rtt_avg_us += one.rtt_avg_us / producers;
    req.rtt_p99_us = std::max(req.rtt_p99_us, one.rtt_p99_us);
  }
  for (rd_kafka_t* p : clients) rd_kafka_destroy(p);
  int64_t total = int64_t{per} * producers;
  if (delivered.load() != total) std::fprintf(stderr, "produce: %lld of %lld delivered\n", (long long)delivered.load(), (long long)total);
  double gb = delivered.load() * double(kValueSize) / 1e9;
  ProduceResult r;
  r.tp = {delivered.load() / s, delivered.load() * double(kValueSize) / s / 1e6};
  if (gb > 0) {
    r.broker_cpu_s_per_gb = cpu / gb;
    r.client_cpu_s_per_gb = client_cpu / gb;
    r.client_app_cpu_s_per_gb = app_cpu_ns.load() / 1e9 / gb;
    r.requests_per_gb = req.produce_requests / gb;
  }
  if (req.produce_requests > 0) r.msgs_per_request = delivered.load() / req.produce_requests;
  r.flush_wait_s = flush_ns.load() / 1e9;
  r.rtt_avg_ms = req.rtt_avg_us / 1e3;
  r.rtt_p99_ms = req.rtt_p99_us / 1e3;
  return r;
}

// [low, high) offsets of partition 0: what the broker still holds (the mock cluster keeps
// only a bounded tail of each partition in memory).
inline std::pair<int64_t, int64_t> Watermarks(const std::string& bs, const std::string& topic) {
  rd_kafka_t* c = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bs}, {"group.id", "wm"}});
  int64_t lo = 0, hi = 0;
  rd_kafka_query_watermark_offsets(c, topic.c_str(), 0, &lo, &hi, 10000);
  rd_kafka_destroy(c);
  return {lo, hi};
}

inline Throughput ConsumeRun(const std::string& bs, const std::string& topic, int n) {
  rd_kafka_t* c = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bs}, {"group.id", "bench"},
                                                {"enable.auto.commit", "false"},
                                                {"fetch.message.max.bytes", "4194304"},
                                                {"queued.min.messages", "200000"}});
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, l);
  rd_kafka_topic_partition_list_destroy(l);
  int got = 0;
  size_t bytes = 0;
  auto t0 = Clock::now();
  auto last = t0;
  auto deadline = t0 + std::chrono::seconds(120);
  while (got < n && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
    if (!m) continue;
    if (!m->err) {
      ++got;
      bytes += m->len;
      last = Clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  if (got < n) std::fprintf(stderr, "consume: %d of %d messages\n", got, n);
  double s = std::chrono::duration<double>(last - t0).count();
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return {got / s, bytes / s / 1e6};
}

// Reads exactly `n` bytes (false on EOF or error).
inline bool RecvAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::recv(fd, p, n, MSG_WAITALL);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

inline uint64_t LoadBe(const char* p, int k) {
  uint64_t v = 0;
  for (int i = 0; i < k; ++i) v = (v << 8) | uint8_t(p[i]);
  return v;
}

// Our raw Fetch client: one connection, Fetch v11 for up to `fetch_bytes` in a loop, for
// `seconds` (re-reading [start, end) from the start each time it reaches the end, so the
// figure is a steady state, not a cold start). Responses are read in 1 MiB chunks into one
// buffer and discarded: only the fixed response prefix and each batch's first 27 bytes (base
// offset, length, last offset delta) are looked at, to know where the next fetch starts, the
// way a consumer must. Bytes counted = whole responses, as iperf3 counts its payload.
inline Throughput RawFetchRun(const std::string& bs, const std::string& topic, int64_t start,
                              int64_t end, double seconds, size_t fetch_bytes = 32 << 20) {
  size_t colon = bs.rfind(':');
  int port = std::stoi(bs.substr(colon + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return {};
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int64_t offset = start, records = 0;
  size_t bytes = 0;
  std::vector<char> chunk(1 << 20);
  auto t0 = Clock::now();
  auto until = t0 + std::chrono::duration<double>(seconds);
  int32_t corr = 0;
  bool failed = false;
  while (!failed && Clock::now() < until && end > start) {
    if (offset >= end) offset = start;
    FetchRequest f;
    f.max_wait_ms = 100;
    f.min_bytes = 1;
    f.max_bytes = static_cast<int32_t>(fetch_bytes);
    auto& t = f.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = static_cast<int32_t>(fetch_bytes);
    Writer w;
    w.WriteInt32(0);
    EncodeRequestHeader(w, RequestHeader{1, 11, ++corr, std::string("raw")}, 1);
    f.Encode(w, 11);
    w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
    if (::send(fd, w.buffer().data(), w.buffer().size(), 0) < 0) break;
    // Fixed prefix of a v11 response with one topic and one partition, up to the aborted
    // transactions count: size, correlation id, throttle, error, session, [topics] count,
    // topic name, [partitions] count, index, error, high watermark, last stable, log start.
    const size_t head = 4 + 4 + 4 + 2 + 4 + 4 + 2 + topic.size() + 4 + 4 + 2 + 8 + 8 + 8 + 4;
    char h[512];
    if (head > sizeof(h) || !RecvAll(fd, h, head)) break;
    size_t len = LoadBe(h, 4);
    size_t consumed = head - 4;
    int32_t aborted = static_cast<int32_t>(LoadBe(h + head - 4, 4));
    for (int32_t i = 0; i < aborted && !failed; ++i) {
      failed = !RecvAll(fd, chunk.data(), 16);
      consumed += 16;
    }
    char tail[8];  // preferred read replica, records length
    if (failed || !RecvAll(fd, tail, 8)) break;
    consumed += 8;
    int64_t rec_len = static_cast<int32_t>(LoadBe(tail + 4, 4));
    if (rec_len < 0) rec_len = 0;
    // Stream the records: walk batch headers as they pass through the chunk buffer.
    int64_t pos = 0, next_batch = 0;
    char bh[27];
    size_t bh_have = 0;
    size_t left = len - consumed;
    while (left > 0) {
      ssize_t k = ::recv(fd, chunk.data(), std::min(left, chunk.size()), 0);
      if (k <= 0) {
        failed = true;
        break;
      }
      left -= static_cast<size_t>(k);
      int64_t chunk_end = std::min<int64_t>(pos + k, rec_len);
      while (next_batch + static_cast<int64_t>(bh_have) < chunk_end) {
        int64_t at = next_batch + static_cast<int64_t>(bh_have);
        size_t take = std::min<size_t>(sizeof(bh) - bh_have, static_cast<size_t>(chunk_end - at));
        std::memcpy(bh + bh_have, chunk.data() + (at - pos), take);
        bh_have += take;
        if (bh_have < sizeof(bh)) break;
        int64_t base = static_cast<int64_t>(LoadBe(bh, 8));
        int64_t blen = static_cast<int64_t>(LoadBe(bh + 8, 4)) + 12;
        int64_t last = base + static_cast<int32_t>(LoadBe(bh + 23, 4));
        // A partial batch at the end (cut by max_bytes) is not consumed.
        if (next_batch + blen <= rec_len && last >= offset) {
          records += last + 1 - std::max(base, offset);
          offset = last + 1;
        }
        next_batch += blen;
        bh_have = 0;
      }
      pos += k;
    }
    bytes += len + 4;
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  ::close(fd);
  return {records / s, bytes / s / 1e6};
}

// Our raw Produce client, the broker-bound counterpart of ProduceRun: `connections`
// connections in parallel, connection i producing to partition i, each sending the same
// pre-built ~1 MB RecordBatch (1 KiB values, uncompressed) as Produce v7 with up to 5
// requests in flight (librdkafka's default), for `seconds`. The client does almost nothing per
// byte (one send of a ready buffer), so the broker is what limits. Same client for both.
inline ProduceResult RawProduceRun(const std::string& bs, const std::string& topic, int connections,
                                   const std::string& acks, double seconds,
                                   const std::vector<std::string>& broker_threads) {
  constexpr int kRecords = 960, kInflight = 5;
  ec::log::RecordBatchBuilder b;
  static const std::string value(kValueSize, 'x');
  for (int i = 0; i < kRecords; ++i) b.Add(std::nullopt, value, 1700000000000 + i);
  auto batch = b.Build();
  if (!batch.ok()) return {};
  size_t colon = bs.rfind(':');
  int port = std::stoi(bs.substr(colon + 1));
  std::atomic<int64_t> acked{0}, errors{0};
  double cpu0 = ThreadCpuSeconds(broker_threads);
  auto t0 = Clock::now();
  auto until = t0 + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int k = 0; k < connections; ++k) {
    threads.emplace_back([&, k] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ProduceRequest req;
      req.acks = static_cast<int16_t>(std::stoi(acks));
      req.timeout_ms = 30000;
      auto& t = req.topic_data.emplace_back();
      t.name = topic;
      auto& p = t.partition_data.emplace_back();
      p.index = k;
      p.records = Records(*batch);
      Writer w;
      w.WriteInt32(0);
      EncodeRequestHeader(w, RequestHeader{0, 7, 1, std::string("rawp")}, 1);
      req.Encode(w, 7);
      w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
      std::string frame;
      for (std::string_view piece : w.Gather()) frame.append(piece);
      auto send_one = [&] {
        size_t off = 0;
        while (off < frame.size()) {
          ssize_t n = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
          if (n <= 0) return false;
          off += static_cast<size_t>(n);
        }
        return true;
      };
      int inflight = 0;
      std::string resp;
      bool ok = true;
      while (ok && (Clock::now() < until || inflight > 0)) {
        while (ok && inflight < kInflight && Clock::now() < until) {
          ok = send_one();
          ++inflight;
        }
        char sz[4];
        if (!ok || !RecvAll(fd, sz, 4)) break;
        resp.resize(LoadBe(sz, 4));
        if (!RecvAll(fd, resp.data(), resp.size())) break;
        --inflight;
        Reader r(resp);
        int32_t corr;
        ProduceResponse pr;
        if (!DecodeResponseHeader(r, 0, corr).ok() || !pr.Decode(r, 7).ok() || pr.responses.empty() ||
            pr.responses[0].partition_responses.empty() ||
            pr.responses[0].partition_responses[0].error_code != 0) {
          ++errors;
        } else {
          acked += kRecords;
        }
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = ThreadCpuSeconds(broker_threads) - cpu0;
  if (errors.load() > 0) std::fprintf(stderr, "raw produce: %lld error responses\n", (long long)errors.load());
  double gb = acked.load() * double(kValueSize) / 1e9;
  return {{acked.load() / s, acked.load() * double(kValueSize) / s / 1e6}, gb > 0 ? cpu / gb : 0};
}

// Produce at `rate` msg/s with linger.ms=0 while a consumer reads; latency = consume time -
// send time (same clock), measured per message. With `plog` (our broker, same process) a
// watcher also stamps when each offset became readable in the log, splitting the latency into
// produce -> appended and appended -> consumed.
struct LatencyBreakdown {
  Latency to_append, append_to_consume;
  size_t matched = 0;
};

inline double Percentile(std::vector<double> v, int pct) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * pct / 100)];
}

inline Latency LatencyRun(const std::string& bs, const std::string& topic, int rate, int seconds,
                          std::shared_ptr<ec::log::PartitionLog> plog = nullptr,
                          LatencyBreakdown* breakdown = nullptr) {
  // Nagle off on the clients' sockets too (librdkafka leaves it on by default; our broker sets
  // TCP_NODELAY on its side): a small produce or fetch request otherwise waits for the ACK of
  // the previous one. Same for both brokers.
  rd_kafka_t* c = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bs}, {"group.id", "lat"},
                                                {"socket.nagle.disable", "true"},
                                                {"enable.auto.commit", "false"},
                                                // 100, not 500: with 500 this librdkafka
                                                // (2.0.2) consumer took data in bursts ~10 ms
                                                // apart for the first ~500 ms after the warm-up
                                                // although every message was readable at once
                                                // (seen with --latency-breakdown, both brokers
                                                // slow alike); EC_BENCH_FETCH_WAIT overrides.
                                                {"fetch.wait.max.ms", std::getenv("EC_BENCH_FETCH_WAIT") ? std::getenv("EC_BENCH_FETCH_WAIT") : "100"},
                                                {"fetch.error.backoff.ms", "1"}});
  rd_kafka_poll_set_consumer(c);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_assign(c, l);
  rd_kafka_topic_partition_list_destroy(l);
  struct Seen {
    int64_t offset, sent, received;
  };
  std::vector<Seen> seen;
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    while (!stop) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 10);
      if (!m) continue;
      if (!m->err && m->len == sizeof(int64_t)) {
        int64_t sent;
        std::memcpy(&sent, m->payload, sizeof(sent));
        int64_t now = Clock::now().time_since_epoch().count();
        seen.push_back({m->offset, sent, now});
      }
      rd_kafka_message_destroy(m);
    }
  });
  // offset -> when it became readable (our broker only).
  std::map<int64_t, int64_t> appended;
  std::thread watcher;
  if (plog) {
    watcher = std::thread([&] {
      int64_t next = plog->log_end_offset();
      while (!stop) {
        if (!plog->WaitPast(next, std::chrono::milliseconds(50))) continue;
        int64_t now = Clock::now().time_since_epoch().count();
        int64_t leo = plog->log_end_offset();
        for (; next < leo; ++next) appended[next] = now;
      }
    });
  }
  // Where the slow ones are (EC_BENCH_DEBUG=1): position in the run and which leg was slow.
  const bool debug = std::getenv("EC_BENCH_DEBUG") != nullptr;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the consumer settle
  std::map<std::string, std::string> pconf = {{"bootstrap.servers", bs}, {"linger.ms", "0"}, {"acks", "1"},
                                              {"socket.nagle.disable", "true"}};
  if (std::getenv("EC_BENCH_RDKAFKA_DEBUG")) pconf["debug"] = std::getenv("EC_BENCH_RDKAFKA_DEBUG");
  rd_kafka_t* p = NewClient(RD_KAFKA_PRODUCER, pconf);
  // Warm-up: one message (ignored by the consumer: not 8 bytes) delivered before the clock
  // starts, so the figure is the steady state, not the producer's cold start. librdkafka 2.0.2
  // can miss the new topic's metadata request while its bootstrap connection learns the node
  // id, and then waits for its 1 s topic scan: the first ~1 s of messages queue in the client
  // (seen with librdkafka's debug=topic,metadata log; the mock cluster shows it too). That
  // alone made p99 ~0.97-1.2 s before this warm-up.
  const char warm = 'w';
  rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_VALUE(const_cast<char*>(&warm), 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END);
  rd_kafka_flush(p, 10000);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto start = Clock::now();
  if (debug) std::fprintf(stderr, "latency: first send at %.6f\n", start.time_since_epoch().count() / 1e9);
  int total = rate * seconds;
  for (int i = 0; i < total; ++i) {
    // Sleep (not spin) until the send time: on a 2-core machine a spinning producer takes a
    // whole core from the broker and the consumer it measures.
    std::this_thread::sleep_until(start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate)));
    rd_kafka_poll(p, 0);
    int64_t now = Clock::now().time_since_epoch().count();
    rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE(&now, sizeof(now)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_END);
  }
  rd_kafka_flush(p, 10000);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  consumer.join();
  if (watcher.joinable()) watcher.join();
  rd_kafka_destroy(p);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  if (seen.empty()) return {};
  if (static_cast<int>(seen.size()) < total) {
    std::fprintf(stderr, "latency: %zu of %d messages seen\n", seen.size(), total);
  }
  std::vector<double> lat, to_append, to_consume;
  int64_t t0 = start.time_since_epoch().count();
  for (const Seen& s : seen) {
    if (debug && s.received - s.sent > 2000000) {
      auto it = appended.find(s.offset);
      std::fprintf(stderr, "slow: offset %lld sent at +%.3f ms, appended +%.3f, received +%.3f\n",
                   (long long)s.offset, (s.sent - t0) / 1e6,
                   it == appended.end() ? -1.0 : (it->second - t0) / 1e6, (s.received - t0) / 1e6);
    }
    lat.push_back((s.received - s.sent) / 1e6);
    auto it = appended.find(s.offset);
    if (it == appended.end()) continue;
    to_append.push_back((it->second - s.sent) / 1e6);
    to_consume.push_back((s.received - it->second) / 1e6);
  }
  if (breakdown) {
    breakdown->matched = to_append.size();
    breakdown->to_append = {Percentile(to_append, 50), Percentile(to_append, 99)};
    breakdown->append_to_consume = {Percentile(to_consume, 50), Percentile(to_consume, 99)};
  }
  return {Percentile(lat, 50), Percentile(lat, 99)};
}

// One iperf3 run on loopback (3 s, one stream); 0 if it failed. Retried up to 3 times on a
// fresh port: on a loaded machine the server sometimes is not listening yet when the client
// starts.
inline double Iperf3Once() {
  int port = 20000 + static_cast<int>(std::random_device{}() % 20000);
  std::string srv = "iperf3 -s -1 -p " + std::to_string(port) + " >/dev/null 2>&1 &";
  if (std::system(srv.c_str()) != 0) return 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  std::string cmd = "iperf3 -c 127.0.0.1 -p " + std::to_string(port) + " -t 3 -f g 2>&1 | grep receiver";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return 0;
  char line[512] = {};
  double gbit = 0;
  if (fgets(line, sizeof(line), f)) {
    // "... 3.00 sec  7.6 GBytes  21.8 Gbits/sec  receiver"
    const char* g = std::strstr(line, "Gbits/sec");
    if (g) {
      // The number right before "Gbits/sec".
      std::string head(line, static_cast<size_t>(g - line));
      while (!head.empty() && head.back() == ' ') head.pop_back();
      gbit = std::atof(head.substr(head.rfind(' ') + 1).c_str());
    }
  }
  pclose(f);
  return gbit;
}

inline double Iperf3Loopback() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    double g = Iperf3Once();
    if (g > 0) return g;
  }
  return 0;
}

inline double RssMiB() {
  std::ifstream f("/proc/self/status");
  std::string k;
  while (f >> k) {
    if (k == "VmRSS:") {
      double kb;
      f >> kb;
      return kb / 1024;
    }
  }
  return 0;
}

struct IdleResult {
  int held = 0;
  double rss_delta_mib = 0;
  bool still_serving = false;
};

// Opens `n` idle connections to the broker from a child process (its own fd table, so the
// broker's RSS and fds are measured alone), then checks a fresh client is still served.
inline IdleResult IdleConnections(ec::kafka::Server& server, int n) {
  IdleResult r;
  double before = RssMiB();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server.bound_port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ready[2], done[2];
  if (pipe(ready) != 0 || pipe(done) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int opened = 0;
    for (int i = 0; i < n; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) break;
      ++opened;
    }
    (void)!::write(ready[1], &opened, sizeof(opened));
    char c;
    (void)!::read(done[0], &c, 1);
    _exit(0);
  }
  int opened = 0;
  (void)!::read(ready[0], &opened, sizeof(opened));
  for (int i = 0; i < 1000 && server.connection_count() < static_cast<size_t>(opened); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.held = static_cast<int>(server.connection_count());
  r.rss_delta_mib = RssMiB() - before;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    Writer w;
    w.WriteInt32(0);
    EncodeRequestHeader(w, RequestHeader{18, 3, 1, std::string("idle")}, 2);
    ApiVersionsRequest{}.Encode(w, 3);
    w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
    char sz[4];
    r.still_serving = ::send(fd, w.buffer().data(), w.buffer().size(), 0) > 0 &&
                      ::recv(fd, sz, 4, MSG_WAITALL) == 4;
    ::close(fd);
  }
  (void)!::write(done[1], "x", 1);
  int st = 0;
  waitpid(pid, &st, 0);
  for (int x : {ready[0], ready[1], done[0], done[1]}) ::close(x);
  return r;
}

}  // namespace ec::kafka::bench
