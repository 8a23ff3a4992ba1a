#pragma once
// A small real HTTP/1.1 webhook receiver for tests and the benchmark: Beast, one thread per
// connection, keep-alive, on 127.0.0.1 with a free port. The handler decides each answer.
// With a TLS context it serves https (the test supplies the certificate).

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ec::delivery::testing {

struct ReceivedRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::chrono::steady_clock::time_point at;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

struct Reply {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers{};
  std::chrono::milliseconds delay{0};  // sleep before answering (timeouts)
};

class TestReceiver {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  explicit TestReceiver(Handler handler,
                        std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : handler_(std::move(handler)), tls_(std::move(tls)) {
    namespace asio = boost::asio;
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestReceiver() {
    stop_ = true;
    boost::system::error_code ec;
    {
      // A blocking accept() is not woken by close(); a connection wakes it.
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket s(ioc);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    }
    accept_thread_.join();
    acceptor_.close(ec);
    std::vector<std::thread> conns;
    {
      std::lock_guard lock(mu_);
      for (auto& s : sockets_) s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      conns.swap(conn_threads_);
    }
    for (auto& t : conns) t.join();
  }

  uint16_t port() const { return port_; }
  std::string Url(std::string_view path = "/hook") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           std::string(path);
  }
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      auto sock = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      if (stop_) return;
      if (ec) continue;
      connections_++;
      sock->set_option(boost::asio::ip::tcp::no_delay(true), ec);
      std::lock_guard lock(mu_);
      sockets_.push_back(sock);
      conn_threads_.emplace_back([this, sock] { Serve(*sock); });
    }
  }

  void Serve(boost::asio::ip::tcp::socket& sock) {
    if (!tls_) return ServeOn(sock);
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket&> s(sock, *tls_);
    boost::system::error_code ec;
    s.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) {
      tls_failures_++;
      return;
    }
    ServeOn(s);
  }

 public:
  int tls_failures() const { return tls_failures_.load(); }

 private:
  template <class Stream>
  void ServeOn(Stream& sock) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(sock, buf, req, ec);
      if (ec) return;
      ReceivedRequest r;
      r.at = std::chrono::steady_clock::now();
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      r.body = std::move(req.body());
      for (const auto& f : req) {
        std::string n(f.name_string());
        for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers.emplace_back(std::move(n), std::string(f.value()));
      }
      Reply reply = handler_(r);
      if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.body() = reply.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  Handler handler_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::atomic<int> tls_failures_{0};
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> conn_threads_;
};

}  // namespace ec::delivery::testing
