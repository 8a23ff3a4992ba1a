#include "capture/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "capture/exchange_tracker.h"

// The byte pump is a small epoll loop per I/O thread instead of Asio: a keep-alive exchange
// then costs one read and one write per direction and no more (a short read means the socket
// is drained, and edge-triggered epoll reports the next bytes; no speculative read that ends
// in EAGAIN, no re-arming, no locks, no timers per request). Measured in bench/bench_proxy.sh.

namespace ec::capture {

namespace {

constexpr std::string_view k502 =
    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n"
    "Connection: close\r\n\r\neventception proxy: no upstream\n";
static_assert(k502.size() - k502.find("\r\n\r\n") - 4 == 32, "Content-Length of k502");

constexpr int kDrainAfter502Ms = 1000;  // how long unread request bytes are drained after a 502
constexpr int kSweepMs = 50;            // deadline resolution while connects/drains are pending
constexpr int kMaxAcceptBurst = 64;
// Out of descriptors or memory, accept() fails while the listening socket stays readable: a
// loop would spin on it at 100% CPU. It stops listening for this long instead, then retries.
constexpr int kAcceptPauseMs = 100;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Counters of one I/O thread (own cache line: threads never write each other's).
struct alignas(64) LoopCounters {
  std::atomic<uint64_t> accepted{0}, refused{0}, connect_failures{0}, exchanges{0}, untracked{0},
      tunnels{0}, c2u_bytes{0}, u2c_bytes{0}, accept_pauses{0};
};

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  // Only the owning thread writes: a plain load+store is enough and avoids a locked add.
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::string SockaddrIp(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, buf, sizeof buf);
  }
  return buf;
}

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

}  // namespace

class Loop;

struct CaptureProxy::Impl {
  ProxyOptions options;
  CaptureFn capture;
  std::vector<Endpoint> upstream;
  int listen_fd = -1;
  std::atomic<uint64_t> active{0};
  std::atomic<uint32_t> next_loop{0};  // round-robin owner of the next accepted connection
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};
};

namespace {

// One direction of a connection: bytes read from `src` wait in `buf[start, end)` until
// written to `dst`. Reading stops while bytes are pending (back-pressure).
struct Pipe {
  std::unique_ptr<char[]> buf;
  size_t cap = 0, start = 0, end = 0;
  bool readable = true;   // src may have bytes (cleared by EAGAIN or a short read)
  bool hup = false;       // src reported RDHUP/HUP: read until 0 even after short reads
  bool eof = false;       // src sent FIN
  bool blocked = false;   // dst's send buffer is full; EPOLLOUT clears it
  bool shut = false;      // FIN passed on to dst
};

}  // namespace

// One client connection and its upstream connection, owned by one Loop (one thread).
struct Conn {
  enum class State { kConnecting, kOpen, kReplying502, kDraining, kClosed };
  Conn(Loop* l, int c, std::string ip, const CaptureProxy::Impl& impl);
  Loop* loop;
  int cfd, ufd = -1;
  State state = State::kConnecting;
  size_t endpoint = 0;     // which upstream address is being tried
  int64_t deadline = 0;    // connect or drain deadline (steady ms); 0 = none
  bool timed = false;      // listed in Loop::timed_
  Pipe c2u, u2c;
  ExchangeTracker tracker;
};

