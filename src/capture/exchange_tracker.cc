#include "capture/exchange_tracker.h"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>
#include <limits>
#include <deque>
#include <string>

namespace ec::capture {
namespace http = boost::beast::http;
using boost::beast::error_code;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowSteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

void AppendCapped(CapturedBody* body, std::string_view data, size_t cap) {
  body->total_bytes += data.size();
  if (body->bytes.size() < cap) {
    body->bytes.append(data.substr(0, cap - body->bytes.size()));
  }
  body->truncated = body->total_bytes > body->bytes.size();
}

// (Beast 1.74 compares Content-Length against an empty optional limit as "too big", so
// "no limit" is spelled as the largest value.)
// Beast parser that records into a CapturedExchange instead of building a message.
template <bool isRequest>
class RecordingParser : public http::basic_parser<isRequest> {
 public:
  RecordingParser(CapturedExchange* x, size_t max_body) : x_(x), max_body_(max_body) {}
  int status() const { return status_; }

 private:
  void on_request_impl(http::verb, std::string_view method, std::string_view target, int version,
                       error_code&) override {
    x_->method.assign(method);
    x_->target.assign(target);
    x_->http_version = version;
  }
  void on_response_impl(int code, std::string_view, int, error_code&) override {
    status_ = code;
    x_->status = code;
    x_->response_headers.clear();  // an interim 1xx header is replaced by the final one
  }
  void on_field_impl(http::field, std::string_view name, std::string_view value,
                     error_code&) override {
    auto& headers = isRequest ? x_->request_headers : x_->response_headers;
    headers.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(std::string_view body, error_code&) override {
    AppendCapped(isRequest ? &x_->request_body : &x_->response_body, body, max_body_);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, std::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, std::string_view body, error_code&) override {
    AppendCapped(isRequest ? &x_->request_body : &x_->response_body, body, max_body_);
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  CapturedExchange* x_;
  size_t max_body_;
  int status_ = 0;
};

struct Pending {
  CapturedExchange x;
  int64_t start_us = 0;
};

}  // namespace

struct ExchangeTracker::Impl {
  TrackerOptions options;
  Emit emit;
  bool raw = false;
  bool tunnel = false;
  uint64_t parse_errors = 0;

  // Requests parsed (or being parsed) whose responses have not completed, oldest first.
  std::deque<std::unique_ptr<Pending>> pending;
  std::unique_ptr<Pending> current_request;
  std::unique_ptr<RecordingParser<true>> req_parser;
  std::unique_ptr<RecordingParser<false>> resp_parser;
  std::string req_buf, resp_buf;  // bytes a parser has not consumed yet
  // After an Upgrade request, client bytes wait here until the response says whether the
  // connection switched protocols (they are not HTTP then).
  bool req_hold = false;
  std::string held;

  void GoRaw(bool is_parse_error) {
    raw = true;
    if (is_parse_error) ++parse_errors;
    req_parser.reset();
    resp_parser.reset();
    req_buf.clear();
    resp_buf.clear();
    held.clear();
  }

  // Feeds `data` (plus any unconsumed remainder) to a parser; `step` runs after each put and
  // returns false to stop. Avoids copying when nothing is left over from the last read.
  template <typename Parser, typename Make, typename Done>
  void Feed(std::string_view data, std::string& buf, std::unique_ptr<Parser>& parser, Make make,
            Done done) {
    std::string_view in = data;
    bool using_buf = !buf.empty();
    if (using_buf) {
      buf.append(data);
      in = buf;
    }
    size_t offset = 0;
    while (!raw && offset < in.size()) {
      if (!parser && !make()) return;
      error_code ec;
      size_t n = parser->put(boost::asio::buffer(in.data() + offset, in.size() - offset), ec);
      offset += n;
      if (ec == http::error::need_more) break;
      if (ec) {
        GoRaw(true);
        return;
      }
      if (parser->is_done()) {
        if (!done()) {
          // Tracking paused or stopped: keep what is left for later (or drop it when raw).
          if (!raw) held.append(in.substr(offset));
          offset = in.size();
          break;
        }
      } else if (n == 0) {
        break;
      }
    }
    if (raw) return;
    std::string rest(in.substr(offset));
    buf.swap(rest);
    if (buf.size() > options.max_header_bytes + 65536) GoRaw(true);  // a header that never ends
  }

