#include "server/http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <thread>

#include "base/blocking_wait.h"
#include "server/http/gzip.h"

namespace ec::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A blocking socket as Beast's SyncReadStream/SyncWriteStream, with a deadline: each read or
// write waits in poll(2) until `deadline`, then fails with beast::error::timeout. The
// connection's own thread does every system call, so a request costs no hand-off between
// threads (no reactor, no strand, no futex wake-up).
class FdStream {
 public:
  explicit FdStream(int fd) : fd_(fd) {}
  void set_deadline(Clock::time_point t) { deadline_ = t; }

  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    iovec iov[8];
    int n = Gather(buffers, iov);
    for (;;) {
      if (!Wait(POLLIN, ec)) return 0;
      ssize_t got = ::readv(fd_, iov, n);
      if (got > 0) {
        ec = {};
        return static_cast<size_t>(got);
      }
      if (got == 0) {
        ec = asio::error::eof;
        return 0;
      }
      if (errno == EINTR || errno == EAGAIN) continue;
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    iovec iov[8];
    int n = Gather(buffers, iov);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    for (;;) {
      ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (sent >= 0) {
        ec = {};
        return static_cast<size_t>(sent);
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!Wait(POLLOUT, ec)) return 0;
        continue;
      }
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  template <typename Buffers>
  static int Gather(const Buffers& buffers, iovec* iov) {
    int n = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && n < 8; ++it) {
      auto b = *it;
      if (b.size() == 0) continue;
      iov[n].iov_base = const_cast<void*>(static_cast<const void*>(b.data()));
      iov[n].iov_len = b.size();
      ++n;
    }
    return n;
  }
  // Waits until the socket is ready for `events` or the deadline passes (ec = timeout).
  bool Wait(short events, boost::system::error_code& ec) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) {
        ec = beast::error::timeout;
        return false;
      }
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  int fd_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

}  // namespace

