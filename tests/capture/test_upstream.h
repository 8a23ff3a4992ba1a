#pragma once
// A small HTTP/1.1 upstream for the capture tests: deterministic responses (no Date header),
// thread per connection, and a log of the raw bytes each connection received.
//   POST/PUT /echo...   200, body = request body, content-type copied
//   GET /chunked        200, chunked response in 5 chunks
//   GET /big?n=N        200, N bytes of a fixed pattern
//   GET /close          200 without Content-Length, ends by closing
//   GET /ws (Upgrade)   101, then echoes raw bytes until EOF
//   POST /ingest        204; the body is appended to ingested()
//   POST /api/orders    201 {"id": X-Order-Id header, "status": "placed"} (the shop example)
//   anything else       404 JSON

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ec::capture::testing {

class TestUpstream {
 public:
  TestUpstream();
  ~TestUpstream();
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Raw bytes received, one string per accepted connection, in accept order.
  std::vector<std::string> received();
  std::string ingested();
  int connections() const { return connections_.load(); }
  // While set, /ingest answers 503.
  void set_ingest_unavailable(bool v) { ingest_unavailable_ = v; }

 private:
  void AcceptLoop();
  void Serve(int fd, size_t index);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<bool> ingest_unavailable_{false};
  std::mutex mu_;
  std::vector<std::string> received_;
  std::vector<int> fds_;
  std::string ingested_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// The deterministic /big body.
std::string BigBody(size_t n);

// Reads exactly one HTTP response from `fd` (blocking), keeping extra bytes in `*pending`.
// `head` = the request was HEAD. Returns the raw bytes of the response, or "" on EOF/error.
std::string ReadOneResponse(int fd, std::string* pending, bool head = false);
// Connects to 127.0.0.1:port; -1 on failure.
int ConnectTo(uint16_t port);
bool WriteAll(int fd, std::string_view bytes);
// A port that was free a moment ago (bound then closed).
uint16_t FreePort();

}  // namespace ec::capture::testing