class Loop {
 public:
  Loop(CaptureProxy::Impl* impl) : impl_(impl) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    Listen();
  }
  ~Loop() {
    for (auto& [fd, ip] : inbox_) close(fd);
    for (Conn* c : conns_) {
      CloseFds(c);
      delete c;
    }
    close(ep_);
    close(wake_);
  }

  void Run();
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_, &one, sizeof one);
  }
  // Gives this loop a connection another loop accepted (once per connection, never per request).
  void Hand(int fd, std::string ip) {
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      inbox_.emplace_back(fd, std::move(ip));
    }
    Wake();
  }
  LoopCounters counters;

 private:
  static constexpr uint64_t kWakeTag = 1, kListenTag = 2;  // Conn* are 8-aligned: never 1 or 2
  static uint64_t Tag(Conn* c, bool upstream) {
    return reinterpret_cast<uint64_t>(c) | (upstream ? 1 : 0);
  }

  void Accept();
  // Every loop waits on the one listening socket; EPOLLEXCLUSIVE wakes one of them per
  // connection instead of all. (An EPOLLEXCLUSIVE registration cannot be modified, so a pause
  // removes it and Listen adds it again.)
  void Listen() {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenTag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, impl_->listen_fd, &ev);
  }
  void PauseAccepting() {
    epoll_ctl(ep_, EPOLL_CTL_DEL, impl_->listen_fd, nullptr);
    accept_resume_at_ = NowMs() + kAcceptPauseMs;
    Bump(counters.accept_pauses);
  }
  int WaitTimeoutMs() const {
    int timeout = timed_.empty() ? -1 : kSweepMs;
    if (accept_resume_at_ != 0) {
      int left = static_cast<int>(std::max<int64_t>(0, accept_resume_at_ - NowMs()));
      timeout = timeout < 0 ? left : std::min(timeout, left);
    }
    return timeout;
  }
  void Adopt(int fd, std::string ip);
  void TakeInbox() {
    std::vector<std::pair<int, std::string>> fds;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      fds.swap(inbox_);
    }
    for (auto& [fd, ip] : fds) Adopt(fd, std::move(ip));
  }
  void StartConnect(Conn* c);
  void OnConnectDone(Conn* c);
  void ConnectFailed(Conn* c);
  void OnEvent(Conn* c, bool upstream, uint32_t events);
  void Service(Conn* c);
  enum class Io { kDone, kBlocked, kError };
  // Writes p's pending bytes to dst.
  static Io Flush(Pipe& p, int dst);
  // Moves bytes src -> dst until both sides would block; false when the connection closed.
  bool Pump(Conn* c, Pipe& p, int src, int dst, bool c2u);
  void Observe(Conn* c, bool c2u, std::string_view bytes);
  void CloseAll(Conn* c);
  static void CloseFds(Conn* c) {
    if (c->cfd >= 0) close(c->cfd);
    if (c->ufd >= 0) close(c->ufd);
    c->cfd = c->ufd = -1;
  }
  void SetDeadline(Conn* c, int64_t at) {
    c->deadline = at;
    if (!c->timed) {
      c->timed = true;
      timed_.push_back(c);
    }
  }
  void Sweep();

  CaptureProxy::Impl* impl_;
  int ep_ = -1, wake_ = -1;
  std::vector<Conn*> conns_;  // every live connection of this loop (for Stop)
  std::vector<Conn*> timed_;  // connections with a deadline (connecting, draining)
  std::vector<Conn*> dead_;   // closed during this batch of events; freed after it
  int64_t accept_resume_at_ = 0;  // while accepting is paused: when to listen again; else 0
  std::mutex inbox_mu_;
  std::vector<std::pair<int, std::string>> inbox_;  // accepted by another loop; guarded
};

Conn::Conn(Loop* l, int c, std::string ip, const CaptureProxy::Impl& impl)
    : loop(l),
      cfd(c),
      tracker(TrackerOptions{impl.options.max_body_bytes, impl.options.max_header_bytes, 64,
                             std::move(ip)},
              [counters = &l->counters, &impl](CapturedExchange&& x) {
                Bump(counters->exchanges);
                impl.capture(std::move(x));
              }) {
  size_t cap = std::max<size_t>(impl.options.io_buffer_bytes, 4096);
  c2u.buf.reset(new char[cap]);
  c2u.cap = cap;
  u2c.buf.reset(new char[cap]);
  u2c.cap = cap;
}

void Loop::Run() {
  std::vector<epoll_event> events(256);
  int64_t next_sweep = 0;
  while (!impl_->stopped.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), WaitTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_, &v, sizeof v);
        TakeInbox();
      } else if (tag == kListenTag) {
        Accept();
      } else {
        Conn* c = reinterpret_cast<Conn*>(tag & ~uint64_t{7});
        if (c->state != Conn::State::kClosed) OnEvent(c, (tag & 1) != 0, events[i].events);
      }
    }
    if (accept_resume_at_ != 0 && NowMs() >= accept_resume_at_) {
      accept_resume_at_ = 0;
      Listen();  // level-triggered: connections still queued are reported at once
    }
    if (!timed_.empty()) {
      int64_t now = NowMs();
      if (now >= next_sweep) {
        next_sweep = now + kSweepMs;
        Sweep();
      }
    }
    for (Conn* c : dead_) {
      if (c->timed) timed_.erase(std::find(timed_.begin(), timed_.end(), c));
      conns_.erase(std::find(conns_.begin(), conns_.end(), c));
      delete c;
    }
    dead_.clear();
  }
}

