// The rate limiter RocksDB's flushes and compactions write through (src/rocks/rate_limiter.h).
#include "rocks/rate_limiter.h"

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/rate_limiter.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace ec::rocks {
namespace {

using std::chrono::steady_clock;

// Holds a request to no more than a period's bytes, and passes a whole rate's worth no faster than
// the rate allows (a lower bound only: a loaded machine can only make it slower).
TEST(SteppedRateLimiter, PacesWritesToItsRate) {
  auto limiter = NewSteppedRateLimiter(/*bytes_per_second=*/10 << 20, /*refill_period_us=*/5000);
  const int64_t burst = limiter->GetSingleBurstBytes();
  EXPECT_EQ(burst, (10 << 20) / 200);
  EXPECT_EQ(limiter->RequestToken(size_t{1} << 20, 0, rocksdb::Env::IO_HIGH, nullptr, rocksdb::RateLimiter::OpType::kWrite),
            static_cast<size_t>(burst));
  const auto start = steady_clock::now();
  int64_t granted = 0;
  while (granted < (2 << 20)) {
    limiter->Request(burst, rocksdb::Env::IO_LOW, nullptr, rocksdb::RateLimiter::OpType::kWrite);
    granted += burst;
  }
  // The first request above took the full bucket; 2 MiB more at 10 MiB/s is ~200 ms.
  EXPECT_GE(steady_clock::now() - start, std::chrono::milliseconds(190));
  EXPECT_EQ(limiter->GetTotalBytesThrough(), granted + burst);
  EXPECT_EQ(limiter->GetTotalBytesThrough(rocksdb::Env::IO_HIGH), burst);
  EXPECT_EQ(limiter->GetTotalRequests(rocksdb::Env::IO_LOW), granted / burst);
  // Reads are not limited (writes-only, as RocksDB's default).
  EXPECT_FALSE(limiter->IsRateLimited(rocksdb::RateLimiter::OpType::kRead));
}

// Flushes and compactions requesting at once, more of them than the bucket serves at a time: each
// request returns, also each round's last ones, with nobody behind them to wake them. (RocksDB
// 7.8's generic limiter passes this too: its hang needs a request to arrive just as the bucket
// refills while another sleeps for the refill. The hang was reproduced with the state store under
// disk load instead; docs/ingest-performance.md, "A flush that never ended".)
TEST(SteppedRateLimiter, ConcurrentRequestsAllReturn) {
  std::shared_ptr<rocksdb::RateLimiter> limiter = NewSteppedRateLimiter(/*bytes_per_second=*/5'000'000, /*refill_period_us=*/200);
  const int64_t burst = limiter->GetSingleBurstBytes();
  constexpr int kRounds = 60, kThreads = 3, kRequests = 20;
  for (int round = 0; round < kRounds; ++round) {
    // Detached, each holding the limiter: a request stuck for good must fail the test, not hang
    // it in a join.
    auto finished = std::make_shared<std::atomic<int>>(0);
    for (int t = 0; t < kThreads; ++t) {
      std::thread([limiter, finished, burst, t] {
        const auto pri = t == 0 ? rocksdb::Env::IO_HIGH : rocksdb::Env::IO_LOW;
        for (int i = 0; i < kRequests; ++i) limiter->Request(burst, pri, nullptr, rocksdb::RateLimiter::OpType::kWrite);
        finished->fetch_add(1);
      }).detach();
    }
    // ~12 ms of refills a round; 10 s is a request that will not return.
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (finished->load() < kThreads && steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(finished->load(), kThreads) << "a request never returned, round " << round;
  }
  EXPECT_EQ(limiter->GetTotalRequests(), int64_t{kRounds} * kThreads * kRequests);
}

// While a flush waits, a compaction does not take the bytes it waits for.
TEST(SteppedRateLimiter, FlushesGoBeforeCompactions) {
  // 100 bytes a period of 0.5 s: the bucket refills in 0.5 s, which leaves the two requests below
  // time to queue behind it whatever the scheduler does.
  auto limiter = NewSteppedRateLimiter(/*bytes_per_second=*/200, /*refill_period_us=*/500'000);
  ASSERT_EQ(limiter->GetSingleBurstBytes(), 100);
  limiter->Request(100, rocksdb::Env::IO_HIGH, nullptr, rocksdb::RateLimiter::OpType::kWrite);  // empties it
  std::mutex mu;
  std::vector<rocksdb::Env::IOPriority> order;
  auto request = [&](rocksdb::Env::IOPriority pri) {
    limiter->Request(100, pri, nullptr, rocksdb::RateLimiter::OpType::kWrite);
    std::lock_guard lock(mu);
    order.push_back(pri);
  };
  std::thread compaction(request, rocksdb::Env::IO_LOW);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread flush(request, rocksdb::Env::IO_HIGH);
  compaction.join();
  flush.join();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], rocksdb::Env::IO_HIGH);
  EXPECT_EQ(order[1], rocksdb::Env::IO_LOW);
}

// A new rate takes effect for requests already waiting.
TEST(SteppedRateLimiter, SetBytesPerSecondWakesWaiters) {
  // 1 byte a second, 100 a period: the second request below would wait 100 s at this rate.
  auto limiter = NewSteppedRateLimiter(/*bytes_per_second=*/1, /*refill_period_us=*/100'000'000);
  limiter->Request(100, rocksdb::Env::IO_HIGH, nullptr, rocksdb::RateLimiter::OpType::kWrite);  // empties it
  auto waiting = std::async(std::launch::async, [&] {
    limiter->Request(100, rocksdb::Env::IO_LOW, nullptr, rocksdb::RateLimiter::OpType::kWrite);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  limiter->SetBytesPerSecond(1 << 20);
  EXPECT_EQ(limiter->GetBytesPerSecond(), 1 << 20);
  EXPECT_EQ(waiting.wait_for(std::chrono::seconds(20)), std::future_status::ready);
}

}  // namespace
}  // namespace ec::rocks
