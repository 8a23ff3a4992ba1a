#include "log/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace ec::log {
namespace {

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string m = what + " \"" + path + "\": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(m));
  return IoError(std::move(m));
}

class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size), allocated_(size) {}
  ~PosixFile() override { ::close(fd_); }

  Status Append(std::string_view data) override {
    // mu_ orders appends against the preallocator's zero writes, which must never land on
    // bytes an append has written.
    std::lock_guard lock(mu_);
    uint64_t at = size_.load(std::memory_order_relaxed);
    Status s = WriteAt(at, data);
    if (at > allocated_) allocated_ = at;
    size_.store(at, std::memory_order_release);
    return s;
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    std::lock_guard lock(mu_);
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    size_.store(size, std::memory_order_release);
    allocated_ = size;
    return Status::Ok();
  }
  Result<uint64_t> Preallocate(uint64_t end) override {
    // Small steps under mu_, so an append waits for at most one step's copy.
    static constexpr size_t kStep = 64 * 1024;
    static const std::string* zeros = new std::string(kStep, '\0');  // never freed
    bool wrote = false;
    while (true) {
      std::lock_guard lock(mu_);
      if (trimmed_) return allocated_;
      uint64_t from = std::max(allocated_, size_.load(std::memory_order_relaxed));
      if (from >= end) break;
      uint64_t to = std::min<uint64_t>(from + kStep, end);
      uint64_t at = from;
      Status s = WriteAt(at, std::string_view(zeros->data(), static_cast<size_t>(to - from)));
      if (at > allocated_) allocated_ = at;
      if (!s.ok()) return s;
      wrote = true;
    }
    if (wrote) EC_RETURN_IF_ERROR(Sync());
    std::lock_guard lock(mu_);
    return allocated_;
  }
  uint64_t AllocatedSize() const override {
    std::lock_guard lock(mu_);
    return allocated_;
  }
  Status Recycle() override {
    std::lock_guard lock(mu_);
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
    size_.store(0, std::memory_order_release);
    allocated_ = static_cast<uint64_t>(st.st_size);
    trimmed_ = false;
    return Status::Ok();
  }
  Status TrimPreallocation() override {
    std::lock_guard lock(mu_);
    trimmed_ = true;
    uint64_t size = size_.load(std::memory_order_relaxed);
    if (allocated_ <= size) return Status::Ok();
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    allocated_ = size;
    return Status::Ok();
  }
  Result<size_t> ReadAt(uint64_t offset, size_t n, char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  int fd() const override { return fd_; }
  const std::string& path() const override { return path_; }
  void WriteBack(uint64_t offset, uint64_t length) override {
    (void)::sync_file_range(fd_, static_cast<off64_t>(offset), static_cast<off64_t>(length),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  }
  void ReleaseCache(uint64_t offset, uint64_t length) override {
    // DONTNEED starts writeback of dirty pages in the range and drops the clean ones.
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                          POSIX_FADV_DONTNEED);
  }

 private:
  // pwrite of all of `data` at `*at`; `*at` ends after what was written (a prefix on error).
  Status WriteAt(uint64_t& at, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      at += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;  // where the next Append writes
  mutable std::mutex mu_;       // appends, truncation and preallocation steps
  uint64_t allocated_;          // the file's length: size_ plus zeros written ahead; under mu_
  bool trimmed_ = false;        // TrimPreallocation ran: preallocate no more; under mu_
};

class PosixEnv : public Env {
 public:
  Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("stat", path, err);
    }
    return std::shared_ptr<File>(
        std::make_shared<PosixFile>(fd, path, static_cast<uint64_t>(st.st_size)));
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return ErrnoStatus("list directory", dir, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
  }
  Status CreateDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IoError("create directory \"" + dir + "\": " + ec.message());
    return Status::Ok();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path, errno);
    return Status::Ok();
  }
  Status RemoveDirAll(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) return IoError("remove directory \"" + dir + "\": " + ec.message());
    return Status::Ok();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename", from, errno);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open directory", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync directory", dir, err);
    return Status::Ok();
  }
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never destroyed: used until process exit
  return env;
}

Status Env::WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, OpenFile(tmp, true));
    EC_RETURN_IF_ERROR(f->Truncate(0));
    EC_RETURN_IF_ERROR(f->Append(data));
    EC_RETURN_IF_ERROR(f->Sync());
  }
  EC_RETURN_IF_ERROR(RenameFile(tmp, path));
  return SyncDir(DirOf(path));
}

Result<std::string> Env::ReadFileToString(const std::string& path) {
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, OpenFile(path, false));
  std::string out(f->Size(), '\0');
  EC_ASSIGN_OR_RETURN(size_t n, f->ReadAt(0, out.size(), out.data()));
  out.resize(n);
  return out;
}

}  // namespace ec::log
