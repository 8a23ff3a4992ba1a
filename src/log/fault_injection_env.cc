#include "log/fault_injection_env.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace ec::log {
namespace {

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

struct FaultInjectionEnv::State {
  struct FileState {
    uint64_t synced_size = 0;
    // End of the zeros a Preallocate made durable (<= the file's length on disk). A crash turns
    // unsynced data written over them back into zeros (or a torn prefix of it, then zeros):
    // the file keeps its synced length.
    uint64_t zeros_end = 0;
    bool creation_unsynced = false;  // created, but its directory was not synced since
  };
  std::mutex mu;
  std::map<std::string, FileState> files;
  uint64_t generation = 0;  // bumped by each crash: older Files are dead
  bool crashed = false;
  int64_t now_ms = -1;
  uint64_t syncs = 0;
  std::atomic<int64_t> sync_delay_us{0};
};

namespace {

// Wraps a real file; refuses all I/O once the simulated crash happened.
class FaultFile : public File {
 public:
  FaultFile(std::shared_ptr<File> base, std::shared_ptr<FaultInjectionEnv::State> state,
            uint64_t generation)
      : base_(std::move(base)), state_(std::move(state)), generation_(generation) {}

  Status Append(std::string_view data) override {
    EC_RETURN_IF_ERROR(CheckAlive());
    return base_->Append(data);
  }
  Status Sync() override {
    if (int64_t us = state_->sync_delay_us.load(); us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    // The model decides what survives, so the real fdatasync is skipped (keeps tests fast).
    auto& fs = state_->files[base_->path()];
    fs.synced_size = base_->Size();
    fs.zeros_end = base_->AllocatedSize();  // a trimmed tail is gone for good now
    ++state_->syncs;
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    EC_RETURN_IF_ERROR(base_->Truncate(size));
    auto& fs = state_->files[base_->path()];
    if (fs.synced_size > size) fs.synced_size = size;
    if (fs.zeros_end > size) fs.zeros_end = size;
    return Status::Ok();
  }
  Result<uint64_t> Preallocate(uint64_t end) override {
    EC_RETURN_IF_ERROR(CheckAlive());
    // The base writes the zeros and really fdatasyncs them (the data appended before is then
    // on disk too, but the model keeps treating it as unsynced: the stricter assumption).
    EC_ASSIGN_OR_RETURN(uint64_t allocated, base_->Preallocate(end));
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    auto& fs = state_->files[base_->path()];
    fs.zeros_end = std::max(fs.zeros_end, allocated);
    return allocated;
  }
  uint64_t AllocatedSize() const override { return base_->AllocatedSize(); }
  Status Recycle() override {
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    EC_RETURN_IF_ERROR(base_->Recycle());
    // Nothing written since counts as synced; the old bytes are the "zeros" a crash leaves
    // past what survives (modelled as zeros: the stricter case for the journal is covered by
    // its own test of stale entries).
    auto& fs = state_->files[base_->path()];
    fs.synced_size = 0;
    fs.zeros_end = base_->AllocatedSize();
    return Status::Ok();
  }
  Status TrimPreallocation() override {
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    EC_RETURN_IF_ERROR(base_->TrimPreallocation());
    // The shorter length is durable only after the next Sync: until then zeros_end stays, and a
    // crash brings the zeros back (recovery reads them as the end).
    return Status::Ok();
  }
  Result<size_t> ReadAt(uint64_t offset, size_t n, char* scratch) const override {
    return base_->ReadAt(offset, n, scratch);
  }
  uint64_t Size() const override { return base_->Size(); }
  int fd() const override { return base_->fd(); }
  const std::string& path() const override { return base_->path(); }
  void ReleaseCache(uint64_t offset, uint64_t length) override {
    base_->ReleaseCache(offset, length);  // advice only: what survives a crash is unchanged
  }
  void WriteBack(uint64_t offset, uint64_t length) override {
    base_->WriteBack(offset, length);  // durability is unchanged: only Sync counts in the model
  }

 private:
  static Status Dead() { return IoError("simulated crash: file is no longer writable"); }
  Status CheckAlive() const {
    std::lock_guard lock(state_->mu);
    if (state_->crashed || state_->generation != generation_) return Dead();
    return Status::Ok();
  }
  std::shared_ptr<File> base_;
  std::shared_ptr<FaultInjectionEnv::State> state_;
  uint64_t generation_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base), state_(std::make_shared<State>()) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

Status FaultInjectionEnv::SimulateCrash(const CrashOptions& options) {
  std::lock_guard lock(state_->mu);
  state_->crashed = true;
  ++state_->generation;
  std::mt19937_64 rng(options.seed);
  for (auto it = state_->files.begin(); it != state_->files.end();) {
    const std::string& path = it->first;
    State::FileState& fs = it->second;
    if (fs.creation_unsynced) {
      // The directory entry never reached the disk: the whole file is gone.
      (void)base_->RemoveFile(path);
      it = state_->files.erase(it);
      continue;
    }
    auto f = base_->OpenFile(path, false);
    if (!f.ok()) {
      it = state_->files.erase(it);
      continue;
    }
    uint64_t size = (*f)->Size();
    uint64_t kept_end = fs.synced_size;
    if (size > fs.synced_size) {
      uint64_t unsynced = size - fs.synced_size;
      uint64_t keep = options.tear_unsynced_tail ? rng() % (unsynced + 1) : 0;
      uint64_t new_size = fs.synced_size + keep;
      if (options.garbage_in_torn_tail && keep > 0) {
        // Sectors reach the disk out of order: a few bytes anywhere in the kept unsynced part
        // are garbage (possibly inside a batch that is otherwise complete).
        std::string tail(keep, '\0');
        EC_ASSIGN_OR_RETURN(size_t got, (*f)->ReadAt(fs.synced_size, keep, tail.data()));
        tail.resize(got);
        if (!tail.empty()) {
          size_t g = std::min<size_t>(tail.size(), 1 + rng() % 16);
          size_t at = rng() % (tail.size() - g + 1);
          for (size_t i = 0; i < g; ++i) tail[at + i] = static_cast<char>(rng());
        }
        EC_RETURN_IF_ERROR((*f)->Truncate(fs.synced_size));
        EC_RETURN_IF_ERROR((*f)->Append(tail));
      } else {
        EC_RETURN_IF_ERROR((*f)->Truncate(new_size));
      }
      kept_end = (*f)->Size();
    }
    // Durable preallocated zeros past what survived stay zeros: the unsynced data written over
    // them is lost, the file's length is not.
    if (fs.zeros_end > kept_end) {
      EC_RETURN_IF_ERROR((*f)->Append(std::string(fs.zeros_end - kept_end, '\0')));
    }
    fs.synced_size = (*f)->Size() < fs.synced_size ? (*f)->Size() : fs.synced_size;
    fs.zeros_end = std::min(fs.zeros_end, (*f)->Size());
    ++it;
  }
  return Status::Ok();
}

void FaultInjectionEnv::Reset() {
  std::lock_guard lock(state_->mu);
  state_->crashed = false;
}

void FaultInjectionEnv::SetSyncDelayMicros(int64_t micros) { state_->sync_delay_us = micros; }

void FaultInjectionEnv::SetNowMs(int64_t now_ms) {
  std::lock_guard lock(state_->mu);
  state_->now_ms = now_ms;
}

uint64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard lock(state_->mu);
  return state_->syncs;
}

Result<std::shared_ptr<File>> FaultInjectionEnv::OpenFile(const std::string& path, bool create) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return IoError("simulated crash: no new files until Reset()");
  bool existed = base_->FileExists(path);
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, base_->OpenFile(path, create));
  auto [it, inserted] = state_->files.try_emplace(path);
  if (inserted) {
    it->second.synced_size = existed ? f->Size() : 0;
    it->second.zeros_end = it->second.synced_size;
    it->second.creation_unsynced = !existed;
  }
  return std::shared_ptr<File>(std::make_shared<FaultFile>(f, state_, state_->generation));
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& dir) {
  return base_->ListDir(dir);
}