void Loop::Accept() {
  for (int i = 0; i < kMaxAcceptBurst; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = accept4(impl_->listen_fd, reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) PauseAccepting();
      return;  // EAGAIN: another loop took it, or nothing left; others: the next wake-up retries
    }
    Bump(counters.accepted);
    if (impl_->active.load(std::memory_order_relaxed) >= impl_->options.max_connections) {
      Bump(counters.refused);
      close(fd);
      continue;
    }
    impl_->active.fetch_add(1, std::memory_order_relaxed);
    // Round-robin over the loops: whichever loop the kernel wakes would otherwise take a
    // whole burst of connections (a load generator connects all at once).
    size_t n = impl_->loops.size();
    Loop* owner = impl_->loops[impl_->next_loop.fetch_add(1, std::memory_order_relaxed) % n].get();
    if (owner == this) {
      Adopt(fd, SockaddrIp(ss));
    } else {
      owner->Hand(fd, SockaddrIp(ss));
    }
  }
}

void Loop::Adopt(int fd, std::string ip) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Conn* c = new Conn(this, fd, std::move(ip), *impl_);
  conns_.push_back(c);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = Tag(c, false);
  epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  SetDeadline(c, NowMs() + impl_->options.connect_timeout_ms);
  StartConnect(c);
}

void Loop::StartConnect(Conn* c) {
  while (c->endpoint < impl_->upstream.size()) {
    const Endpoint& e = impl_->upstream[c->endpoint];
    int fd = socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0 ||
          errno == EINPROGRESS) {
        c->ufd = fd;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = Tag(c, true);
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
        return;  // EPOLLOUT (or an error) reports the outcome
      }
      close(fd);
    }
    ++c->endpoint;
  }
  ConnectFailed(c);
}

void Loop::OnConnectDone(Conn* c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    close(c->ufd);  // also leaves the epoll set
    c->ufd = -1;
    ++c->endpoint;
    return StartConnect(c);
  }
  c->state = Conn::State::kOpen;
  c->deadline = 0;
  Service(c);
}

// No upstream: the one answer the proxy gives itself, then a half-close and a short drain of
// the unread request (closing with unread bytes would reset the connection and lose the 502).
void Loop::ConnectFailed(Conn* c) {
  Bump(counters.connect_failures);
  if (c->ufd >= 0) {
    close(c->ufd);
    c->ufd = -1;
  }
  c->state = Conn::State::kReplying502;
  memcpy(c->u2c.buf.get(), k502.data(), k502.size());
  c->u2c.start = 0;
  c->u2c.end = k502.size();
  SetDeadline(c, NowMs() + kDrainAfter502Ms);
  Service(c);
}

void Loop::Sweep() {
  int64_t now = NowMs();
  for (size_t i = 0; i < timed_.size();) {
    Conn* c = timed_[i];
    if (c->state == Conn::State::kClosed) {  // leaves timed_ in the dead_ pass
      ++i;
      continue;
    }
    if (c->state == Conn::State::kOpen || c->deadline == 0) {
      c->timed = false;
      timed_[i] = timed_.back();
      timed_.pop_back();
      continue;
    }
    if (now >= c->deadline) {
      if (c->state == Conn::State::kConnecting) {
        ConnectFailed(c);  // now drains after the 502, with the drain's deadline
      } else {
        CloseAll(c);
      }
    }
    ++i;
  }
}

void Loop::OnEvent(Conn* c, bool upstream, uint32_t events) {
  bool in = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool hup = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  bool out = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  Pipe& from = upstream ? c->u2c : c->c2u;  // the pipe this socket feeds
  Pipe& to = upstream ? c->c2u : c->u2c;    // the pipe this socket drains
  if (in) from.readable = true;
  if (hup) from.hup = true;
  if (out) to.blocked = false;
  if (upstream && c->state == Conn::State::kConnecting) {
    if (out || hup) OnConnectDone(c);
    return;
  }
  Service(c);
}

