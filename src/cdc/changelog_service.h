#pragma once
// What `serve` needs for changelogs, in one place: the RocksDB state store under the data dir
// (<data_dir>/cdc-state), the ChangelogStage, and the changelog topics created compacted
// (cleanup.policy=compact) before anything is written to them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "cdc/changelog_stage.h"
#include "cdc/state_store.h"
#include "cdc/txn_state_store.h"
#include "spec/spec.h"

namespace ec::log {
class LogManager;
}

namespace ec::cdc {

struct ChangelogServiceOptions {
  std::string data_dir;
  int32_t partitions = 1;  // of changelog topics created here
  std::string dead_letter_topic{pipeline::kDeadLetterTopic};
  RocksStateOptions state;  // cache and deferred writes of the RocksDB state store
};

// The changelog topics of `specs` (resources with `changelog`), deduplicated, in spec order.
std::vector<std::string> ChangelogTopics(const spec::CompiledSpecs& specs);

class ChangelogService {
 public:
  // Opens the state store and creates missing changelog topics (and the state topic,
  // state_topic.h) compacted. A changelog topic
  // that already exists without compaction is switched to cleanup.policy=compact.
  static Result<std::unique_ptr<ChangelogService>> Open(const ChangelogServiceOptions& options,
                                                        const spec::CompiledSpecs& specs, log::LogManager* logs);

  ChangelogStage* stage() { return stage_.get(); }
  // The committed state (RocksDB): what the admin API reads.
  StateStore* store() { return store_.get(); }
  // What the stage writes to: a pass's writes wait here until the pipeline commits them.
  TxnStateStore* txn_store() { return txn_store_.get(); }

 private:
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<TxnStateStore> txn_store_;
  std::unique_ptr<ChangelogStage> stage_;
};

}  // namespace ec::cdc
