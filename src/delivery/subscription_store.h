#pragma once
// Durable subscriptions and delivery positions: small JSON files under <data-dir>/delivery,
// each replaced atomically (write to a temporary file, fsync, rename, fsync the directory), so a
// crash (kill -9, power loss) leaves either the old or the new version, never a torn one.
//
//   subscriptions.json        {"subscriptions": [<subscription with secret>...]}  (mode 0600)
//   positions/<id>.json       {"positions": [{"topic", "partition", "offset"}...]}

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "delivery/subscription.h"

namespace ec::delivery {

// (topic, partition) -> the next offset to deliver.
using Positions = std::map<std::pair<std::string, int32_t>, int64_t>;

class SubscriptionStore {
 public:
  explicit SubscriptionStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Creates the directories. kIoError naming the path on failure.
  Status Open();
  // Every stored subscription; kCorruption naming the file when it does not parse.
  Result<std::vector<Subscription>> LoadSubscriptions() const;
  Status SaveSubscriptions(const std::vector<Subscription>& subs) const;
  // Stored positions of `id` (empty when none were saved yet).
  Result<Positions> LoadPositions(const std::string& id) const;
  Status SavePositions(const std::string& id, const Positions& positions) const;
  Status DeletePositions(const std::string& id) const;

 private:
  std::filesystem::path dir_;
};

// Replaces `path` with `content` atomically and durably (see above).
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, int mode);
// The whole file; kNotFound when it does not exist.
Result<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace ec::delivery
