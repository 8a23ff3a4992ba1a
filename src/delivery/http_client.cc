#include "delivery/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace ec::delivery {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

Result<Url> ParseUrl(std::string_view text) {
  Url u;
  auto bad = [&](std::string_view why) {
    return InvalidArgument("URL '" + std::string(text) + "': " + std::string(why) +
                           "; write e.g. http://hooks.example.com/events");
  };
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) return bad("no scheme");
  u.scheme = std::string(text.substr(0, colon));
  if (u.scheme != "http" && u.scheme != "https") return bad("scheme must be http or https");
  if (u.scheme == "https") u.port = 443;
  std::string_view rest = text.substr(colon + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not allowed (use \"auth\")");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after ']'");
      port_text = after.substr(1);
    }
  } else {
    size_t c = authority.rfind(':');
    u.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) port_text = authority.substr(c + 1);
  }
  if (u.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p == 0 || p > 65535) {
      return bad("port must be 1..65535");
    }
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}


std::string RequestStart(std::string_view method, const Url& url, bool host, bool user_agent) {
  std::string w;
  w.reserve(method.size() + url.target.size() + url.host.size() + 96);
  w += method;
  w += ' ';
  w += url.target;
  w += " HTTP/1.1\r\n";
  if (host) {
    bool default_port = url.port == (url.scheme == "https" ? 443 : 80);
    bool v6 = url.host.find(':') != std::string::npos;
    w += "Host: ";
    if (v6) w += '[';
    w += url.host;
    if (v6) w += ']';
    if (!default_port) {
      w += ':';
      w += std::to_string(url.port);
    }
    w += "\r\n";
  }
  if (user_agent) w += "User-Agent: eventception-webhooks/1\r\n";
  return w;
}

namespace {

// RFC 9110 token characters (a header name).
bool IsTokenChar(unsigned char c) {
  static const bool* table = [] {
    static bool t[256] = {};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  return table[c];
}

}  // namespace

bool AppendHeaderLine(std::string_view name, std::string_view value, std::string* wire) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  wire->append(name);
  wire->append(": ");
  wire->append(value);
  wire->append("\r\n");
  return true;
}

void AppendRequestEnd(std::string_view body, std::string* wire) {
  char len[24];
  auto end = std::to_chars(len, len + sizeof len, body.size()).ptr;
  wire->append("Content-Length: ");
  wire->append(len, end);
  wire->append("\r\nConnection: keep-alive\r\n\r\n");
  wire->append(body);
}

Result<std::string> SerializeRequest(const ClientRequest& r) {
  if (!r.wire.empty()) return r.wire;
  auto overridden = [&](size_t i, std::string_view name) {
    for (size_t j = i; j < r.headers.size(); ++j) {
      if (beast::iequals(r.headers[j].first, name)) return true;
    }
    return false;
  };
  std::string wire =
      RequestStart(r.method, r.url, !overridden(0, "host"), !overridden(0, "user-agent"));
  size_t size = wire.size() + r.body.size() + 64;
  for (const auto& [k, v] : r.headers) size += k.size() + v.size() + 4;
  wire.reserve(size);
  for (size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [k, v] = r.headers[i];
    if (overridden(i + 1, k) || beast::iequals(k, "content-length") ||
        beast::iequals(k, "connection") || beast::iequals(k, "transfer-encoding")) {
      continue;
    }
    if (!AppendHeaderLine(k, v, &wire)) {
      return InvalidArgument("header '" + k + "' has a name or value an HTTP header cannot "
                             "carry (a name is letters, digits and !#$%&'*+-.^_`|~, not "
                             "empty; a value has no CR, LF or NUL); fix the subscription's "
                             "\"headers\"");
    }
  }
  AppendRequestEnd(r.body, &wire);
  return wire;
}

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

namespace {

// One keep-alive connection, plain or TLS, on the client's io_context.
struct Conn {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& Tcp() { return tls ? tls->next_layer() : *plain; }
};

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

class Deadlined;

// Every exchange is a chain of async operations on one io_context run by one thread: no thread
// per in-flight request, and callers (the dispatcher's workers) never block on the network.
struct HttpClient::Impl {
  explicit Impl(asio::io_context* external)
      : own(external ? nullptr : std::make_unique<asio::io_context>(1)),
        ioc(external ? *external : *own) {}
  HttpClientOptions options;
  std::unique_ptr<asio::io_context> own;  // null when the caller runs the io_context
  asio::io_context& ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::map<std::string, std::shared_ptr<ssl::context>> tls_contexts;  // by CA file
  std::atomic<uint64_t> opened{0};
  // Deadlines: exchanges started since the last sweep and those still running (loop thread
  // only). Weak: an exchange that ended is simply gone at the next sweep.
  std::vector<std::weak_ptr<Deadlined>> live;
  std::optional<asio::steady_timer> sweep_timer;
  bool sweeping = false;
  // Exchanges whose request is written and whose read waits for StartDeferredReads (loop
  // thread only; options.defer_reads).
  std::vector<std::shared_ptr<Deadlined>> deferred_reads, starting_reads;

