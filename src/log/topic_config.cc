#include "log/topic_config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <span>
#include <sstream>

namespace ec::log {
namespace {

// Kafka topic configs we act on.
constexpr std::array<std::string_view, 13> kActive = {
    "retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "cleanup.policy",
    "delete.retention.ms", "min.compaction.lag.ms", "message.timestamp.type",
    "max.message.bytes", "index.interval.bytes", "flush.ms", "compression.type",
    "min.cleanable.dirty.ratio"};
// Kafka topic configs we accept and report but that change nothing on a single node.
constexpr std::array<std::string_view, 15> kStored = {
    "min.insync.replicas", "flush.messages", "segment.index.bytes", "segment.jitter.ms",
    "preallocate", "unclean.leader.election.enable", "max.compaction.lag.ms",
    "file.delete.delay.ms", "message.downconversion.enable",
    "message.timestamp.difference.max.ms", "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas", "local.retention.ms", "local.retention.bytes",
    "remote.storage.enable"};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string_view Nearest(std::string_view name) {
  std::string_view best;
  size_t best_d = SIZE_MAX;
  for (auto list : {std::span<const std::string_view>(kActive), std::span<const std::string_view>(kStored)}) {
    for (std::string_view k : list) {
      size_t d = EditDistance(name, k);
      if (d < best_d) {
        best_d = d;
        best = k;
      }
    }
  }
  return best;
}

Status BadValue(const std::string& name, const std::string& value, std::string_view want) {
  return InvalidArgument("config " + name + ": invalid value \"" + value + "\"; expected " +
                         std::string(want));
}

Result<int64_t> ParseInt(const std::string& name, const std::string& value, int64_t min) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < min)
    return BadValue(name, value, "an integer >= " + std::to_string(min));
  return v;
}

std::string Str(int64_t v) { return std::to_string(v); }

}  // namespace

bool IsKnownTopicConfig(std::string_view name) {
  return std::find(kActive.begin(), kActive.end(), name) != kActive.end() ||
         std::find(kStored.begin(), kStored.end(), name) != kStored.end();
}

Result<TopicConfig> TopicConfig::FromMap(const std::map<std::string, std::string>& settings,
                                         const TopicConfig& base) {
  TopicConfig c = base;
  for (const auto& [name, value] : settings) {
    if (!IsKnownTopicConfig(name))
      return InvalidArgument("unknown topic config \"" + name + "\" (did you mean \"" +
                             std::string(Nearest(name)) + "\"?)");
    if (name == "retention.ms") {
      EC_ASSIGN_OR_RETURN(c.retention_ms, ParseInt(name, value, -1));
    } else if (name == "retention.bytes") {
      EC_ASSIGN_OR_RETURN(c.retention_bytes, ParseInt(name, value, -1));
    } else if (name == "segment.bytes") {
      EC_ASSIGN_OR_RETURN(c.segment_bytes, ParseInt(name, value, 14));
      if (c.segment_bytes > INT32_MAX) return BadValue(name, value, "at most 2147483647");
    } else if (name == "segment.ms") {
      EC_ASSIGN_OR_RETURN(c.segment_ms, ParseInt(name, value, 1));
    } else if (name == "cleanup.policy") {
      bool del = false, compact = false;
      std::stringstream ss(value);
      std::string part;
      while (std::getline(ss, part, ',')) {
        part.erase(0, part.find_first_not_of(' '));
        part.erase(part.find_last_not_of(' ') + 1);
        if (part == "delete") del = true;
        else if (part == "compact") compact = true;
        else return BadValue(name, value, "delete, compact or \"compact,delete\"");
      }
      if (!del && !compact) return BadValue(name, value, "delete, compact or \"compact,delete\"");
      c.cleanup_delete = del;
      c.cleanup_compact = compact;
    } else if (name == "delete.retention.ms") {
      EC_ASSIGN_OR_RETURN(c.delete_retention_ms, ParseInt(name, value, 0));
    } else if (name == "min.compaction.lag.ms") {
      EC_ASSIGN_OR_RETURN(c.min_compaction_lag_ms, ParseInt(name, value, 0));
    } else if (name == "min.cleanable.dirty.ratio") {
      double v = -1;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || p != value.data() + value.size() || !(v >= 0 && v <= 1))
        return BadValue(name, value, "a number from 0 to 1");
      c.min_cleanable_dirty_ratio = v;
    } else if (name == "message.timestamp.type") {
      if (value == "CreateTime") c.message_timestamp_type = TimestampType::kCreateTime;
      else if (value == "LogAppendTime") c.message_timestamp_type = TimestampType::kLogAppendTime;
      else return BadValue(name, value, "CreateTime or LogAppendTime");
    } else if (name == "max.message.bytes") {
      EC_ASSIGN_OR_RETURN(int64_t v, ParseInt(name, value, 0));
      if (v > INT32_MAX) return BadValue(name, value, "at most 2147483647");
      c.max_message_bytes = static_cast<int32_t>(v);
    } else if (name == "index.interval.bytes") {
      EC_ASSIGN_OR_RETURN(int64_t v, ParseInt(name, value, 0));
      if (v > INT32_MAX) return BadValue(name, value, "at most 2147483647");
      c.index_interval_bytes = static_cast<int32_t>(v);
    } else if (name == "flush.ms") {
      EC_ASSIGN_OR_RETURN(c.flush_ms, ParseInt(name, value, 0));
    } else if (name == "compression.type") {
      static constexpr std::array<std::string_view, 7> kOk = {
          "producer", "uncompressed", "none", "gzip", "snappy", "lz4", "zstd"};
      if (std::find(kOk.begin(), kOk.end(), value) == kOk.end())
        return BadValue(name, value, "producer, uncompressed, gzip, snappy, lz4 or zstd");
    }
    c.overrides[name] = value;
  }
  return c;
}

