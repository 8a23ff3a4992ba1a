#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cdc/state_store.h"

namespace ec::server {
namespace {

std::string Where(const std::string& name, const YAML::Mark& m) {
  if (m.line < 0) return name;
  return name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

class Reader {
 public:
  explicit Reader(const std::string& name) : name_(name) {}

  Status Fail(const YAML::Node& n, const std::string& what) {
    return InvalidArgument(Where(name_, n.Mark()) + ": " + what);
  }

  std::string Quote(const YAML::Node& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    return n.IsMap() ? "a mapping" : n.IsSequence() ? "a list" : "null";
  }

  Status Int(const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi, int64_t* out) {
    if (!n.IsScalar()) return Fail(n, key + " must be a number, not " + Quote(n));
    const std::string& s = n.Scalar();
    int64_t v = 0;
    size_t pos = 0;
    try {
      v = std::stoll(s, &pos, 10);
    } catch (...) {
      pos = 0;
    }
    // Accept size suffixes for byte counts: 16MiB, 512KiB, 1GiB.
    std::string rest = s.substr(pos);
    int64_t mult = 1;
    if (rest == "KiB" || rest == "k" || rest == "K") mult = 1 << 10;
    else if (rest == "MiB" || rest == "M") mult = 1 << 20;
    else if (rest == "GiB" || rest == "G") mult = 1ll << 30;
    else if (!rest.empty()) pos = 0;
    if (pos == 0) {
      return Fail(n, key + " must be an integer (byte sizes may end in KiB, MiB or GiB), not " + Quote(n));
    }
    v *= mult;
    if (v < lo || v > hi) {
      return Fail(n, key + " is " + s + "; it must be between " + std::to_string(lo) + " and " +
                         std::to_string(hi));
    }
    *out = v;
    return Status::Ok();
  }

  template <typename T>
  Status IntAs(const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi, T* out) {
    int64_t v = 0;
    EC_RETURN_IF_ERROR(Int(n, key, lo, hi, &v));
    *out = static_cast<T>(v);
    return Status::Ok();
  }

  Status String(const YAML::Node& n, const std::string& key, std::string* out) {
    if (!n.IsScalar()) return Fail(n, key + " must be a string, not " + Quote(n));
    *out = n.Scalar();
    return Status::Ok();
  }

  Status Bool(const YAML::Node& n, const std::string& key, bool* out) {
    std::string v;
    EC_RETURN_IF_ERROR(String(n, key, &v));
    if (v != "true" && v != "false") return Fail(n, key + " is '" + v + "'; use true or false");
    *out = v == "true";
    return Status::Ok();
  }

  Status Address(const YAML::Node& n, const std::string& key, std::string* out) {
    EC_RETURN_IF_ERROR(String(n, key, out));
    size_t colon = out->rfind(':');
    std::string port = colon == std::string::npos ? "" : out->substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stol(port) > 65535) {
      return Fail(n, key + " " + Quote(n) + " is not HOST:PORT; write e.g. 127.0.0.1:8080 (port 0 picks a free one)");
    }
    return Status::Ok();
  }

  // Fails on keys not in `known` (a typo must not be silently ignored).
  Status Keys(const YAML::Node& map, const std::string& section, const std::set<std::string>& known) {
    if (!map.IsMap()) return Fail(map, section + " must be a mapping, not " + Quote(map));
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string k = it->first.Scalar();
      if (!known.count(k)) {
        std::string list;
        for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
        return Fail(it->first, "unknown option '" + k + "' in " + section + "; known: " + list);
      }
    }
    return Status::Ok();
  }

  Status Topic(const YAML::Node& n, const std::string& section, TopicOptions* t) {
    EC_RETURN_IF_ERROR(Keys(n, section, {"partitions", "retention_ms", "retention_bytes", "cloudevents_mode"}));
    if (n["partitions"]) EC_RETURN_IF_ERROR(IntAs(n["partitions"], section + ".partitions", 1, 1024, &t->partitions));
    if (n["retention_ms"]) EC_RETURN_IF_ERROR(Int(n["retention_ms"], section + ".retention_ms", -1, INT64_MAX, &t->retention_ms));
    if (n["retention_bytes"]) EC_RETURN_IF_ERROR(Int(n["retention_bytes"], section + ".retention_bytes", -1, INT64_MAX, &t->retention_bytes));
    if (n["cloudevents_mode"]) {
      std::string m;
      EC_RETURN_IF_ERROR(String(n["cloudevents_mode"], section + ".cloudevents_mode", &m));
      if (m == "binary") t->cloudevents_mode = CloudEventsMode::kBinary;
      else if (m == "structured") t->cloudevents_mode = CloudEventsMode::kStructured;
      else return Fail(n["cloudevents_mode"], section + ".cloudevents_mode is '" + m + "'; write binary or structured");
    }
    return Status::Ok();
  }

