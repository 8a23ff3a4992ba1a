// Webhook delivery: deliveries per second to a local keep-alive receiver, and the added latency
// (event appended -> request received) at half that rate. Targets (issue 7): >= 20,000/s on the
// 2-core machine, p99 < 5 ms. The log is the in-memory EventLog, so this measures delivery, not
// storage. The receiver is a real HTTP/1.1 keep-alive server in this process, counting each
// request (by webhook-id, with its receipt time) once its header and body were read: by
// default a lean epoll one (EpollReceiver below); EC_BENCH_BEAST_RX=1 an event-driven Beast one;
// EC_BENCH_THREADED_RX=1 the tests' thread-per-connection receiver.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "../tests/delivery/test_receiver.h"
#include "delivery/dispatcher.h"
#include "delivery/memory_event_log.h"
#include "json/document.h"

namespace ec::delivery {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ReceivedRequest;
using testing::Reply;
using testing::TestReceiver;

// Answers 204 to every request on one event-driven thread, reporting (webhook-id, receipt
// time) for each request as soon as its header and body were read.
class AsyncReceiver {
 public:
  using OnRequest = std::function<void(std::string_view id, Clock::time_point at)>;
  explicit AsyncReceiver(OnRequest on) : on_(std::move(on)) {
    namespace asio = boost::asio;
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~AsyncReceiver() {
    ioc_.stop();
    thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(boost::asio::ip::tcp::socket s, AsyncReceiver* rx)
        : sock(std::move(s)), rx(rx) {}
    boost::asio::ip::tcp::socket sock;
    AsyncReceiver* rx;
    boost::beast::flat_buffer buf;
    boost::beast::http::request<boost::beast::http::string_body> req;
    boost::beast::http::response<boost::beast::http::empty_body> res;
    // The next request comes only after this response: wait for it rather than let the read
    // try (and fail with EAGAIN) at once, a syscall per request saved on the 2 shared cores.
    void WaitThenRead() {
      if (buf.size() > 0) return Read();
      auto self = shared_from_this();
      sock.async_wait(boost::asio::ip::tcp::socket::wait_read,
                      [self](boost::beast::error_code ec) {
                        if (!ec) self->Read();
                      });
    }
    void Read() {
      req = {};
      auto self = shared_from_this();
      boost::beast::http::async_read(sock, buf, req, [self](boost::beast::error_code ec, size_t) {
        if (ec) return;
        self->rx->on_(self->req["webhook-id"], Clock::now());
        self->res = {boost::beast::http::status::no_content, 11};
        self->res.keep_alive(self->req.keep_alive());
        boost::beast::http::async_write(self->sock, self->res,
                                        [self](boost::beast::error_code ec2, size_t) {
                                          if (!ec2) self->WaitThenRead();
                                        });
      });
    }
  };
  void Accept() {
    acceptor_.async_accept([this](boost::beast::error_code ec, boost::asio::ip::tcp::socket s) {
      if (ec) return;
      s.set_option(boost::asio::ip::tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(s), this)->Read();
      Accept();
    });
  }

  OnRequest on_;
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::thread thread_;
};

// The default receiver: HTTP/1.1 keep-alive on one epoll thread with a small parser of its own
// (request line, headers, Content-Length body), answering 204. It does what a lean production
// receiver does per request (one read, one write) so that the bench's CPU goes to the
// dispatcher: on 2 shared cores, Beast's parser made the receiver a third of the process's CPU.
// Malformed or chunked requests get 400 and the connection is closed.
class EpollReceiver {
 public:
  using OnRequest = std::function<void(std::string_view id, Clock::time_point at)>;
  explicit EpollReceiver(OnRequest on) : on_(std::move(on)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 1024) != 0) {
      std::perror("bench receiver: bind/listen");
      std::abort();
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    Add(listen_);
    Add(stop_);
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "bench-rx");  // for perf --sort comm
      Run();
    });
  }
  ~EpollReceiver() {
    uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    thread_.join();
    for (int fd : conns_) ::close(fd);
    ::close(listen_);
    ::close(stop_);
    ::close(ep_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // The CPU clock of the receiver's thread.
  std::optional<clockid_t> CpuClock() {
    clockid_t id;
    if (pthread_getcpuclockid(thread_.native_handle(), &id) != 0) return std::nullopt;
    return id;
  }

 private:
  void Add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  void Close(int fd) {
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(fd);
    Pending(fd).clear();
  }
  // `b` is lower case; ASCII case folding without the locale (tolower is a call per byte).
  static bool IEquals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      if (c != b[i]) return false;
    }
    return true;
  }
  // Handles every complete request in data[0, size); returns the bytes they took (the rest is
  // an incomplete request), or -1 when malformed (answered 400, to be closed). The answers to
  // all requests of one read go out in one send (one answer unless the client pipelines).
  ssize_t Serve(int fd, const char* data, size_t size) {
    std::string_view in(data, size);
    size_t pos = 0;
    replies_.clear();
    for (;;) {
      size_t end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      std::string_view head(in.data() + pos, end - pos);
      size_t line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      if (!line.starts_with("POST ") || !line.ends_with(" HTTP/1.1")) return Bad(fd);
      size_t length = 0;
      bool has_length = false;
      std::string_view id;
      while (line_end != std::string_view::npos) {
        size_t next = head.find("\r\n", line_end + 2);
        std::string_view h = head.substr(line_end + 2, next == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : next - line_end - 2);
        line_end = next;
        size_t colon = h.find(':');
        if (colon == std::string_view::npos || colon == 0) return Bad(fd);
        std::string_view name = h.substr(0, colon), value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (IEquals(name, "content-length")) {
          auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
          if (ec != std::errc() || p != value.data() + value.size()) return Bad(fd);
          has_length = true;
        } else if (IEquals(name, "transfer-encoding")) {
          return Bad(fd);  // the dispatcher always sends Content-Length
        } else if (IEquals(name, "webhook-id")) {
          id = value;
        }
      }
      if (!has_length) return Bad(fd);
      size_t body = end + 4;
      if (in.size() - body < length) break;  // the rest of the body is still coming
      on_(id, Clock::now());                  // received: header and body read
      static constexpr std::string_view kReply = "HTTP/1.1 204 No Content\r\n\r\n";
      replies_.append(kReply);
      pos = body + length;
    }
    if (!replies_.empty() &&
        ::send(fd, replies_.data(), replies_.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(replies_.size())) {
      return -1;
    }
    return static_cast<ssize_t>(pos);
  }
  ssize_t Bad(int fd) {
    static constexpr std::string_view kBad =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::send(fd, kBad.data(), kBad.size(), MSG_NOSIGNAL);
    return -1;
  }
  // Unparsed input of connection `fd` (a request split across reads), by descriptor.
  std::string& Pending(int fd) {
    if (static_cast<size_t>(fd) >= pending_.size()) pending_.resize(static_cast<size_t>(fd) + 1);
    return pending_[static_cast<size_t>(fd)];
  }
  void Run() {
    epoll_event events[64];
    char buf[65536];
    for (;;) {
      int n = ::epoll_wait(ep_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_) return;
        if (fd == listen_) {
          for (;;) {
            int c = ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            Pending(c).clear();
            conns_.insert(c);
            Add(c);
          }
          continue;
        }
        ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (got <= 0) {
          Close(fd);
          continue;
        }
        // Parsed in place from the read buffer; only a request split across reads is copied.
        std::string& in = Pending(fd);
        ssize_t used;
        if (in.empty()) {
          used = Serve(fd, buf, static_cast<size_t>(got));
          if (used >= 0) in.assign(buf + used, static_cast<size_t>(got - used));
        } else {
          in.append(buf, static_cast<size_t>(got));
          used = Serve(fd, in.data(), in.size());
          if (used >= 0) in.erase(0, static_cast<size_t>(used));
        }
        if (used < 0) Close(fd);
      }
    }
  }

  OnRequest on_;
  int listen_ = -1, ep_ = -1, stop_ = -1;
  uint16_t port_ = 0;
  std::unordered_set<int> conns_;         // open connections
  std::vector<std::string> pending_;      // by descriptor (see Pending)
  std::string replies_;                   // the answers to one read's requests
  std::thread thread_;
};

