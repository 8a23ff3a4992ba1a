#include "kafka/messages.h"
#include "kafka/server/broker.h"

namespace ec::kafka {
namespace {

// Each handler's version range; static_asserts keep it inside what the codec declares.
template <typename Req>
constexpr ApiEntry Entry(const char* name, int16_t lo, int16_t hi, HandlerFn fn) {
  return ApiEntry{Req::kApiKey, name, lo, hi, Req::kFlexibleVersion, fn};
}
#define EC_API(Req, name, lo, hi, fn)                                            \
  static_assert((lo) >= Req::kMinVersion && (hi) <= Req::kMaxVersion, name); \
  v.push_back(Entry<Req>(name, lo, hi, fn))

std::vector<ApiEntry> BuildTable() {
  std::vector<ApiEntry> v;
  // v0-2 are advertised because librdkafka infers gzip/snappy/lz4 support from them; their
  // requests must still carry RecordBatch v2 (older message sets get error 43).
  EC_API(ProduceRequest, "Produce", 0, 9, HandleProduce);
  EC_API(FetchRequest, "Fetch", 4, 12, HandleFetch);
  EC_API(ListOffsetsRequest, "ListOffsets", 1, 6, HandleListOffsets);
  EC_API(MetadataRequest, "Metadata", 0, 9, HandleMetadata);
  EC_API(OffsetCommitRequest, "OffsetCommit", 2, 8, HandleOffsetCommit);
  EC_API(OffsetFetchRequest, "OffsetFetch", 1, 7, HandleOffsetFetch);
  EC_API(FindCoordinatorRequest, "FindCoordinator", 0, 3, HandleFindCoordinator);
  EC_API(JoinGroupRequest, "JoinGroup", 0, 6, HandleJoinGroup);
  EC_API(HeartbeatRequest, "Heartbeat", 0, 4, HandleHeartbeat);
  EC_API(LeaveGroupRequest, "LeaveGroup", 0, 4, HandleLeaveGroup);
  EC_API(SyncGroupRequest, "SyncGroup", 0, 4, HandleSyncGroup);
  EC_API(DescribeGroupsRequest, "DescribeGroups", 0, 5, HandleDescribeGroups);
  EC_API(ListGroupsRequest, "ListGroups", 0, 4, HandleListGroups);
  EC_API(ApiVersionsRequest, "ApiVersions", 0, 3, HandleApiVersions);
  EC_API(CreateTopicsRequest, "CreateTopics", 0, 5, HandleCreateTopics);
  EC_API(DeleteTopicsRequest, "DeleteTopics", 0, 4, HandleDeleteTopics);
  EC_API(InitProducerIdRequest, "InitProducerId", 0, 4, HandleInitProducerId);
  EC_API(DescribeConfigsRequest, "DescribeConfigs", 0, 4, HandleDescribeConfigs);
  EC_API(AlterConfigsRequest, "AlterConfigs", 0, 2, HandleAlterConfigs);
  EC_API(CreatePartitionsRequest, "CreatePartitions", 0, 2, HandleCreatePartitions);
  EC_API(DeleteGroupsRequest, "DeleteGroups", 0, 2, HandleDeleteGroups);
  EC_API(IncrementalAlterConfigsRequest, "IncrementalAlterConfigs", 0, 1,
         HandleIncrementalAlterConfigs);
  EC_API(OffsetDeleteRequest, "OffsetDelete", 0, 0, HandleOffsetDelete);
  EC_API(DescribeClusterRequest, "DescribeCluster", 0, 0, HandleDescribeCluster);
  return v;
}
#undef EC_API

}  // namespace

const std::vector<ApiEntry>& ApiTable() {
  static const std::vector<ApiEntry> kTable = BuildTable();
  return kTable;
}

const ApiEntry* FindApi(int16_t api_key) {
  for (const ApiEntry& e : ApiTable()) {
    if (e.api_key == api_key) return &e;
  }
  return nullptr;
}

bool GlobMatch(std::string_view p, std::string_view s) {
  // Iterative glob with backtracking to the last '*'.
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace ec::kafka