  void Track(const std::shared_ptr<Deadlined>& ex);
  void Sweep();

  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void GiveBack(const std::string& key, std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu);
    auto& v = idle[key];
    if (v.size() < options.max_idle_per_origin) v.push_back(std::move(c));
  }

  // The TLS context that trusts `ca_file` (empty: the system store); built once per file.
  Result<std::shared_ptr<ssl::context>> TlsContext(const std::string& ca_file) {
    std::lock_guard lock(mu);
    auto it = tls_contexts.find(ca_file);
    if (it != tls_contexts.end()) return it->second;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1,
                     ec);
    if (ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) return Internal("cannot load the system CA store: " + ec.message());
    } else {
      ctx->load_verify_file(ca_file, ec);
      if (ec) {
        return InvalidArgument("cannot load CA file '" + ca_file + "': " + ec.message() +
                               "; \"tls_ca_file\" must name a readable PEM file");
      }
    }
    ctx->set_verify_mode(ssl::verify_peer);
    tls_contexts.emplace(ca_file, ctx);
    return ctx;
  }
};

// Something with a deadline that the client's sweep cancels once it has passed.
class Deadlined {
 public:
  virtual ~Deadlined() = default;
  SteadyClock::time_point deadline() const { return deadline_; }
  virtual bool finished() const = 0;
  virtual void Expire() = 0;  // cancels what is pending; its handler reports the timeout
  virtual void StartRead() {}  // a deferred response read (HttpClientOptions::defer_reads)

 protected:
  SteadyClock::time_point deadline_;
};

void HttpClient::Impl::Track(const std::shared_ptr<Deadlined>& ex) {
  live.push_back(ex);
  if (sweeping) return;
  sweeping = true;
  if (!sweep_timer) sweep_timer.emplace(ioc);
  sweep_timer->expires_after(options.deadline_tick);
  sweep_timer->async_wait([this](beast::error_code ec) {
    if (ec) return;  // the client is going away
    Sweep();
  });
}

void HttpClient::Impl::Sweep() {
  sweeping = false;
  auto now = SteadyClock::now();
  size_t kept = 0;
  for (size_t i = 0; i < live.size(); ++i) {
    std::shared_ptr<Deadlined> ex = live[i].lock();
    if (!ex || ex->finished()) continue;
    if (ex->deadline() <= now) {
      ex->Expire();
      continue;
    }
    if (kept != i) live[kept] = std::move(live[i]);  // (a self-move would empty it)
    ++kept;
  }
  live.resize(kept);
  if (live.empty()) return;
  sweeping = true;
  sweep_timer->expires_after(options.deadline_tick);
  sweep_timer->async_wait([this](beast::error_code ec) {
    if (ec) return;
    Sweep();
  });
}

namespace {

// One request: [resolve, connect, TLS handshake,] write, read; retried once on a fresh
// connection when a pooled one turns out to have been closed by the peer while idle.
// No per-operation timers: the client's sweep cancels it once its deadline has passed.
class Exchange : public Deadlined, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(HttpClient::Impl* impl, ClientRequest req, HttpClient::Callback done)
      : impl_(impl),
        r_(std::move(req)),
        done_(std::move(done)) {
    deadline_ = SteadyClock::now() + r_.timeout;
    ca_file_ = r_.tls_ca_file.empty() ? impl->options.default_ca_file : r_.tls_ca_file;
    // The pool key, built in one buffer (per request: Url::Origin's concatenations cost a
    // few allocations each time).
    char port[8];
    auto port_end = std::to_chars(port, port + sizeof port, r_.url.port).ptr;
    key_.reserve(r_.url.scheme.size() + r_.url.host.size() + 12 + ca_file_.size());
    key_.append(r_.url.scheme).append("://").append(r_.url.host).append(":").append(port,
                                                                                   port_end);
    if (r_.url.scheme == "https") key_.append("|").append(ca_file_);
  }

