#include "log/log_manager.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

namespace ec::log {
namespace {

constexpr char kTopicsDir[] = ".topics";
constexpr char kJournalDir[] = ".journal";
constexpr char kProducerIdFile[] = ".producer-ids";
constexpr char kPartitionsKey[] = "ec.partitions=";
constexpr int64_t kProducerIdBlock = 1000;

std::string PartitionDir(const std::string& root, const std::string& topic, int32_t p) {
  return root + "/" + topic + "-" + std::to_string(p);
}

}  // namespace

bool JournalDefaultFromEnvironment() {
  const char* j = std::getenv("EC_LOG_JOURNAL");
  return j == nullptr || j[0] != '0';
}

bool JournalDirectIoDefaultFromEnvironment() {
  const char* j = std::getenv("EC_LOG_JOURNAL_DIRECT");
  return j == nullptr || j[0] != '0';
}

Status LogManager::ValidateTopicName(const std::string& name) {
  if (name.empty() || name.size() > 249)
    return InvalidArgument("topic name must be 1 to 249 characters, got " + std::to_string(name.size()));
  if (name == "." || name == "..") return InvalidArgument("topic name cannot be \"" + name + "\"");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return InvalidArgument("topic name \"" + name + "\" has the illegal character '" +
                             std::string(1, c) + "': use letters, digits, '.', '_' and '-'");
  }
  return Status::Ok();
}

LogManager::LogManager(LogManagerOptions options)
    : options_(std::move(options)), env_(options_.env ? options_.env : Env::Default()) {}

Result<std::unique_ptr<LogManager>> LogManager::Open(LogManagerOptions options) {
  if (options.data_dir.empty()) return InvalidArgument("log data directory is not set");
  std::unique_ptr<LogManager> m(new LogManager(std::move(options)));
  // With the journal the flusher only releases page cache: one thread is plenty.
  m->flusher_ = std::make_unique<Flusher>(m->options_.flush_interval_ms,
                                          m->options_.journal ? 1 : m->options_.sync_threads);
  EC_RETURN_IF_ERROR(m->Load());
  if (m->options_.maintenance_interval_ms > 0)
    m->maintenance_thread_ = std::thread([p = m.get()] {
      pthread_setname_np(pthread_self(), "ec-log-maint");
      p->MaintenanceLoop();
    });
  return m;
}