int MaxInFlight() {
  const char* s = std::getenv("EC_BENCH_MAX_IN_FLIGHT");
  return s ? std::atoi(s) : 64;
}

// Receipt times by webhook-id, written by the receiver's thread(s) for every request. The ids
// the bench makes for measured events ("t<n>", "l<n>") go into preallocated slots: no lock, no
// allocation and no hashing of a string per request in the receiver (which is part of the
// measured process). A redelivered id keeps its first receipt time. Other ids go into a map.
class Receipts {
 public:
  static constexpr size_t kSlots = 1 << 20;  // per prefix; more than any run appends
  Receipts() : t_(kSlots), l_(kSlots) {}
  void Add(std::string_view id, Clock::time_point at) {
    int64_t ns = at.time_since_epoch().count();
    if (std::atomic<int64_t>* slot = Slot(id)) {
      int64_t empty = 0;
      if (slot->compare_exchange_strong(empty, ns)) count_.fetch_add(1);
      return;
    }
    std::lock_guard lock(mu_);
    if (other_.emplace(std::string(id), at).second) count_.fetch_add(1);
  }
  size_t count() const { return count_.load(); }
  std::optional<Clock::time_point> Find(std::string_view id) {
    if (std::atomic<int64_t>* slot = Slot(id)) {
      int64_t ns = slot->load();
      if (ns == 0) return std::nullopt;
      return Clock::time_point(Clock::duration(ns));
    }
    std::lock_guard lock(mu_);
    auto it = other_.find(std::string(id));
    if (it == other_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::atomic<int64_t>* Slot(std::string_view id) {
    if (id.size() < 2 || (id[0] != 't' && id[0] != 'l')) return nullptr;
    size_t n = 0;
    auto [p, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), n);
    if (ec != std::errc() || p != id.data() + id.size() || n >= kSlots) return nullptr;
    return &(id[0] == 't' ? t_ : l_)[n];
  }
  std::vector<std::atomic<int64_t>> t_, l_;  // ns since the clock's epoch; 0: not yet
  std::atomic<size_t> count_{0};
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> other_;
};

struct Setup {
  std::filesystem::path dir;
  MemoryEventLog log;
  std::unique_ptr<Dispatcher> dispatcher;
  Receipts received;
  size_t warmup = 0;  // events delivered before a measurement starts
  AppendRecord next;  // reused by Append: only the id's fields change between events
  std::unique_ptr<TestReceiver> rx;
  std::unique_ptr<AsyncReceiver> async_rx;
  std::unique_ptr<EpollReceiver> epoll_rx;

