#include "cdc/changelog_service.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "cdc/state_topic.h"
#include "log/log_manager.h"

namespace ec::cdc {

std::vector<std::string> ChangelogTopics(const spec::CompiledSpecs& specs) {
  std::vector<std::string> topics;
  for (const auto& api : specs.apis()) {
    for (const auto& res : api->resources) {
      if (!res->changelog.empty() && std::find(topics.begin(), topics.end(), res->changelog) == topics.end()) {
        topics.push_back(res->changelog);
      }
    }
  }
  return topics;
}

Result<std::unique_ptr<ChangelogService>> ChangelogService::Open(const ChangelogServiceOptions& options,
                                                                 const spec::CompiledSpecs& specs,
                                                                 log::LogManager* logs) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(options.data_dir) / "cdc-state";
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(ErrorCode::kIoError, "cannot create " + dir.string() + ": " + ec.message());
  auto service = std::unique_ptr<ChangelogService>(new ChangelogService());
  Result<std::unique_ptr<StateStore>> store = OpenRocksStateStore(dir.string(), options.state);
  if (!store.ok()) return store.status();
  service->store_ = std::move(store).value();
  for (const std::string& topic : ChangelogTopics(specs)) {
    std::optional<log::TopicInfo> info = logs->DescribeTopic(topic);
    if (!info) {
      Status s = logs->CreateTopic(topic, options.partitions, {{"cleanup.policy", "compact"}});
      if (!s.ok() && s.code() != ErrorCode::kAlreadyExists) {
        return Status(s.code(), "cannot create changelog topic '" + topic + "': " + s.message());
      }
    } else if (info->config && !info->config->cleanup_compact) {
      Status s = logs->AlterConfigs(topic, {{"cleanup.policy", log::ConfigChange::Op::kSet, "compact"}}, /*replace_all=*/false);
      if (!s.ok()) return Status(s.code(), "cannot make changelog topic '" + topic + "' compacted: " + s.message());
    }
  }
  EC_RETURN_IF_ERROR(EnsureStateTopic(logs));
  service->txn_store_ = std::make_unique<TxnStateStore>(service->store_.get());
  service->stage_ = std::make_unique<ChangelogStage>(service->txn_store_.get(),
                                                     ChangelogOptions{.dead_letter_topic = options.dead_letter_topic});
  return service;
}

}  // namespace ec::cdc
