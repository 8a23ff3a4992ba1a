#pragma once
// GroupCoordinator: the consumer-group state machine of this single broker (Kafka's classic
// group protocol): members join, a generation is formed with a leader and a protocol chosen by
// vote, the leader's assignment is handed out by SyncGroup, heartbeats keep members alive,
// and a join, leave or session expiry triggers a rebalance. Committed offsets live in the
// log's GroupOffsets (durable); group membership is in memory (as in Kafka, members rejoin
// after a broker restart).
//
// Threading: every method must run on the coordinator's io_context thread (the handlers post
// to it); responders may answer from there.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka/messages.h"
#include "kafka/server/broker.h"

namespace ec::kafka {

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };
const char* GroupStateName(GroupState s);

class GroupCoordinator {
 public:
  GroupCoordinator(Broker* broker, std::shared_ptr<boost::asio::io_context> io);
  ~GroupCoordinator();

  boost::asio::io_context& io() { return *io_; }

  void JoinGroup(JoinGroupRequest req, int16_t version, std::string client_id,
                 std::string client_host, Responder r);
  void SyncGroup(SyncGroupRequest req, Responder r);
  void Heartbeat(HeartbeatRequest req, Responder r);
  void LeaveGroup(LeaveGroupRequest req, int16_t version, Responder r);
  // Validates an OffsetCommit against membership: 0 or the error code to return for every
  // partition. generation -1 with an empty member id is a "simple" commit (no group).
  int16_t CheckCommit(const std::string& group, int32_t generation, const std::string& member);
  void DescribeGroups(const DescribeGroupsRequest& req, DescribeGroupsResponse& out);
  void ListGroups(const ListGroupsRequest& req, ListGroupsResponse& out);
  // Error code for deleting `group` (NON_EMPTY_GROUP while it has members); removes its state.
  int16_t DeleteGroup(const std::string& group);
  // Whether `group` has active members subscribed (OffsetDelete refuses those partitions).
  bool HasMembers(const std::string& group);
  // Drops every waiting responder and timer (before the server stops).
  void Shutdown();

 private:
  struct Member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
    std::string assignment;
    int16_t join_version = 0;
    Responder join;  // pending JoinGroup response
    Responder sync;  // pending SyncGroup response
    std::unique_ptr<boost::asio::steady_timer> session_timer;
  };
  struct Group {
    std::string id;
    GroupState state = GroupState::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;  // chosen for this generation
    std::string leader;
    std::map<std::string, std::unique_ptr<Member>> members;
    std::unique_ptr<boost::asio::steady_timer> rebalance_timer;
  };

  Group* Find(const std::string& id);
  void PrepareRebalance(Group& g);
  void MaybeCompleteJoin(Group& g);
  void CompleteJoin(Group& g);
  void RemoveMember(Group& g, const std::string& member_id);
  void ArmSession(Group& g, Member& m);
  std::string SelectProtocol(const Group& g) const;
  bool SupportsAll(const Group& g, const std::string& protocol) const;

  Broker* broker_;
  std::shared_ptr<boost::asio::io_context> io_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  uint64_t next_member_ = 0;
};

}  // namespace ec::kafka
