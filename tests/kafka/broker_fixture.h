#pragma once
// Test support: a broker on a free port over a temp data dir, and a blocking raw client that
// speaks our generated codecs (for byte-level and bad-input tests).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "kafka/protocol/header.h"
#include "kafka/server/server.h"
#include "log/log_manager.h"

namespace ec::kafka::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ec-kafka-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A running broker; Restart() keeps the data dir and the port.
class TestBroker {
 public:
  explicit TestBroker(ServerOptions opts = {}) : opts_(std::move(opts)) {
    opts_.listeners = {ListenerAddress{"127.0.0.1", 0}};
    Start();
  }
  ~TestBroker() { Stop(); }

  void Start() {
    log::LogManagerOptions lo;
    lo.data_dir = dir_.path();
    lo.maintenance_interval_ms = 0;
    auto lm = log::LogManager::Open(lo);
    if (!lm.ok()) throw std::runtime_error(lm.status().ToString());
    logs_ = std::move(lm).value();
    server_ = std::make_unique<Server>(opts_, logs_.get());
    Status st = server_->Start();
    if (!st.ok()) throw std::runtime_error(st.ToString());
    opts_.listeners[0].port = server_->bound_port();  // same port after a restart
  }
  void Stop() {
    server_.reset();
    logs_.reset();
  }
  void Restart() {
    Stop();
    Start();
  }
  uint16_t port() const { return opts_.listeners[0].port; }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port()); }
  log::LogManager* logs() { return logs_.get(); }
  Server* server() { return server_.get(); }
  std::string data_dir() const { return dir_.path(); }

 private:
  ServerOptions opts_;
  TempDir dir_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<Server> server_;
};

// A blocking client: one request at a time (or raw bytes for bad-input tests).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      throw std::runtime_error("connect failed");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }

  bool SendRaw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads one size-prefixed frame; nullopt on close or timeout.
  std::optional<std::string> ReadFrame() {
    std::string size(4, '\0');
    if (!ReadExact(size.data(), 4)) return std::nullopt;
    uint32_t n = (uint8_t(size[0]) << 24) | (uint8_t(size[1]) << 16) | (uint8_t(size[2]) << 8) |
                 uint8_t(size[3]);
    std::string body(n, '\0');
    if (!ReadExact(body.data(), n)) return std::nullopt;
    return body;
  }
  // True once the server closed the connection (read returns 0).
  bool ClosedByPeer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0;
  }

  template <typename Req>
  std::string Frame(const Req& req, int16_t version, int32_t corr) {
    Writer w;
    w.WriteInt32(0);
    RequestHeader h{Req::kApiKey, version, corr, std::string("raw-test")};
    EncodeRequestHeader(w, h, RequestHeaderVersion(Req::IsFlexible(version)));
    req.Encode(w, version);
    w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
    std::string out;
    for (auto p : w.Gather()) out.append(p);
    return out;
  }

  // Sends `req` and decodes the response; throws on transport or decode failure.
  template <typename Resp, typename Req>
  Resp Call(const Req& req, int16_t version) {
    int32_t corr = ++corr_;
    if (!SendRaw(Frame(req, version, corr))) throw std::runtime_error("send failed");
    auto frame = ReadFrame();
    if (!frame) throw std::runtime_error("no response");
    Reader r(*frame);
    int32_t got = 0;
    Status st = DecodeResponseHeader(r, ResponseHeaderVersion(Req::kApiKey, Resp::IsFlexible(version)), got);
    if (!st.ok() || got != corr) throw std::runtime_error("bad response header");
    Resp resp;
    st = resp.Decode(r, version);
    if (!st.ok()) throw std::runtime_error(st.ToString());
    return resp;
  }

 private:
  bool ReadExact(char* p, size_t n) {
    while (n > 0) {
      ssize_t k = ::recv(fd_, p, n, 0);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  }
  int fd_ = -1;
  int32_t corr_ = 0;
};

}  // namespace ec::kafka::testing
