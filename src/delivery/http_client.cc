#include "delivery/http_client.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <map>
#include <mutex>

namespace ec::delivery {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<Url> ParseUrl(std::string_view text) {
  Url u;
  auto bad = [&](std::string_view why) {
    return InvalidArgument("URL '" + std::string(text) + "': " + std::string(why) +
                           "; write e.g. http://hooks.example.com/events");
  };
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) return bad("no scheme");
  u.scheme = std::string(text.substr(0, colon));
  if (u.scheme == "https") {
    return Unsupported("URL '" + std::string(text) +
                       "': https:// delivery is not supported yet; use http:// (e.g. behind a "
                       "TLS-terminating proxy)");
  }
  if (u.scheme != "http") return bad("scheme must be http");
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

std::string_view ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

namespace {

// One keep-alive connection with its own io_context, so a blocking Send can run async
// operations with a deadline on the calling thread.
struct Conn {
  asio::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
};

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::atomic<uint64_t> opened{0};

  std::unique_ptr<Conn> TakeIdle(const std::string& origin) {
    std::lock_guard lock(mu);
    auto it = idle.find(origin);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void GiveBack(const std::string& origin, std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu);
    auto& v = idle[origin];
    if (v.size() < options.max_idle_per_origin) v.push_back(std::move(c));
  }

  Result<std::unique_ptr<Conn>> Connect(const Url& url, std::chrono::milliseconds timeout) {
    auto c = std::make_unique<Conn>();
    tcp::resolver resolver(c->ioc);
    beast::error_code ec;
    auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return Unavailable("cannot resolve '" + url.host + "': " + ec.message());
    std::vector<tcp::endpoint> allowed;
    Status refused;
    for (const auto& entry : results) {
      auto ep = entry.endpoint();
      Status s = options.guard.CheckText(ep.address().to_string());
      if (s.ok()) {
        allowed.push_back(ep);
      } else if (refused.ok()) {
        refused = s;
      }
    }
    if (allowed.empty()) {
      if (!refused.ok()) return refused;
      return Unavailable("'" + url.host + "' resolved to no address");
    }
    c->stream.expires_after(timeout);
    beast::error_code cec = asio::error::would_block;
    c->stream.async_connect(allowed, [&](beast::error_code e, const tcp::endpoint&) { cec = e; });
    c->ioc.run();
    c->ioc.restart();
    if (cec == beast::error::timeout) {
      return Status(ErrorCode::kTimeout, "connect to " + url.Origin() + " timed out");
    }
    if (cec) return Unavailable("connect to " + url.Origin() + ": " + cec.message());
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    opened++;
    return c;
  }

  // One exchange on `c`. `fresh` = no byte of the response arrived (safe to retry on a new
  // connection when the pooled one had been closed by the peer).
  Result<ClientResponse> Exchange(Conn& c, const ClientRequest& r, bool* keep, bool* stale) {
    http::request<http::string_body> req;
    req.method_string(r.method);
    req.target(r.url.target);
    req.version(11);
    bool default_port = r.url.port == 80;
    std::string host = r.url.host.find(':') != std::string::npos ? "[" + r.url.host + "]"
                                                                 : r.url.host;
    req.set(http::field::host, default_port ? host : host + ":" + std::to_string(r.url.port));
    req.set(http::field::user_agent, "eventception-webhooks/1");
    for (const auto& [k, v] : r.headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = r.body;
    req.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(std::max<size_t>(options.max_response_body, 1 << 20));
    parser.header_limit(64 * 1024);
    beast::error_code wec, rec;
    bool write_done = false;
    size_t read_bytes = 0;
    c.stream.expires_after(r.timeout);
    http::async_write(c.stream, req, [&](beast::error_code e, size_t) {
      wec = e;
      write_done = true;
      if (e) return;
      http::async_read(c.stream, c.buffer, parser, [&](beast::error_code e2, size_t n) {
        rec = e2;
        read_bytes = n;
      });
    });
    c.ioc.run();
    c.ioc.restart();
    beast::error_code ec = wec ? wec : rec;
    *stale = ec && ec != beast::error::timeout && read_bytes == 0;
    if (ec == beast::error::timeout) {
      return Status(ErrorCode::kTimeout, "no response from " + r.url.Origin() + " within " +
                                             std::to_string(r.timeout.count()) + " ms");
    }
    if (ec) return Unavailable("HTTP exchange with " + r.url.Origin() + ": " + ec.message());
    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = std::move(res.body());
    if (out.body.size() > options.max_response_body) out.body.resize(options.max_response_body);
    *keep = res.keep_alive() && !parser.need_eof();
    return out;
  }
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
HttpClient::~HttpClient() = default;

uint64_t HttpClient::connections_opened() const { return impl_->opened.load(); }

Result<ClientResponse> HttpClient::Send(const ClientRequest& r) {
  std::string origin = r.url.Origin();
  auto deadline = std::chrono::steady_clock::now() + r.timeout;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Conn> c = attempt == 0 ? impl_->TakeIdle(origin) : nullptr;
    bool pooled = c != nullptr;
    if (!c) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      EC_ASSIGN_OR_RETURN(c, impl_->Connect(r.url, std::max(left, std::chrono::milliseconds(1))));
    }
    bool keep = false, stale = false;
    auto res = impl_->Exchange(*c, r, &keep, &stale);
    if (res.ok()) {
      if (keep) impl_->GiveBack(origin, std::move(c));
      return res;
    }
    // A pooled connection the peer closed while idle: retry once on a fresh one.
    if (!(pooled && stale)) return res;
  }
  return Unavailable("HTTP exchange with " + origin + " failed twice");
}

}  // namespace ec::delivery
