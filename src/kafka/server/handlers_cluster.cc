// ApiVersions, Metadata, DescribeCluster, FindCoordinator, InitProducerId.
#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "log/log_manager.h"

namespace ec::kafka {

Status HandleApiVersions(Broker& b, RequestContext& ctx) {
  ApiVersionsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  ApiVersionsResponse resp;
  for (const ApiEntry& e : ApiTable()) resp.api_keys.push_back({e.api_key, e.min_version, e.max_version});
  ctx.responder.Send(resp);
  return Status::Ok();
}

namespace {

MetadataResponse::MetadataResponseTopic DescribeForMetadata(Broker& b, const log::TopicInfo& t) {
  MetadataResponse::MetadataResponseTopic mt;
  mt.name = t.name;
  mt.is_internal = t.internal;
  for (int32_t p = 0; p < t.partitions; ++p) {
    MetadataResponse::MetadataResponseTopic::MetadataResponsePartition mp;
    mp.partition_index = p;
    mp.leader_id = b.options.node_id;
    mp.leader_epoch = 0;
    mp.replica_nodes = {b.options.node_id};
    mp.isr_nodes = {b.options.node_id};
    mt.partitions.push_back(std::move(mp));
  }
  return mt;
}

}  // namespace

Status HandleMetadata(Broker& b, RequestContext& ctx) {
  MetadataRequest req;
  int16_t v = ctx.header.api_version;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, v));
  MetadataResponse resp;
  resp.brokers.push_back({b.options.node_id, b.advertised_host, b.advertised_port, std::nullopt});
  resp.cluster_id = b.options.cluster_id;
  resp.controller_id = b.options.node_id;
  // v0: an empty list means all topics; v1+: null means all, empty means none.
  bool all = !req.topics.has_value() || (v == 0 && req.topics->empty());
  if (all) {
    for (const log::TopicInfo& t : b.logs->ListTopics()) {
      if (t.internal) continue;
      resp.topics.push_back(DescribeForMetadata(b, t));
    }
  } else {
    for (const auto& rt : *req.topics) {
      auto info = b.logs->DescribeTopic(rt.name);
      if (!info && b.options.auto_create_topics && req.allow_auto_topic_creation) {
        Status st = b.logs->CreateTopic(rt.name, b.options.default_partitions);
        if (st.ok() || st.code() == ErrorCode::kAlreadyExists) info = b.logs->DescribeTopic(rt.name);
      }
      if (!info) {
        MetadataResponse::MetadataResponseTopic mt;
        mt.name = rt.name;
        mt.error_code = log::LogManager::ValidateTopicName(rt.name).ok()
                            ? err::kUnknownTopicOrPartition
                            : err::kInvalidTopic;
        resp.topics.push_back(std::move(mt));
        continue;
      }
      resp.topics.push_back(DescribeForMetadata(b, *info));
    }
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleDescribeCluster(Broker& b, RequestContext& ctx) {
  DescribeClusterRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  DescribeClusterResponse resp;
  resp.cluster_id = b.options.cluster_id;
  resp.controller_id = b.options.node_id;
  resp.brokers.push_back({b.options.node_id, b.advertised_host, b.advertised_port, std::nullopt});
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleFindCoordinator(Broker& b, RequestContext& ctx) {
  FindCoordinatorRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  FindCoordinatorResponse resp;
  if (req.key_type != 0) {
    // Transaction coordinators are not offered (no transactions support).
    resp.error_code = err::kCoordinatorNotAvailable;
    resp.error_message = "transactions are not supported by this broker";
    resp.node_id = -1;
    resp.port = -1;
  } else {
    resp.node_id = b.options.node_id;
    resp.host = b.advertised_host;
    resp.port = b.advertised_port;
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleInitProducerId(Broker& b, RequestContext& ctx) {
  InitProducerIdRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  InitProducerIdResponse resp;
  if (req.transactional_id && !req.transactional_id->empty()) {
    resp.error_code = err::kTransactionalIdAuthorizationFailed;  // transactions unsupported
  } else {
    Result<int64_t> id = b.logs->AllocateProducerId();
    if (!id.ok()) {
      resp.error_code = err::kCoordinatorNotAvailable;
    } else {
      resp.producer_id = *id;
      resp.producer_epoch = 0;
    }
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

}  // namespace ec::kafka