// One thread accepts; every connection gets a thread of its own that reads a request, runs its
// handler and writes the answer with plain system calls. Handlers may block (ingest waits for a
// durable append, long polls wait for records): that holds only their own connection. At most
// options.threads handlers run at once (a counting semaphore, uncontended in the common case).
class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, const Router* router)
      : options_(std::move(options)),
        router_(router),
        acceptor_(ioc_),
        handlers_(std::max(1, options_.threads)) {}

  Status Start() {
    boost::system::error_code ec;
    asio::ip::address addr = asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
    if (ec) return IoError("cannot listen on '" + options_.host + "': not an IP address");
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return IoError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                     ": " + ec.message() + "; pick another address with --http");
    }
    bound_port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ec-http-accept");  // for top/perf and the benchmark
      AcceptLoop();
    });
    return Status::Ok();
  }

  void Stop(int grace_ms) {
    if (stopped_.exchange(true)) return;
    // Wakes accept(2) (shutdown of a listening socket makes it fail with EINVAL).
    if (acceptor_.is_open()) ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    boost::system::error_code ec;
    acceptor_.close(ec);
    auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (in_flight_.load() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Idle keep-alive connections (and requests past the grace period) end now: their threads
    // see EOF or an error and exit.
    std::unique_lock lock(mu_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    live_cv_.wait(lock, [&] { return connections_.empty(); });
  }

  uint16_t port() const { return bound_port_; }
  const std::string& host() const { return options_.host; }

 private:
  void AcceptLoop() {
    const int lfd = acceptor_.native_handle();
    while (!stopped_.load()) {
      int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (stopped_.load()) return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));  // out of descriptors: back off
          continue;
        }
        return;  // the listener is gone
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      {
        std::lock_guard lock(mu_);
        if (stopped_.load() || connections_.size() >= options_.max_connections) {
          ::close(fd);  // over the connection limit: the client sees the connection closed
          continue;
        }
        connections_.insert(fd);
      }
      std::thread([this, fd] {
        pthread_setname_np(pthread_self(), "ec-http");  // for top/perf and the benchmark
        Serve(fd);
        {
          // Out of the set before the descriptor is closed, so Stop never shuts down a number
          // that open(2) has already handed to someone else.
          std::lock_guard lock(mu_);
          connections_.erase(fd);
          live_cv_.notify_all();
        }
        ::close(fd);
      }).detach();
    }
  }

  // Reads requests from `fd` and answers them while keep-alive holds.
  void Serve(int fd) {
    FdStream stream(fd);
    beast::flat_buffer buffer;
    std::string body;  // the request body; its capacity is kept for the connection's next request
    std::string remote;
    {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        tcp::endpoint ep;
        std::memcpy(ep.data(), &ss, std::min<size_t>(len, ep.capacity()));
        ep.resize(len);
        remote = ep.address().to_string() + ":" + std::to_string(ep.port());
      }
    }
    while (!stopped_.load()) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      stream.set_deadline(Clock::now() + std::chrono::seconds(options_.idle_timeout_seconds));
      beast::error_code ec;
      bhttp::read_header(stream, buffer, parser, ec);
      bool counted = false;
      if (!ec) {
        in_flight_++;
        counted = true;
        ec = ReadBody(stream, buffer, parser, &body);
      }
      struct Done {
        std::atomic<int>* n;
        bool on;
        ~Done() {
          if (on) (*n)--;
        }
      } done{&in_flight_, counted};
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
          (ec && stopped_.load())) {
        return;
      }
      if (ec == bhttp::error::body_limit) {
        return WriteErrorAndLinger(stream, fd, 413, "body_too_large",
                                   "request body exceeds the limit of " + std::to_string(options_.max_body_bytes) +
                                       " bytes (limits.max_body_bytes); split it into smaller batches");
      }
      if (ec == bhttp::error::header_limit) {
        return WriteErrorAndLinger(stream, fd, 431, "headers_too_large", "request headers are too large");
      }
      if (ec) {
        return WriteErrorAndLinger(stream, fd, 400, "bad_request", "malformed HTTP request: " + ec.message());
      }
      HttpResponse res;
      {
        handlers_.acquire();
        // A handler that waits long without working (a long poll) gives its slot back while
        // it waits (base/blocking_wait.h), so waiting consumers never hold ingest up.
        ScopedBlockingWaitHook lend(BlockingWaitHook{
            [](void* self) { static_cast<Impl*>(self)->handlers_.release(); },
            [](void* self) { static_cast<Impl*>(self)->handlers_.acquire(); }, this});
        res = Handle(parser.get(), &body, remote);
        handlers_.release();
      }
      bool keep_alive = parser.get().keep_alive() && !stopped_.load();
      if (!Write(stream, std::move(res), keep_alive)) return;
      if (!keep_alive) return LingeringClose(stream, fd);
      if (buffer.capacity() > (1u << 20)) buffer = beast::flat_buffer();  // a huge header was read
    }
  }

  // The body of a request whose header `parser` has read. With a Content-Length it is read
  // straight into `body` (one buffer, reused across the connection's requests, large reads);
  // a chunked body goes through Beast's parser.
  beast::error_code ReadBody(FdStream& stream, beast::flat_buffer& buffer,
                             bhttp::request_parser<bhttp::string_body>& parser, std::string* body) {
    beast::error_code ec;
    if (parser.is_done()) {  // no body
      body->clear();
      return ec;
    }
    boost::optional<uint64_t> length = parser.content_length();
    if (!length || parser.chunked()) {
      body->clear();
      bhttp::read(stream, buffer, parser, ec);
      if (!ec) body->swap(parser.get().body());
      return ec;
    }
    if (*length > options_.max_body_bytes) return bhttp::error::body_limit;
    const size_t n = static_cast<size_t>(*length);
    if (body->capacity() > 4 * n + (1u << 20)) std::string().swap(*body);  // don't hold a huge one
    // Only bytes beyond the buffer's last size are zero-filled (resize's fill); a shorter body
    // just shrinks it. Every byte of [0, n) is read over below.
    body->resize(std::max(n, body->size()));
    body->resize(n);
    size_t got = std::min(n, buffer.size());
    std::memcpy(body->data(), buffer.data().data(), got);
    buffer.consume(got);
    while (got < n) {
      size_t r = stream.read_some(asio::buffer(body->data() + got, n - got), ec);
      if (ec) return ec == asio::error::eof ? beast::error_code(bhttp::error::partial_message) : ec;
      got += r;
    }
    return ec;
  }

  HttpResponse Handle(bhttp::request<bhttp::string_body>& raw, std::string* body, const std::string& remote) {
    HttpRequest req;
    req.method = std::string(raw.method_string());
    req.target = std::string(raw.target());
    size_t q = req.target.find('?');
    req.path = PercentDecode(std::string_view(req.target).substr(0, q), false);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers.reserve(16);
    for (const auto& f : raw) req.headers.emplace_back(Lower(f.name_string()), std::string(f.value()));
    req.remote_address = remote;
    std::string_view encoding = req.Header("content-encoding");
    if (encoding.empty() || encoding == "identity") {
      req.body.swap(*body);
    } else if (encoding == "gzip" || encoding == "x-gzip" || encoding == "deflate") {
      Result<std::string> plain = Gunzip(*body, options_.max_body_bytes);
      if (!plain.ok()) {
        bool too_big = plain.status().code() == ErrorCode::kLimitExceeded;
        return HttpResponse::Error(too_big ? 413 : 400, too_big ? "body_too_large" : "bad_encoding",
                                   plain.status().message());
      }
      req.body = std::move(plain).value();
    } else {
      return HttpResponse::Error(415, "unsupported_encoding",
                                 "Content-Encoding '" + std::string(encoding) +
                                     "' is not supported; use gzip or none");
    }
    HttpResponse res = router_->Dispatch(req);
    // The body buffer goes back to the connection for its next request (handlers that kept
    // the body moved it out; then it is simply empty).
    if (encoding.empty() || encoding == "identity") req.body.swap(*body);
    return res;
  }

  bool Write(FdStream& stream, HttpResponse res, bool keep_alive) {
    bhttp::response<bhttp::string_body> out;
    out.version(11);
    out.result(static_cast<unsigned>(res.status));
    out.set(bhttp::field::server, "eventception");
    out.set(bhttp::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) out.set(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    stream.set_deadline(Clock::now() + std::chrono::seconds(options_.idle_timeout_seconds));
    beast::error_code ec;
    bhttp::write(stream, out, ec);
    return !ec;
  }

  void WriteErrorAndLinger(FdStream& stream, int fd, int status, std::string_view code, const std::string& message) {
    if (Write(stream, HttpResponse::Error(status, code, message), false)) LingeringClose(stream, fd);
  }

  // After an answer that ends the connection (e.g. 413) the client may still be sending its
  // body; closing with unread data makes the kernel reset the connection and the client loses
  // the answer. So stop sending, then read and discard for at most 2 s before closing (nginx's
  // lingering close does the same).
  void LingeringClose(FdStream& stream, int fd) {
    ::shutdown(fd, SHUT_WR);
    stream.set_deadline(Clock::now() + std::chrono::seconds(2));
    char drain[16384];
    beast::error_code ec;
    while (!ec) stream.read_some(asio::buffer(drain), ec);
  }

  HttpServerOptions options_;
  const Router* router_;
  asio::io_context ioc_;  // only to open the acceptor; never run
  tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::counting_semaphore<1 << 20> handlers_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_flight_{0};  // requests read and not yet answered
  std::mutex mu_;
  std::condition_variable live_cv_;
  std::set<int> connections_;  // sockets of live connection threads
  uint16_t bound_port_ = 0;
};

HttpServer::HttpServer(HttpServerOptions options, const Router* router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}
HttpServer::~HttpServer() { Stop(0); }
Status HttpServer::Start() { return impl_->Start(); }
void HttpServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }
uint16_t HttpServer::port() const { return impl_->port(); }
const std::string& HttpServer::host() const { return impl_->host(); }

Status ParseHostPort(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("address '" + addr + "' has no port; write HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string h = addr.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";
  std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    return InvalidArgument("address '" + addr + "' has a bad port '" + p +
                           "'; use a number from 0 to 65535 (0 picks a free port)");
  }
  *host = h;
  *port = static_cast<uint16_t>(std::stoul(p));
  return Status::Ok();
}

}  // namespace ec::server
