#pragma once
// The delivery log of a subscription: the last N attempts (bounded ring), newest last.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ec::delivery {

struct AttemptRecord {
  int64_t time_ms = 0;      // when the attempt started (wall clock)
  std::string event_id;     // the CloudEvent id = webhook-id
  std::string type;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int attempt = 1;
  int status = 0;           // HTTP status; 0 when no response (timeout, connection error)
  double latency_ms = 0;
  std::string result;       // "delivered", "retry", "dead-lettered"
  std::string error;        // transport error text, empty when a response came
  std::string response;     // excerpt of the response body
};

// {"time": RFC 3339, "event_id", ..., "response"} as JSON.
std::string AttemptToJson(const AttemptRecord& a);

class AttemptLog {
 public:
  explicit AttemptLog(size_t capacity) : capacity_(capacity) {}
  void Add(AttemptRecord record);
  // The newest `limit` records, oldest first.
  std::vector<AttemptRecord> Recent(size_t limit) const;

 private:
  mutable std::mutex mu_;
  size_t capacity_;
  // A ring of at most capacity_ records, the oldest at next_ once full: an attempt is logged
  // per delivery, and a deque allocated and freed a block every few of them.
  std::vector<AttemptRecord> ring_;
  size_t next_ = 0;
};

}  // namespace ec::delivery