std::vector<TopicConfig::Entry> TopicConfig::Describe() const {
  std::vector<Entry> out;
  auto add = [&](std::string name, std::string value) {
    auto it = overrides.find(name);
    bool is_default = it == overrides.end();
    out.push_back({name, is_default ? std::move(value) : it->second, is_default, false});
  };
  add("retention.ms", Str(retention_ms));
  add("retention.bytes", Str(retention_bytes));
  add("segment.bytes", Str(segment_bytes));
  add("segment.ms", Str(segment_ms));
  add("cleanup.policy", cleanup_compact && cleanup_delete ? "compact,delete"
                        : cleanup_compact                 ? "compact"
                                                          : "delete");
  add("delete.retention.ms", Str(delete_retention_ms));
  add("min.compaction.lag.ms", Str(min_compaction_lag_ms));
  add("min.cleanable.dirty.ratio", [&] {
    std::ostringstream o;
    o << min_cleanable_dirty_ratio;
    return o.str();
  }());
  add("message.timestamp.type",
      message_timestamp_type == TimestampType::kLogAppendTime ? "LogAppendTime" : "CreateTime");
  add("max.message.bytes", Str(max_message_bytes));
  add("index.interval.bytes", Str(index_interval_bytes));
  add("flush.ms", Str(flush_ms < 0 ? INT64_MAX : flush_ms));
  add("compression.type", "producer");
  for (const auto& [name, value] : overrides) {
    if (std::find(kStored.begin(), kStored.end(), name) != kStored.end())
      out.push_back({name, value, false, false});
  }
  return out;
}

std::string TopicConfig::Serialize() const {
  std::string out;
  for (const auto& [name, value] : overrides) out += name + "=" + value + "\n";
  return out;
}

Result<TopicConfig> TopicConfig::Deserialize(std::string_view text, const TopicConfig& base) {
  std::map<std::string, std::string> m;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return Corruption("topic config line " + std::to_string(line_no) + ": no '=' in \"" +
                        std::string(line) + "\"");
    m[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return FromMap(m, base);
}

}  // namespace ec::log
