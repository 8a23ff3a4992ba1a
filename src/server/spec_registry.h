#pragma once
// Spec reload without restart (docs/configuration.md, "Reloading specs"). The registry knows
// which files make the running spec set: every `--spec` file, plus the specs uploaded with
// PUT /v1/specs/{name} (kept under <data_dir>/specs/<name>.yaml). A PUT spec whose name is
// that of a `--spec` file (file name without extension) takes its place when it is the more
// recently written of the two; other PUT specs are added to the set.
// A reload loads and compiles the whole new set first; only a set that compiles replaces the
// running one, through PipelineRunner::SwapProcessor, so it takes effect between two passes
// (nothing lost, nothing processed twice). One reload runs at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "pipeline/processor.h"

namespace ec::spec {
class CompiledSpecs;
}
namespace ec::log {
class LogManager;
}

namespace ec::server {

class MetricsRegistry;
class PipelineRunner;
class Router;

struct SpecRegistryOptions {
  std::vector<std::string> spec_files;  // --spec, in order
  std::string data_dir;                 // PUT specs live in <data_dir>/specs
  size_t max_spec_bytes = 8 << 20;      // PUT body limit
};

// What a reload needs from the running pipeline (Attach).
struct PipelineHooks {
  log::LogManager* logs = nullptr;
  PipelineRunner* runner = nullptr;
  pipeline::ProcessorOptions processor;
  std::vector<pipeline::ExchangeStage*> stages;  // added to every new Processor (the CDC stage)
  int32_t changelog_partitions = 1;              // of changelog topics a reload creates
  std::shared_ptr<const spec::CompiledSpecs>* published = nullptr;  // updated with std::atomic_store
};

// Where a successful reload took effect: the pipeline's committed position per raw partition at
// the switch ("topic/partition" -> next offset to process). Replay uses it as its default end.
using SwitchPosition = std::map<std::string, int64_t>;

class SpecRegistry {
 public:
  // `metrics` may be null (the offline replay CLI uses the registry for EffectiveFiles only).
  SpecRegistry(SpecRegistryOptions options, MetricsRegistry* metrics);
  ~SpecRegistry();

  // The files of the running set: --spec files with the PUT overrides applied.
  std::vector<std::string> EffectiveFiles() const;
  // Loads the initial set (EffectiveFiles). Errors as spec::LoadSpecs gives them.
  Result<std::shared_ptr<const spec::CompiledSpecs>> LoadInitial();

  // Wires the registry to the running pipeline: reloads build a Processor with the hooks'
  // stages and swap it into the runner. Reloads before Attach fail (kUnavailable).
  void Attach(PipelineHooks hooks);

  // SIGHUP: re-reads every file. Failures are logged (stderr) and counted.
  Status ReloadFiles();
  // PUT /v1/specs/{name}: `body` is an OpenAPI document (YAML or JSON). kInvalidArgument for a
  // bad name or body, kParseError with file:line:col lines (file = `name`) when it does not compile.
  Status Put(std::string_view name, std::string_view body);

  std::shared_ptr<const spec::CompiledSpecs> current() const;
  // The switch position of the last successful reload; empty when none happened.
  SwitchPosition last_switch() const;

  // PUT /v1/specs/{name}.
  void AddRoutes(Router* router);

  // For replay jobs: holding this keeps reloads out (a rebuild pauses the pipeline's state
  // writes and must swap back the processor it paused).
  std::unique_lock<std::mutex> LockReloads() { return std::unique_lock<std::mutex>(reload_mu_); }
  const PipelineHooks& hooks() const { return hooks_; }

 private:
  // Compiles `files`, creates missing changelog topics, swaps the processor in.
  Status Install(const std::vector<std::string>& files);
  void Count(const char* trigger, bool ok);
  std::string OverridePath(std::string_view name) const;
  std::vector<std::string> FilesWith(std::string_view name, const std::string& path) const;

  SpecRegistryOptions options_;
  MetricsRegistry* metrics_;
  PipelineHooks hooks_;

  std::mutex reload_mu_;  // one reload at a time
  mutable std::mutex mu_;
  std::shared_ptr<const spec::CompiledSpecs> current_;
  // Every processor a reload installed, kept to shutdown: admin handlers and metrics may still
  // hold raw pointers into an older spec set (a few hundred KB per reload).
  std::vector<std::unique_ptr<pipeline::Processor>> processors_;
  std::vector<std::shared_ptr<const spec::CompiledSpecs>> retired_;
  SwitchPosition last_switch_;
};

// A spec name as PUT accepts it: [A-Za-z0-9._-]{1,100}, not starting with '.'.
Status ValidateSpecName(std::string_view name);
// The name of a spec file: its file name without the extension ("specs/shop.yaml" -> "shop").
std::string SpecNameOf(const std::string& path);

}  // namespace ec::server