  void Start() {
    if (Status st = BuildRequest(); !st.ok()) {
      // Not inline: callers rely on the callback never running inside SendAsync.
      auto self = shared_from_this();
      asio::post(impl_->ioc, [self, st] { self->Finish(st); });
      return;
    }
    impl_->Track(shared_from_this());
    conn_ = impl_->TakeIdle(key_);
    pooled_ = conn_ != nullptr;
    if (conn_) return Write();
    Resolve();
  }

  bool finished() const override { return finished_; }

  // Closes rather than cancels: an operation started after this (a composed read's next step,
  // a write completion that was already queued) then fails at once instead of waiting.
  void Expire() override {
    timed_out_ = true;
    beast::error_code ignored;
    if (resolver_) resolver_->cancel();
    if (conn_) conn_->Tcp().socket().close(ignored);
  }

 private:
  void Finish(Result<ClientResponse> res) {
    if (finished_) return;
    finished_ = true;
    auto done = std::move(done_);
    done(std::move(res));
  }

  Status TimedOut(std::string_view what) const {
    if (what == "read") {
      return Status(ErrorCode::kTimeout, "no response from " + r_.url.Origin() + " within " +
                                             std::to_string(r_.timeout.count()) + " ms");
    }
    return Status(ErrorCode::kTimeout, std::string(what) + " " + r_.url.Origin() +
                                           " timed out (" + std::to_string(r_.timeout.count()) +
                                           " ms)");
  }

  // The request as bytes, built once and written with one call (it is resent as is when a
  // pooled connection turns out closed). Header semantics as a map: a later header replaces an
  // earlier one of the same name (case-insensitive), and a caller's Host or User-Agent
  // replaces ours; Content-Length and Connection are always ours. Kept out of Beast's
  // serializer, whose per-field buffer sequence cost more CPU than the exchange's syscalls.
  Status BuildRequest() {
    if (!r_.wire.empty()) {
      wire_ = std::move(r_.wire);
      return Status::Ok();
    }
    EC_ASSIGN_OR_RETURN(wire_, SerializeRequest(r_));
    return Status::Ok();
  }

  void Resolve() {
    // An IP literal needs no resolution: skipping it saves a round trip through asio's resolver
    // thread (getaddrinfo, one at a time) per new connection, which made opening connections
    // after a stall slow when many open at once.
    auto self = shared_from_this();
    beast::error_code literal_ec;
    auto literal = asio::ip::make_address(r_.url.host, literal_ec);
    if (!literal_ec) {
      // Posted, as a resolution completes: the callback never runs inside SendAsync.
      tcp::endpoint ep(literal, r_.url.port);
      return asio::post(impl_->ioc, [self, ep] { self->ConnectTo({ep}); });
    }
    if (!resolver_) resolver_.emplace(impl_->ioc);  // only for new connections
    resolver_->async_resolve(
        r_.url.host, std::to_string(r_.url.port),
        [self](beast::error_code ec, tcp::resolver::results_type results) {
          self->OnResolve(ec, std::move(results));
        });
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (timed_out_) return Finish(TimedOut("resolving the host of"));
    if (ec) return Finish(Unavailable("cannot resolve '" + r_.url.host + "': " + ec.message()));
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    ConnectTo(std::move(endpoints));
  }

  // Connects to the first of `endpoints` the SSRF guard allows.
  void ConnectTo(std::vector<tcp::endpoint> endpoints) {
    std::vector<tcp::endpoint> allowed;
    Status refused;
    for (const auto& ep : endpoints) {
      Status s = impl_->options.guard.CheckText(ep.address().to_string());
      if (s.ok()) {
        allowed.push_back(ep);
      } else if (refused.ok()) {
        refused = s;
      }
    }
    if (allowed.empty()) {
      if (!refused.ok()) return Finish(refused);
      return Finish(Unavailable("'" + r_.url.host + "' resolved to no address"));
    }
    conn_ = std::make_unique<Conn>();
    if (r_.url.scheme == "https") {
      auto ctx = impl_->TlsContext(ca_file_);
      if (!ctx.ok()) return Finish(ctx.status());
      tls_ctx_ = *ctx;
      conn_->tls.emplace(impl_->ioc, *tls_ctx_);
      SSL* ssl = conn_->tls->native_handle();
      // Verify the certificate names the host (or IP) we meant; SNI only for names.
      if (IsIpLiteral(r_.url.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r_.url.host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, r_.url.host.c_str());
        SSL_set1_host(ssl, r_.url.host.c_str());
      }
    } else {
      conn_->plain.emplace(impl_->ioc);
    }
    auto self = shared_from_this();
    conn_->Tcp().async_connect(allowed, [self](beast::error_code e, const tcp::endpoint&) {
      self->OnConnect(e);
    });
  }

