#include "capture/test_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

namespace ec::capture::testing {
namespace http = boost::beast::http;

namespace {

int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 128) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// Reads one request; returns false at EOF. Extra bytes stay in *pending.
bool ReadRequest(int fd, std::string* pending, std::string* log, http::request_parser<http::string_body>* p) {
  p->body_limit(std::numeric_limits<std::uint64_t>::max());
  p->eager(true);
  std::string& buf = *pending;
  char tmp[65536];
  for (;;) {
    if (!buf.empty()) {
      boost::beast::error_code ec;
      size_t n = p->put(boost::asio::buffer(buf), ec);
      buf.erase(0, n);
      if (ec && ec != http::error::need_more) { fprintf(stderr, "upstream parse error: %s\n", ec.message().c_str()); return false; }
      if (p->is_done()) return true;
      if (n > 0 && !buf.empty()) continue;
    }
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) return false;
    log->append(tmp, r);
    buf.append(tmp, r);
  }
}

}  // namespace

std::string BigBody(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
  return s;
}

int ConnectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t w = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (w <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

uint16_t FreePort() {
  uint16_t port = 0;
  int fd = Listen(&port);
  close(fd);
  return port;
}

std::string ReadOneResponse(int fd, std::string* pending, bool head) {
  http::response_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  if (head) p.skip(true);
  std::string raw;
  std::string& buf = *pending;
  char tmp[65536];
  for (;;) {
    if (!buf.empty()) {
      boost::beast::error_code ec;
      size_t n = p.put(boost::asio::buffer(buf), ec);
      raw.append(buf, 0, n);
      buf.erase(0, n);
      if (ec && ec != http::error::need_more) return "";
      if (p.is_done()) return raw;
      if (n > 0 && !buf.empty()) continue;
    }
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r == 0 && p.is_header_done() && p.need_eof()) {
      boost::beast::error_code ec;
      p.put_eof(ec);
      return ec ? "" : raw;
    }
    if (r <= 0) return "";
    buf.append(tmp, r);
  }
}

TestUpstream::TestUpstream() {
  listen_fd_ = Listen(&port_);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestUpstream::~TestUpstream() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : workers_) t.join();
  for (int fd : fds_) close(fd);
}

std::vector<std::string> TestUpstream::received() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::string TestUpstream::ingested() {
  std::lock_guard<std::mutex> lock(mu_);
  return ingested_;
}

void TestUpstream::AcceptLoop() {
  while (!stop_) {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      // A test may run the process out of descriptors for a while: wait and retry then.
      if (!stop_ && (errno == EMFILE || errno == ENFILE || errno == EINTR || errno == ECONNABORTED)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      index = received_.size();
      received_.emplace_back();
      fds_.push_back(fd);
    }
    connections_++;
    workers_.emplace_back([this, fd, index] { Serve(fd, index); });
  }
}

void TestUpstream::Serve(int fd, size_t index) {
  std::string pending, log;
  auto flush_log = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    received_[index].append(log);
    log.clear();
  };
  for (;;) {
    http::request_parser<http::string_body> p;
    bool ok = ReadRequest(fd, &pending, &log, &p);
    flush_log();
    if (!ok) break;
    auto& req = p.get();
    std::string target(req.target());
    std::string out;
    if (target.rfind("/echo", 0) == 0) {
      std::string ct(req[http::field::content_type]);
      out = "HTTP/1.1 200 OK\r\nContent-Type: " + (ct.empty() ? "text/plain" : ct) +
            "\r\nX-Upstream: test\r\nContent-Length: " + std::to_string(req.body().size()) +
            "\r\n\r\n" + req.body();
    } else if (target.rfind("/api/orders", 0) == 0 && req.method() == http::verb::post) {
      // The shop example's createOrder: 201 with the order id the client chose (X-Order-Id).
      std::string id(req["X-Order-Id"]);
      std::string body = "{\"id\":\"" + (id.empty() ? std::string("o-1") : id) + "\",\"status\":\"placed\"}";
      out = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    } else if (target == "/chunked") {
      out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      const char* parts[] = {"{\"a\":", "[1,2,", "3],", "\"b\":\"x\"", "}"};
      for (const char* part : parts) {
        char hex[32];
        snprintf(hex, sizeof hex, "%zx\r\n", strlen(part));
        out += hex;
        out += part;
        out += "\r\n";
      }
      out += "0\r\n\r\n";
    } else if (target.rfind("/big?n=", 0) == 0) {
      size_t n = std::stoul(target.substr(7));
      out = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
            std::to_string(n) + "\r\n\r\n";
      if (req.method() != http::verb::head) out += BigBody(n);
    } else if (target == "/close") {
      out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nbye until close";
      WriteAll(fd, out);
      break;
    } else if (target == "/ws" && p.upgrade()) {
      WriteAll(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
      std::string data = pending;
      if (!data.empty()) WriteAll(fd, data);
      char tmp[65536];
      for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r <= 0) break;
        WriteAll(fd, std::string_view(tmp, r));
      }
      break;
    } else if (target.rfind("/ingest", 0) == 0) {
      if (ingest_unavailable_) {
        out = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
      } else {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ingested_ += req.body();
        }
        out = "HTTP/1.1 204 No Content\r\n\r\n";
      }
    } else {
      std::string body = "{\"error\":\"not found\"}";
      out = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    if (!WriteAll(fd, out)) break;
  }
  shutdown(fd, SHUT_WR);  // closed by the destructor, so the number is not reused meanwhile
}

}  // namespace ec::capture::testing
