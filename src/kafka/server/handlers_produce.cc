// Produce: validate, optionally pass through a produce interceptor, append with the durability
// the acks ask for, answer when every partition is done.
#include <atomic>

#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "log/log_error.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"

namespace ec::kafka {
namespace {

using PartitionResponse = ProduceResponse::TopicProduceResponse::PartitionProduceResponse;

// Shared by the appends of one request; the last one to finish sends the response.
struct ProduceState {
  ProduceResponse resp;
  std::vector<PartitionResponse*> slots;
  std::atomic<int> pending{1};  // +1 held by the handler until every append was started
  Responder responder;
  bool reply = true;

  void Done() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (reply) {
        responder.Send(resp);
      }
    }
  }
};

void FillFromAppend(PartitionResponse& out, const log::AppendResult& r) {
  out.error_code = log::KafkaErrorCode(r.error);
  if (r.ok()) {
    out.base_offset = r.base_offset;
    out.log_append_time_ms = r.log_append_time_ms;
    out.log_start_offset = r.log_start_offset;
  } else {
    out.base_offset = -1;
    if (!r.message.empty()) out.error_message = r.message;
  }
}

// Runs the interceptor over the produced batches. Returns the bytes to append (possibly
// empty: nothing to write) or fills `out` with the rejection.
std::optional<std::string> Intercept(const ProduceInterceptor& icpt, const std::string& topic,
                                     int32_t partition, std::string_view records,
                                     PartitionResponse& out) {
  std::vector<InterceptedRecord> in;
  Status st = log::ForEachBatch(records, false, [&](const log::RecordBatchView& batch) {
    return batch.ForEachRecord([&](const log::Record& r) {
      InterceptedRecord ir;
      if (r.key) ir.key = std::string(*r.key);
      if (r.value) ir.value = std::string(*r.value);
      for (const auto& h : r.headers) {
        ir.headers.emplace_back(std::string(h.key),
                                h.value ? std::optional<std::string>(std::string(*h.value))
                                        : std::nullopt);
      }
      ir.timestamp_ms = r.timestamp;
      in.push_back(std::move(ir));
      return Status::Ok();
    });
  });
  if (!st.ok()) {
    out.error_code = err::kCorruptMessage;
    out.error_message = st.message();
    out.base_offset = -1;
    return std::nullopt;
  }
  InterceptDecision d = icpt.fn(topic, partition, in);
  if (d.kafka_error != 0) {
    out.error_code = d.kafka_error;
    out.error_message = d.error_message;
    out.base_offset = -1;
    return std::nullopt;
  }
  if (d.records.empty()) return std::string();
  log::RecordBatchBuilder builder;
  for (const InterceptedRecord& r : d.records) {
    std::vector<log::RecordHeader> headers;
    for (const auto& [k, v] : r.headers) {
      headers.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    builder.Add(r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
                r.value ? std::optional<std::string_view>(*r.value) : std::nullopt,
                r.timestamp_ms, headers);
  }
  Result<std::string> batch = builder.Build();
  if (!batch.ok()) {
    out.error_code = err::kUnknownServerError;
    out.error_message = batch.status().message();
    out.base_offset = -1;
    return std::nullopt;
  }
  return std::move(batch).value();
}

}  // namespace

Status HandleProduce(Broker& b, RequestContext& ctx) {
  ProduceRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  auto state = std::make_shared<ProduceState>();
  state->reply = req.acks != 0;
  state->responder = std::move(ctx.responder);
  bool acks_ok = req.acks == 0 || req.acks == 1 || req.acks == -1;
  log::AppendOptions opts;
  opts.durability = req.acks == -1 ? log::Durability::kSync : log::Durability::kWritten;

  // Lay out the response first so slots have stable addresses during the async appends.
  for (const auto& t : req.topic_data) {
    auto& rt = state->resp.responses.emplace_back();
    rt.name = t.name;
    rt.partition_responses.resize(t.partition_data.size());
  }
  for (size_t ti = 0; ti < req.topic_data.size(); ++ti) {
    const auto& t = req.topic_data[ti];
    const ProduceInterceptor* icpt = b.InterceptorFor(t.name);
    for (size_t pi = 0; pi < t.partition_data.size(); ++pi) {
      const auto& p = t.partition_data[pi];
      PartitionResponse& out = state->resp.responses[ti].partition_responses[pi];
      out.index = p.index;
      out.base_offset = -1;
      if (!acks_ok) {
        out.error_code = err::kInvalidRequiredAcks;
        continue;
      }
      std::shared_ptr<log::PartitionLog> plog = b.logs->GetPartition(t.name, p.index);
      if (!plog) {
        out.error_code = err::kUnknownTopicOrPartition;
        continue;
      }
      if (p.records.is_null || p.records.data.empty()) {
        out.error_code = err::kCorruptMessage;
        out.error_message = "empty record set";
        continue;
      }
      auto on_done = [state, &out](const log::AppendResult& r) {
        FillFromAppend(out, r);
        state->Done();
      };
      if (icpt != nullptr) {
        std::optional<std::string> replaced = Intercept(*icpt, t.name, p.index, p.records.data, out);
        if (!replaced) continue;
        if (replaced->empty()) {
          out.base_offset = plog->log_end_offset();
          continue;
        }
        state->pending.fetch_add(1, std::memory_order_relaxed);
        plog->AppendAsync(std::move(*replaced), opts, std::move(on_done));
        continue;
      }
      state->pending.fetch_add(1, std::memory_order_relaxed);
      // The records lie in the request buffer, which this request owns: append them in place
      // (no copy of the batch); otherwise (never expected) copy them.
      std::string_view rec = p.records.data;
      std::string* frame = ctx.frame.get();
      if (frame != nullptr && rec.data() >= frame->data() &&
          rec.data() + rec.size() <= frame->data() + frame->size()) {
        char* at = frame->data() + (rec.data() - frame->data());
        plog->AppendInPlace(at, rec.size(), opts, std::move(on_done));
      } else {
        plog->AppendAsync(std::string(rec), opts, std::move(on_done));
      }
    }
  }
  if (!state->reply) {
    // acks=0: the client expects no response at all; free its slot in the order now.
    Responder r = std::move(state->responder);
    state->responder = Responder();
    r.SendNothing();
  }
  state->Done();
  return Status::Ok();
}

}  // namespace ec::kafka