  // coalesce_us: DispatcherOptions::coalesce_max; negative: the default (or
  // EC_BENCH_COALESCE_US when set).
  explicit Setup(size_t senders, int64_t coalesce_us = -1) {
    dir = std::filesystem::temp_directory_path() / ("ec_bench_webhooks_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::string url;
    const char* threaded = std::getenv("EC_BENCH_THREADED_RX");
    if (threaded && std::string(threaded) == "1") {
      rx = std::make_unique<TestReceiver>([this](const ReceivedRequest& r) {
        received.Add(r.Header("webhook-id"), r.at);
        return Reply{204, ""};
      });
      url = rx->Url();
    } else if (const char* beast = std::getenv("EC_BENCH_BEAST_RX"); beast && beast[0] == '1') {
      async_rx = std::make_unique<AsyncReceiver>(
          [this](std::string_view id, Clock::time_point at) { received.Add(id, at); });
      url = async_rx->Url();
    } else {
      epoll_rx = std::make_unique<EpollReceiver>(
          [this](std::string_view id, Clock::time_point at) { received.Add(id, at); });
      url = epoll_rx->Url();
    }
    DispatcherOptions o;
    o.dir = dir;
    o.sender_threads = senders;
    o.allow.push_back(*ParseCidr("127.0.0.1/32"));
    o.max_buffered_per_stream = 4096;
    o.commit_interval = std::chrono::milliseconds(100);
    if (const char* c = std::getenv("EC_BENCH_COALESCE_US")) {
      o.coalesce_max = std::chrono::microseconds(std::atoi(c));
    }
    if (coalesce_us >= 0) o.coalesce_max = std::chrono::microseconds(coalesce_us);
    dispatcher = std::make_unique<Dispatcher>(&log, o);
    (void)dispatcher->Start();
    auto doc = json::Parse("{\"url\":\"" + url + "\",\"max_in_flight\":" +
                           std::to_string(MaxInFlight()) + ",\"start\":\"earliest\"}");
    (void)dispatcher->CreateJson((*doc)->root());
    // Let the worker find the topic and open its connections before the clock starts, as a
    // dispatcher that has been running has: a burst of max_in_flight events. Without it the
    // first ~100 ms of a run measured the pool growing (each new connection a connect, an
    // accept and their wake-ups while events queue), enough to decide a run's p99.
    warmup = static_cast<size_t>(std::max(1, MaxInFlight()));
    for (size_t i = 0; i < warmup; ++i) Append("warmup-" + std::to_string(i));
    Wait(warmup, std::chrono::seconds(10));
  }
  ~Setup() {
    dispatcher.reset();
    rx.reset();
    async_rx.reset();
    epoll_rx.reset();
    std::filesystem::remove_all(dir);
  }
  // The same record as before (topic, key, headers, value), built in `next`, whose strings keep
  // their capacity: the producer allocates only what the log's own copy needs.
  void Append(const std::string& id) {
    if (next.headers.empty()) {
      next.topic = "orders";
      next.headers = {{"ce_specversion", "1.0"}, {"ce_id", ""}, {"ce_source", "https://shop"},
                      {"ce_type", "shop.order.placed"}, {"content-type", "application/json"}};
      next.key.emplace();
      next.value.emplace();
    }
    char num[24];
    auto end = std::to_chars(num, num + sizeof num, std::hash<std::string>{}(id) % 4096).ptr;
    next.key->assign("k").append(num, end);
    next.headers[1].second.assign(id);
    next.value->assign("{\"orderId\":\"").append(id).append("\",\"total\":25,\"customer\":\"c-17\"}");
    (void)log.Append(next);
  }
  std::optional<clockid_t> RxClock() {
    return epoll_rx ? epoll_rx->CpuClock() : std::nullopt;
  }
  bool Wait(size_t n, std::chrono::milliseconds limit) {
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (received.count() >= n) return true;
      // 1 ms is precise enough for runs of seconds, and costs the 2 cores little.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
};

// CPU and context switches of the whole process (dispatcher, receiver and producer) and of the
// calling thread (the producer) over a run, per delivered event: the per-event cost of a trickle
// (Latency) against a burst (Throughput), less noisy than wall-clock figures on a shared machine.
class CostMeter {
 public:
  // `rx`: the receiver's thread CPU clock, when it runs on one thread (the default receiver).
  explicit CostMeter(std::optional<clockid_t> rx) : rx_(rx) {
    Read(&cpu0_, &thread0_, &rx0_, &cs0_);
  }
  void Report(benchmark::State& state, size_t events) const {
    double cpu, thread, rx, cs;
    Read(&cpu, &thread, &rx, &cs);
    double n = static_cast<double>(std::max<size_t>(events, 1));
    state.counters["cpu_us_per_event"] = (cpu - cpu0_) / n;
    state.counters["producer_cpu_us_per_event"] = (thread - thread0_) / n;
    state.counters["ctx_switches_per_event"] = (cs - cs0_) / n;
    if (rx_) {
      state.counters["receiver_cpu_us_per_event"] = (rx - rx0_) / n;
      // The rest: the dispatcher's threads (the worker and its position saver).
      state.counters["dispatcher_cpu_us_per_event"] =
          (cpu - cpu0_ - (thread - thread0_) - (rx - rx0_)) / n;
    }
  }

 private:
  static double Micros(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }
  void Read(double* cpu, double* thread, double* rx, double* cs) const {
    *cpu = Micros(CLOCK_PROCESS_CPUTIME_ID);
    *thread = Micros(CLOCK_THREAD_CPUTIME_ID);
    *rx = rx_ ? Micros(*rx_) : 0;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    *cs = static_cast<double>(ru.ru_nvcsw + ru.ru_nivcsw);
  }
  std::optional<clockid_t> rx_;
  double cpu0_ = 0, thread0_ = 0, rx0_ = 0, cs0_ = 0;
};

// With EC_BENCH_LATENCY_DUMP: every 10 ms, the machine's busy and idle CPU time (/proc/stat,
// all CPUs) and this process's CPU time, to tell the late windows of a run apart: the machine
// busy (other processes took the CPUs), this process busy (it could not keep up), or neither
// (the CPUs were free and still nothing ran: a stall of the VM). Lines of
// "t_ms machine_busy_ms machine_idle_ms process_cpu_ms", cumulative from the start.
class CpuSampler {
 public:
  explicit CpuSampler(Clock::time_point t0) : t0_(t0) {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        Sample();
        cv_.wait_for(lock, std::chrono::milliseconds(10));
      }
    });
  }
  ~CpuSampler() { Stop(); }
  void WriteTo(const std::string& path) {
    Stop();
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return;
    for (const Row& r : rows_) {
      std::fprintf(f, "%.3f %.1f %.1f %.3f\n", r.t_ms, r.busy_ms - rows_[0].busy_ms,
                   r.idle_ms - rows_[0].idle_ms, r.proc_ms - rows_[0].proc_ms);
    }
    std::fclose(f);
  }

