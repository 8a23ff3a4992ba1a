// Fetch (with min_bytes/max_wait long-poll on the log's data notifications) and ListOffsets.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "kafka/server/fetch_waits.h"
#include "log/log_manager.h"

namespace ec::kafka {

namespace {

struct WaitTicket {
  std::shared_ptr<log::PartitionLog> log;
  uint64_t id;
};

// One Fetch request in flight. Lives on its connection's thread except for the log's
// notification callbacks, which only post back to that thread.
struct FetchOp : std::enable_shared_from_this<FetchOp> {
  Broker* broker = nullptr;
  FetchRequest req;
  int16_t version = 0;
  Responder responder;
  std::shared_ptr<SafeExecutor> exec;
  std::unique_ptr<boost::asio::steady_timer> timer;
  std::chrono::steady_clock::time_point deadline;
  std::vector<WaitTicket> tickets;
  bool finished = false;

  FetchResponse Build(size_t* total) const;
  void Run();
  void Wait();
  void DropTickets();
  void Finish(bool send);
};

}  // namespace

struct FetchWaitRegistry {
  std::mutex mu;
  std::unordered_set<std::shared_ptr<FetchOp>> ops;
};

FetchWaitRegistry* NewFetchWaitRegistry() { return new FetchWaitRegistry(); }  // NOLINT
void DeleteFetchWaitRegistry(FetchWaitRegistry* r) { delete r; }                  // NOLINT

void CancelAllFetchWaits(FetchWaitRegistry* r) {
  std::unordered_set<std::shared_ptr<FetchOp>> ops;
  {
    std::lock_guard lock(r->mu);
    ops.swap(r->ops);
  }
  for (const auto& op : ops) {
    op->exec->Post([op] { op->Finish(false); });
  }
}

namespace {

// Hands the read's file ranges to the response: the connection sendfile()s them, and the
// slices (held by the records' owner) keep the segment files open until then, even if
// retention deletes them meanwhile. Files without a descriptor (a test Env) are copied.
bool AttachRecords(log::ReadResult& rr, Records* out) {
  bool by_fd = std::all_of(rr.slices.begin(), rr.slices.end(),
                           [](const log::FileSlice& s) { return s.file->fd() >= 0; });
  if (!by_fd) {
    auto buf = std::make_shared<std::string>();
    buf->reserve(rr.total_bytes);
    if (!rr.CopyTo(buf.get()).ok()) return false;
    *out = Records(*buf, buf);
    return true;
  }
  std::vector<FileRange> ranges;
  ranges.reserve(rr.slices.size());
  for (const log::FileSlice& s : rr.slices) ranges.push_back({s.file->fd(), s.position, s.size});
  *out = Records(std::move(ranges),
                 std::make_shared<const std::vector<log::FileSlice>>(std::move(rr.slices)));
  return true;
}

FetchResponse FetchOp::Build(size_t* total) const {
  FetchResponse resp;
  *total = 0;
  size_t budget = req.max_bytes > 0 ? static_cast<size_t>(req.max_bytes) : 0;
  log::ReadOptions ro;
  ro.isolation = req.isolation_level == 1 ? log::IsolationLevel::kReadCommitted
                                          : log::IsolationLevel::kReadUncommitted;
  for (const auto& t : req.topics) {
    auto& rt = resp.responses.emplace_back();
    rt.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition;
      auto plog = broker->logs->GetPartition(t.topic, p.partition);
      if (!plog) {
        rp.error_code = err::kUnknownTopicOrPartition;
        rp.high_watermark = -1;
        continue;
      }
      size_t limit = std::min<size_t>(budget - std::min(budget, *total),
                                      static_cast<size_t>(std::max(0, p.partition_max_bytes)));
      ro.min_one_batch = *total == 0;
      log::ReadResult rr;
      if (limit > 0 || ro.min_one_batch) {
        rr = plog->Read(p.fetch_offset, limit, ro);
      } else {
        rr.high_watermark = plog->high_watermark();
        rr.last_stable_offset = plog->last_stable_offset();
        rr.log_start_offset = plog->log_start_offset();
      }
      rp.error_code = log::KafkaErrorCode(rr.error);
      rp.high_watermark = rr.error == log::LogError::kNone ? rr.high_watermark : plog->high_watermark();
      rp.last_stable_offset = rr.error == log::LogError::kNone ? rr.last_stable_offset : plog->last_stable_offset();
      rp.log_start_offset = rr.error == log::LogError::kNone ? rr.log_start_offset : plog->log_start_offset();
      if (ro.isolation == log::IsolationLevel::kReadCommitted) {
        rp.aborted_transactions.emplace();
        for (const auto& a : rr.aborted_transactions) {
          rp.aborted_transactions->push_back({a.producer_id, a.first_offset});
        }
      }
      if (rr.error == log::LogError::kNone && rr.total_bytes > 0) {
        *total += rr.total_bytes;
        if (!AttachRecords(rr, &rp.records)) rp.error_code = err::kUnknownServerError;
      } else {
        rp.records = Records(std::string_view());
      }
    }
  }
  return resp;
}

void FetchOp::Run() {
  size_t total = 0;
  FetchResponse resp = Build(&total);
  bool expired = std::chrono::steady_clock::now() >= deadline;
  if (total >= static_cast<size_t>(std::max(1, req.min_bytes)) || expired || req.max_wait_ms <= 0 ||
      broker->stopping) {
    finished = true;
    DropTickets();
    if (timer) timer->cancel();
    {
      std::lock_guard lock(broker->fetch_waits->mu);
      broker->fetch_waits->ops.erase(shared_from_this());
    }
    responder.Send(resp);
    return;
  }
  Wait();
}

void FetchOp::Wait() {
  DropTickets();
  auto self = shared_from_this();
  {
    std::lock_guard lock(broker->fetch_waits->mu);
    broker->fetch_waits->ops.insert(self);
  }
  // The notification may fire on the appender's thread: only post back from there.
  std::weak_ptr<FetchOp> weak = self;
  auto wake = [weak] {
    if (auto op = weak.lock()) {
      op->exec->Post([op] {
        if (!op->finished) op->Run();
      });
    }
  };
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) {
      auto plog = broker->logs->GetPartition(t.topic, p.partition);
      if (!plog) continue;
      uint64_t id = plog->NotifyWhenPast(std::max(p.fetch_offset, plog->log_start_offset()), wake);
      tickets.push_back({plog, id});
    }
  }
  if (!timer) {
    timer = std::make_unique<boost::asio::steady_timer>(*exec->io());
    timer->expires_at(deadline);
    timer->async_wait([weak](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto op = weak.lock()) {
        if (!op->finished) op->Run();
      }
    });
  }
}