Status FaultInjectionEnv::CreateDirs(const std::string& dir) {
  // Directory creation is modelled as durable (the log syncs parents after creating them).
  return base_->CreateDirs(dir);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return IoError("simulated crash");
  state_->files.erase(path);
  return base_->RemoveFile(path);
}

Status FaultInjectionEnv::RemoveDirAll(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return IoError("simulated crash");
  std::string prefix = dir + "/";
  for (auto it = state_->files.begin(); it != state_->files.end();) {
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? state_->files.erase(it) : std::next(it);
  }
  return base_->RemoveDirAll(dir);
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return IoError("simulated crash");
  EC_RETURN_IF_ERROR(base_->RenameFile(from, to));
  auto it = state_->files.find(from);
  State::FileState fs;
  if (it != state_->files.end()) {
    fs = it->second;
    state_->files.erase(it);
  }
  state_->files[to] = fs;
  return Status::Ok();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  if (state_->crashed) return IoError("simulated crash");
  for (auto& [path, fs] : state_->files) {
    if (DirOf(path) == dir) fs.creation_unsynced = false;
  }
  return Status::Ok();
}

int64_t FaultInjectionEnv::NowMs() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->now_ms >= 0) return state_->now_ms;
  }
  return base_->NowMs();
}

}  // namespace ec::log
