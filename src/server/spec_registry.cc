#include "server/spec_registry.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <unistd.h>

#include "cdc/changelog_service.h"
#include "log/group_offsets.h"
#include "log/log_manager.h"
#include "server/http/router.h"
#include "server/metrics.h"
#include "server/pipeline_runner.h"
#include "json/writer.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

namespace fs = std::filesystem;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Writes `data` to `path` and flushes it to disk.
Status WriteFileSynced(const std::string& path, std::string_view data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status(ErrorCode::kIoError, "cannot write " + path);
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size() && std::fflush(f) == 0 &&
            ::fsync(fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return Status(ErrorCode::kIoError, "cannot write " + path);
  return Status::Ok();
}

// Changelog topics of `specs` that do not exist yet are created compacted (as at start).
Status EnsureChangelogTopics(const spec::CompiledSpecs& specs, log::LogManager* logs, int32_t partitions) {
  for (const std::string& topic : cdc::ChangelogTopics(specs)) {
    std::optional<log::TopicInfo> info = logs->DescribeTopic(topic);
    if (!info) {
      Status s = logs->CreateTopic(topic, partitions, {{"cleanup.policy", "compact"}});
      if (!s.ok() && s.code() != ErrorCode::kAlreadyExists) {
        return Status(s.code(), "cannot create changelog topic '" + topic + "': " + s.message());
      }
    } else if (info->config && !info->config->cleanup_compact) {
      Status s = logs->AlterConfigs(topic, {{"cleanup.policy", log::ConfigChange::Op::kSet, "compact"}}, false);
      if (!s.ok()) return Status(s.code(), "cannot make changelog topic '" + topic + "' compacted: " + s.message());
    }
  }
  return Status::Ok();
}

// Adds `from`'s operation and event counters to the same ones of `to` (same API title and
// operation id; events by type, topic and occurrence, the labels their metrics carry), so a
// reload does not reset counters that are exposed as monotonic. Called once `from` no longer
// runs; `to` may be counting already (hence adds).
void CarryCounters(const spec::CompiledSpecs& from, const spec::CompiledSpecs& to) {
  auto add = [](const spec::Counters& a, spec::Counters& b) {
    b.matched.fetch_add(a.matched.load(std::memory_order_relaxed), std::memory_order_relaxed);
    b.emitted.fetch_add(a.emitted.load(std::memory_order_relaxed), std::memory_order_relaxed);
    b.errors.fetch_add(a.errors.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  std::map<std::pair<std::string_view, std::string_view>, const spec::Operation*> old_ops;
  for (const auto& api : from.apis()) {
    for (const auto& op : api->operations) old_ops.emplace(std::pair{std::string_view(api->title), std::string_view(op->id)}, op.get());
  }
  for (const auto& api : to.apis()) {
    for (const auto& op : api->operations) {
      auto it = old_ops.find({api->title, op->id});
      if (it == old_ops.end()) continue;
      add(it->second->counters, op->counters);
      std::vector<bool> used(it->second->events.size(), false);
      for (const auto& e : op->events) {
        for (size_t i = 0; i < used.size(); ++i) {
          const spec::EventDefinition& old = *it->second->events[i];
          if (used[i] || old.type != e->type || old.topic != e->topic) continue;
          used[i] = true;
          add(old.counters, e->counters);
          break;
        }
      }
    }
  }
}

}  // namespace

Status ValidateSpecName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 100 && name.front() != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-');
  }
  if (ok) return Status::Ok();
  return InvalidArgument("spec name \"" + std::string(name) +
                         "\": use 1-100 of A-Z a-z 0-9 . _ - (not starting with '.'), e.g. the --spec file "
                         "name without its extension");
}

std::string SpecNameOf(const std::string& path) { return fs::path(path).stem().string(); }

