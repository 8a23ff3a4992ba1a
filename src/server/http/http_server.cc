#include "server/http/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "server/http/gzip.h"

namespace ec::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, const Router* router)
      : options_(std::move(options)), router_(router), acceptor_(ioc_) {}

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
    DoAccept();
    int n = std::max(1, options_.threads);
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
    return Status::Ok();
  }

  void Stop(int grace_ms) {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  uint16_t port() const { return bound_port_; }
  const std::string& host() const { return options_.host; }

  const HttpServerOptions& options() const { return options_; }
  const Router* router() const { return router_; }
  std::atomic<int>& in_flight() { return in_flight_; }
  bool stopping() const { return stopped_.load(); }

 private:
  void DoAccept();

  HttpServerOptions options_;
  const Router* router_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_flight_{0};
  uint16_t bound_port_ = 0;
};

namespace {

// One connection: read a request, answer it, repeat while keep-alive holds. Only one operation
// is outstanding at a time, so the session needs no strand of its own.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(server_->options().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(server_->options().max_header_bytes));
    stream_.expires_after(std::chrono::seconds(server_->options().idle_timeout_seconds));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return WriteError(413, "body_too_large",
                        "request body exceeds the limit of " +
                            std::to_string(server_->options().max_body_bytes) +
                            " bytes (limits.max_body_bytes); split it into smaller batches");
    }
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "headers_too_large", "request headers are too large");
    }
    if (ec) {
      return WriteError(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    server_->in_flight()++;
    HttpResponse res = Handle(parser_->get());
    server_->in_flight()--;
    bool keep_alive = parser_->get().keep_alive() && !server_->stopping();
    Write(std::move(res), keep_alive);
  }

  HttpResponse Handle(bhttp::request<bhttp::string_body>& raw) {
    HttpRequest req;
    req.method = std::string(raw.method_string());
    req.target = std::string(raw.target());
    size_t q = req.target.find('?');
    req.path = PercentDecode(std::string_view(req.target).substr(0, q), false);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers.reserve(16);
    for (const auto& f : raw) req.headers.emplace_back(Lower(f.name_string()), std::string(f.value()));
    req.remote_address = remote_;
    std::string_view encoding = req.Header("content-encoding");
    if (encoding.empty() || encoding == "identity") {
      req.body = std::move(raw.body());
    } else if (encoding == "gzip" || encoding == "x-gzip" || encoding == "deflate") {
      Result<std::string> plain = Gunzip(raw.body(), server_->options().max_body_bytes);
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
    return server_->router()->Dispatch(req);
  }

  void WriteError(int status, std::string_view code, const std::string& message) {
    Write(HttpResponse::Error(status, code, message), false);
  }

  void Write(HttpResponse res, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(res.status));
    res_.set(bhttp::field::server, "eventception");
    res_.set(bhttp::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) res_.set(k, v);
    res_.body() = std::move(res.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    bhttp::async_write(stream_, res_,
                       [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         if (!keep_alive) return self->LingeringClose();
                         self->DoRead();
                       });
  }

  // After an answer that ends the connection (e.g. 413) the client may still be sending its
  // body; closing with unread data makes the kernel reset the connection and the client loses
  // the answer. So stop sending, then read and discard for at most 2 s before closing (nginx's
  // lingering close does the same).
  void LingeringClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    Drain();
  }
  void Drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::array<char, 16384> drain_buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::string remote_;
};

}  // namespace

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), this)->Run();
    }
    DoAccept();
  });
}

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
