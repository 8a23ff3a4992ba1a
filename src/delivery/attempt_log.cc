#include "delivery/attempt_log.h"

#include <ctime>

#include "json/writer.h"

namespace ec::delivery {
namespace {

std::string Rfc3339(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

std::string AttemptToJson(const AttemptRecord& a) {
  std::string o = "{\"time\":";
  json::AppendQuoted(Rfc3339(a.time_ms), &o);
  o += ",\"event_id\":";
  json::AppendQuoted(a.event_id, &o);
  o += ",\"type\":";
  json::AppendQuoted(a.type, &o);
  o += ",\"topic\":";
  json::AppendQuoted(a.topic, &o);
  o += ",\"partition\":";
  json::AppendJsNumber(a.partition, &o);
  o += ",\"offset\":";
  json::AppendJsNumber(static_cast<double>(a.offset), &o);
  o += ",\"attempt\":";
  json::AppendJsNumber(a.attempt, &o);
  o += ",\"status\":";
  json::AppendJsNumber(a.status, &o);
  o += ",\"latency_ms\":";
  json::AppendJsNumber(a.latency_ms, &o);
  o += ",\"result\":";
  json::AppendQuoted(a.result, &o);
  if (!a.error.empty()) {
    o += ",\"error\":";
    json::AppendQuoted(a.error, &o);
  }
  o += ",\"response\":";
  json::AppendQuoted(a.response, &o);
  o += '}';
  return o;
}

void AttemptLog::Add(AttemptRecord r) {
  std::lock_guard lock(mu_);
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(r));
    return;
  }
  ring_[next_] = std::move(r);
  next_ = (next_ + 1) % capacity_;
}

std::vector<AttemptRecord> AttemptLog::Recent(size_t limit) const {
  std::lock_guard lock(mu_);
  size_t n = std::min(limit, ring_.size());
  std::vector<AttemptRecord> out;
  out.reserve(n);
  // Oldest first: the ring's oldest is at next_ (0 until it is full).
  for (size_t i = ring_.size() - n; i < ring_.size(); ++i) {
    out.push_back(ring_[(next_ + i) % ring_.size()]);
  }
  return out;
}

}  // namespace ec::delivery
