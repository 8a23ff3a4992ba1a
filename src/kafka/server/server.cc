// The broker's network side: listeners, connections (framing, pipelining, in-order
// responses) and the I/O threads.
#include "kafka/server/server.h"

#include <spdlog/spdlog.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio.hpp>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "kafka/group/coordinator.h"
#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/fetch_waits.h"
#include "log/log_manager.h"

namespace ec::kafka {

namespace asio = boost::asio;
using asio::ip::tcp;

void SafeExecutor::Post(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  asio::post(*io_, std::move(fn));
}

void SafeExecutor::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

const ProduceInterceptor* Broker::InterceptorFor(const std::string& topic) const {
  for (const ProduceInterceptor& i : options.interceptors) {
    for (const std::string& p : i.topic_patterns) {
      if (GlobMatch(p, topic)) return &i;
    }
  }
  return nullptr;
}

Result<ListenerAddress> ParseListenerAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return InvalidArgument("listener \"" + text + "\": expected host:port, e.g. 127.0.0.1:9092");
  }
  ListenerAddress a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  std::string port = text.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) {
    return InvalidArgument("listener \"" + text + "\": port \"" + port +
                           "\" is not a number in 0..65535");
  }
  a.port = static_cast<uint16_t>(p);
  return a;
}

namespace {

class Connection : public ResponseSink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<asio::io_context> io, std::shared_ptr<SafeExecutor> exec,
             tcp::socket socket, Broker& broker, std::atomic<size_t>& count)
      : io_(std::move(io)), exec_(std::move(exec)), socket_(std::move(socket)), broker_(broker),
        count_(count) {
    ++count_;
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);
    // The send loop writes with sendmsg/sendfile directly and waits on EAGAIN.
    socket_.non_blocking(true, ec);
  }
  ~Connection() override { --count_; }

  void Start() { ReadHeader(); }

  // Closes from any thread.
  void CloseAsync() {
    auto self = shared_from_this();
    asio::post(*io_, [self] { self->Close(); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  void Complete(uint64_t seq, std::unique_ptr<Writer> frame) override {
    if (io_->get_executor().running_in_this_thread()) {
      OnComplete(seq, std::move(frame));
      return;
    }
    auto self = shared_from_this();
    // The unique_ptr is moved into a shared holder because asio handlers must be copyable.
    auto holder = std::make_shared<std::unique_ptr<Writer>>(std::move(frame));
    exec_->Post([self, seq, holder] { self->OnComplete(seq, std::move(*holder)); });
  }

 private:
  void ReadHeader() {
    if (closed_) return;
    reading_ = true;
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(size_buf_, 4),
                     [self](const boost::system::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (ec) return self->Close();
                       self->OnSize();
                     });
  }

  void OnSize() {
    uint32_t u = (static_cast<uint32_t>(size_buf_[0]) << 24) |
                 (static_cast<uint32_t>(size_buf_[1]) << 16) |
                 (static_cast<uint32_t>(size_buf_[2]) << 8) | size_buf_[3];
    int64_t size = static_cast<int32_t>(u);
    if (size < 8 || size > broker_.options.max_frame_bytes) {
      spdlog::warn("kafka: closing connection from {}: frame size {} outside 8..{}", peer_, size,
                   broker_.options.max_frame_bytes);
      return Close();
    }
    // The request buffer is reused across requests (no allocation, zero-fill or page faults
    // per produce) unless a handler still holds the previous one; one larger than
    // frame_buffer_keep_bytes is dropped after its request, so idle connections stay small.
    if (!frame_buf_ || frame_buf_.use_count() > 1) frame_buf_ = std::make_shared<std::string>();
    if (frame_buf_->size() < static_cast<size_t>(size)) frame_buf_->resize(static_cast<size_t>(size));
    ReadBody(frame_buf_, static_cast<size_t>(size), 0);
  }

  // Reads the rest of a frame with recv(2) straight into its buffer, as much as the socket
  // holds per call (asio's async_read would cut it into 64 KiB reads: 16 calls per MiB of
  // produce); waits for readability only when the socket is drained.
  void ReadBody(std::shared_ptr<std::string> frame, size_t size, size_t got) {
    const int fd = socket_.native_handle();
    while (got < size) {
      ssize_t n = ::recv(fd, frame->data() + got, size - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        reading_ = true;
        auto self = shared_from_this();
        socket_.async_wait(tcp::socket::wait_read,
                           [self, frame = std::move(frame), size, got](const boost::system::error_code& ec) {
                             self->reading_ = false;
                             if (ec || self->closed_) return self->Close();
                             self->ReadBody(frame, size, got);
                           });
        return;
      }
      return Close();  // peer closed mid-frame, or a socket error
    }
    OnFrame(std::move(frame), size);
  }

  void OnFrame(std::shared_ptr<std::string> frame, size_t size) {
    uint64_t seq = next_seq_++;
    Status st = Dispatch(seq, frame, size);
    frame.reset();
    if (frame_buf_ && frame_buf_->size() > broker_.options.frame_buffer_keep_bytes) frame_buf_.reset();
    if (!st.ok()) {
      spdlog::warn("kafka: closing connection from {}: {}", peer_, st.ToString());
      return Close();
    }
    MaybeRead();
  }

  void MaybeRead() {
    if (closed_ || reading_) return;
    if (next_seq_ - next_send_seq_ >=
        static_cast<uint64_t>(broker_.options.max_inflight_per_connection)) {
      return;  // resumed when responses drain
    }
    ReadHeader();
  }

  Status Dispatch(uint64_t seq, const std::shared_ptr<std::string>& frame, size_t size) {
    Reader r(std::string_view(frame->data(), size));
    RequestHeader h;
    EC_RETURN_IF_ERROR(DecodeRequestHeaderPrefix(r, h));
    const ApiEntry* api = FindApi(h.api_key);
    if (api == nullptr) {
      return Unsupported("unknown api key " + std::to_string(h.api_key));
    }
    if (h.api_version < api->min_version || h.api_version > api->max_version) {
      if (h.api_key != ApiVersionsRequest::kApiKey) {
        return Unsupported(std::string(api->name) + " v" + std::to_string(h.api_version) +
                           " was not advertised (supported " + std::to_string(api->min_version) +
                           "-" + std::to_string(api->max_version) + ")");
      }
      // Decline through ApiVersions: a v0 body with UNSUPPORTED_VERSION and our ranges.
      Responder resp(shared_from_this(), seq, h, false);
      resp.SendAtVersion(ApiVersionsResponseFor(35), 0);
      return Status::Ok();
    }
    bool flexible = h.api_version >= api->flexible_version;
    EC_RETURN_IF_ERROR(DecodeRequestHeaderRest(r, RequestHeaderVersion(flexible), h));
    RequestContext ctx;
    ctx.header = h;
    ctx.body = r;
    ctx.frame = frame;
    ctx.client_host = peer_;
    ctx.io = io_.get();
    ctx.exec = exec_;
    ctx.responder = Responder(shared_from_this(), seq, h, flexible);
    return api->handler(broker_, ctx);
  }

  static ApiVersionsResponse ApiVersionsResponseFor(int16_t error) {
    ApiVersionsResponse resp;
    resp.error_code = error;
    for (const ApiEntry& e : ApiTable()) {
      resp.api_keys.push_back({e.api_key, e.min_version, e.max_version});
    }
    return resp;
  }

  void OnComplete(uint64_t seq, std::unique_ptr<Writer> frame) {
    if (closed_) return;
    done_[seq] = std::move(frame);
    Flush();
  }

  // Sends finished responses in request order: all ready responses go out in one gather
  // write (sendmsg) per run of memory pieces; record bytes held as file ranges go with
  // sendfile(2) from the page cache, never copied through user space.
  void Flush() {
    if (writing_ || closed_) return;
    while (!done_.empty() && done_.begin()->first == next_send_seq_) {
      if (done_.begin()->second) sending_.push_back(std::move(done_.begin()->second));
      done_.erase(done_.begin());
      ++next_send_seq_;
    }
    pieces_.clear();
    for (const auto& w : sending_) w->AppendPieces(&pieces_);
    piece_ = 0;
    piece_sent_ = 0;
    if (pieces_.empty()) {
      sending_.clear();
      MaybeRead();
      return;
    }
    writing_ = true;
    Advance(0);
    SendPieces();
  }

  // Writes as much as the socket takes; waits for writability when it is full.
  void SendPieces() {
    if (closed_) return;
    const int fd = socket_.native_handle();
    while (piece_ < pieces_.size()) {
      const WirePiece& p = pieces_[piece_];
      ssize_t n;
      if (p.fd >= 0) {
        off_t off = static_cast<off_t>(p.file_offset + piece_sent_);
        n = ::sendfile(fd, p.fd, &off, p.file_size - piece_sent_);
        if (n == 0) {
          spdlog::warn("kafka: closing connection from {}: log file shorter than the fetch", peer_);
          return Close();
        }
      } else {
        constexpr size_t kMaxIov = 64;
        iovec iov[kMaxIov];
        size_t k = 0;
        for (size_t i = piece_; i < pieces_.size() && pieces_[i].fd < 0 && k < kMaxIov; ++i, ++k) {
          size_t skip = i == piece_ ? piece_sent_ : 0;
          iov[k].iov_base = const_cast<char*>(pieces_[i].mem.data() + skip);
          iov[k].iov_len = pieces_[i].mem.size() - skip;
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = k;
        // MSG_MORE while more pieces follow, so a response header and its file data share
        // segments instead of the header going out alone (the socket has TCP_NODELAY).
        bool more = piece_ + k < pieces_.size();
        n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          auto self = shared_from_this();
          socket_.async_wait(tcp::socket::wait_write, [self](const boost::system::error_code& ec) {
            if (ec) return self->Close();
            self->SendPieces();
          });
          return;
        }
        return Close();
      }
      Advance(static_cast<size_t>(n));
    }
    writing_ = false;
    sending_.clear();
    pieces_.clear();
    Flush();
  }

  void Advance(size_t n) {
    while (n > 0 && piece_ < pieces_.size()) {
      size_t left = pieces_[piece_].size() - piece_sent_;
      if (n < left) {
        piece_sent_ += n;
        return;
      }
      n -= left;
      ++piece_;
      piece_sent_ = 0;
    }
    // Skip empty pieces so the loop never issues a zero-length sendfile.
    while (piece_ < pieces_.size() && pieces_[piece_].size() == piece_sent_) {
      ++piece_;
      piece_sent_ = 0;
    }
  }

  std::shared_ptr<asio::io_context> io_;  // first member: outlives the socket
  std::shared_ptr<SafeExecutor> exec_;
  tcp::socket socket_;
  Broker& broker_;
  std::atomic<size_t>& count_;
  std::string peer_;
  unsigned char size_buf_[4] = {};
  std::shared_ptr<std::string> frame_buf_;  // request buffer reused across requests
  uint64_t next_seq_ = 0;       // sequence of the next request read
  uint64_t next_send_seq_ = 0;  // sequence of the next response to send
  std::map<uint64_t, std::unique_ptr<Writer>> done_;  // finished, waiting for their turn
  std::vector<std::unique_ptr<Writer>> sending_;      // owned until the write completes
  std::vector<WirePiece> pieces_;                     // what sending_ holds, in order
  size_t piece_ = 0;                                  // next piece to send
  size_t piece_sent_ = 0;                             // bytes of it already sent
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Broker broker;
  std::unique_ptr<GroupCoordinator> coordinator;
  std::vector<std::shared_ptr<asio::io_context>> contexts;
  std::vector<std::shared_ptr<SafeExecutor>> executors;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<uint16_t> ports;
  std::atomic<size_t> connections{0};
  std::mutex conns_mu;
  std::vector<std::weak_ptr<Connection>> conns;  // for Stop
  size_t next_context = 0;
  bool started = false;

  void Accept(size_t i) {
    tcp::acceptor* acc = acceptors[i].get();
    size_t ci = next_context++ % contexts.size();
    acc->async_accept(*contexts[ci], [this, i, ci](const boost::system::error_code& ec,
                                                   tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (connections.load() >= static_cast<size_t>(options.max_connections)) {
          spdlog::warn("kafka: refusing connection: {} connections open (max_connections)",
                       connections.load());
        } else {
          auto conn = std::make_shared<Connection>(contexts[ci], executors[ci], std::move(socket),
                                                   broker, connections);
          {
            std::lock_guard lock(conns_mu);
            std::erase_if(conns, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
            conns.push_back(conn);
          }
          // Hand over to the connection's own context thread.
          asio::post(*contexts[ci], [conn] { conn->Start(); });
        }
      }
      Accept(i);
    });
  }
};

Server::Server(ServerOptions options, log::LogManager* logs) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->broker.options = std::move(options);
  impl_->broker.logs = logs;
}

