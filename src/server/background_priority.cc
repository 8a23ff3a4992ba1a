#include "server/background_priority.h"

#include <rocksdb/env.h>

#include <cstdlib>
#include <string_view>

namespace ec::server {

void LowerRocksDbBackgroundPriority() {
  const char* env = std::getenv("EC_ROCKSDB_BACKGROUND_PRIORITY");
  if (env != nullptr && std::string_view(env) == "normal") return;
  rocksdb::Env* rocks = rocksdb::Env::Default();
  // kLow is nice 19: such a thread gets ~1.5% of a core while a nice-0 thread wants it, and
  // all of an idle one. Not kIdle (SCHED_IDLE): a flush must not wait for a fully idle core
  // while the state writer is stalled on a full memtable. Each pool thread applies it before
  // its next job; refused (another platform), the threads keep the default priority.
  (void)rocks->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
  (void)rocks->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kLow);
}

}  // namespace ec::server