  void OnConnect(beast::error_code ec) {
    if (timed_out_) return Finish(TimedOut("connect to"));
    if (ec) return Finish(Unavailable("connect to " + r_.url.Origin() + ": " + ec.message()));
    beast::error_code ignored;
    conn_->Tcp().socket().set_option(tcp::no_delay(true), ignored);
    // Synchronous sends must never block the caller's loop (see Write).
    conn_->Tcp().socket().non_blocking(true, ignored);
    impl_->opened++;
    if (!conn_->tls) return Write();
    auto self = shared_from_this();
    conn_->tls->async_handshake(ssl::stream_base::client,
                                [self](beast::error_code e) { self->OnHandshake(e); });
  }

  void OnHandshake(beast::error_code ec) {
    if (timed_out_) return Finish(TimedOut("TLS handshake with"));
    if (ec) {
      long verify = SSL_get_verify_result(conn_->tls->native_handle());
      if (verify != X509_V_OK) {
        return Finish(Unavailable(
            "TLS: the certificate of " + r_.url.Origin() + " is not trusted: " +
            X509_verify_cert_error_string(verify) +
            (ca_file_.empty() ? "; if the receiver uses a private CA, set \"tls_ca_file\" on "
                                "the subscription"
                              : "; checked against CA file '" + ca_file_ + "'")));
      }
      return Finish(Unavailable("TLS handshake with " + r_.url.Origin() + ": " + ec.message()));
    }
    Write();
  }

  void Write() {
    response_bytes_ = 0;
    parser_.emplace();
    parser_->body_limit(std::max<size_t>(impl_->options.max_response_body, 1 << 20));
    parser_->header_limit(64 * 1024);
    parser_->eager(true);  // header and body in one put when both are there
    auto self = shared_from_this();
    auto on_write = [self](beast::error_code e, size_t) { self->OnWrite(e); };
    if (conn_->tls) return asio::async_write(*conn_->tls, asio::buffer(wire_), on_write);
    // Plain: one non-blocking send now; the rest (rarely any: the socket buffer is empty
    // between keep-alive exchanges) asynchronously. This saves the posted completion of a
    // write that asio would have done at once anyway, i.e. a pass of the caller's loop.
    beast::error_code ec;
    size_t sent = conn_->plain->socket().send(asio::buffer(wire_), 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (ec) return OnWrite(ec);
    if (sent == wire_.size()) return OnWrite(ec);
    asio::async_write(*conn_->plain, asio::buffer(wire_) + sent, on_write);
  }

  void OnWrite(beast::error_code ec) {
    if (timed_out_) return Finish(TimedOut("read"));
    if (ec) return OnRead(ec, 0);
    // Asio (1.74) tries this read at once, a recv that fails with EAGAIN when the response is
    // not there yet; waiting for readability first would cost an epoll_ctl instead (measured).
    if (conn_->tls) {
      auto self = shared_from_this();
      return http::async_read(*conn_->tls, conn_->buffer, *parser_,
                              [self](beast::error_code e, size_t n) { self->OnRead(e, n); });
    }
    if (impl_->options.defer_reads && !impl_->own) {
      impl_->deferred_reads.push_back(shared_from_this());
      return;
    }
    BeginRead();
  }

  void StartRead() override {
    if (timed_out_) return Finish(TimedOut("read"));
    BeginRead();
  }

  // Bytes left in the buffer (sent after the previous response) are parsed from a handler:
  // the callback never runs inside SendAsync or StartDeferredReads.
  void BeginRead() {
    if (conn_->buffer.size() > 0) {
      auto self = shared_from_this();
      return asio::post(impl_->ioc, [self] { self->ReadPlain(); });
    }
    ReadPlain();
  }

  // Plain connections: the socket's own async_read_some and Beast's parser fed directly,
  // instead of http::async_read over the tcp_stream (three composed operations and the
  // stream's transfer state per read). Same parser, same limits, same errors.
  void ReadPlain() {
    if (ParseBuffered()) return;
    auto self = shared_from_this();
    conn_->plain->socket().async_read_some(
        conn_->buffer.prepare(beast::read_size(conn_->buffer, 65536)),
        [self](beast::error_code e, size_t n) { self->OnReadPlain(e, n); });
  }

  void OnReadPlain(beast::error_code ec, size_t n) {
    if (timed_out_) return Finish(TimedOut("read"));
    if (ec == asio::error::eof) {
      // A body delimited by the end of the connection ends here; before any byte of the
      // response it is a connection the peer closed (OnRead retries a pooled one).
      if (response_bytes_ == 0) return OnRead(http::error::end_of_stream, 0);
      parser_->put_eof(ec);
      if (ec) return OnRead(ec, response_bytes_);
      return OnRead({}, response_bytes_);
    }
    if (ec) return OnRead(ec, response_bytes_);
    conn_->buffer.commit(n);
    response_bytes_ += n;
    ReadPlain();
  }

  // Feeds what is buffered to the parser; true when the exchange ended (OnRead was called).
  bool ParseBuffered() {
    auto& buf = conn_->buffer;
    while (buf.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      size_t used = parser_->put(buf.data(), ec);
      buf.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) {
        OnRead(ec, response_bytes_);
        return true;
      }
      if (used == 0) break;
    }
    if (!parser_->is_done()) return false;
    OnRead({}, response_bytes_);
    return true;
  }