void Loop::Service(Conn* c) {
  switch (c->state) {
    case Conn::State::kConnecting:
    case Conn::State::kClosed:
      return;
    case Conn::State::kOpen:
      // Responses first: they finish exchanges; then requests.
      if (!Pump(c, c->u2c, c->ufd, c->cfd, false)) return;
      if (!Pump(c, c->c2u, c->cfd, c->ufd, true)) return;
      if (c->c2u.shut && c->u2c.shut) CloseAll(c);
      return;
    case Conn::State::kReplying502: {
      Pipe& p = c->u2c;
      while (p.start < p.end && !p.blocked) {
        ssize_t w = send(c->cfd, p.buf.get() + p.start, p.end - p.start, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            p.blocked = errno == EAGAIN;
            continue;
          }
          return CloseAll(c);
        }
        p.start += static_cast<size_t>(w);
      }
      if (p.start < p.end) return;
      shutdown(c->cfd, SHUT_WR);
      c->state = Conn::State::kDraining;
      [[fallthrough]];
    }
    case Conn::State::kDraining:
      for (;;) {
        ssize_t r = recv(c->cfd, c->c2u.buf.get(), c->c2u.cap, 0);
        if (r > 0) continue;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        return CloseAll(c);  // EOF or error
      }
  }
}

Loop::Io Loop::Flush(Pipe& p, int dst) {
  while (p.start < p.end) {
    if (p.blocked) return Io::kBlocked;
    ssize_t w = send(dst, p.buf.get() + p.start, p.end - p.start, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Io::kError;
      p.blocked = true;
      return Io::kBlocked;
    }
    p.start += static_cast<size_t>(w);
    // A partial write filled the send buffer: EPOLLOUT (edge) says when there is room.
    if (p.start < p.end) p.blocked = true;
  }
  p.start = p.end = 0;
  return Io::kDone;
}

bool Loop::Pump(Conn* c, Pipe& p, int src, int dst, bool c2u) {
  for (;;) {
    Io f = Flush(p, dst);
    if (f == Io::kError) {
      CloseAll(c);
      return false;
    }
    if (f == Io::kBlocked) return true;
    if (p.eof) {
      if (!p.shut) {
        p.shut = true;
        shutdown(dst, SHUT_WR);  // pass the half-close on
      }
      return true;
    }
    if (!p.readable) return true;
    ssize_t r = recv(src, p.buf.get(), p.cap, 0);
    if (r > 0) {
      size_t n = static_cast<size_t>(r);
      // A short read drained the socket; edge-triggered epoll reports the next bytes. After
      // RDHUP keep reading until the 0 that says FIN.
      if (n < p.cap && !p.hup) p.readable = false;
      p.start = 0;
      p.end = n;
      // Forward first, record after: the tracker never delays the bytes.
      f = Flush(p, dst);
      if (f == Io::kError) {
        CloseAll(c);
        return false;
      }
      Bump(c2u ? counters.c2u_bytes : counters.u2c_bytes, n);
      Observe(c, c2u, {p.buf.get(), n});  // the bytes are still in buf: nothing reads it now
      if (c->state == Conn::State::kClosed) return false;
      if (f == Io::kBlocked) return true;
      continue;
    }
    if (r == 0) {
      p.eof = true;
      p.readable = false;
      if (!c2u) c->tracker.OnUpstreamEof();  // completes a read-until-close response
      continue;                               // passes the FIN on
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      p.readable = false;
      return true;
    }
    CloseAll(c);
    return false;
  }
}

void Loop::Observe(Conn* c, bool c2u, std::string_view bytes) {
  bool was_raw = c->tracker.raw();
  if (was_raw) return;
  if (c2u) {
    c->tracker.OnClientBytes(bytes);
  } else {
    c->tracker.OnUpstreamBytes(bytes);
  }
  if (c->tracker.raw()) Bump(c->tracker.tunnel() ? counters.tunnels : counters.untracked);
}

void Loop::CloseAll(Conn* c) {
  if (c->state == Conn::State::kClosed) return;
  c->state = Conn::State::kClosed;
  c->tracker.OnClose();
  CloseFds(c);
  impl_->active.fetch_sub(1, std::memory_order_relaxed);
  dead_.push_back(c);
}

}  // namespace ec::capture