SpecRegistry::SpecRegistry(SpecRegistryOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

SpecRegistry::~SpecRegistry() = default;

std::string SpecRegistry::OverridePath(std::string_view name) const {
  return (fs::path(options_.data_dir) / "specs" / (std::string(name) + ".yaml")).string();
}

std::vector<std::string> SpecRegistry::EffectiveFiles() const {
  std::vector<std::string> files;
  std::vector<std::string> used;
  for (const std::string& f : options_.spec_files) {
    std::string name = SpecNameOf(f);
    std::error_code ec, ec2;
    if (!ValidateSpecName(name).ok() || !fs::exists(OverridePath(name), ec)) {
      files.push_back(f);
      continue;
    }
    used.push_back(name);
    // Both exist: the more recently written one is used (a PUT after the file was edited wins;
    // editing the file after a PUT and sending SIGHUP brings the file back).
    fs::file_time_type put_time = fs::last_write_time(OverridePath(name), ec);
    fs::file_time_type file_time = fs::last_write_time(f, ec2);
    files.push_back(!ec && (ec2 || put_time >= file_time) ? OverridePath(name) : f);
  }
  // PUT specs that replace no --spec file are added, in name order.
  std::vector<std::string> extra;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(options_.data_dir) / "specs", ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".yaml") continue;
    std::string name = it->path().stem().string();
    if (ValidateSpecName(name).ok() && std::find(used.begin(), used.end(), name) == used.end()) {
      extra.push_back(it->path().string());
    }
  }
  std::sort(extra.begin(), extra.end());
  files.insert(files.end(), extra.begin(), extra.end());
  return files;
}

std::vector<std::string> SpecRegistry::FilesWith(std::string_view name, const std::string& path) const {
  std::vector<std::string> files = EffectiveFiles();
  bool replaced = false;
  for (std::string& f : files) {
    if (SpecNameOf(f) == name) {
      f = path;
      replaced = true;
    }
  }
  if (!replaced) files.push_back(path);
  return files;
}

Result<std::shared_ptr<const spec::CompiledSpecs>> SpecRegistry::LoadInitial() {
  Result<std::shared_ptr<const spec::CompiledSpecs>> specs = spec::LoadSpecs(EffectiveFiles());
  if (!specs.ok()) return specs.status();
  std::lock_guard<std::mutex> lock(mu_);
  current_ = *specs;
  return specs;
}

void SpecRegistry::Attach(PipelineHooks hooks) { hooks_ = std::move(hooks); }

std::shared_ptr<const spec::CompiledSpecs> SpecRegistry::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

SwitchPosition SpecRegistry::last_switch() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_switch_;
}

Status SpecRegistry::Install(const std::vector<std::string>& files) {
  if (hooks_.runner == nullptr || hooks_.logs == nullptr) {
    return Status(ErrorCode::kUnavailable, "the server is still starting; retry the reload");
  }
  Result<std::shared_ptr<const spec::CompiledSpecs>> specs = spec::LoadSpecs(files);
  if (!specs.ok()) return specs.status();
  EC_RETURN_IF_ERROR(EnsureChangelogTopics(**specs, hooks_.logs, hooks_.changelog_partitions));
  auto processor = std::make_unique<pipeline::Processor>(*specs, hooks_.processor);
  for (pipeline::ExchangeStage* stage : hooks_.stages) processor->AddStage(stage);
  hooks_.runner->SwapProcessor(processor.get());
  // The runner is between passes now: what is committed is exactly what the old set did.
  if (std::shared_ptr<const spec::CompiledSpecs> old = current()) CarryCounters(*old, **specs);
  SwitchPosition position;
  for (const log::TopicInfo& t : hooks_.logs->ListTopics()) {
    for (int32_t p = 0; p < t.partitions; ++p) {
      auto committed = hooks_.logs->group_offsets()->Fetch(kPipelineGroup, t.name, p);
      if (committed) position[t.name + "/" + std::to_string(p)] = committed->offset;
    }
  }
  if (hooks_.published != nullptr) std::atomic_store(hooks_.published, *specs);
  std::lock_guard<std::mutex> lock(mu_);
  last_switch_ = std::move(position);
  if (current_) retired_.push_back(current_);
  current_ = *specs;
  processors_.push_back(std::move(processor));
  return Status::Ok();
}

