#include "capture/proxy.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <thread>
#include <vector>

#include "capture/exchange_tracker.h"

namespace ec::capture {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct CaptureProxy::Impl {
  // Counters first: sessions still running while the io_context is torn down update them.
  std::atomic<uint64_t> accepted{0}, active{0}, refused{0}, connect_failures{0}, exchanges{0},
      untracked{0}, tunnels{0}, c2u_bytes{0}, u2c_bytes{0};
  ProxyOptions options;
  CaptureFn capture;
  tcp::resolver::results_type upstream_endpoints;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};

  void Accept();
};

namespace {

constexpr std::string_view k502 =
    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n"
    "Connection: close\r\n\r\neventception proxy: no upstream\n";
static_assert(k502.size() - k502.find("\r\n\r\n") - 4 == 32, "Content-Length of k502");

// One client connection and its upstream connection; every handler runs on one strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(CaptureProxy::Impl* impl, tcp::socket client, std::string client_ip)
      : impl_(impl),
        client_(std::move(client)),
        upstream_(client_.get_executor()),
        timer_(client_.get_executor()),
        tracker_(TrackerOptions{impl->options.max_body_bytes, impl->options.max_header_bytes, 64,
                                std::move(client_ip)},
                 [impl](CapturedExchange&& x) {
                   impl->exchanges.fetch_add(1, std::memory_order_relaxed);
                   impl->capture(std::move(x));
                 }),
        c2u_(impl->options.io_buffer_bytes),
        u2c_(impl->options.io_buffer_bytes) {
    impl_->active.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { impl_->active.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    timer_.expires_after(std::chrono::milliseconds(impl_->options.connect_timeout_ms));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->connected_) self->upstream_.close();
    });
    asio::async_connect(upstream_, impl_->upstream_endpoints,
                        [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
                          self->OnConnected(ec);
                        });
  }

 private:
  void OnConnected(error_code ec) {
    timer_.cancel();
    if (ec) {
      impl_->connect_failures.fetch_add(1, std::memory_order_relaxed);
      asio::async_write(client_, asio::buffer(k502.data(), k502.size()),
                        [self = shared_from_this()](error_code ec, size_t) {
                          if (ec) return self->CloseAll();
                          // Closing with unread request bytes would reset the connection and
                          // lose the 502: half-close, then drain for a moment.
                          error_code ignored;
                          self->client_.shutdown(tcp::socket::shutdown_send, ignored);
                          self->timer_.expires_after(std::chrono::seconds(1));
                          self->timer_.async_wait([self](error_code) { self->CloseAll(); });
                          self->Drain();
                        });
      return;
    }
    connected_ = true;
    error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    upstream_.set_option(tcp::no_delay(true), ignored);
    ReadClient();
    ReadUpstream();
  }

  void Drain() {
    client_.async_read_some(asio::buffer(c2u_), [self = shared_from_this()](error_code ec, size_t) {
      if (ec) return self->CloseAll();
      self->Drain();
    });
  }

  void ReadClient() {
    client_.async_read_some(asio::buffer(c2u_), [self = shared_from_this()](error_code ec, size_t n) {
      self->OnClientRead(ec, n);
    });
  }

  void OnClientRead(error_code ec, size_t n) {
    if (ec) {
      if (ec != asio::error::eof) return CloseAll();
      client_eof_ = true;
      error_code ignored;
      upstream_.shutdown(tcp::socket::shutdown_send, ignored);  // pass the half-close on
      return MaybeClose();
    }
    impl_->c2u_bytes.fetch_add(n, std::memory_order_relaxed);
    Observe([&] { tracker_.OnClientBytes({c2u_.data(), n}); });
    asio::async_write(upstream_, asio::buffer(c2u_.data(), n),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->CloseAll();
                        self->ReadClient();
                      });
  }

  void ReadUpstream() {
    upstream_.async_read_some(asio::buffer(u2c_), [self = shared_from_this()](error_code ec, size_t n) {
      self->OnUpstreamRead(ec, n);
    });
  }

  void OnUpstreamRead(error_code ec, size_t n) {
    if (ec) {
      if (ec != asio::error::eof) return CloseAll();
      upstream_eof_ = true;
      Observe([&] { tracker_.OnUpstreamEof(); });
      error_code ignored;
      client_.shutdown(tcp::socket::shutdown_send, ignored);
      return MaybeClose();
    }
    impl_->u2c_bytes.fetch_add(n, std::memory_order_relaxed);
    Observe([&] { tracker_.OnUpstreamBytes({u2c_.data(), n}); });
    asio::async_write(client_, asio::buffer(u2c_.data(), n),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->CloseAll();
                        self->ReadUpstream();
                      });
  }

  // Runs a tracker step and counts the moment it stops tracking.
  template <typename F>
  void Observe(F f) {
    bool was_raw = tracker_.raw();
    f();
    if (!was_raw && tracker_.raw()) {
      (tracker_.tunnel() ? impl_->tunnels : impl_->untracked).fetch_add(1, std::memory_order_relaxed);
    }
  }

  void MaybeClose() {
    if (client_eof_ && upstream_eof_) CloseAll();
  }

  void CloseAll() {
    if (closed_) return;
    closed_ = true;
    tracker_.OnClose();
    error_code ignored;
    timer_.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
  }

  CaptureProxy::Impl* impl_;
  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer timer_;
  ExchangeTracker tracker_;
  std::vector<char> c2u_, u2c_;
  bool connected_ = false, client_eof_ = false, upstream_eof_ = false, closed_ = false;
};

}  // namespace

