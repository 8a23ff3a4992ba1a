#pragma once
// Timestamps and durations: RFC 3339 and Go-style duration text, civil time, IANA zones.

#include <cstdint>
#include <string>
#include <string_view>

namespace ec::cel {

// Valid timestamp seconds: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;
// Valid duration seconds: the int64-nanosecond range of cel-go (about +-292 years), which
// the conformance suite expects (e.g. 9999-12-31 minus 0001-01-01 is a range error).
inline constexpr int64_t kMaxDurationSeconds = 9223372036;

// Parses RFC 3339 ("2009-02-13T23:31:30.123Z", "...+01:00"); false when malformed or out of range.
bool ParseTimestamp(std::string_view s, int64_t* seconds, int32_t* nanos);
// "2009-02-13T23:31:30.123Z" (fraction without trailing zeros, as Go's RFC3339Nano).
std::string FormatTimestamp(int64_t seconds, int32_t nanos);
// Parses "1h2m3.5s", "-1.5h", "100ms" (units h m s ms us ns); false when malformed/out of range.
bool ParseDuration(std::string_view s, int64_t* seconds, int32_t* nanos);
// "3600s", "1.5s", "-0.000000001s".
std::string FormatDuration(int64_t seconds, int32_t nanos);

// Normalises (seconds, nanos) so nanos is in [0, 1e9) for timestamps.
void NormalizeTimestamp(int64_t* seconds, int64_t* nanos);
// Normalises so seconds and nanos share a sign; false on overflow.
bool NormalizeDuration(int64_t* seconds, int64_t* nanos);

struct CivilTime {
  int64_t year;
  int month;        // 1..12
  int day;          // 1..31
  int hour, minute, second;
  int day_of_week;  // 0 = Sunday
  int day_of_year;  // 0-based
};
CivilTime ToCivil(int64_t seconds);

// The UTC offset in seconds of zone `tz` at `seconds`: "UTC", "+05:30", "-08:00" or an IANA
// name read from the system tzdata (/usr/share/zoneinfo). False when the zone is unknown.
bool ZoneOffset(std::string_view tz, int64_t seconds, int64_t* offset);

}  // namespace ec::cel
