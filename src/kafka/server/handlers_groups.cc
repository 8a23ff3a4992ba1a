// Consumer-group APIs. Membership runs on the coordinator's thread (posted there); committed
// offsets go to the log's GroupOffsets, durably, before the commit is acknowledged.
#include <boost/asio/post.hpp>

#include "kafka/group/coordinator.h"
#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "log/log_manager.h"

namespace ec::kafka {
namespace {

// Runs `fn` on the coordinator thread unless the server is stopping.
template <typename Fn>
void OnCoordinator(Broker& b, Fn fn) {
  auto holder = std::make_shared<Fn>(std::move(fn));
  GroupCoordinator* c = b.groups;
  boost::asio::post(c->io(), [&b, c, holder] {
    if (!b.stopping) (*holder)(*c);
  });
}

}  // namespace

Status HandleJoinGroup(Broker& b, RequestContext& ctx) {
  JoinGroupRequest req;
  int16_t v = ctx.header.api_version;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, v));
  OnCoordinator(b, [req = std::move(req), v, client = ctx.header.client_id.value_or(""),
                    host = ctx.client_host, r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    c.JoinGroup(std::move(req), v, std::move(client), std::move(host), std::move(r));
  });
  return Status::Ok();
}

Status HandleSyncGroup(Broker& b, RequestContext& ctx) {
  SyncGroupRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OnCoordinator(b, [req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    c.SyncGroup(std::move(req), std::move(r));
  });
  return Status::Ok();
}

Status HandleHeartbeat(Broker& b, RequestContext& ctx) {
  HeartbeatRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OnCoordinator(b, [req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    c.Heartbeat(std::move(req), std::move(r));
  });
  return Status::Ok();
}

Status HandleLeaveGroup(Broker& b, RequestContext& ctx) {
  LeaveGroupRequest req;
  int16_t v = ctx.header.api_version;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, v));
  OnCoordinator(b, [req = std::move(req), v, r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    c.LeaveGroup(std::move(req), v, std::move(r));
  });
  return Status::Ok();
}

Status HandleOffsetCommit(Broker& b, RequestContext& ctx) {
  OffsetCommitRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  Broker* bp = &b;
  OnCoordinator(b, [bp, req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    auto resp = std::make_shared<OffsetCommitResponse>();
    int16_t code = c.CheckCommit(req.group_id, req.generation_id, req.member_id);
    std::vector<log::OffsetCommitEntry> entries;
    for (const auto& t : req.topics) {
      auto& rt = resp->topics.emplace_back();
      rt.name = t.name;
      bool exists = bp->logs->DescribeTopic(t.name).has_value();
      for (const auto& p : t.partitions) {
        int16_t pc = code;
        if (pc == err::kNone && !bp->logs->GetPartition(t.name, p.partition_index)) {
          pc = err::kUnknownTopicOrPartition;
        }
        if (pc == err::kNone && p.committed_metadata &&
            static_cast<int64_t>(p.committed_metadata->size()) >
                bp->logs->group_offsets()->max_metadata_bytes) {
          pc = err::kOffsetMetadataTooLarge;
        }
        (void)exists;
        rt.partitions.push_back({p.partition_index, pc});
        if (pc == err::kNone) {
          log::OffsetCommitEntry e;
          e.topic = t.name;
          e.partition = p.partition_index;
          e.committed.offset = p.committed_offset;
          e.committed.leader_epoch = p.committed_leader_epoch;
          e.committed.metadata = p.committed_metadata.value_or("");
          entries.push_back(std::move(e));
        }
      }
    }
    if (entries.empty()) return r.Send(*resp);
    auto rp = std::make_shared<Responder>(std::move(r));
    bp->logs->group_offsets()->CommitAsync(
        req.group_id, entries, log::Durability::kSync, [resp, rp](Status st) {
          if (!st.ok()) {
            for (auto& t : resp->topics) {
              for (auto& p : t.partitions) {
                if (p.error_code == err::kNone) p.error_code = err::kUnknownServerError;
              }
            }
          }
          rp->Send(*resp);
        });
  });
  return Status::Ok();
}

Status HandleOffsetFetch(Broker& b, RequestContext& ctx) {
  OffsetFetchRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OffsetFetchResponse resp;
  auto* offsets = b.logs->group_offsets();
  if (!req.topics) {
    std::map<std::string, OffsetFetchResponse::OffsetFetchResponseTopic> by_topic;
    for (const auto& [tp, c] : offsets->FetchAll(req.group_id)) {
      auto& rt = by_topic[tp.first];
      rt.name = tp.first;
      rt.partitions.push_back({tp.second, c.offset, c.leader_epoch, c.metadata, err::kNone});
    }
    for (auto& [name, t] : by_topic) resp.topics.push_back(std::move(t));
  } else {
    for (const auto& t : *req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (int32_t p : t.partition_indexes) {
        auto c = offsets->Fetch(req.group_id, t.name, p);
        if (c) {
          rt.partitions.push_back({p, c->offset, c->leader_epoch, c->metadata, err::kNone});
        } else {
          // No commit: offset -1 and an empty metadata string, no error (as Kafka answers).
          rt.partitions.push_back({p, -1, -1, std::string(), err::kNone});
        }
      }
    }
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleDescribeGroups(Broker& b, RequestContext& ctx) {
  DescribeGroupsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OnCoordinator(b, [req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    DescribeGroupsResponse resp;
    c.DescribeGroups(req, resp);
    r.Send(resp);
  });
  return Status::Ok();
}

Status HandleListGroups(Broker& b, RequestContext& ctx) {
  ListGroupsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OnCoordinator(b, [req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    ListGroupsResponse resp;
    c.ListGroups(req, resp);
    r.Send(resp);
  });
  return Status::Ok();
}

Status HandleDeleteGroups(Broker& b, RequestContext& ctx) {
  DeleteGroupsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  OnCoordinator(b, [req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    DeleteGroupsResponse resp;
    for (const auto& g : req.groups_names) resp.results.push_back({g, c.DeleteGroup(g)});
    r.Send(resp);
  });
  return Status::Ok();
}

Status HandleOffsetDelete(Broker& b, RequestContext& ctx) {
  OffsetDeleteRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  Broker* bp = &b;
  OnCoordinator(b, [bp, req = std::move(req), r = std::move(ctx.responder)](GroupCoordinator& c) mutable {
    OffsetDeleteResponse resp;
    auto* offsets = bp->logs->group_offsets();
    if (!c.HasMembers(req.group_id) && offsets->FetchAll(req.group_id).empty()) {
      resp.error_code = err::kGroupIdNotFound;
      return r.Send(resp);
    }
    // Offsets of an active group are kept (Kafka refuses GROUP_SUBSCRIBED_TO_TOPIC, code 86).
    bool active = c.HasMembers(req.group_id);
    std::vector<std::pair<std::string, int32_t>> del;
    for (const auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (const auto& p : t.partitions) {
        int16_t code = active ? int16_t{86} : err::kNone;
        if (!active) del.emplace_back(t.name, p.partition_index);
        rt.partitions.push_back({p.partition_index, code});
      }
    }
    if (!del.empty() && !offsets->DeleteOffsets(req.group_id, del).ok()) {
      resp.error_code = err::kUnknownServerError;
    }
    r.Send(resp);
  });
  return Status::Ok();
}

}  // namespace ec::kafka
