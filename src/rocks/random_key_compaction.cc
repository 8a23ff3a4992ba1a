#include "rocks/random_key_compaction.h"

#include <rocksdb/options.h>

namespace ec::rocks {

void SetRandomKeyLevelZeroTriggers(rocksdb::ColumnFamilyOptions* options) {
  options->level0_file_num_compaction_trigger = 16;
  options->level0_slowdown_writes_trigger = 40;
  options->level0_stop_writes_trigger = 56;
}

}  // namespace ec::rocks
