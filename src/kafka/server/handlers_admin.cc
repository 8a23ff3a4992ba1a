// Topic administration: CreateTopics, DeleteTopics, CreatePartitions and the config APIs.
#include <map>

#include "kafka/messages.h"
#include "kafka/server/broker.h"
#include "kafka/server/errors.h"
#include "log/log_manager.h"

namespace ec::kafka {
namespace {

constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;

std::optional<std::string> Msg(const Status& st) {
  if (st.ok()) return std::nullopt;
  return st.message();
}

}  // namespace

Status HandleCreateTopics(Broker& b, RequestContext& ctx) {
  CreateTopicsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  CreateTopicsResponse resp;
  for (const auto& t : req.topics) {
    CreateTopicsResponse::CreatableTopicResult r;
    r.name = t.name;
    int32_t partitions = t.num_partitions == -1 ? b.options.default_partitions : t.num_partitions;
    std::map<std::string, std::string> configs;
    for (const auto& c : t.configs) {
      if (c.value) configs[c.name] = *c.value;
    }
    Status st;
    if (!t.assignments.empty()) {
      st = InvalidArgument("manual replica assignment is not supported");
      r.error_code = err::kInvalidRequest;
    } else if (t.replication_factor != -1 && t.replication_factor != 1) {
      st = InvalidArgument("replication factor " + std::to_string(t.replication_factor) +
                           " is larger than the 1 available broker");
      r.error_code = err::kInvalidReplicationFactor;
    } else if (partitions <= 0) {
      st = InvalidArgument("number of partitions must be at least 1");
      r.error_code = err::kInvalidPartitions;
    } else if (!(st = log::LogManager::ValidateTopicName(t.name)).ok()) {
      r.error_code = err::kInvalidTopic;
    } else {
      st = b.logs->CreateTopic(t.name, partitions, configs, req.validate_only);
      if (st.code() == ErrorCode::kAlreadyExists) {
        r.error_code = err::kTopicAlreadyExists;
      } else if (!st.ok()) {
        r.error_code = st.code() == ErrorCode::kInvalidArgument ? err::kInvalidConfig
                                                                 : err::kUnknownServerError;
      }
    }
    r.error_message = Msg(st);
    if (st.ok()) {
      r.num_partitions = partitions;
      r.replication_factor = 1;
      if (auto info = b.logs->DescribeTopic(t.name)) {
        r.configs.emplace();
        for (const auto& e : info->config->Describe()) {
          r.configs->push_back({e.name, e.value, e.read_only, static_cast<int8_t>(e.is_default ? 5 : 1), false});
        }
      }
    }
    resp.topics.push_back(std::move(r));
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleDeleteTopics(Broker& b, RequestContext& ctx) {
  DeleteTopicsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  DeleteTopicsResponse resp;
  for (const std::string& name : req.topic_names) {
    Status st = b.logs->DeleteTopic(name);
    int16_t code = err::kNone;
    if (st.code() == ErrorCode::kNotFound) {
      code = err::kUnknownTopicOrPartition;
    } else if (!st.ok()) {
      code = err::kUnknownServerError;
    }
    resp.responses.push_back({name, code});
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleCreatePartitions(Broker& b, RequestContext& ctx) {
  CreatePartitionsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  CreatePartitionsResponse resp;
  for (const auto& t : req.topics) {
    Status st = b.logs->CreatePartitions(t.name, t.count, req.validate_only);
    int16_t code = err::kNone;
    if (st.code() == ErrorCode::kNotFound) {
      code = err::kUnknownTopicOrPartition;
    } else if (st.code() == ErrorCode::kInvalidArgument) {
      code = err::kInvalidPartitions;
    } else if (!st.ok()) {
      code = err::kUnknownServerError;
    }
    resp.results.push_back({t.name, code, Msg(st)});
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleDescribeConfigs(Broker& b, RequestContext& ctx) {
  DescribeConfigsRequest req;
  int16_t v = ctx.header.api_version;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, v));
  DescribeConfigsResponse resp;
  for (const auto& res : req.resources) {
    DescribeConfigsResponse::DescribeConfigsResult r;
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    auto wanted = [&](const std::string& name) {
      if (!res.configuration_keys) return true;
      for (const auto& k : *res.configuration_keys) {
        if (k == name) return true;
      }
      return false;
    };
    auto add = [&](const std::string& name, const std::string& value, bool is_default,
                   bool read_only, int8_t source) {
      if (!wanted(name)) return;
      DescribeConfigsResponse::DescribeConfigsResult::DescribeConfigsResourceResult c;
      c.name = name;
      c.value = value;
      c.read_only = read_only;
      c.is_default = is_default;
      c.config_source = source;
      r.configs.push_back(std::move(c));
    };
    if (res.resource_type == kResourceTopic) {
      auto info = b.logs->DescribeTopic(res.resource_name);
      if (!info) {
        r.error_code = err::kUnknownTopicOrPartition;
        r.error_message = "topic \"" + res.resource_name + "\" does not exist";
      } else {
        // Sources: 1 = topic override, 5 = default.
        for (const auto& e : info->config->Describe()) {
          add(e.name, e.value, e.is_default, e.read_only, e.is_default ? 5 : 1);
        }
      }
    } else if (res.resource_type == kResourceBroker) {
      add("auto.create.topics.enable", b.options.auto_create_topics ? "true" : "false", false,
          true, 4);
      add("num.partitions", std::to_string(b.options.default_partitions), false, true, 4);
      add("broker.id", std::to_string(b.options.node_id), false, true, 4);
    } else {
      r.error_code = err::kInvalidRequest;
      r.error_message = "only topic (2) and broker (4) resources are supported";
    }
    resp.results.push_back(std::move(r));
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

namespace {

template <typename Resp, typename Res>
void AlterOne(Broker& b, Resp& out, const Res& res, std::vector<log::ConfigChange> changes,
              bool replace_all, bool validate_only, Status pre) {
  int16_t code = err::kNone;
  Status st = pre;
  if (st.ok() && res.resource_type != kResourceTopic) {
    st = InvalidArgument("only topic configs can be altered");
    code = err::kInvalidRequest;
  } else if (st.ok()) {
    st = b.logs->AlterConfigs(res.resource_name, changes, replace_all, validate_only);
    if (st.code() == ErrorCode::kNotFound) {
      code = err::kUnknownTopicOrPartition;
    } else if (!st.ok()) {
      code = err::kInvalidConfig;
    }
  } else {
    code = err::kInvalidConfig;
  }
  out.responses.push_back({code, Msg(st), res.resource_type, res.resource_name});
}

}  // namespace

Status HandleAlterConfigs(Broker& b, RequestContext& ctx) {
  AlterConfigsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  AlterConfigsResponse resp;
  for (const auto& res : req.resources) {
    std::vector<log::ConfigChange> changes;
    for (const auto& c : res.configs) {
      log::ConfigChange ch;
      ch.name = c.name;
      if (c.value) {
        ch.value = *c.value;
      } else {
        ch.op = log::ConfigChange::Op::kDelete;
      }
      changes.push_back(std::move(ch));
    }
    AlterOne(b, resp, res, std::move(changes), true, req.validate_only, Status::Ok());
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

Status HandleIncrementalAlterConfigs(Broker& b, RequestContext& ctx) {
  IncrementalAlterConfigsRequest req;
  EC_RETURN_IF_ERROR(req.Decode(ctx.body, ctx.header.api_version));
  IncrementalAlterConfigsResponse resp;
  for (const auto& res : req.resources) {
    std::vector<log::ConfigChange> changes;
    Status pre;
    for (const auto& c : res.configs) {
      log::ConfigChange ch;
      ch.name = c.name;
      if (c.config_operation == 0) {  // SET
        ch.value = c.value.value_or("");
      } else if (c.config_operation == 1) {  // DELETE
        ch.op = log::ConfigChange::Op::kDelete;
      } else {
        pre = InvalidArgument("config \"" + c.name +
                              "\": APPEND/SUBTRACT operations apply to list configs, which "
                              "topics here do not have; use SET");
      }
      changes.push_back(std::move(ch));
    }
    AlterOne(b, resp, res, std::move(changes), false, req.validate_only, pre);
  }
  ctx.responder.Send(resp);
  return Status::Ok();
}

}  // namespace ec::kafka