 private:
  struct Row {
    double t_ms, busy_ms, idle_ms, proc_ms;
  };
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Sample() {
    Row r{std::chrono::duration<double, std::milli>(Clock::now() - t0_).count(), 0, 0, 0};
    if (FILE* f = std::fopen("/proc/stat", "r")) {
      unsigned long long v[10] = {};
      if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                      &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
        double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
        r.idle_ms = static_cast<double>(v[3] + v[4]) * tick_ms;  // idle, iowait
        r.busy_ms = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * tick_ms;
      }
      std::fclose(f);
    }
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    r.proc_ms = static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
    rows_.push_back(r);
  }
  Clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<Row> rows_;
  std::thread thread_;
};

size_t Senders() { return 1; }  // DispatcherOptions::sender_threads is unused now

// The best rate BM_WebhookThroughput measured in this process; BM_WebhookLatency with rate 0
// runs at half of it (the "p99 at half the max rate").
double g_max_rate = 0;

// Appends N events at once and measures until the receiver has them all.
void BM_WebhookThroughput(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Setup s(Senders());
  double rate = 0;
  for (auto _ : state) {
    CostMeter cost(s.RxClock());
    auto t0 = Clock::now();
    for (size_t i = 0; i < n; ++i) s.Append("t" + std::to_string(i));
    if (!s.Wait(n + s.warmup, std::chrono::seconds(120))) {
      std::fprintf(stderr, "throughput: only %zu of %zu delivered\n",
                   s.received.count() - s.warmup, n);
      state.SkipWithError("not all delivered");
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    cost.Report(state, n);
    rate = n / secs;
    state.SetIterationTime(secs);
  }
  if (n >= 10000) g_max_rate = std::max(g_max_rate, rate);
  state.counters["deliveries_per_s"] = rate;
}

// Appends at a fixed rate (events/s) and reports the append -> received latency percentiles.
// Rate 0: half the max measured by BM_WebhookThroughput in this run, for `n` seconds' worth
// (skipped when the throughput run was filtered out).
void BM_WebhookLatency(benchmark::State& state) {
  double rate = static_cast<double>(state.range(0));
  size_t n = static_cast<size_t>(state.range(1));
  if (rate == 0) {
    if (g_max_rate <= 0) {
      state.SkipWithError("rate 0 = half the max: run BM_WebhookThroughput/50000 first");
      for (auto _ : state) {
      }
      return;
    }
    rate = std::floor(g_max_rate / 2);
    n = static_cast<size_t>(rate * static_cast<double>(n));
  }
  Setup s(Senders(), state.range(2));
  std::vector<std::pair<std::string, Clock::time_point>> sent;
  sent.reserve(n);
  // The producer's sleeps are short (~44 us at 22,000/s); the default timer slack (50 us) would
  // let the kernel bunch its wake-ups into bursts, which are cheaper to deliver than the even
  // trickle the figure is about. appends_within_10us_pct reports what the schedule really was.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  // EC_BENCH_LATENCY_DUMP=FILE: this benchmark's events go to FILE.<rate>.<coalesce_us> (the
  // rate per second; -1: the default coalescing), the CPU samples to that name + ".cpu".
  std::optional<std::string> dump;
  if (const char* d = std::getenv("EC_BENCH_LATENCY_DUMP")) {
    dump = std::string(d) + "." + std::to_string(static_cast<int64_t>(rate)) + "." +
           std::to_string(state.range(2));
  }
  for (auto _ : state) {
    CostMeter cost(s.RxClock());
    auto t0 = Clock::now();
    std::optional<CpuSampler> sampler;
    if (dump) sampler.emplace(t0);
    for (size_t i = 0; i < n; ++i) {
      auto due = t0 + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
      // Sleep, never spin: a spinning producer would take one of the 2 cores from the
      // dispatcher and the receiver. Latency counts from the actual append time below.
      std::this_thread::sleep_until(due);
      std::string id = "l" + std::to_string(i);
      sent.emplace_back(id, Clock::now());
      s.Append(id);
    }
    if (!s.Wait(n + s.warmup, std::chrono::seconds(60))) state.SkipWithError("not all delivered");
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    cost.Report(state, n);
    if (sampler) sampler->WriteTo(*dump + ".cpu");
  }
  prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);  // back to the default
  size_t bunched = 0;
  for (size_t i = 1; i < sent.size(); ++i) {
    bunched += sent[i].second - sent[i - 1].second < std::chrono::microseconds(10);
  }
  state.counters["appends_within_10us_pct"] =
      sent.size() > 1 ? 100.0 * static_cast<double>(bunched) / static_cast<double>(sent.size() - 1)
                      : 0;
  std::vector<double> lat;
  for (const auto& [id, at] : sent) {
    if (auto got = s.received.Find(id)) {
      lat.push_back(std::chrono::duration<double, std::milli>(*got - at).count());
    }
  }
  if (dump) {  // append_ms latency_ms lines
    if (FILE* f = std::fopen(dump->c_str(), "w")) {
      for (const auto& [id, at] : sent) {
        auto got = s.received.Find(id);
        if (!got) continue;
        std::fprintf(f, "%.3f %.3f\n",
                     std::chrono::duration<double, std::milli>(at - sent.front().second).count(),
                     std::chrono::duration<double, std::milli>(*got - at).count());
      }
      std::fclose(f);
    }
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(p * lat.size()))]; };
  state.counters["rate_per_s"] = rate;
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["max_ms"] = lat.empty() ? 0 : lat.back();
  // Failed attempts (retried) would show as seconds of latency: reported, not hidden.
  auto st = s.dispatcher->GetStatus(s.dispatcher->List().at(0).id);
  state.counters["failed_attempts"] = st.ok() ? static_cast<double>(st->failed_attempts) : -1;
}

