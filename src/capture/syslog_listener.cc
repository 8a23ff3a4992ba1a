#include "capture/syslog_listener.h"

#include <pthread.h>

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>
#include <vector>

#include "capture/proxy.h"  // ParseHostPort

namespace ec::capture {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using boost::system::error_code;

struct SyslogListener::Impl {
  std::atomic<uint64_t> received{0}, delivered{0}, malformed{0}, oversized{0}, tcp_connections{0},
      tcp_refused{0};
  std::atomic<uint64_t> active{0};
  SyslogListenerOptions options;
  MessageFn on_message;
  MessageViewFn on_message_view;  // when set, used instead of on_message (no copies)
  DeadLetterFn on_dead_letter;
  BatchEndFn on_batch_end;
  asio::io_context ioc;
  udp::socket udp_socket{ioc};
  tcp::acceptor acceptor{ioc};
  // recvmmsg(2) state: kDatagramsPerCall buffers of 64 KiB (the largest UDP payload), so one
  // system call takes up to that many datagrams when they queue up under load.
  static constexpr size_t kDatagramsPerCall = 32;
  std::vector<char> datagrams;
  std::vector<mmsghdr> headers;
  std::vector<iovec> iovecs;
  std::thread thread;
  std::atomic<bool> stopped{false};

  void Handle(std::string_view raw) {
    received.fetch_add(1, std::memory_order_relaxed);
    if (raw.size() > options.max_message_bytes) {
      return Bad(raw, LimitExceeded("syslog message of " + std::to_string(raw.size()) +
                                    " bytes exceeds the limit of " +
                                    std::to_string(options.max_message_bytes)));
    }
    if (on_message_view) {
      Result<SyslogView> view = ParseSyslogView(raw, options.parse);
      if (!view.ok()) {
        malformed.fetch_add(1, std::memory_order_relaxed);
        on_dead_letter(raw, view.status());
        return;
      }
      delivered.fetch_add(1, std::memory_order_relaxed);
      on_message_view(*view);
      return;
    }
    auto parsed = ParseSyslog(raw, options.parse);
    if (!parsed.ok()) {
      malformed.fetch_add(1, std::memory_order_relaxed);
      on_dead_letter(raw, parsed.status());
      return;
    }
    delivered.fetch_add(1, std::memory_order_relaxed);
    on_message(std::move(parsed).value());
  }

  void BatchEnd() {
    if (on_batch_end) on_batch_end();
  }

  void Bad(std::string_view raw, const Status& why) {
    (why.code() == ErrorCode::kLimitExceeded ? oversized : malformed)
        .fetch_add(1, std::memory_order_relaxed);
    on_dead_letter(raw, why);
  }

  void ReceiveUdp() {
    udp_socket.async_wait(udp::socket::wait_read, [this](error_code ec) {
      if (ec == asio::error::operation_aborted || !udp_socket.is_open()) return;
      if (!ec) DrainUdp();
      ReceiveUdp();
    });
  }

  // Takes every queued datagram, kDatagramsPerCall per recvmmsg, without blocking.
  void DrainUdp() {
    const int fd = udp_socket.native_handle();
    for (int rounds = 0; rounds < 64; ++rounds) {  // then let TCP peers have the thread
      for (size_t i = 0; i < kDatagramsPerCall; ++i) {
        iovecs[i] = {datagrams.data() + i * kMaxDatagram, kMaxDatagram};
        headers[i] = {};
        headers[i].msg_hdr.msg_iov = &iovecs[i];
        headers[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd, headers.data(), kDatagramsPerCall, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;  // EAGAIN: drained (other errors: the next wait reports them)
      for (int i = 0; i < n; ++i) {
        Handle(std::string_view(datagrams.data() + static_cast<size_t>(i) * kMaxDatagram, headers[i].msg_len));
      }
      BatchEnd();
      if (static_cast<size_t>(n) < kDatagramsPerCall) return;
    }
  }
  static constexpr size_t kMaxDatagram = 65536;

  void Accept();
};

namespace {

class TcpPeer : public std::enable_shared_from_this<TcpPeer> {
 public:
  TcpPeer(SyslogListener::Impl* impl, tcp::socket socket)
      : impl_(impl),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        framer_(
            impl->options.max_message_bytes, [impl](std::string_view f) { impl->Handle(f); },
            [impl](std::string_view raw, const Status& why) {
              impl->received.fetch_add(1, std::memory_order_relaxed);
              impl->Bad(raw, why);
            }),
        buf_(64 << 10) {
    impl_->active.fetch_add(1);
  }
  ~TcpPeer() { impl_->active.fetch_sub(1); }

  void Start() { Read(); }

 private:
  void Read() {
    timer_.expires_after(std::chrono::milliseconds(impl_->options.idle_timeout_ms));
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        error_code ignored;
        self->socket_.close(ignored);
      }
    });
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](error_code ec, size_t n) {
      self->timer_.cancel();
      if (ec) {
        if (ec == asio::error::eof) self->framer_.Finish();
        self->impl_->BatchEnd();
        error_code ignored;
        self->socket_.close(ignored);
        return;
      }
      self->framer_.Feed(std::string_view(self->buf_.data(), n));
      self->impl_->BatchEnd();
      self->Read();
    });
  }

  SyslogListener::Impl* impl_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  SyslogFramer framer_;
  std::vector<char> buf_;
};

}  // namespace