 private:
  const std::string& name_;
};

// ingest.dedupe_window: a duration such as 24h, 90m, 30s, 500ms or 0 (off); a bare number is ms.
Status ParseWindow(Reader& r, const YAML::Node& n, int64_t* out) {
  std::string s;
  EC_RETURN_IF_ERROR(r.String(n, "ingest.dedupe_window", &s));
  size_t pos = 0;
  int64_t v = -1;
  try {
    v = std::stoll(s, &pos, 10);
  } catch (...) {
    pos = 0;
  }
  std::string unit = s.substr(pos);
  int64_t mult = unit == "" || unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000
               : unit == "d" ? 86400000 : -1;
  if (pos == 0 || v < 0 || mult < 0 || v > INT64_MAX / mult) {
    return r.Fail(n, "ingest.dedupe_window must be a duration such as 24h, 90m, 30s or 0 (off), not " + r.Quote(n));
  }
  *out = v * mult;
  return Status::Ok();
}

Status Apply(const YAML::Node& root, const std::string& name, ServerConfig* c) {
  Reader r(name);
  if (root.IsNull()) return Status::Ok();  // an empty file keeps every default
  EC_RETURN_IF_ERROR(r.Keys(root, "the config file", {"listeners", "data_dir", "limits", "ingest", "topic_defaults", "topics", "webhooks", "syslog", "proxy", "firehose", "files", "processing", "log"}));
  if (const YAML::Node l = root["listeners"]) {
    EC_RETURN_IF_ERROR(r.Keys(l, "listeners", {"http", "http_threads", "kafka", "kafka_advertised"}));
    if (l["http"]) EC_RETURN_IF_ERROR(r.Address(l["http"], "listeners.http", &c->http_address));
    if (l["http_threads"]) EC_RETURN_IF_ERROR(r.IntAs(l["http_threads"], "listeners.http_threads", 1, 256, &c->http_threads));
    if (l["kafka"]) EC_RETURN_IF_ERROR(r.Address(l["kafka"], "listeners.kafka", &c->kafka_address));
    if (l["kafka_advertised"]) EC_RETURN_IF_ERROR(r.Address(l["kafka_advertised"], "listeners.kafka_advertised", &c->kafka_advertised));
  }
  if (root["data_dir"]) EC_RETURN_IF_ERROR(r.String(root["data_dir"], "data_dir", &c->data_dir));
  if (const YAML::Node l = root["log"]) {
    EC_RETURN_IF_ERROR(r.Keys(l, "log", {"preallocate_bytes", "sync_threads", "journal", "journal_direct_io", "journal_fill_on_start",
                                        "compaction_map_bytes"}));
    if (l["journal"]) {
      EC_RETURN_IF_ERROR(r.Bool(l["journal"], "log.journal", &c->log_journal));
      c->log_journal_set = true;
    }
    if (l["journal_fill_on_start"]) {
      EC_RETURN_IF_ERROR(r.Bool(l["journal_fill_on_start"], "log.journal_fill_on_start", &c->log_journal_fill_on_start));
    }
    if (l["journal_direct_io"]) {
      EC_RETURN_IF_ERROR(r.Bool(l["journal_direct_io"], "log.journal_direct_io", &c->log_journal_direct_io));
      c->log_journal_direct_io_set = true;
    }
    if (l["sync_threads"]) EC_RETURN_IF_ERROR(r.IntAs(l["sync_threads"], "log.sync_threads", 1, 256, &c->log_sync_threads));
    if (l["preallocate_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["preallocate_bytes"], "log.preallocate_bytes", 0, 1ll << 30, &c->log_preallocate_bytes));
    if (l["compaction_map_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["compaction_map_bytes"], "log.compaction_map_bytes", 1ll << 16, 1ll << 31, &c->log_compaction_map_bytes));
  }
  if (const YAML::Node l = root["limits"]) {
    EC_RETURN_IF_ERROR(r.Keys(l, "limits", {"max_body_bytes", "max_record_bytes", "max_json_depth", "max_lag_records", "retry_after_seconds"}));
    if (l["max_body_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["max_body_bytes"], "limits.max_body_bytes", 1024, 1ll << 32, &c->max_body_bytes));
    if (l["max_record_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["max_record_bytes"], "limits.max_record_bytes", 256, 1ll << 30, &c->max_record_bytes));
    if (l["max_json_depth"]) EC_RETURN_IF_ERROR(r.IntAs(l["max_json_depth"], "limits.max_json_depth", 4, 1024, &c->max_json_depth));
    if (l["max_lag_records"]) EC_RETURN_IF_ERROR(r.Int(l["max_lag_records"], "limits.max_lag_records", 1, INT64_MAX, &c->max_lag_records));
    if (l["retry_after_seconds"]) EC_RETURN_IF_ERROR(r.IntAs(l["retry_after_seconds"], "limits.retry_after_seconds", 1, 3600, &c->retry_after_seconds));
  }
  if (const YAML::Node l = root["ingest"]) {
    EC_RETURN_IF_ERROR(r.Keys(l, "ingest", {"raw_topic", "default_format", "dead_letter_topic", "dedupe_window", "dedupe_memory_bytes", "dedupe_write_rate_bytes", "dedupe_filter_bytes"}));
    if (l["dedupe_window"]) EC_RETURN_IF_ERROR(ParseWindow(r, l["dedupe_window"], &c->dedupe_window_ms));
    if (l["dedupe_memory_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["dedupe_memory_bytes"], "ingest.dedupe_memory_bytes", 1ll << 20, 1ll << 40, &c->dedupe_memory_bytes));
    if (l["dedupe_write_rate_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["dedupe_write_rate_bytes"], "ingest.dedupe_write_rate_bytes", 0, 1ll << 40, &c->dedupe_write_rate_bytes));
    if (l["dedupe_filter_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(l["dedupe_filter_bytes"], "ingest.dedupe_filter_bytes", 0, 1ll << 40, &c->dedupe_filter_bytes));
    if (l["raw_topic"]) EC_RETURN_IF_ERROR(r.String(l["raw_topic"], "ingest.raw_topic", &c->raw_topic));
    if (l["default_format"]) EC_RETURN_IF_ERROR(r.String(l["default_format"], "ingest.default_format", &c->default_format));
    if (l["dead_letter_topic"]) EC_RETURN_IF_ERROR(r.String(l["dead_letter_topic"], "ingest.dead_letter_topic", &c->dead_letter_topic));
  }
  if (const YAML::Node p = root["processing"]) {
    EC_RETURN_IF_ERROR(r.Keys(p, "processing", {"guarantee", "overlap_passes", "input_sync_hold_us", "background_nice", "state_cache_bytes", "state_write_defer_bytes", "state_write_defer_ms", "state_memory_bytes", "state_write_rate_bytes"}));
    if (p["state_memory_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(p["state_memory_bytes"], "processing.state_memory_bytes", 1ll << 20, 1ll << 40, &c->state_memory_bytes));
    if (p["state_write_rate_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(p["state_write_rate_bytes"], "processing.state_write_rate_bytes", 0, 1ll << 40, &c->state_write_rate_bytes));
    if (p["state_cache_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(p["state_cache_bytes"], "processing.state_cache_bytes", 0, 1ll << 40, &c->state_cache_bytes));
    if (p["state_write_defer_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(p["state_write_defer_bytes"], "processing.state_write_defer_bytes", 0, 1ll << 32, &c->state_write_defer_bytes));
    if (p["state_write_defer_ms"]) EC_RETURN_IF_ERROR(r.Int(p["state_write_defer_ms"], "processing.state_write_defer_ms", 0, 3600000, &c->state_write_defer_ms));
    if (p["guarantee"]) {
      std::string g;
      EC_RETURN_IF_ERROR(r.String(p["guarantee"], "processing.guarantee", &g));
      if (g != "exactly_once" && g != "at_least_once") {
        return r.Fail(p["guarantee"], "processing.guarantee is '" + g + "'; use exactly_once or at_least_once");
      }
      c->exactly_once = g == "exactly_once";
    }
    if (p["overlap_passes"]) EC_RETURN_IF_ERROR(r.Bool(p["overlap_passes"], "processing.overlap_passes", &c->overlap_passes));
    if (p["input_sync_hold_us"]) EC_RETURN_IF_ERROR(r.IntAs(p["input_sync_hold_us"], "processing.input_sync_hold_us", 0, 1000000, &c->input_sync_hold_us));
    if (p["background_nice"]) EC_RETURN_IF_ERROR(r.IntAs(p["background_nice"], "processing.background_nice", 0, 19, &c->background_nice));
  }
  if (const YAML::Node w = root["webhooks"]) {
    EC_RETURN_IF_ERROR(r.Keys(w, "webhooks", {"allow"}));
    if (const YAML::Node a = w["allow"]) {
      if (!a.IsSequence()) return r.Fail(a, "webhooks.allow must be a list of CIDRs, e.g. [127.0.0.1/32]");
      for (const YAML::Node& cidr : a) {
        std::string text;
        EC_RETURN_IF_ERROR(r.String(cidr, "webhooks.allow[]", &text));
        c->webhook_allow.push_back(text);
      }
    }
  }
  if (const YAML::Node y = root["syslog"]) {
    EC_RETURN_IF_ERROR(r.Keys(y, "syslog", {"udp", "tcp", "format", "max_message_bytes", "queue"}));
    if (y["udp"]) EC_RETURN_IF_ERROR(r.Address(y["udp"], "syslog.udp", &c->syslog.udp));
    if (y["tcp"]) EC_RETURN_IF_ERROR(r.Address(y["tcp"], "syslog.tcp", &c->syslog.tcp));
    if (y["format"]) EC_RETURN_IF_ERROR(r.String(y["format"], "syslog.format", &c->syslog.format));
    if (y["max_message_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(y["max_message_bytes"], "syslog.max_message_bytes", 256, 64ll << 20, &c->syslog.max_message_bytes));
    if (y["queue"]) EC_RETURN_IF_ERROR(r.IntAs(y["queue"], "syslog.queue", 1, 10000000, &c->syslog.queue));
  }
  if (const YAML::Node y = root["proxy"]) {
    EC_RETURN_IF_ERROR(r.Keys(y, "proxy", {"listen", "upstream", "max_body_bytes", "threads", "queue"}));
    if (y["listen"]) EC_RETURN_IF_ERROR(r.Address(y["listen"], "proxy.listen", &c->proxy.listen));
    if (y["upstream"]) EC_RETURN_IF_ERROR(r.String(y["upstream"], "proxy.upstream", &c->proxy.upstream));
    if (y["max_body_bytes"]) EC_RETURN_IF_ERROR(r.IntAs(y["max_body_bytes"], "proxy.max_body_bytes", 0, 1ll << 30, &c->proxy.max_body_bytes));
    if (y["threads"]) EC_RETURN_IF_ERROR(r.IntAs(y["threads"], "proxy.threads", 1, 64, &c->proxy.threads));
    if (y["queue"]) EC_RETURN_IF_ERROR(r.IntAs(y["queue"], "proxy.queue", 1, 10000000, &c->proxy.queue));
    if (c->proxy.enabled() && c->proxy.upstream.empty()) return r.Fail(y, "proxy.listen needs proxy.upstream (http://HOST:PORT of the API)");
  }
  if (const YAML::Node y = root["firehose"]) {
    EC_RETURN_IF_ERROR(r.Keys(y, "firehose", {"access_key", "format"}));
    if (y["access_key"]) EC_RETURN_IF_ERROR(r.String(y["access_key"], "firehose.access_key", &c->firehose.access_key));
    if (y["format"]) EC_RETURN_IF_ERROR(r.String(y["format"], "firehose.format", &c->firehose.format));
  }
  if (const YAML::Node f = root["files"]) {
    if (!f.IsSequence()) return r.Fail(f, "files must be a list of {path, format} mappings");
    for (const YAML::Node& e : f) {
      EC_RETURN_IF_ERROR(r.Keys(e, "files[]", {"path", "format"}));
      FileSourceConfig fc;
      if (!e["path"]) return r.Fail(e, "files[] needs a path");
      EC_RETURN_IF_ERROR(r.String(e["path"], "files[].path", &fc.path));
      if (e["format"]) EC_RETURN_IF_ERROR(r.String(e["format"], "files[].format", &fc.format));
      c->files.push_back(fc);
    }
  }
  if (root["topic_defaults"]) EC_RETURN_IF_ERROR(r.Topic(root["topic_defaults"], "topic_defaults", &c->topic_defaults));
  if (const YAML::Node t = root["topics"]) {
    if (!t.IsMap()) return r.Fail(t, "topics must be a mapping from topic name to options, not " + r.Quote(t));
    for (auto it = t.begin(); it != t.end(); ++it) {
      std::string topic = it->first.Scalar();
      TopicOptions opts = c->topic_defaults;
      EC_RETURN_IF_ERROR(r.Topic(it->second, "topics." + topic, &opts));
      c->topics[topic] = opts;
    }
  }
  return Status::Ok();
}

}  // namespace

const TopicOptions& ServerConfig::OptionsFor(const std::string& topic) const {
  auto it = topics.find(topic);
  return it == topics.end() ? topic_defaults : it->second;
}

const char* CloudEventsModeName(CloudEventsMode mode) {
  return mode == CloudEventsMode::kStructured ? "structured" : "binary";
}

Status LoadConfigText(const std::string& text, const std::string& name, ServerConfig* config) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return ParseError(Where(name, e.mark) + ": invalid YAML: " + e.msg);
  }
  try {
    return Apply(root, name, config);
  } catch (const YAML::Exception& e) {
    return ParseError(Where(name, e.mark) + ": " + e.msg);
  }
}

Status LoadConfigFile(const std::string& path, ServerConfig* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read config file '" + path + "'; check the --config path");
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadConfigText(ss.str(), path, config);
}

std::string DescribeConfigOptions() {
  ServerConfig d;
  std::string out;
  auto line = [&](const std::string& key, const std::string& def, const std::string& what) {
    out += "  " + key + std::string(key.size() < 32 ? 32 - key.size() : 1, ' ') + what + " (default: " + def + ")\n";
  };
  line("listeners.http", d.http_address, "HTTP ingest, admin API and metrics; --http");
  line("listeners.http_threads", std::to_string(d.http_threads), "HTTP worker threads");
  line("listeners.kafka", d.kafka_address, "Kafka protocol; --kafka");
  line("listeners.kafka_advertised", "the bound address", "address given to Kafka clients");
  line("webhooks.allow", "[]", "CIDRs webhooks may reach despite the SSRF guard (also --webhook-allow)");
  line("data_dir", d.data_dir, "where topics and offsets live; --data-dir");
  line("log.preallocate_bytes", std::to_string(d.log_preallocate_bytes), "zeros written ahead of each partition's appends, so their fdatasync writes data only (0 = off)");
  line("log.sync_threads", std::to_string(d.log_sync_threads), "fdatasyncs that may run at once (a pipeline pass syncs ~10 partitions together)");
  line("log.journal", d.log_journal ? "true" : "false", "durable appends wait for one fdatasync of a commit journal, not one per partition");
  line("log.journal_direct_io", d.log_journal_direct_io ? "true" : "false", "the journal's files bypass the page cache (O_DIRECT)");
  line("log.journal_fill_on_start", d.log_journal_fill_on_start ? "true" : "false",
       "zero-fill the journal's first file and its spare to a checkpoint's size at startup, not in steps while traffic runs");
  line("log.compaction_map_bytes", std::to_string(d.log_compaction_map_bytes), "memory of one compaction round's key -> latest offset map; a round cleans what it maps, the next goes on");
  line("limits.max_body_bytes", std::to_string(d.max_body_bytes), "HTTP body size (413 beyond)");
  line("limits.max_record_bytes", std::to_string(d.max_record_bytes), "one exchange record (422 beyond)");
  line("limits.max_json_depth", std::to_string(d.max_json_depth), "JSON nesting of a record");
  line("limits.max_lag_records", std::to_string(d.max_lag_records), "pipeline lag that makes ingest answer 429");
  line("limits.retry_after_seconds", std::to_string(d.retry_after_seconds), "Retry-After of a 429");
  line("ingest.raw_topic", d.raw_topic, "topic HTTP ingest appends to");
  line("ingest.default_format", d.default_format, "decoder when ?format= is absent");
  line("ingest.dead_letter_topic", d.dead_letter_topic, "where failures go");
  line("ingest.dedupe_window", "24h", "an exchange id ingested within it is acknowledged, not appended again; 0 = off");
  line("ingest.dedupe_memory_bytes", std::to_string(d.dedupe_memory_bytes), "RocksDB memory of the dedupe index: half write buffers, half block cache");
  line("ingest.dedupe_write_rate_bytes", std::to_string(d.dedupe_write_rate_bytes), "bytes per second the dedupe index's flushes and compactions may write, in 256 KiB steps (0 = unlimited)");
  line("ingest.dedupe_filter_bytes", std::to_string(d.dedupe_filter_bytes), "memory of the dedupe index's in-memory filter of indexed ids, which lets new ids skip RocksDB (0 = none)");
  line("processing.guarantee", "exactly_once", "exactly_once (transactional passes) or at_least_once");
  line("processing.overlap_passes", "true", "read and process the next pass while the last one commits (a pass that met a backlog commits first)");
  line("processing.input_sync_hold_us", std::to_string(d.input_sync_hold_us), "how long a durable ingest append may wait to share the pass's journal sync (0 = off; its 202 still waits for durability)");
  line("processing.background_nice", std::to_string(d.background_nice), "nice value for RocksDB's flush and compaction threads, the state writer and the journal checkpointer (0 = off)");
  line("processing.state_cache_bytes", std::to_string(d.state_cache_bytes), "changelog state cache of hot keys (0 = off)");
  line("processing.state_write_defer_bytes", std::to_string(d.state_write_defer_bytes), "committed state writes batched up to this size (0 = at once)");
  line("processing.state_write_defer_ms", std::to_string(d.state_write_defer_ms), "... or this long before they go to RocksDB");
  line("processing.state_memory_bytes", std::to_string(d.state_memory_bytes), "RocksDB memory of the state store: half write buffers, half block cache");
  line("processing.state_write_rate_bytes", std::to_string(d.state_write_rate_bytes), "bytes per second the state store's flushes and compactions may write, in 256 KiB steps (0 = unlimited)");
  line("syslog.udp / syslog.tcp", "none", "syslog listener HOST:PORT (RFC 5424/3164); --syslog-udp/--syslog-tcp");
  line("syslog.format", d.syslog.format, "decoder of each syslog message; --syslog-format");
  line("syslog.max_message_bytes", std::to_string(d.syslog.max_message_bytes), "longer messages are dead-lettered");
  line("syslog.queue", std::to_string(d.syslog.queue), "messages waiting for the append; the listener waits beyond");
  line("proxy.listen / proxy.upstream", "none", "capture proxy HOST:PORT and http://HOST:PORT; --proxy-listen/--proxy-upstream");
  line("proxy.max_body_bytes", std::to_string(d.proxy.max_body_bytes), "bytes of each body recorded");
  line("proxy.threads / proxy.queue", "2 / 10000", "proxy I/O threads / captures waiting (more are dropped, counted)");
  line("firehose.access_key", "none (403)", "X-Amz-Firehose-Access-Key of POST /v1/ingest/firehose; --firehose-access-key");
  line("firehose.format", d.firehose.format, "decoder of Firehose records");
  line("files[].path / files[].format", "[]", "NDJSON files tailed (rotation-safe); --follow-file");
  line("topic_defaults.partitions", "1", "partitions of auto-created topics");
  line("topic_defaults.retention_ms", "-1", "time retention (-1 keeps forever)");
  line("topic_defaults.retention_bytes", "-1", "size retention per partition");
  line("topic_defaults.cloudevents_mode", "binary", "binary (ce_* headers) or structured");
  line("topics.<name>.*", "topic_defaults", "the same options for one topic");
  return out;
}

cdc::RocksStateOptions StateStoreOptions(const ServerConfig& config) {
  return {.cache_bytes = config.state_cache_bytes,
          .defer_bytes = config.state_write_defer_bytes,
          .defer_ms = config.state_write_defer_ms,
          .rocksdb_memory_bytes = config.state_memory_bytes,
          .write_rate_bytes = config.state_write_rate_bytes};
}

}  // namespace ec::server