void SpecRegistry::Count(const char* trigger, bool ok) {
  if (metrics_ == nullptr) return;
  metrics_->GetCounter("eventception_spec_reloads_total", "Spec reloads, by trigger and result",
                       {{"trigger", trigger}, {"result", ok ? "ok" : "error"}})
      ->Inc();
}

Status SpecRegistry::ReloadFiles() {
  std::lock_guard<std::mutex> reload(reload_mu_);
  Status s = Install(EffectiveFiles());
  Count("sighup", s.ok());
  if (!s.ok()) {
    std::cerr << "eventception: spec reload (SIGHUP) refused, the running specs stay:\n" << s.message() << "\n";
  } else {
    std::cerr << "eventception: specs reloaded (SIGHUP)\n";
  }
  return s;
}

Status SpecRegistry::Put(std::string_view name, std::string_view body) {
  EC_RETURN_IF_ERROR(ValidateSpecName(name));
  if (body.empty()) return InvalidArgument("empty body: send the OpenAPI document (YAML or JSON)");
  if (body.size() > options_.max_spec_bytes) {
    return Status(ErrorCode::kLimitExceeded, "spec of " + std::to_string(body.size()) + " bytes is over the limit of " +
                                                 std::to_string(options_.max_spec_bytes));
  }
  std::lock_guard<std::mutex> reload(reload_mu_);
  fs::path dir = fs::path(options_.data_dir) / "specs";
  fs::path staging_dir = dir / ".staging";
  std::error_code ec;
  fs::create_directories(staging_dir, ec);
  if (ec) return Status(ErrorCode::kIoError, "cannot create " + staging_dir.string() + ": " + ec.message());
  std::string staging = (staging_dir / (std::string(name) + ".yaml")).string();
  EC_RETURN_IF_ERROR(WriteFileSynced(staging, body));
  // Compile the set with the new document first; persist and install only what compiles.
  Result<std::shared_ptr<const spec::CompiledSpecs>> check = spec::LoadSpecs(FilesWith(name, staging));
  Status s = check.status();
  if (s.ok()) {
    fs::rename(staging, OverridePath(name), ec);
    if (ec) s = Status(ErrorCode::kIoError, "cannot store the spec: " + ec.message());
  }
  if (s.ok()) s = Install(EffectiveFiles());
  fs::remove(staging, ec);
  Count("put", s.ok());
  if (!s.ok()) return Status(s.code(), Replace(s.message(), staging, std::string(name)));
  return s;
}

void SpecRegistry::AddRoutes(Router* router) {
  router->Add("PUT", "/v1/specs/{name}", [this](HttpRequest& r) {
    Status s = Put(r.Param("name"), r.body);
    if (s.ok()) {
      std::string body = "{\"name\":";
      json::AppendQuoted(r.Param("name"), &body);
      body += ",\"status\":\"active\"}";
      return HttpResponse::Json(200, body);
    }
    int status = s.code() == ErrorCode::kParseError ? 422 : InfoOf(s.code()).http_status;
    if (s.code() == ErrorCode::kInvalidArgument && ValidateSpecName(r.Param("name")).ok()) status = 422;
    std::string body = "{\"error\":{\"code\":";
    json::AppendQuoted(InfoOf(s.code()).name, &body);
    body += ",\"message\":";
    json::AppendQuoted(s.message(), &body);
    body += "},\"errors\":[";
    size_t start = 0;
    bool first = true;
    while (start < s.message().size()) {
      size_t end = s.message().find('\n', start);
      if (end == std::string::npos) end = s.message().size();
      if (end > start) {
        if (!first) body += ",";
        json::AppendQuoted(std::string_view(s.message()).substr(start, end - start), &body);
        first = false;
      }
      start = end + 1;
    }
    body += "]}";
    return HttpResponse::Json(status, body);
  });
}

}  // namespace ec::server