  void OnRead(beast::error_code ec, size_t n) {
    if (timed_out_) return Finish(TimedOut("read"));
    if (ec && n == 0 && pooled_) {
      // A pooled connection the peer closed while idle: once more on a fresh one.
      pooled_ = false;
      conn_.reset();
      return Resolve();
    }
    if (ec) return Finish(Unavailable("HTTP exchange with " + r_.url.Origin() + ": " + ec.message()));
    auto& res = parser_->get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = std::move(res.body());
    size_t max_body = impl_->options.max_response_body;
    if (out.body.size() > max_body) out.body.resize(max_body);
    if (res.keep_alive() && !parser_->need_eof()) impl_->GiveBack(key_, std::move(conn_));
    Finish(std::move(out));
  }

  HttpClient::Impl* impl_;
  ClientRequest r_;
  HttpClient::Callback done_;
  std::optional<tcp::resolver> resolver_;
  bool finished_ = false;
  bool timed_out_ = false;  // the sweep cancelled it: its handler reports the timeout
  std::string ca_file_;
  std::string key_;  // pool key: origin (+ CA file for https)
  std::shared_ptr<ssl::context> tls_ctx_;
  std::unique_ptr<Conn> conn_;
  bool pooled_ = false;
  std::string wire_;  // the serialized request
  size_t response_bytes_ = 0;  // read for this response (plain connections)
  std::optional<http::response_parser<http::string_body>> parser_;
};

}  // namespace

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>(nullptr)) {
  impl_->options = std::move(options);
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

HttpClient::HttpClient(HttpClientOptions options, asio::io_context* ioc)
    : impl_(std::make_unique<Impl>(ioc)) {
  impl_->options = std::move(options);
}

HttpClient::~HttpClient() {
  if (impl_->own) {
    impl_->work.reset();
    impl_->ioc.stop();
    impl_->thread.join();
  }
  impl_->sweep_timer.reset();  // its handler, if any, is destroyed with the loop, never run
  // Idle connections close here (their sockets belong to the io_context, which is still alive).
  impl_->idle.clear();
}

uint64_t HttpClient::connections_opened() const { return impl_->opened.load(); }

void HttpClient::StartDeferredReads() {
  // Swapped out first: a read that completes at once may write another request (a pooled
  // connection found closed is retried on a fresh one), which defers its read to the next call.
  auto& starting = impl_->starting_reads;
  starting.swap(impl_->deferred_reads);
  for (auto& ex : starting) ex->StartRead();
  starting.clear();
}

void HttpClient::SendAsync(ClientRequest request, Callback done) {
  auto ex = std::make_shared<Exchange>(impl_.get(), std::move(request), std::move(done));
  if (impl_->own) {
    asio::post(impl_->ioc, [ex] { ex->Start(); });
  } else {
    ex->Start();  // we are on the thread that runs the io_context; Start() never completes inline
  }
}

Result<ClientResponse> HttpClient::Send(const ClientRequest& request) {
  std::promise<Result<ClientResponse>> promise;
  auto future = promise.get_future();
  SendAsync(request, [&promise](Result<ClientResponse> res) { promise.set_value(std::move(res)); });
  return future.get();
}

}  // namespace ec::delivery
