#include "delivery/subscription_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json/document.h"
#include "json/writer.h"

namespace ec::delivery {
namespace fs = std::filesystem;

namespace {

Status Errno(std::string_view what, const fs::path& p) {
  return IoError(std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

}  // namespace

Status WriteFileAtomic(const fs::path& path, std::string_view content, int mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("cannot write", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("cannot fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) return NotFound(path.string() + " does not exist");
    return Errno("cannot read", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status SubscriptionStore::Open() {
  std::error_code ec;
  fs::create_directories(dir_ / "positions", ec);
  if (ec) return IoError("cannot create " + (dir_ / "positions").string() + ": " + ec.message());
  return Status::Ok();
}

Result<std::vector<Subscription>> SubscriptionStore::LoadSubscriptions() const {
  fs::path p = dir_ / "subscriptions.json";
  auto text = ReadFile(p);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return std::vector<Subscription>{};
    return text.status();
  }
  auto doc = json::Parse(*text);
  if (!doc.ok()) return Corruption(p.string() + ": " + doc.status().message());
  const json::Value* arr = (*doc)->root().Find("subscriptions");
  if (!arr || !arr->is_array()) return Corruption(p.string() + ": no \"subscriptions\" array");
  std::vector<Subscription> out;
  for (const json::Value& v : arr->array()) {
    auto sub = SubscriptionFromJson(v, nullptr);
    if (!sub.ok()) return Corruption(p.string() + ": " + sub.status().message());
    const json::Value* id = v.Find("id");
    const json::Value* created = v.Find("created_ms");
    const json::Value* disabled = v.Find("disabled_reason");
    if (!id || !id->is_string()) return Corruption(p.string() + ": a subscription has no id");
    sub->id = std::string(id->string());
    if (created && created->is_number()) sub->created_ms = static_cast<int64_t>(created->number());
    if (disabled && disabled->is_string()) sub->disabled_reason = std::string(disabled->string());
    out.push_back(std::move(*sub));
  }
  return out;
}

Status SubscriptionStore::SaveSubscriptions(const std::vector<Subscription>& subs) const {
  std::string o = "{\"subscriptions\":[";
  for (size_t i = 0; i < subs.size(); ++i) {
    if (i) o += ",\n";
    o += SubscriptionToJson(subs[i], /*with_secret=*/true);
  }
  o += "]}\n";
  return WriteFileAtomic(dir_ / "subscriptions.json", o, 0600);
}

Result<Positions> SubscriptionStore::LoadPositions(const std::string& id) const {
  fs::path p = dir_ / "positions" / (id + ".json");
  auto text = ReadFile(p);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return Positions{};
    return text.status();
  }
  auto doc = json::Parse(*text);
  if (!doc.ok()) return Corruption(p.string() + ": " + doc.status().message());
  const json::Value* arr = (*doc)->root().Find("positions");
  if (!arr || !arr->is_array()) return Corruption(p.string() + ": no \"positions\" array");
  Positions out;
  for (const json::Value& e : arr->array()) {
    const json::Value* t = e.Find("topic");
    const json::Value* part = e.Find("partition");
    const json::Value* off = e.Find("offset");
    if (!t || !t->is_string() || !part || !part->is_number() || !off || !off->is_number()) {
      return Corruption(p.string() + ": a position lacks topic, partition or offset");
    }
    out[{std::string(t->string()), static_cast<int32_t>(part->number())}] =
        static_cast<int64_t>(off->number());
  }
  return out;
}

Status SubscriptionStore::SavePositions(const std::string& id, const Positions& positions) const {
  std::string o = "{\"positions\":[";
  bool first = true;
  for (const auto& [tp, off] : positions) {
    if (!first) o += ',';
    first = false;
    o += "{\"topic\":";
    json::AppendQuoted(tp.first, &o);
    o += ",\"partition\":" + std::to_string(tp.second) + ",\"offset\":" + std::to_string(off) + "}";
  }
  o += "]}\n";
  return WriteFileAtomic(dir_ / "positions" / (id + ".json"), o, 0644);
}

Status SubscriptionStore::DeletePositions(const std::string& id) const {
  std::error_code ec;
  fs::remove(dir_ / "positions" / (id + ".json"), ec);
  return Status::Ok();
}

}  // namespace ec::delivery