namespace ec::capture {

Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return InvalidArgument("address \"" + std::string(text) + "\" is not HOST:PORT (e.g. 127.0.0.1:8081)");
  }
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value > 65535) {
    return InvalidArgument("port \"" + std::string(p) + "\" in \"" + std::string(text) +
                           "\" is not a number from 0 to 65535");
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Status ParseHttpUrl(std::string_view url, std::string* host, uint16_t* port) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("upstream \"" + std::string(url) +
                           "\" must start with http:// (TLS upstreams are not supported)");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return InvalidArgument("upstream \"" + std::string(url) +
                             "\" has a path; the proxy forwards request targets unchanged, give "
                             "only http://HOST:PORT");
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find(':') == std::string_view::npos || rest.back() == ']') {
    *host = std::string(rest);
    *port = 80;
    return Status::Ok();
  }
  return ParseHostPort(rest, host, port);
}

namespace {

// getaddrinfo into Endpoints; `what` names the option in errors.
Status Resolve(const std::string& host, uint16_t port, bool passive, const char* what,
               std::vector<Endpoint>* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  addrinfo* res = nullptr;
  int rc = getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return InvalidArgument(std::string(what) + " host \"" + host +
                           "\" does not resolve: " + gai_strerror(rc));
  }
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    Endpoint e;
    memcpy(&e.addr, a->ai_addr, a->ai_addrlen);
    e.len = a->ai_addrlen;
    e.family = a->ai_family;
    out->push_back(e);
  }
  freeaddrinfo(res);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<CaptureProxy>> CaptureProxy::Start(const ProxyOptions& options,
                                                          CaptureFn capture) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->capture = std::move(capture);
  std::string listen_host, up_host;
  uint16_t listen_port = 0, up_port = 0;
  EC_RETURN_IF_ERROR(ParseHostPort(options.listen, &listen_host, &listen_port));
  EC_RETURN_IF_ERROR(ParseHttpUrl(options.upstream, &up_host, &up_port));
  EC_RETURN_IF_ERROR(Resolve(up_host, up_port, false, "upstream", &impl->upstream));
  std::vector<Endpoint> listen_addrs;
  EC_RETURN_IF_ERROR(Resolve(listen_host, listen_port, true, "listen", &listen_addrs));
  const Endpoint& ep = listen_addrs.front();
  int fd = socket(ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    std::string why = strerror(errno);
    if (fd >= 0) close(fd);
    return IoError("cannot listen on " + options.listen + ": " + why);
  }
  impl->listen_fd = fd;
  int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) impl->loops.push_back(std::make_unique<Loop>(impl.get()));
  for (int i = 0; i < threads; ++i) {
    Loop* loop = impl->loops[i].get();
    impl->threads.emplace_back([loop] { loop->Run(); });
  }
  return std::unique_ptr<CaptureProxy>(new CaptureProxy(std::move(impl)));
}

CaptureProxy::CaptureProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CaptureProxy::~CaptureProxy() {
  Stop();
  impl_->loops.clear();  // closes what is still open
  if (impl_->listen_fd >= 0) close(impl_->listen_fd);
}

uint16_t CaptureProxy::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port);
}

std::string CaptureProxy::address() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
  std::string host = SockaddrIp(ss);
  if (ss.ss_family == AF_INET6) host = "[" + host + "]";
  return host + ":" + std::to_string(port());
}

ProxyStats CaptureProxy::stats() const {
  ProxyStats s;
  s.connections_active = impl_->active.load();
  for (const auto& l : impl_->loops) {
    const LoopCounters& c = l->counters;
    s.connections_accepted += c.accepted.load();
    s.connections_refused += c.refused.load();
    s.upstream_connect_failures += c.connect_failures.load();
    s.exchanges += c.exchanges.load();
    s.untracked_connections += c.untracked.load();
    s.tunnels += c.tunnels.load();
    s.accept_pauses += c.accept_pauses.load();
    s.bytes_client_to_upstream += c.c2u_bytes.load();
    s.bytes_upstream_to_client += c.u2c_bytes.load();
  }
  return s;
}

void CaptureProxy::Stop() {
  if (impl_->stopped.exchange(true)) return;
  for (auto& l : impl_->loops) l->Wake();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  // The listener stays bound until destruction so port()/address() keep answering; it is
  // no longer served, so close it now to refuse new clients.
  if (impl_->listen_fd >= 0) shutdown(impl_->listen_fd, SHUT_RDWR);
}

}  // namespace ec::capture