Server::~Server() { Stop(); }

Status Server::Start() {
  Impl& m = *impl_;
  if (m.started) return Status::Ok();
  if (m.options.listeners.empty()) return InvalidArgument("kafka: no listener configured");
  if (m.options.io_threads < 1) return InvalidArgument("kafka: io_threads must be >= 1");
  for (int i = 0; i < m.options.io_threads; ++i) {
    m.contexts.push_back(std::make_shared<asio::io_context>(1));
    m.executors.push_back(std::make_shared<SafeExecutor>(m.contexts.back()));
    m.guards.push_back(asio::make_work_guard(*m.contexts.back()));
  }
  m.broker.fetch_waits = NewFetchWaitRegistry();
  m.coordinator = std::make_unique<GroupCoordinator>(&m.broker, m.contexts[0]);
  m.broker.groups = m.coordinator.get();
  for (const ListenerAddress& l : m.options.listeners) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(l.host, ec);
    if (ec) {
      Stop();
      return InvalidArgument("kafka listener \"" + l.host + "\": not an IP address (" +
                             ec.message() + ")");
    }
    auto acc = std::make_unique<tcp::acceptor>(*m.contexts[0]);
    tcp::endpoint ep(addr, l.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      Stop();
      return Unavailable("kafka listener " + l.host + ":" + std::to_string(l.port) +
                         ": cannot listen (" + ec.message() + ")");
    }
    m.ports.push_back(acc->local_endpoint().port());
    spdlog::info("kafka: listening on {}:{}", l.host, m.ports.back());
    m.acceptors.push_back(std::move(acc));
  }
  m.broker.advertised_host =
      m.options.advertised_host.empty() ? m.options.listeners[0].host : m.options.advertised_host;
  m.broker.advertised_port = m.options.advertised_port ? m.options.advertised_port : m.ports[0];
  for (size_t i = 0; i < m.acceptors.size(); ++i) m.Accept(i);
  for (auto& ctx : m.contexts) {
    m.threads.emplace_back([ctx] {
      pthread_setname_np(pthread_self(), "ec-kafka-io");  // for top/perf and the benchmark
      ctx->run();
    });
  }
  m.started = true;
  return Status::Ok();
}

