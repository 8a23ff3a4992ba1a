#pragma once
// The rate limiter that RocksDB's flushes and compactions write through, for the state store
// (processing.state_write_rate_bytes) and the dedupe index (ingest.dedupe_write_rate_bytes):
// their writes reach the device in small steps instead of one burst that the commit journal's
// fdatasync would wait behind (docs/ingest-performance.md, "The half-rate tail: the state
// store's flushes").
//
// Written here rather than taken from rocksdb::NewGenericRateLimiter because the one in
// Debian 12's RocksDB (7.8.3) can hang (facebook/rocksdb#11742, fixed in RocksDB 8.6): of two
// queued requests, one sleeps until the next refill and the other waits with no deadline for it
// to hand over; when the first leaves without doing so, the second never wakes. Seen here: a
// flush stuck in GenericRateLimiter::Request for good, and once the memtables were full every
// write stuck behind it in DBImpl::DelayWrite (StateStore.RocksDbLargerThanItsCacheFindsEveryState,
// 2 hangs in 15 runs under disk load). Here every waiter sleeps with a deadline of its own, so
// none depends on another to wake it.

#include <cstdint>
#include <memory>

namespace rocksdb {
class RateLimiter;
}

namespace ec::rocks {

// A token bucket filled at `bytes_per_second`, holding at most one `refill_period_us` of bytes,
// which is also the largest request RocksDB makes at once (GetSingleBurstBytes). Flushes
// (Env::IO_HIGH and above) go first: while one waits, compactions (IO_LOW, IO_MID) wait too.
// Writes only, as NewGenericRateLimiter's default mode.
std::shared_ptr<rocksdb::RateLimiter> NewSteppedRateLimiter(int64_t bytes_per_second, int64_t refill_period_us);

}  // namespace ec::rocks