void CaptureProxy::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open()) return;  // stopping
    } else {
      accepted.fetch_add(1, std::memory_order_relaxed);
      if (active.load(std::memory_order_relaxed) >= options.max_connections) {
        refused.fetch_add(1, std::memory_order_relaxed);
        error_code ignored;
        socket.close(ignored);
      } else {
        error_code ep_ec;
        tcp::endpoint remote = socket.remote_endpoint(ep_ec);
        std::string ip = ep_ec ? std::string() : remote.address().to_string();
        std::make_shared<Session>(this, std::move(socket), std::move(ip))->Start();
      }
    }
    Accept();
  });
}

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

Result<std::unique_ptr<CaptureProxy>> CaptureProxy::Start(const ProxyOptions& options,
                                                          CaptureFn capture) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->capture = std::move(capture);
  std::string listen_host, up_host;
  uint16_t listen_port = 0, up_port = 0;
  EC_RETURN_IF_ERROR(ParseHostPort(options.listen, &listen_host, &listen_port));
  EC_RETURN_IF_ERROR(ParseHttpUrl(options.upstream, &up_host, &up_port));
  error_code ec;
  tcp::resolver resolver(impl->ioc);
  impl->upstream_endpoints = resolver.resolve(up_host, std::to_string(up_port), ec);
  if (ec) {
    return InvalidArgument("upstream host \"" + up_host + "\" does not resolve: " + ec.message());
  }
  auto listen_addrs = resolver.resolve(listen_host, std::to_string(listen_port),
                                       tcp::resolver::passive, ec);
  if (ec || listen_addrs.empty()) {
    return InvalidArgument("listen host \"" + listen_host + "\" does not resolve: " + ec.message());
  }
  tcp::endpoint ep = listen_addrs.begin()->endpoint();
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return IoError("cannot listen on " + options.listen + ": " + ec.message());
  impl->Accept();
  int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) {
    Impl* raw = impl.get();
    impl->threads.emplace_back([raw] { raw->ioc.run(); });
  }
  return std::unique_ptr<CaptureProxy>(new CaptureProxy(std::move(impl)));
}

CaptureProxy::CaptureProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CaptureProxy::~CaptureProxy() { Stop(); }

uint16_t CaptureProxy::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

std::string CaptureProxy::address() const {
  error_code ec;
  tcp::endpoint ep = impl_->acceptor.local_endpoint(ec);
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

ProxyStats CaptureProxy::stats() const {
  const Impl& m = *impl_;
  ProxyStats s;
  s.connections_accepted = m.accepted.load();
  s.connections_active = m.active.load();
  s.connections_refused = m.refused.load();
  s.upstream_connect_failures = m.connect_failures.load();
  s.exchanges = m.exchanges.load();
  s.untracked_connections = m.untracked.load();
  s.tunnels = m.tunnels.load();
  s.bytes_client_to_upstream = m.c2u_bytes.load();
  s.bytes_upstream_to_client = m.u2c_bytes.load();
  return s;
}

void CaptureProxy::Stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [m = impl_.get()] {
    error_code ignored;
    m->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace ec::capture
