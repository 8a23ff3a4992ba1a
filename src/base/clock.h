#pragma once
// Wall-clock time in milliseconds since the Unix epoch: the unit of Kafka record timestamps,
// CloudEvent times and committed-offset metadata. One definition, so every stage agrees.

#include <chrono>
#include <cstdint>

namespace ec {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ec
