#pragma once
// An HTTP/1.1 server (Boost.Beast's parser inside; this header stays free of it): keep-alive, a
// body limit, gzip request bodies, graceful stop. Each connection has a thread of its own that
// reads, handles and answers its requests with plain blocking system calls (no reactor, no
// hand-off between threads per request). Handlers may block (ingest waits for a durable append,
// long polls for records): that holds only their connection; `threads` bounds how many handlers
// run at once.

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "server/http/router.h"

namespace ec::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;           // 0 picks a free port; see HttpServer::port()
  size_t max_body_bytes = 16 << 20;  // compressed and decompressed; larger bodies get 413
  size_t max_header_bytes = 64 << 10;
  int threads = 4;                 // handlers running at once; more requests wait for one to end
  size_t max_connections = 1024;   // connections (and their threads); more are closed at once
  int idle_timeout_seconds = 60;  // keep-alive connections idle longer are closed
};

class HttpServer {
 public:
  // `router` must outlive the server.
  HttpServer(HttpServerOptions options, const Router* router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O threads. Errors: kIoError naming the address (in use, bad host).
  Status Start();
  // Stops accepting, waits up to `grace_ms` for requests in flight, then closes everything.
  void Stop(int grace_ms = 5000);

  // The bound port (the real one when options.port was 0); valid after Start().
  uint16_t port() const;
  const std::string& host() const;

  class Impl;  // public only so the connection code in http_server.cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" (or ":port", "[v6]:port"). Errors: kInvalidArgument quoting `addr`.
Status ParseHostPort(const std::string& addr, std::string* host, uint16_t* port);

}  // namespace ec::server
