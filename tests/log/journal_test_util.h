#pragma once
// Helpers shared by the journal tests (journal_test.cc, journal_inline_sync_test.cc).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "log/env.h"
#include "log/log_manager.h"

namespace ec::log::testing {

// A log manager whose data becomes durable only by a durable append or a checkpoint: no flush
// by time, no checkpoint by age or size, no maintenance and no preallocation, so each test
// chooses when anything reaches the disk. `journal` false gives the same log without the
// journal (a reference for what the journal must reproduce).
inline LogManagerOptions JournalOptions(const std::string& dir, Env* env, bool journal = true) {
  LogManagerOptions o;
  o.data_dir = dir;
  o.env = env;
  o.maintenance_interval_ms = 0;
  o.flush_interval_ms = 600'000;
  o.journal = journal;
  o.journal_checkpoint_ms = 0;
  o.journal_checkpoint_bytes = 1ull << 40;
  o.preallocate_bytes = 0;
  return o;
}

// LogManager::Open, failing the test (and giving null) when it fails.
inline std::unique_ptr<LogManager> OpenOrFail(const LogManagerOptions& o) {
  auto m = LogManager::Open(o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

}  // namespace ec::log::testing
