#pragma once
// Outbound HTTP/1.1 for webhooks: keep-alive connection pools per origin, a deadline per request,
// and the SSRF guard applied to every resolved address. Beast stays in http_client.cc.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "delivery/ssrf_guard.h"

namespace boost::asio {
class io_context;
}

namespace ec::delivery {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  uint16_t port = 80;  // 443 by default for https
  std::string target;  // path and query, at least "/"
  std::string Origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
};

// Parses an absolute http:// or https:// URL. kInvalidArgument quoting the URL otherwise.
Result<Url> ParseUrl(std::string_view text);

struct ClientRequest {
  std::string method = "POST";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  // https only: PEM file of the CA certificate(s) that sign the receiver's certificate; empty:
  // the system trust store (HttpClientOptions::default_ca_file when set).
  std::string tls_ca_file;
  // When not empty: the request as it goes on the wire, serialized by the caller with
  // RequestStart, header lines and AppendRequestEnd; `method`, `headers` and `body` are then
  // not used. For a caller that sends many requests to one URL (a webhook worker): it saves
  // building a header list per request and checking it here.
  std::string wire;
};

// The start of a serialized request to `url`: the request line, then Host and User-Agent
// lines as SendAsync writes them (each left out when `host` / `user_agent` is false, i.e. the
// caller's headers carry their own).
std::string RequestStart(std::string_view method, const Url& url, bool host = true,
                         bool user_agent = true);
// "name: value" CRLF, or false (nothing appended) when the name is empty or not a token, or
// the value holds CR, LF or NUL: such a header cannot be carried as is.
bool AppendHeaderLine(std::string_view name, std::string_view value, std::string* wire);
// The end of a serialized request: Content-Length, Connection: keep-alive, the blank line and
// the body.
void AppendRequestEnd(std::string_view body, std::string* wire);
// The request's bytes as SendAsync writes them (`wire` when set). Header semantics as a map:
// a later header replaces an earlier one of the same name (case-insensitive), a caller's Host
// or User-Agent replaces ours; Content-Length and Connection are always ours.
// kInvalidArgument naming a header that cannot be carried.
Result<std::string> SerializeRequest(const ClientRequest& request);

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;  // at most HttpClientOptions::max_response_body bytes kept
  std::string_view Header(std::string_view name) const;
};

struct HttpClientOptions {
  size_t max_idle_per_origin = 64;
  size_t max_response_body = 64 * 1024;  // larger bodies are read and dropped past this
  SsrfGuard guard;
  std::string default_ca_file;  // https: used when a request names no CA file; empty: system
  // How often request deadlines are checked: one coarse timer for every exchange instead of a
  // timer per read and write (each of which would cost a timerfd syscall when it is the
  // earliest). A request times out between `timeout` and `timeout + deadline_tick`.
  std::chrono::milliseconds deadline_tick{10};
  // Only for a client on the caller's io_context: the response read of a plain request does not
  // start right after the request is written but when the caller calls StartDeferredReads
  // (before it waits). Asio attempts a read at once, which fails (a syscall for nothing) when
  // the receiver has not answered yet; started after the rest of a batch was written, it
  // often finds the response there.
  bool defer_reads = false;
};

// Thread-safe. One I/O thread runs every exchange asynchronously; each borrows a pooled
// keep-alive connection (or opens one) for its duration.
class HttpClient {
 public:
  using Callback = std::function<void(Result<ClientResponse>)>;

  // Starts its own I/O thread.
  explicit HttpClient(HttpClientOptions options = {});
  // Runs on `ioc`, which the caller runs (no thread of its own): a webhook worker drives its
  // deliveries from its own loop, so a completion needs no hand-over between threads. SendAsync
  // callbacks then run on the thread that runs `ioc`; Send must not be used. `ioc` must outlive
  // the client, and no exchange may be in flight when the client is destroyed.
  HttpClient(HttpClientOptions options, boost::asio::io_context* ioc);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends and waits for the response. Errors: kInvalidArgument (SSRF guard refused every
  // resolved address; unreadable CA file), kTimeout, kUnavailable (resolve/connect/IO failure,
  // TLS handshake failure such as an untrusted certificate, with OpenSSL's reason).
  // Must not be called from a SendAsync callback (that runs on the I/O thread).
  Result<ClientResponse> Send(const ClientRequest& request);
  // Starts the exchange and returns; `done` runs on the client's I/O thread (keep it short).
  void SendAsync(ClientRequest request, Callback done);

  // With HttpClientOptions::defer_reads: starts the response reads of the requests written
  // since the last call. Call it on the thread that runs the io_context, before each wait.
  void StartDeferredReads();

  // Connections opened so far (tests check that keep-alive reuses them).
  uint64_t connections_opened() const;

 // Defined in http_client.cc (public so its exchange operations can reach it).
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ec::delivery
