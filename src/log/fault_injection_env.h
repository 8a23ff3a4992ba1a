#pragma once
// FaultInjectionEnv: a test Env over a real directory that models what a crash loses.
// It remembers, per file, how many bytes were synced; SimulateCrash() then cuts every file back
// to its synced size (optionally keeping a torn, partly garbage prefix of the unsynced tail) and
// deletes files whose creation was never made durable by SyncDir.
//
// Usage: open the log over this Env, write, call SimulateCrash() (all open Files start failing
// with IoError, as a dead process would), destroy the log, call Reset(), reopen, check.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "log/env.h"

namespace ec::log {

struct CrashOptions {
  // Keep a random prefix of each file's unsynced tail instead of none of it.
  bool tear_unsynced_tail = true;
  // Overwrite a few bytes somewhere in the kept unsynced tail with garbage (sectors written
  // out of order, a torn sector).
  bool garbage_in_torn_tail = true;
  uint64_t seed = 1;
};

class FaultInjectionEnv : public Env {
 public:
  // `base` does the real I/O (usually Env::Default()); not owned.
  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;

  // Applies the crash to the files on disk and makes every open File fail from now on.
  Status SimulateCrash(const CrashOptions& options);
  // Forgets the crash state: new Files work again (reopen the log after this).
  void Reset();
  // Manual clock for retention/roll tests; NowMs() returns the base clock while unset (< 0).
  void SetNowMs(int64_t now_ms);
  // Makes every File::Sync take this long (a slow disk), to observe group commit.
  void SetSyncDelayMicros(int64_t micros);
  // Number of File::Sync calls so far (group-commit tests count them).
  uint64_t sync_count() const;

  Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) override;
  bool FileExists(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveDirAll(const std::string& dir) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  int64_t NowMs() override;

  // Internal bookkeeping shared with the File wrappers.
  struct State;

 private:
  Env* base_;
  std::shared_ptr<State> state_;
};

}  // namespace ec::log