  bool MakeRequestParser() {
    if (pending.size() >= options.max_pending) {
      GoRaw(false);
      return false;
    }
    current_request = std::make_unique<Pending>();
    current_request->x.start_unix_ms = NowUnixMs();
    current_request->start_us = NowSteadyUs();
    current_request->x.client_ip = options.client_ip;
    req_parser = std::make_unique<RecordingParser<true>>(&current_request->x, options.max_body_bytes);
    req_parser->eager(true);
    req_parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    req_parser->header_limit(static_cast<uint32_t>(options.max_header_bytes));
    return true;
  }

  // A request is complete; false pauses request parsing (an upgrade is pending).
  bool RequestDone() {
    bool upgrade = req_parser->upgrade() || current_request->x.method == "CONNECT";
    req_parser.reset();
    pending.push_back(std::move(current_request));
    if (upgrade) {
      req_hold = true;
      return false;
    }
    return true;
  }

  bool MakeResponseParser() {
    if (pending.empty()) {  // bytes from the upstream before any request: not HTTP as we know it
      GoRaw(true);
      return false;
    }
    resp_parser = std::make_unique<RecordingParser<false>>(&pending.front()->x, options.max_body_bytes);
    resp_parser->eager(true);
    resp_parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    resp_parser->header_limit(static_cast<uint32_t>(options.max_header_bytes));
    if (pending.front()->x.method == "HEAD") resp_parser->skip(true);
    return true;
  }

  // A response is complete; false stops response parsing.
  bool ResponseDone() {
    int status = resp_parser->status();
    resp_parser.reset();
    Pending& p = *pending.front();
    if (status >= 100 && status < 200 && status != 101) return true;  // interim; final follows
    bool switched = status == 101 || (p.x.method == "CONNECT" && status >= 200 && status < 300);
    p.x.upgraded = switched;
    Finish();
    if (switched) {
      tunnel = true;
      GoRaw(false);
      return false;
    }
    if (req_hold && pending.empty()) {
      // The upgrade was refused: what the client sent meanwhile is HTTP after all.
      req_hold = false;
      std::string held_bytes;
      held_bytes.swap(held);
      if (!held_bytes.empty()) OnClient(held_bytes);
    }
    return true;
  }

  void Finish() {
    std::unique_ptr<Pending> p = std::move(pending.front());
    pending.pop_front();
    p->x.latency_ms = double(NowSteadyUs() - p->start_us) / 1000.0;
    emit(std::move(p->x));
  }

  void OnClient(std::string_view data) {
    if (raw) return;
    if (req_hold) {
      held.append(data);
      if (held.size() > options.max_header_bytes + options.max_body_bytes) GoRaw(false);
      return;
    }
    Feed(data, req_buf, req_parser, [this] { return MakeRequestParser(); },
         [this] { return RequestDone(); });
    // Hold what follows an upgrade request until its response arrives.
    if (req_hold && !req_buf.empty()) {
      held.insert(0, req_buf);
      req_buf.clear();
    }
  }

  void OnUpstream(std::string_view data) {
    if (raw) return;
    Feed(data, resp_buf, resp_parser, [this] { return MakeResponseParser(); },
         [this] { return ResponseDone(); });
  }
};

ExchangeTracker::ExchangeTracker(TrackerOptions options, Emit emit)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->emit = std::move(emit);
}

ExchangeTracker::~ExchangeTracker() = default;

void ExchangeTracker::OnClientBytes(std::string_view bytes) { impl_->OnClient(bytes); }
void ExchangeTracker::OnUpstreamBytes(std::string_view bytes) { impl_->OnUpstream(bytes); }

void ExchangeTracker::OnUpstreamEof() {
  Impl& m = *impl_;
  if (m.raw || !m.resp_parser) return;
  error_code ec;
  m.resp_parser->put_eof(ec);
  if (!ec && m.resp_parser->is_done()) m.ResponseDone();
}

void ExchangeTracker::OnClose() {
  Impl& m = *impl_;
  if (m.tunnel) return;
  while (!m.pending.empty()) {
    // No (complete) response: keep what was seen, say so with status 0 if no header came.
    if (m.resp_parser && !m.resp_parser->is_header_done()) m.pending.front()->x.status = 0;
    m.resp_parser.reset();
    m.Finish();
  }
}

bool ExchangeTracker::raw() const { return impl_->raw; }
bool ExchangeTracker::tunnel() const { return impl_->tunnel; }
uint64_t ExchangeTracker::parse_errors() const { return impl_->parse_errors; }

}  // namespace ec::capture