size_t RssBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// The receiver goes away and N events are appended: the dispatcher's RAM must stay bounded
// (events wait in the log). The bench's log is in RAM too, so the same N events are first
// appended to a second, unsubscribed in-memory log: its RSS growth is the log's share, and
// what the subscribed run adds beyond it is the dispatcher's (rss_dispatcher_MB). Also reports
// the events the subscription holds in RAM (bounded by max_buffered_per_stream = 4096 here).
void BM_WebhookReceiverDown(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Setup s(Senders());
  s.rx.reset();  // connections are refused from now on
  s.async_rx.reset();
  s.epoll_rx.reset();
  auto subs = s.dispatcher->List();
  if (const char* c = std::getenv("EC_BENCH_DOWN_CALIBRATE"); c && c[0] == '1') {
    (void)s.dispatcher->SetPaused(subs.at(0).id, true);  // no dispatcher work: should read ~0
  }
  size_t buffered = 0;
  double log_mb = 0, total_mb = 0, rss_end_mb = 0;
  MemoryEventLog scratch;  // kept until the end, so the second run cannot reuse its memory
  for (auto _ : state) {
    size_t rss0 = RssBytes();
    for (size_t i = 0; i < n; ++i) {
      AppendRecord r;
      r.topic = "orders";
      std::string id = "d" + std::to_string(i);
      r.key = "k" + std::to_string(std::hash<std::string>{}(id) % 4096);
      r.headers = {{"ce_specversion", "1.0"}, {"ce_id", id}, {"ce_source", "https://shop"},
                   {"ce_type", "shop.order.placed"}, {"content-type", "application/json"}};
      r.value = "{\"orderId\":\"" + id + "\",\"total\":25,\"customer\":\"c-17\"}";
      (void)scratch.Append(r);
    }
    size_t rss1 = RssBytes();
    for (size_t i = 0; i < n; ++i) s.Append("d" + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the worker fills its window, retries
    size_t rss2 = RssBytes();
    auto st = s.dispatcher->GetStatus(subs.at(0).id);
    buffered = st.ok() ? st->buffered : 0;
    log_mb = (static_cast<double>(rss1) - static_cast<double>(rss0)) / 1e6;
    total_mb = (static_cast<double>(rss2) - static_cast<double>(rss1)) / 1e6;
    rss_end_mb = static_cast<double>(rss2) / 1e6;
  }
  state.counters["appended"] = static_cast<double>(n);
  state.counters["buffered_events"] = static_cast<double>(buffered);
  state.counters["rss_log_alone_MB"] = log_mb;
  state.counters["rss_log_plus_dispatcher_MB"] = total_mb;
  state.counters["rss_dispatcher_MB"] = total_mb - log_mb;
  state.counters["rss_process_MB"] = rss_end_mb;
}

BENCHMARK(BM_WebhookThroughput)->Arg(2000)->Arg(50000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
// Args: rate (0: half the measured max), events (seconds when the rate is 0), coalesce_max in
// us (-1: the default). The /0 variants run the same rate with coalescing off, for comparison.
BENCHMARK(BM_WebhookLatency)->Args({0, 5, 0})->Args({0, 5, -1})->Args({4000, 20000, -1})->Args({10000, 50000, 0})->Args({10000, 50000, -1})->Args({16000, 80000, -1})->Args({16000, 80000, 0})->Args({20000, 100000, -1})->Args({20000, 100000, 0})->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WebhookReceiverDown)->Arg(100000)->Arg(400000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ec::delivery

BENCHMARK_MAIN();
