#include "kafka/group/coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "kafka/server/errors.h"
#include "log/log_manager.h"

namespace ec::kafka {

const char* GroupStateName(GroupState s) {
  switch (s) {
    case GroupState::kEmpty: return "Empty";
    case GroupState::kPreparingRebalance: return "PreparingRebalance";
    case GroupState::kCompletingRebalance: return "CompletingRebalance";
    case GroupState::kStable: return "Stable";
    case GroupState::kDead: return "Dead";
  }
  return "Dead";
}

GroupCoordinator::GroupCoordinator(Broker* broker, std::shared_ptr<boost::asio::io_context> io)
    : broker_(broker), io_(std::move(io)) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::Shutdown() {
  for (auto& [id, g] : groups_) {
    if (g->rebalance_timer) g->rebalance_timer->cancel();
    for (auto& [mid, m] : g->members) {
      m->join = Responder();
      m->sync = Responder();
      if (m->session_timer) m->session_timer->cancel();
    }
  }
}

GroupCoordinator::Group* GroupCoordinator::Find(const std::string& id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

namespace {

JoinGroupResponse JoinError(int16_t code, const std::string& member_id = "") {
  JoinGroupResponse r;
  r.error_code = code;
  r.generation_id = -1;
  r.member_id = member_id;
  return r;
}

}  // namespace

void GroupCoordinator::JoinGroup(JoinGroupRequest req, int16_t version, std::string client_id,
                                 std::string client_host, Responder r) {
  if (req.group_id.empty()) return r.Send(JoinError(err::kInvalidGroupId));
  if (req.session_timeout_ms < broker_->options.group_min_session_timeout_ms ||
      req.session_timeout_ms > broker_->options.group_max_session_timeout_ms) {
    return r.Send(JoinError(err::kInvalidSessionTimeout, req.member_id));
  }
  if (req.protocols.empty() || req.protocol_type.empty()) {
    return r.Send(JoinError(err::kInconsistentGroupProtocol, req.member_id));
  }
  Group* g = Find(req.group_id);
  if (g == nullptr) {
    if (!req.member_id.empty()) return r.Send(JoinError(err::kUnknownMemberId, req.member_id));
    auto ng = std::make_unique<Group>();
    ng->id = req.group_id;
    g = ng.get();
    groups_[req.group_id] = std::move(ng);
  }
  if (!g->members.empty()) {
    bool common = g->protocol_type == req.protocol_type;
    if (common) {
      common = false;
      for (const auto& p : req.protocols) {
        bool all = true;
        for (const auto& [mid, m] : g->members) {
          if (mid == req.member_id) continue;
          all = all && std::any_of(m->protocols.begin(), m->protocols.end(),
                                   [&](const auto& mp) { return mp.first == p.name; });
        }
        common = common || all;
      }
    }
    if (!common) return r.Send(JoinError(err::kInconsistentGroupProtocol, req.member_id));
  }
  Member* m = nullptr;
  if (req.member_id.empty()) {
    auto nm = std::make_unique<Member>();
    nm->id = (client_id.empty() ? std::string("member") : client_id) + "-" +
             std::to_string(++next_member_) + "-" + std::to_string(broker_->options.node_id);
    m = nm.get();
    g->members[nm->id] = std::move(nm);
  } else {
    auto it = g->members.find(req.member_id);
    if (it == g->members.end()) return r.Send(JoinError(err::kUnknownMemberId, req.member_id));
    m = it->second.get();
  }
  if (m->join.valid()) {
    JoinGroupResponse old = JoinError(err::kRebalanceInProgress, m->id);
    m->join.Send(old);
  }
  m->instance_id = req.group_instance_id;
  m->client_id = client_id;
  m->client_host = client_host;
  m->session_timeout_ms = req.session_timeout_ms;
  m->rebalance_timeout_ms = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  m->protocol_type = req.protocol_type;
  m->protocols.clear();
  for (auto& p : req.protocols) m->protocols.emplace_back(p.name, std::move(p.metadata));
  m->join_version = version;
  m->join = std::move(r);
  g->protocol_type = req.protocol_type;
  ArmSession(*g, *m);
  if (g->state != GroupState::kPreparingRebalance) {
    PrepareRebalance(*g);
  } else {
    MaybeCompleteJoin(*g);
  }
}

void GroupCoordinator::PrepareRebalance(Group& g) {
  if (g.state == GroupState::kCompletingRebalance) {
    for (auto& [mid, m] : g.members) {
      if (m->sync.valid()) {
        SyncGroupResponse sr;
        sr.error_code = err::kRebalanceInProgress;
        m->sync.Send(sr);
      }
    }
  }
  g.state = GroupState::kPreparingRebalance;
  int32_t timeout = 0;
  for (const auto& [mid, m] : g.members) timeout = std::max(timeout, m->rebalance_timeout_ms);
  if (!g.rebalance_timer) g.rebalance_timer = std::make_unique<boost::asio::steady_timer>(*io_);
  g.rebalance_timer->expires_after(std::chrono::milliseconds(timeout));
  std::string id = g.id;
  g.rebalance_timer->async_wait([this, id](const boost::system::error_code& ec) {
    if (ec) return;
    Group* grp = Find(id);
    if (grp && grp->state == GroupState::kPreparingRebalance) CompleteJoin(*grp);
  });
  MaybeCompleteJoin(g);
}

void GroupCoordinator::MaybeCompleteJoin(Group& g) {
  if (g.state != GroupState::kPreparingRebalance) return;
  for (const auto& [mid, m] : g.members) {
    if (!m->join.valid()) return;
  }
  CompleteJoin(g);
}

bool GroupCoordinator::SupportsAll(const Group& g, const std::string& protocol) const {
  for (const auto& [mid, m] : g.members) {
    if (std::none_of(m->protocols.begin(), m->protocols.end(),
                     [&](const auto& p) { return p.first == protocol; })) {
      return false;
    }
  }
  return true;
}

std::string GroupCoordinator::SelectProtocol(const Group& g) const {
  // Each member votes for its most preferred protocol that every member supports.
  std::map<std::string, int> votes;
  std::string best;
  for (const auto& [mid, m] : g.members) {
    for (const auto& p : m->protocols) {
      if (SupportsAll(g, p.first)) {
        int v = ++votes[p.first];
        if (best.empty() || v > votes[best]) best = p.first;
        break;
      }
    }
  }
  return best;
}

void GroupCoordinator::CompleteJoin(Group& g) {
  if (g.rebalance_timer) g.rebalance_timer->cancel();
  std::vector<std::string> gone;
  for (const auto& [mid, m] : g.members) {
    if (!m->join.valid()) gone.push_back(mid);
  }
  for (const auto& mid : gone) {
    spdlog::info("kafka: group {}: member {} did not rejoin in time, removed", g.id, mid);
    RemoveMember(g, mid);
  }
  ++g.generation;
  if (g.members.empty()) {
    g.state = GroupState::kEmpty;
    g.protocol.clear();
    g.leader.clear();
    return;
  }
  g.protocol = SelectProtocol(g);
  if (g.members.find(g.leader) == g.members.end()) g.leader = g.members.begin()->first;
  g.state = GroupState::kCompletingRebalance;
  for (auto& [mid, m] : g.members) {
    JoinGroupResponse resp;
    resp.generation_id = g.generation;
    resp.protocol_name = g.protocol;
    resp.leader = g.leader;
    resp.member_id = mid;
    if (mid == g.leader) {
      for (const auto& [oid, o] : g.members) {
        JoinGroupResponse::JoinGroupResponseMember jm;
        jm.member_id = oid;
        jm.group_instance_id = o->instance_id;
        for (const auto& p : o->protocols) {
          if (p.first == g.protocol) jm.metadata = p.second;
        }
        resp.members.push_back(std::move(jm));
      }
    }
    m->assignment.clear();
    Responder r = std::move(m->join);
    m->join = Responder();
    r.Send(resp);
    ArmSession(g, *m);
  }
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = *it->second;
  if (m.join.valid()) m.join.Send(JoinError(err::kUnknownMemberId, member_id));
  if (m.sync.valid()) {
    SyncGroupResponse sr;
    sr.error_code = err::kUnknownMemberId;
    m.sync.Send(sr);
  }
  if (m.session_timer) m.session_timer->cancel();
  if (g.leader == member_id) g.leader.clear();
  g.members.erase(it);
}

void GroupCoordinator::ArmSession(Group& g, Member& m) {
  if (!m.session_timer) m.session_timer = std::make_unique<boost::asio::steady_timer>(*io_);
  m.session_timer->expires_after(std::chrono::milliseconds(m.session_timeout_ms));
  std::string gid = g.id, mid = m.id;
  m.session_timer->async_wait([this, gid, mid](const boost::system::error_code& ec) {
    if (ec) return;
    Group* grp = Find(gid);
    if (!grp) return;
    auto it = grp->members.find(mid);
    if (it == grp->members.end()) return;
    // A member waiting in JoinGroup is governed by the rebalance timeout instead.
    if (it->second->join.valid()) return;
    spdlog::info("kafka: group {}: member {} session expired", gid, mid);
    RemoveMember(*grp, mid);
    if (grp->state == GroupState::kPreparingRebalance) {
      MaybeCompleteJoin(*grp);
    } else {
      PrepareRebalance(*grp);
    }
  });
}

void GroupCoordinator::SyncGroup(SyncGroupRequest req, Responder r) {
  SyncGroupResponse resp;
  Group* g = Find(req.group_id);
  auto it = g ? g->members.find(req.member_id) : decltype(g->members.end()){};
  if (!g || it == g->members.end()) {
    resp.error_code = err::kUnknownMemberId;
    return r.Send(resp);
  }
  if (req.generation_id != g->generation) {
    resp.error_code = err::kIllegalGeneration;
    return r.Send(resp);
  }
  Member& m = *it->second;
  ArmSession(*g, m);
  switch (g->state) {
    case GroupState::kPreparingRebalance:
      resp.error_code = err::kRebalanceInProgress;
      return r.Send(resp);
    case GroupState::kStable:
      resp.assignment = m.assignment;
      return r.Send(resp);
    case GroupState::kCompletingRebalance:
      break;
    default:
      resp.error_code = err::kUnknownMemberId;
      return r.Send(resp);
  }
  m.sync = std::move(r);
  if (req.member_id != g->leader) return;
  for (auto& [mid, mem] : g->members) mem->assignment.clear();
  for (auto& a : req.assignments) {
    auto mi = g->members.find(a.member_id);
    if (mi != g->members.end()) mi->second->assignment = std::move(a.assignment);
  }
  g->state = GroupState::kStable;
  for (auto& [mid, mem] : g->members) {
    if (mem->sync.valid()) {
      SyncGroupResponse sr;
      sr.assignment = mem->assignment;
      Responder s = std::move(mem->sync);
      mem->sync = Responder();
      s.Send(sr);
    }
  }
}

void GroupCoordinator::Heartbeat(HeartbeatRequest req, Responder r) {
  HeartbeatResponse resp;
  Group* g = Find(req.group_id);
  auto it = g ? g->members.find(req.member_id) : decltype(g->members.end()){};
  if (!g || it == g->members.end()) {
    resp.error_code = err::kUnknownMemberId;
  } else if (req.generation_id != g->generation) {
    resp.error_code = err::kIllegalGeneration;
  } else {
    ArmSession(*g, *it->second);
    if (g->state == GroupState::kPreparingRebalance) resp.error_code = err::kRebalanceInProgress;
  }
  r.Send(resp);
}

void GroupCoordinator::LeaveGroup(LeaveGroupRequest req, int16_t version, Responder r) {
  LeaveGroupResponse resp;
  Group* g = Find(req.group_id);
  std::vector<std::string> ids;
  if (version <= 2) {
    ids.push_back(req.member_id);
  } else {
    for (const auto& m : req.members) ids.push_back(m.member_id);
  }
  bool any = false;
  for (const auto& id : ids) {
    int16_t code = err::kNone;
    if (!g || g->members.find(id) == g->members.end()) {
      code = err::kUnknownMemberId;
    } else {
      RemoveMember(*g, id);
      any = true;
    }
    if (version <= 2) {
      resp.error_code = code;
    } else {
      resp.members.push_back({id, std::nullopt, code});
    }
  }
  if (version >= 3 && ids.empty()) resp.error_code = err::kNone;
  r.Send(resp);
  if (g && any) {
    if (g->state == GroupState::kPreparingRebalance) {
      MaybeCompleteJoin(*g);
    } else {
      PrepareRebalance(*g);
    }
  }
}

int16_t GroupCoordinator::CheckCommit(const std::string& group, int32_t generation,
                                      const std::string& member) {
  Group* g = Find(group);
  if (generation < 0 && member.empty()) {
    // A commit outside group management: allowed while no member is active.
    if (g && !g->members.empty()) return err::kIllegalGeneration;
    return err::kNone;
  }
  if (!g || g->members.find(member) == g->members.end()) return err::kUnknownMemberId;
  if (generation != g->generation) return err::kIllegalGeneration;
  if (g->state == GroupState::kCompletingRebalance) return err::kRebalanceInProgress;
  return err::kNone;
}

void GroupCoordinator::DescribeGroups(const DescribeGroupsRequest& req, DescribeGroupsResponse& out) {
  for (const auto& id : req.groups) {
    DescribeGroupsResponse::DescribedGroup d;
    d.group_id = id;
    Group* g = Find(id);
    if (!g) {
      bool has_offsets = !broker_->logs->group_offsets()->FetchAll(id).empty();
      d.group_state = has_offsets ? "Empty" : "Dead";
      d.protocol_type = has_offsets ? "consumer" : "";
      out.groups.push_back(std::move(d));
      continue;
    }
    d.group_state = GroupStateName(g->state);
    d.protocol_type = g->protocol_type;
    d.protocol_data = g->state == GroupState::kStable || g->state == GroupState::kCompletingRebalance
                          ? g->protocol
                          : "";
    for (const auto& [mid, m] : g->members) {
      DescribeGroupsResponse::DescribedGroup::DescribedGroupMember dm;
      dm.member_id = mid;
      dm.group_instance_id = m->instance_id;
      dm.client_id = m->client_id;
      dm.client_host = "/" + m->client_host;
      for (const auto& p : m->protocols) {
        if (p.first == g->protocol) dm.member_metadata = p.second;
      }
      if (g->state == GroupState::kStable) dm.member_assignment = m->assignment;
      d.members.push_back(std::move(dm));
    }
    out.groups.push_back(std::move(d));
  }
}

void GroupCoordinator::ListGroups(const ListGroupsRequest& req, ListGroupsResponse& out) {
  std::map<std::string, std::pair<std::string, std::string>> all;  // id -> type, state
  for (const auto& id : broker_->logs->group_offsets()->ListGroups()) all[id] = {"consumer", "Empty"};
  for (const auto& [id, g] : groups_) {
    if (g->members.empty() && all.find(id) == all.end()) continue;
    all[id] = {g->protocol_type, GroupStateName(g->state)};
  }
  for (const auto& [id, ts] : all) {
    if (!req.states_filter.empty() &&
        std::find(req.states_filter.begin(), req.states_filter.end(), ts.second) ==
            req.states_filter.end()) {
      continue;
    }
    out.groups.push_back({id, ts.first, ts.second});
  }
}

int16_t GroupCoordinator::DeleteGroup(const std::string& group) {
  Group* g = Find(group);
  if (g && !g->members.empty()) return err::kNonEmptyGroup;
  auto* offsets = broker_->logs->group_offsets();
  if (!g && offsets->FetchAll(group).empty()) return err::kGroupIdNotFound;
  if (!offsets->DeleteGroup(group).ok()) return err::kUnknownServerError;
  if (g) {
    if (g->rebalance_timer) g->rebalance_timer->cancel();
    groups_.erase(group);
  }
  return err::kNone;
}

bool GroupCoordinator::HasMembers(const std::string& group) {
  Group* g = Find(group);
  return g && !g->members.empty();
}

}  // namespace ec::kafka