LogManager::~LogManager() {
  {
    std::lock_guard l(maintenance_mu_);
    stop_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  group_offsets_.reset();
  {
    std::lock_guard l(mu_);
    topics_.clear();  // PartitionLogs close (sync, snapshot) unless someone still holds them
  }
  journal_.reset();
  flusher_.reset();
}

Status LogManager::Load() {
  const std::string& root = options_.data_dir;
  EC_RETURN_IF_ERROR(env_->CreateDirs(root + "/" + kTopicsDir));
  EC_RETURN_IF_ERROR(env_->SyncDir(root));
  if (env_->FileExists(root + "/" + kProducerIdFile)) {
    EC_ASSIGN_OR_RETURN(std::string text, env_->ReadFileToString(root + "/" + kProducerIdFile));
    next_producer_id_ = producer_id_limit_ = std::atoll(text.c_str());
  }
  EC_ASSIGN_OR_RETURN(std::vector<std::string> metas, env_->ListDir(root + "/" + kTopicsDir));
  for (const std::string& file : metas) {
    if (!file.ends_with(".conf")) continue;
    std::string name = file.substr(0, file.size() - 5);
    std::string path = root + "/" + kTopicsDir + "/" + file;
    EC_ASSIGN_OR_RETURN(std::string text, env_->ReadFileToString(path));
    if (!text.starts_with(kPartitionsKey))
      return Corruption(path + ":1: expected \"" + kPartitionsKey + "<count>\"");
    size_t nl = text.find('\n');
    int32_t partitions = std::atoi(text.substr(strlen(kPartitionsKey), nl).c_str());
    if (partitions <= 0) return Corruption(path + ":1: bad partition count");
    auto config = TopicConfig::Deserialize(nl == std::string::npos ? "" : text.substr(nl + 1),
                                           options_.default_config);
    if (!config.ok()) return Corruption(path + ": " + config.status().message());
    Topic& t = topics_[name];
    t.internal = name == kOffsetsTopic;
    t.config = std::make_shared<const TopicConfig>(std::move(*config));
    EC_RETURN_IF_ERROR(OpenTopicPartitions(name, 0, partitions, t.config));
  }
  // Partition directories of topics whose metadata is gone (an interrupted delete).
  EC_ASSIGN_OR_RETURN(std::vector<std::string> entries, env_->ListDir(root));
  for (const std::string& e : entries) {
    auto dash = e.rfind('-');
    if (e.starts_with(".") || dash == std::string::npos || dash + 1 == e.size()) continue;
    // Only "<topic>-<digits>" directories are ours to remove.
    if (e.find_first_not_of("0123456789", dash + 1) != std::string::npos) continue;
    if (!topics_.count(e.substr(0, dash))) (void)env_->RemoveDirAll(root + "/" + e);
  }
  if (!topics_.count(kOffsetsTopic)) {
    TopicConfig c = options_.default_config;
    auto compacted = TopicConfig::FromMap({{"cleanup.policy", "compact"}, {"segment.bytes", "104857600"}}, c);
    if (!compacted.ok()) return compacted.status();
    auto config = std::make_shared<const TopicConfig>(std::move(*compacted));
    EC_RETURN_IF_ERROR(WriteTopicMeta(kOffsetsTopic, 1, *config));
    Topic& t = topics_[kOffsetsTopic];
    t.internal = true;
    t.config = config;
    EC_RETURN_IF_ERROR(OpenTopicPartitions(kOffsetsTopic, 0, 1, config));
  }
  if (options_.journal) {
    EC_RETURN_IF_ERROR(RecoverJournal());
  } else {
    EC_RETURN_IF_ERROR(DrainJournal());
  }
  EC_ASSIGN_OR_RETURN(group_offsets_, GroupOffsets::Open(topics_[kOffsetsTopic].logs[0]));
  return Status::Ok();
}

Result<Journal::ReplayResult> LogManager::ReplayJournal(const std::string& dir) {
  std::set<PartitionLog*> touched;
  auto redo = [&](const std::string& topic, int32_t partition, std::string_view batches,
                  const std::string& where) -> Status {
    auto it = topics_.find(topic);
    // Entries of a topic or partition deleted since (or never made durable) are skipped.
    if (it == topics_.end() || partition < 0 || partition >= it->second.partitions) return Status::Ok();
    PartitionLog* log = it->second.logs[static_cast<size_t>(partition)].get();
    touched.insert(log);
    return log->Redo(batches, where);
  };
  EC_ASSIGN_OR_RETURN(Journal::ReplayResult replay, Journal::Replay(env_, dir, redo));
  // The redone records become durable in the partitions before the old journal goes.
  for (PartitionLog* log : touched) EC_RETURN_IF_ERROR(log->SyncFiles());
  return replay;
}

Status LogManager::DrainJournal() {
  // A data dir last run with the journal (log.journal: true) and now opened without it: the
  // journal may hold acknowledged appends the partition files lost in a crash. Replay them,
  // make them durable in the partitions, then remove the journal, so turning the option off
  // never loses data (and a later run with it on does not replay stale entries).
  const std::string dir = options_.data_dir + "/" + kJournalDir;
  if (!env_->FileExists(dir)) return Status::Ok();
  EC_ASSIGN_OR_RETURN(Journal::ReplayResult replay, ReplayJournal(dir));
  (void)replay;
  EC_RETURN_IF_ERROR(env_->RemoveDirAll(dir));
  return env_->SyncDir(options_.data_dir);
}

Status LogManager::RecoverJournal() {
  const std::string dir = options_.data_dir + "/" + kJournalDir;
  EC_ASSIGN_OR_RETURN(Journal::ReplayResult replay, ReplayJournal(dir));
  JournalOptions jo;
  jo.checkpoint_bytes = options_.journal_checkpoint_bytes;
  jo.checkpoint_ms = options_.journal_checkpoint_ms;
  jo.flush_interval_ms = options_.flush_interval_ms;
  jo.preallocate_bytes = options_.preallocate_bytes;
  jo.direct_io = options_.journal_direct_io;
  if (options_.journal_fill_on_start && options_.preallocate_bytes > 0)
    jo.start_fill_bytes = options_.journal_checkpoint_bytes + options_.preallocate_bytes;
  EC_ASSIGN_OR_RETURN(journal_, Journal::Start(env_, dir, jo, replay.next_seq, replay.files));
  for (auto& [name, t] : topics_) {
    for (auto& log : t.logs) log->SetJournal(journal_.get());
  }
  return Status::Ok();
}

Status LogManager::OpenTopicPartitions(const std::string& name, int32_t from, int32_t to,
                                       std::shared_ptr<const TopicConfig> config) {
  Topic& t = topics_[name];
  for (int32_t p = from; p < to; ++p) {
    EC_ASSIGN_OR_RETURN(std::unique_ptr<PartitionLog> log,
                        PartitionLog::Open(env_, PartitionDir(options_.data_dir, name, p), name, p,
                                           config, flusher_.get()));
    log->SetPageCacheWindow(options_.page_cache_window_bytes);
    if (journal_) {
      log->SetJournal(journal_.get());  // partitions opened at Load get it after the replay
    } else if (!options_.journal) {
      log->SetPreallocateBytes(options_.preallocate_bytes);
    }
    t.logs.push_back(std::move(log));
  }
  t.partitions = to;
  return Status::Ok();
}

Status LogManager::WriteTopicMeta(const std::string& name, int32_t partitions,
                                  const TopicConfig& config) {
  std::string text = kPartitionsKey + std::to_string(partitions) + "\n" + config.Serialize();
  return env_->WriteFileAtomically(options_.data_dir + "/" + kTopicsDir + "/" + name + ".conf", text);
}

Status LogManager::CreateTopic(const std::string& name, int32_t partitions,
                               const std::map<std::string, std::string>& configs,
                               bool validate_only) {
  EC_RETURN_IF_ERROR(ValidateTopicName(name));
  if (partitions == -1) partitions = options_.default_partitions;
  if (partitions <= 0 || partitions > options_.max_partitions)
    return InvalidArgument("partition count " + std::to_string(partitions) + " must be 1 to " +
                           std::to_string(options_.max_partitions));
  EC_ASSIGN_OR_RETURN(TopicConfig config, TopicConfig::FromMap(configs, options_.default_config));
  std::lock_guard l(mu_);
  if (topics_.count(name)) return AlreadyExists("topic \"" + name + "\" already exists");
  if (validate_only) return Status::Ok();
  auto shared = std::make_shared<const TopicConfig>(std::move(config));
  // Partitions first, metadata last: a crash in between leaves orphans that Load removes.
  Status s = OpenTopicPartitions(name, 0, partitions, shared);
  if (s.ok()) s = WriteTopicMeta(name, partitions, *shared);
  if (!s.ok()) {
    topics_.erase(name);
    for (int32_t p = 0; p < partitions; ++p)
      (void)env_->RemoveDirAll(PartitionDir(options_.data_dir, name, p));
    return s;
  }
  topics_[name].config = shared;
  return Status::Ok();
}

Status LogManager::DeleteTopic(const std::string& name) {
  Topic t;
  {
    std::lock_guard l(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return NotFound("topic \"" + name + "\" does not exist");
    if (it->second.internal) return InvalidArgument("topic \"" + name + "\" is internal");
    // With the journal, its entries of this topic must never be replayed into a topic created
    // later under the same name: a durable tombstone first.
    if (journal_) EC_RETURN_IF_ERROR(journal_->WriteTombstone(name));
    EC_RETURN_IF_ERROR(env_->RemoveFile(options_.data_dir + "/" + kTopicsDir + "/" + name + ".conf"));
    EC_RETURN_IF_ERROR(env_->SyncDir(options_.data_dir + "/" + kTopicsDir));
    t = std::move(it->second);
    topics_.erase(it);
  }
  for (int32_t p = 0; p < t.partitions; ++p)
    (void)env_->RemoveDirAll(PartitionDir(options_.data_dir, name, p));
  if (group_offsets_) EC_RETURN_IF_ERROR(group_offsets_->DeleteTopic(name));
  return Status::Ok();
}

Status LogManager::CreatePartitions(const std::string& name, int32_t total, bool validate_only) {
  std::lock_guard l(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return NotFound("topic \"" + name + "\" does not exist");
  Topic& t = it->second;
  if (total <= t.partitions)
    return InvalidArgument("topic \"" + name + "\" has " + std::to_string(t.partitions) +
                           " partitions; the new count " + std::to_string(total) + " must be larger");
  if (total > options_.max_partitions)
    return InvalidArgument("partition count " + std::to_string(total) + " exceeds the limit " +
                           std::to_string(options_.max_partitions));
  if (validate_only) return Status::Ok();
  int32_t old = t.partitions;
  EC_RETURN_IF_ERROR(OpenTopicPartitions(name, old, total, t.config));
  return WriteTopicMeta(name, total, *t.config);
}

std::vector<TopicInfo> LogManager::ListTopics() const {
  std::lock_guard l(mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back({name, t.partitions, t.internal, t.config});
  return out;
}

std::optional<TopicInfo> LogManager::DescribeTopic(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return TopicInfo{name, it->second.partitions, it->second.internal, it->second.config};
}

Status LogManager::AlterConfigs(const std::string& topic, const std::vector<ConfigChange>& changes,
                                bool replace_all, bool validate_only) {
  std::lock_guard l(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return NotFound("topic \"" + topic + "\" does not exist");
  std::map<std::string, std::string> settings;
  if (!replace_all) settings = it->second.config->overrides;
  for (const ConfigChange& c : changes) {
    if (!IsKnownTopicConfig(c.name)) {
      // FromMap words the error (with a suggestion).
      auto probe = TopicConfig::FromMap({{c.name, c.value}}, options_.default_config);
      return probe.status();
    }
    if (c.op == ConfigChange::Op::kDelete) settings.erase(c.name);
    else settings[c.name] = c.value;
  }
  TopicConfig base = options_.default_config;
  base.overrides.clear();
  EC_ASSIGN_OR_RETURN(TopicConfig config, TopicConfig::FromMap(settings, base));
  if (validate_only) return Status::Ok();
  auto shared = std::make_shared<const TopicConfig>(std::move(config));
  EC_RETURN_IF_ERROR(WriteTopicMeta(topic, it->second.partitions, *shared));
  it->second.config = shared;
  for (auto& log : it->second.logs) log->SetConfig(shared);
  return Status::Ok();
}

std::shared_ptr<PartitionLog> LogManager::GetPartition(const std::string& topic,
                                                       int32_t partition) const {
  std::lock_guard l(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 || partition >= it->second.partitions) return nullptr;
  return it->second.logs[static_cast<size_t>(partition)];
}

Result<int64_t> LogManager::AllocateProducerId() {
  std::lock_guard l(mu_);
  if (next_producer_id_ >= producer_id_limit_) {
    // Persist the end of a new block before handing out ids from it: no id repeats after a crash.
    int64_t limit = next_producer_id_ + kProducerIdBlock;
    EC_RETURN_IF_ERROR(env_->WriteFileAtomically(options_.data_dir + "/" + kProducerIdFile,
                                                 std::to_string(limit)));
    producer_id_limit_ = limit;
  }
  return next_producer_id_++;
}

Status LogManager::RunMaintenance(int64_t now_ms) {
  std::vector<std::shared_ptr<PartitionLog>> logs;
  {
    std::lock_guard l(mu_);
    for (auto& [name, t] : topics_) logs.insert(logs.end(), t.logs.begin(), t.logs.end());
  }
  Status first;
  for (auto& log : logs) {
    for (Status s : {log->MaybeRollByAge(now_ms), log->ApplyRetention(now_ms), log->Compact(now_ms, options_.compaction_map_bytes)}) {
      if (!s.ok() && first.ok()) first = s;
    }
  }
  return first;
}

void LogManager::MaintenanceLoop() {
  std::unique_lock l(maintenance_mu_);
  while (!stop_) {
    maintenance_cv_.wait_for(l, std::chrono::milliseconds(options_.maintenance_interval_ms),
                             [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    (void)RunMaintenance(env_->NowMs());
    l.lock();
  }
}

}  // namespace ec::log