void SyslogListener::Impl::Accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) {
      tcp_connections.fetch_add(1, std::memory_order_relaxed);
      if (active.load() >= options.max_connections) {
        tcp_refused.fetch_add(1, std::memory_order_relaxed);
        error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<TcpPeer>(this, std::move(socket))->Start();
      }
    }
    Accept();
  });
}

Result<std::unique_ptr<SyslogListener>> SyslogListener::StartViews(const SyslogListenerOptions& options,
                                                                   MessageViewFn on_message,
                                                                   DeadLetterFn on_dead_letter,
                                                                   BatchEndFn on_batch_end) {
  return StartWith(options, nullptr, std::move(on_message), std::move(on_dead_letter), std::move(on_batch_end));
}

Result<std::unique_ptr<SyslogListener>> SyslogListener::Start(const SyslogListenerOptions& options,
                                                              MessageFn on_message,
                                                              DeadLetterFn on_dead_letter,
                                                              BatchEndFn on_batch_end) {
  return StartWith(options, std::move(on_message), nullptr, std::move(on_dead_letter), std::move(on_batch_end));
}

Result<std::unique_ptr<SyslogListener>> SyslogListener::StartWith(const SyslogListenerOptions& options,
                                                                  MessageFn on_message,
                                                                  MessageViewFn on_message_view,
                                                                  DeadLetterFn on_dead_letter,
                                                                  BatchEndFn on_batch_end) {
  if (options.udp_listen.empty() && options.tcp_listen.empty()) {
    return InvalidArgument("the syslog listener needs a UDP or a TCP address (HOST:PORT)");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->on_message = std::move(on_message);
  impl->on_message_view = std::move(on_message_view);
  impl->on_dead_letter = std::move(on_dead_letter);
  impl->on_batch_end = std::move(on_batch_end);
  impl->datagrams.resize(Impl::kDatagramsPerCall * Impl::kMaxDatagram);
  impl->headers.resize(Impl::kDatagramsPerCall);
  impl->iovecs.resize(Impl::kDatagramsPerCall);
  error_code ec;
  if (!options.udp_listen.empty()) {
    std::string host;
    uint16_t port;
    EC_RETURN_IF_ERROR(ParseHostPort(options.udp_listen, &host, &port));
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return InvalidArgument("syslog UDP address \"" + host + "\" is not an IP address");
    udp::endpoint ep(addr, port);
    impl->udp_socket.open(ep.protocol(), ec);
    if (!ec) impl->udp_socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
    ec.clear();  // a smaller kernel buffer is not fatal
    impl->udp_socket.bind(ep, ec);
    if (!ec) impl->udp_socket.non_blocking(true, ec);
    if (ec) return IoError("cannot listen on UDP " + options.udp_listen + ": " + ec.message());
    impl->ReceiveUdp();
  }
  if (!options.tcp_listen.empty()) {
    std::string host;
    uint16_t port;
    EC_RETURN_IF_ERROR(ParseHostPort(options.tcp_listen, &host, &port));
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return InvalidArgument("syslog TCP address \"" + host + "\" is not an IP address");
    tcp::endpoint ep(addr, port);
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return IoError("cannot listen on TCP " + options.tcp_listen + ": " + ec.message());
    impl->Accept();
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "ec-syslog");  // for top/perf and the benchmark
    raw->ioc.run();
  });
  return std::unique_ptr<SyslogListener>(new SyslogListener(std::move(impl)));
}

SyslogListener::SyslogListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyslogListener::~SyslogListener() { Stop(); }

uint16_t SyslogListener::udp_port() const {
  error_code ec;
  return impl_->udp_socket.is_open() ? impl_->udp_socket.local_endpoint(ec).port() : 0;
}

uint16_t SyslogListener::tcp_port() const {
  error_code ec;
  return impl_->acceptor.is_open() ? impl_->acceptor.local_endpoint(ec).port() : 0;
}

SyslogStats SyslogListener::stats() const {
  SyslogStats s;
  s.received = impl_->received.load();
  s.delivered = impl_->delivered.load();
  s.malformed = impl_->malformed.load();
  s.oversized = impl_->oversized.load();
  s.tcp_connections = impl_->tcp_connections.load();
  s.tcp_refused = impl_->tcp_refused.load();
  return s;
}

void SyslogListener::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ec::capture