void FetchOp::DropTickets() {
  for (const auto& t : tickets) t.log->CancelNotify(t.id);
  tickets.clear();
}

void FetchOp::Finish(bool send) {
  if (finished) return;
  finished = true;
  DropTickets();
  if (timer) timer->cancel();
  if (!send) responder = Responder();
}

}  // namespace

Status HandleFetch(Broker& b, RequestContext& ctx) {
  auto op = std::make_shared<FetchOp>();
  op->version = ctx.header.api_version;
  EC_RETURN_IF_ERROR(op->req.Decode(ctx.body, op->version));
  op->broker = &b;
  op->responder = std::move(ctx.responder);
  op->exec = ctx.exec;
  int32_t wait = std::clamp(op->req.max_wait_ms, 0, b.options.max_fetch_wait_ms);
  op->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
  op->Run();
  return Status::Ok();
}

Status HandleListOffsets(Broker& b, RequestContext& ctx) {
  ListOffsetsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  ListOffsetsResponse resp;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      auto plog = b.logs->GetPartition(t.name, p.partition_index);
      if (!plog) {
        rp.error_code = err::kUnknownTopicOrPartition;
        continue;
      }
      rp.leader_epoch = 0;
      if (p.timestamp == -2) {  // earliest
        rp.offset = plog->log_start_offset();
      } else if (p.timestamp == -1) {  // latest
        rp.offset = req.isolation_level == 1 ? plog->last_stable_offset() : plog->high_watermark();
      } else if (p.timestamp == -3) {  // max timestamp
        log::TimestampOffset to = plog->MaxTimestamp();
        rp.offset = to.offset;
        rp.timestamp = to.timestamp;
      } else {
        log::TimestampOffset to = plog->OffsetForTimestamp(p.timestamp);
        rp.offset = to.offset;
        rp.timestamp = to.timestamp;
      }
    }
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

}  // namespace ec::kafka
