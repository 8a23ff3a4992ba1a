// LowerBackgroundThreads (server/background_priority.h): raises the nice value of the
// background threads found by name, and of no other thread.

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "server/background_priority.h"

namespace ec::server {
namespace {

// A thread with the given name that waits until released, reporting its tid.
class NamedThread {
 public:
  explicit NamedThread(const std::string& name) {
    thread_ = std::thread([this, name] {
      pthread_setname_np(pthread_self(), name.c_str());
      std::unique_lock<std::mutex> lock(mu_);
      tid_ = static_cast<pid_t>(syscall(SYS_gettid));
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return tid_ != 0; });
  }
  ~NamedThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  int Nice() const {
    errno = 0;
    return getpriority(PRIO_PROCESS, static_cast<id_t>(tid_));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  pid_t tid_ = 0;
  bool released_ = false;
  std::thread thread_;
};

TEST(BackgroundPriority, LowersOnlyTheBackgroundThreads) {
  NamedThread low("rocksdb:low"), high("rocksdb:high"), writer("ec-state-write"), ckpt("ec-log-ckpt");
  NamedThread pipeline("ec-pipeline"), sync("ec-log-sync"), http("ec-http");
  const int base = pipeline.Nice();
  ASSERT_LT(base, 19);
  const int target = base + 1;
  EXPECT_EQ(LowerBackgroundThreads(target), 4);
  EXPECT_EQ(low.Nice(), target);
  EXPECT_EQ(high.Nice(), target);
  EXPECT_EQ(writer.Nice(), target);
  EXPECT_EQ(ckpt.Nice(), target);
  EXPECT_EQ(pipeline.Nice(), base);
  EXPECT_EQ(sync.Nice(), base);
  EXPECT_EQ(http.Nice(), base);
  // Already there: nothing to change (it is called once a second), and it never raises a
  // thread's priority back.
  EXPECT_EQ(LowerBackgroundThreads(target), 0);
  EXPECT_EQ(LowerBackgroundThreads(base), 0);
  EXPECT_EQ(low.Nice(), target);
}

}  // namespace
}  // namespace ec::server
