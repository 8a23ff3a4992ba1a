#include "server/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "server/local_ingest.h"

namespace ec::server {
namespace {

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::string PositionFileFor(const std::string& dir, const std::string& path) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a(abs)));
  return dir + "/" + hex + ".pos";
}

FileTailer::FileTailer(FileTailerOptions options, ShipFn ship)
    : options_(std::move(options)), ship_(std::move(ship)) {}

FileTailer::~FileTailer() {
  Stop();
  CloseFile();
}

Status FileTailer::LoadPosition() {
  if (options_.position_file.empty()) return Status::Ok();
  int fd = open(options_.position_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::Ok() : IoError(Errno("cannot read " + options_.position_file));
  char buf[128] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  unsigned long long inode = 0, device = 0, offset = 0;
  if (n <= 0 || std::sscanf(buf, "%llu %llu %llu", &device, &inode, &offset) != 3) {
    return Corruption("position file " + options_.position_file + " is not 'DEVICE INODE OFFSET'; delete it to start the file from its beginning");
  }
  position_.device = static_cast<dev_t>(device);
  position_.inode = static_cast<ino_t>(inode);
  position_.offset = offset;
  return Status::Ok();
}

Status FileTailer::SavePosition() {
  if (options_.position_file.empty()) return Status::Ok();
  std::string tmp = options_.position_file + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(Errno("cannot write " + tmp));
  std::string text = std::to_string(static_cast<unsigned long long>(position_.device)) + " " +
                     std::to_string(static_cast<unsigned long long>(position_.inode)) + " " +
                     std::to_string(position_.offset) + "\n";
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fdatasync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), options_.position_file.c_str()) != 0) {
    return IoError(Errno("cannot write " + options_.position_file));
  }
  return Status::Ok();
}

Status FileTailer::Start() {
  if (!options_.position_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(options_.position_file).parent_path(), ec);
    if (ec) return IoError("cannot create " + options_.position_file + "'s directory: " + ec.message());
  }
  EC_RETURN_IF_ERROR(LoadPosition());
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void FileTailer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FileTailer::CloseFile() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void FileTailer::Run() {
  for (;;) {
    Result<size_t> r = Poll();
    (void)r;  // errors (file missing, append failed) are retried at the next poll
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms), [&] { return stop_; })) return;
  }
}

Result<size_t> FileTailer::Drain(bool final) {
  size_t total = 0;
  std::string buf;
  std::vector<std::string> lines;
  for (;;) {
    // Read a window from the position; complete lines are shipped, a partial tail re-read later.
    buf.resize(std::max<size_t>(options_.max_line_bytes, 1 << 20) + 1);
    ssize_t n = pread(fd_, buf.data(), buf.size(), static_cast<off_t>(position_.offset));
    if (n < 0) return IoError(Errno("cannot read " + options_.path));
    if (n == 0) return total;
    buf.resize(static_cast<size_t>(n));
    lines.clear();
    size_t consumed = 0;
    for (size_t pos = 0;;) {
      size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos) {
        bool rest_is_line = final && static_cast<size_t>(n) < options_.max_line_bytes + 1;
        if ((rest_is_line || buf.size() - pos > options_.max_line_bytes) && pos < buf.size()) {
          lines.emplace_back(buf.data() + pos, buf.size() - pos);
          consumed = buf.size();
        }
        break;
      }
      std::string_view line(buf.data() + pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) lines.emplace_back(line);
      pos = nl + 1;
      consumed = pos;
      if (lines.size() >= options_.max_batch_lines) break;
    }
    if (consumed == 0) return total;  // only a partial line so far
    if (!lines.empty()) EC_RETURN_IF_ERROR(ship_(lines));
    position_.offset += consumed;
    EC_RETURN_IF_ERROR(SavePosition());
    total += lines.size();
    shipped_.fetch_add(lines.size());
  }
}

Result<size_t> FileTailer::Poll() {
  size_t total = 0;
  struct stat at_path {};
  bool path_exists = stat(options_.path.c_str(), &at_path) == 0;
  if (fd_ >= 0) {
    struct stat open_st {};
    if (fstat(fd_, &open_st) != 0) return IoError(Errno("cannot stat " + options_.path));
    if (static_cast<uint64_t>(open_st.st_size) < position_.offset) {
      // Truncated in place (copytruncate): the file starts over.
      position_.offset = 0;
      EC_RETURN_IF_ERROR(SavePosition());
    }
    bool rotated = path_exists && (at_path.st_ino != open_st.st_ino || at_path.st_dev != open_st.st_dev);
    EC_ASSIGN_OR_RETURN(size_t n, Drain(rotated));
    total += n;
    if (!rotated) return total;
    // Renamed away and replaced: the old file is finished, the new one starts at 0.
    CloseFile();
    position_ = Position{};
  }
  if (!path_exists) return total;
  fd_ = open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return IoError(Errno("cannot open " + options_.path));
  struct stat st {};
  fstat(fd_, &st);
  if (st.st_ino != position_.inode || st.st_dev != position_.device) {
    position_ = Position{st.st_ino, st.st_dev, 0};
  } else if (static_cast<uint64_t>(st.st_size) < position_.offset) {
    position_.offset = 0;  // truncated while we were not looking
  }
  EC_RETURN_IF_ERROR(SavePosition());
  EC_ASSIGN_OR_RETURN(size_t n, Drain(false));
  return total + n;
}

FileSources::FileSources(std::vector<FileSourceConfig> files, std::string data_dir, LocalIngest* ingest)
    : files_(std::move(files)), data_dir_(std::move(data_dir)), ingest_(ingest) {}

FileSources::~FileSources() { Stop(); }

Status FileSources::Start() {
  for (const FileSourceConfig& f : files_) {
    FileTailerOptions o;
    o.path = f.path;
    o.position_file = PositionFileFor(data_dir_ + "/sources/files", f.path);
    o.max_line_bytes = ingest_->options().max_record_bytes;
    LocalIngest* ingest = ingest_;
    std::string format = f.format;
    auto t = std::make_unique<FileTailer>(o, [ingest, format](std::span<const std::string> lines) {
      return ingest->AppendTexts(lines, format).status();
    });
    if (Status s = t->Start(); !s.ok()) return Status(s.code(), "files[] " + f.path + ": " + s.message());
    tailers_.push_back(std::move(t));
  }
  return Status::Ok();
}

void FileSources::Stop() {
  for (auto& t : tailers_) t->Stop();
}

}  // namespace ec::server