void Server::Stop() {
  Impl& m = *impl_;
  if (m.contexts.empty()) return;
  m.broker.stopping = true;
  for (auto& acc : m.acceptors) {
    asio::post(acc->get_executor(), [a = acc.get()] {
      boost::system::error_code ec;
      a->close(ec);
    });
  }
  // Drop every reference to connections held outside their sockets' pending operations
  // (long-poll fetches, group waits), close them, and wait until they are gone, so no
  // callback can touch a destroyed context.
  if (m.broker.fetch_waits) CancelAllFetchWaits(m.broker.fetch_waits);
  if (m.coordinator) {
    std::promise<void> done;
    asio::post(*m.contexts[0], [&] {
      m.coordinator->Shutdown();
      done.set_value();
    });
    if (m.started) done.get_future().wait();
  }
  {
    std::lock_guard lock(m.conns_mu);
    for (auto& w : m.conns) {
      if (auto c = w.lock()) c->CloseAsync();
    }
    m.conns.clear();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.started && m.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  bool leak = m.connections.load() > 0;
  if (leak) spdlog::error("kafka: {} connections still referenced at stop", m.connections.load());
  for (auto& e : m.executors) e->Close();
  for (auto& ctx : m.contexts) ctx->stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  m.guards.clear();
  m.acceptors.clear();
  m.broker.groups = nullptr;
  m.coordinator.reset();
  if (m.broker.fetch_waits) {
    DeleteFetchWaitRegistry(m.broker.fetch_waits);
    m.broker.fetch_waits = nullptr;
  }
  m.executors.clear();
  if (leak) {
    // Something still holds a connection: keep its context alive rather than crash later.
    for (auto& ctx : m.contexts) new std::shared_ptr<asio::io_context>(ctx);  // NOLINT
  }
  m.contexts.clear();
  m.started = false;
}

uint16_t Server::bound_port(size_t i) const {
  return i < impl_->ports.size() ? impl_->ports[i] : 0;
}

size_t Server::connection_count() const { return impl_->connections.load(); }

}  // namespace ec::kafka
