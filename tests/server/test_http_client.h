#pragma once
// A minimal blocking HTTP/1.1 client for tests (POSIX sockets): one connection, requests in
// sequence, so keep-alive can be observed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ec::server::testing {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& name) const {
    for (auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
};

class TestHttpClient {
 public:
  explicit TestHttpClient(uint16_t port) : port_(port) {}
  ~TestHttpClient() { Close(); }

  bool Connect() {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      Close();
      return false;
    }
    connects_++;
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  int connects() const { return connects_; }

  // Sends one request (reconnecting when the server closed the connection) and reads the answer.
  ClientResponse Request(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Connect()) return {};
      std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      if (!SendAll(req)) {
        Close();
        continue;
      }
      ClientResponse r;
      if (ReadResponse(&r)) return r;
      Close();
    }
    return {};
  }

  // Sends raw bytes and reads one response (for malformed requests).
  ClientResponse Raw(const std::string& bytes) {
    if (fd_ < 0 && !Connect()) return {};
    ClientResponse r;
    if (!SendAll(bytes) || !ReadResponse(&r)) Close();
    return r;
  }

 private:
  bool SendAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool ReadResponse(ClientResponse* r) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    r->status = std::stoi(status_line.substr(9, 3));
    size_t content_length = 0;
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string k = line.substr(0, colon);
      for (char& c : k) c = static_cast<char>(tolower(c));
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      if (k == "content-length") content_length = std::stoul(v);
      r->headers.emplace_back(k, v);
      pos = e + 2;
    }
    while (buf_.size() < content_length) {
      if (!Fill()) return false;
    }
    r->body = buf_.substr(0, content_length);
    buf_.erase(0, content_length);
    if (r->Header("connection") == "close") Close();
    return true;
  }

  uint16_t port_;
  int fd_ = -1;
  int connects_ = 0;
  std::string buf_;
};

}  // namespace ec::server::testing
