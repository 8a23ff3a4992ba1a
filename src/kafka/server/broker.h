#pragma once
// Internal: the state every request handler shares, how a handler answers (Responder), and
// the table of APIs with the version range each handler serves.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <atomic>
#include <string>
#include <vector>

#include "base/status.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/wire.h"
#include "kafka/server/server.h"

namespace boost::asio {
class io_context;
}

namespace ec::log {
class LogManager;
}

namespace ec::kafka {

class GroupCoordinator;

// Where a finished response goes: the connection, which sends responses in request order.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Thread-safe. `frame` is the whole response (size prefix included), or null for "no
  // response" (acks=0 produce).
  virtual void Complete(uint64_t seq, std::unique_ptr<Writer> frame) = 0;
};

// Answers one request, exactly once, from any thread.
class Responder {
 public:
  Responder() = default;
  Responder(std::shared_ptr<ResponseSink> sink, uint64_t seq, const RequestHeader& h, bool flexible)
      : sink_(std::move(sink)), seq_(seq), correlation_id_(h.correlation_id), api_key_(h.api_key),
        version_(h.api_version), flexible_(flexible) {}

  template <typename Msg>
  void Send(const Msg& msg) {
    auto w = std::make_unique<Writer>();
    w->WriteInt32(0);
    EncodeResponseHeader(*w, correlation_id_, ResponseHeaderVersion(api_key_, flexible_));
    msg.Encode(*w, version_);
    w->PatchInt32(0, static_cast<int32_t>(w->size() - 4));
    Finish(std::move(w));
  }
  // Sends `msg` encoded at `version` regardless of the request's (ApiVersions fallback to v0).
  template <typename Msg>
  void SendAtVersion(const Msg& msg, int16_t version) {
    version_ = version;
    flexible_ = Msg::IsFlexible(version);
    Send(msg);
  }
  void SendNothing() { Finish(nullptr); }
  int16_t version() const { return version_; }
  bool valid() const { return sink_ != nullptr; }

 private:
  void Finish(std::unique_ptr<Writer> w) {
    if (!sink_) return;
    auto sink = std::move(sink_);
    sink_.reset();
    sink->Complete(seq_, std::move(w));
  }
  std::shared_ptr<ResponseSink> sink_;
  uint64_t seq_ = 0;
  int32_t correlation_id_ = 0;
  int16_t api_key_ = 0;
  int16_t version_ = 0;
  bool flexible_ = false;
};

// Runs functions on one connection's I/O context until closed; after Close() posts are
// dropped. Log callbacks (flusher thread) use it so a stopped server is never touched.
class SafeExecutor {
 public:
  // Holding the context keeps it alive for sockets and timers still referenced by callbacks.
  explicit SafeExecutor(std::shared_ptr<boost::asio::io_context> io) : io_(std::move(io)) {}
  void Post(std::function<void()> fn);
  void Close();
  boost::asio::io_context* io() const { return io_.get(); }

 private:
  std::mutex mu_;
  std::shared_ptr<boost::asio::io_context> io_;
  bool closed_ = false;
};

// Everything the handlers share. Owned by Server::Impl.
struct Broker {
  ServerOptions options;
  log::LogManager* logs = nullptr;
  GroupCoordinator* groups = nullptr;
  std::string advertised_host;
  int32_t advertised_port = 0;
  // The interceptor whose patterns match `topic`, or nullptr.
  const ProduceInterceptor* InterceptorFor(const std::string& topic) const;
  // Pending long-poll fetches, cancelled on Stop (fetch_waits.cc).
  struct FetchWaitRegistry* fetch_waits = nullptr;
  std::atomic<bool> stopping{false};
};

struct RequestContext {
  RequestHeader header;
  Reader body;
  // Owns the bytes `body` points into. Mutable for one use only: Produce appends record
  // batches in place (offsets rewritten in this buffer, no copy); nothing reads it after.
  std::shared_ptr<std::string> frame;
  std::string client_host;
  boost::asio::io_context* io = nullptr;     // the connection's context (timers)
  std::shared_ptr<SafeExecutor> exec;        // posts back onto that context from any thread
  Responder responder;
};

// A handler decodes its request from ctx.body and answers through ctx.responder (now or
// later). A non-ok Status means the request was malformed: the connection is closed.
using HandlerFn = Status (*)(Broker& broker, RequestContext& ctx);

struct ApiEntry {
  int16_t api_key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  int16_t flexible_version;
  HandlerFn handler;
};

// The one table of supported APIs (api_table.cc); ApiVersions advertises exactly these ranges.
const std::vector<ApiEntry>& ApiTable();
const ApiEntry* FindApi(int16_t api_key);

// Handlers, one per API (handlers_*.cc).
Status HandleApiVersions(Broker& b, RequestContext& ctx);
Status HandleMetadata(Broker& b, RequestContext& ctx);
Status HandleProduce(Broker& b, RequestContext& ctx);
Status HandleFetch(Broker& b, RequestContext& ctx);
Status HandleListOffsets(Broker& b, RequestContext& ctx);
Status HandleCreateTopics(Broker& b, RequestContext& ctx);
Status HandleDeleteTopics(Broker& b, RequestContext& ctx);
Status HandleCreatePartitions(Broker& b, RequestContext& ctx);
Status HandleDescribeConfigs(Broker& b, RequestContext& ctx);
Status HandleAlterConfigs(Broker& b, RequestContext& ctx);
Status HandleIncrementalAlterConfigs(Broker& b, RequestContext& ctx);
Status HandleInitProducerId(Broker& b, RequestContext& ctx);
Status HandleDescribeCluster(Broker& b, RequestContext& ctx);
Status HandleFindCoordinator(Broker& b, RequestContext& ctx);
Status HandleJoinGroup(Broker& b, RequestContext& ctx);
Status HandleSyncGroup(Broker& b, RequestContext& ctx);
Status HandleHeartbeat(Broker& b, RequestContext& ctx);
Status HandleLeaveGroup(Broker& b, RequestContext& ctx);
Status HandleOffsetCommit(Broker& b, RequestContext& ctx);
Status HandleOffsetFetch(Broker& b, RequestContext& ctx);
Status HandleDescribeGroups(Broker& b, RequestContext& ctx);
Status HandleListGroups(Broker& b, RequestContext& ctx);
Status HandleDeleteGroups(Broker& b, RequestContext& ctx);
Status HandleOffsetDelete(Broker& b, RequestContext& ctx);

// Whether `topic` matches glob `pattern` ('*' = any run of characters).
bool GlobMatch(std::string_view pattern, std::string_view topic);

}  // namespace ec::kafka
