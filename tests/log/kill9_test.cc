// Real kill -9: a forked child appends with Durability::kSync from several threads (group
// commit through the Flusher) and reports each acknowledged batch on a pipe; the parent
// SIGKILLs it at a random moment, reopens the log and checks that every acknowledged batch is
// there, intact. Short in `make test`; EC_TEST_LONG=1 runs many kills.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <thread>

#include "log/flusher.h"
#include "log/log_manager.h"
#include "log/partition_log.h"
#include "log/record_batch_builder.h"
#include "log/test_util.h"

namespace ec::log {
namespace {

using testing::TempDir;

std::string ValueFor(int round, int thread, int seq, int i) {
  return "r" + std::to_string(round) + "t" + std::to_string(thread) + "s" + std::to_string(seq) +
         "i" + std::to_string(i) + std::string(200 + (seq * 37 + i * 11) % 700, 'x');
}

std::shared_ptr<const TopicConfig> Config() {
  return std::make_shared<const TopicConfig>(
      TopicConfig::FromMap({{"segment.bytes", "65536"}, {"index.interval.bytes", "1024"}}, {}).value());
}

[[noreturn]] void ChildMain(const std::string& dir, int round, int fd) {
  Flusher flusher(0);
  auto opened = PartitionLog::Open(Env::Default(), dir, "t", 0, Config(), &flusher);
  if (!opened.ok()) {
    std::fprintf(stderr, "child open failed: %s\n", opened.status().ToString().c_str());
    _exit(2);
  }
  auto log = std::move(opened).value();
  // Zero-filled space ahead (as the server runs): the kill lands in preallocated regions too.
  log->SetPreallocateBytes(16 * 1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int seq = 0;; ++seq) {
        BatchBuilderOptions o;
        o.compression = static_cast<Compression>((seq + t) % 5);
        RecordBatchBuilder b(o);
        int n = 1 + (seq % 5);
        for (int i = 0; i < n; ++i) b.Add("k", ValueFor(round, t, seq, i), seq);
        AppendResult r = log->Append(std::move(b.Build()).value(), {Durability::kSync});
        if (!r.ok()) _exit(3);
        char line[128];
        int len = std::snprintf(line, sizeof line, "%d %d %d %lld %lld\n", round, t, seq,
                                static_cast<long long>(r.base_offset),
                                static_cast<long long>(r.last_offset));
        if (write(fd, line, static_cast<size_t>(len)) != len) _exit(4);  // < PIPE_BUF: atomic
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

struct Acked {
  int round, thread, seq;
  int64_t base, last;
};

// Forks `child` (which writes one "round thread seq base last" line per acknowledged append to
// the fd it gets, then never returns), waits for its first acknowledgement (recovery done), lets
// it run a random while and SIGKILLs it mid-flight. Appends every complete line's append to
// `acked` and returns how many were added (an unfinished line was not acknowledged to us).
size_t RunChildAndKill(const std::function<void(int fd)>& child, std::mt19937& rng, std::vector<Acked>* acked) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    child(fds[1]);
    _exit(5);  // the child functions never return
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while (text.find('\n') == std::string::npos && (n = read(fds[0], buf, sizeof buf)) > 0)
    text.append(buf, static_cast<size_t>(n));
  std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
  EXPECT_EQ(kill(pid, SIGKILL), 0);
  // Acknowledgements written before the kill are all in the pipe.
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited on its own with status " << status;
  const size_t before = acked->size();
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;
    Acked a;
    long long base, last;
    if (std::sscanf(text.c_str() + pos, "%d %d %d %lld %lld", &a.round, &a.thread, &a.seq, &base, &last) == 5) {
      a.base = base;
      a.last = last;
      acked->push_back(a);
    }
    pos = nl + 1;
  }
  return acked->size() - before;
}

TEST(Kill9, AcknowledgedSyncedBatchesSurvive) {
  const char* l = std::getenv("EC_TEST_LONG");
  const int kills = l && std::string(l) == "1" ? 60 : 4;
  TempDir tmp;
  const std::string dir = tmp.path() + "/t-0";
  std::vector<Acked> acked;
  std::mt19937 rng(12345);
  for (int round = 0; round < kills; ++round) {
    const size_t added = RunChildAndKill([&](int fd) { ChildMain(dir, round, fd); }, rng, &acked);
    ASSERT_FALSE(HasFailure());
    EXPECT_GT(added, 0u) << "round " << round << ": child acknowledged nothing";

    // Reopen (recovery) and check every acknowledged batch, from every round so far.
    auto opened = PartitionLog::Open(Env::Default(), dir, "t", 0, Config(), nullptr);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto log = std::move(opened).value();
    std::map<int64_t, std::string> values;
    int64_t offset = 0;
    while (offset < log->log_end_offset()) {
      ReadResult rr = log->Read(offset, 1 << 20);
      ASSERT_EQ(rr.error, LogError::kNone) << rr.message;
      std::string bytes;
      ASSERT_TRUE(rr.CopyTo(&bytes).ok());
      Status s = ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
        EC_ASSIGN_OR_RETURN(RecordSet set, b.Records());
        for (const Record& r : set.records()) values[r.offset] = std::string(*r.value);
        offset = b.last_offset() + 1;
        return Status::Ok();
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    for (const Acked& a : acked) {
      for (int64_t off = a.base; off <= a.last; ++off) {
        auto it = values.find(off);
        ASSERT_NE(it, values.end()) << "acknowledged offset " << off << " (round " << a.round
                                    << ") lost after kill " << round;
        ASSERT_EQ(it->second, ValueFor(a.round, a.thread, a.seq, static_cast<int>(off - a.base)))
            << "offset " << off;
      }
    }
    std::printf("kill %d: %zu acknowledged batches so far, log end %lld\n", round, acked.size(),
                static_cast<long long>(log->log_end_offset()));
  }
}

// The same with the commit journal (LogManager, log.journal): four threads append durably to
// four partitions of one topic, checkpoints run every few KiB, and the reopen replays the journal
// over partitions a kill left at any point (nothing written is lost by a kill, so every entry is
// "already there" or at the end). Every acknowledged batch must be there, and the replay must not
// mistake anything for corruption.
LogManagerOptions JournalOptions(const std::string& dir) {
  LogManagerOptions o;
  o.data_dir = dir;
  o.maintenance_interval_ms = 0;
  o.journal = true;
  o.journal_checkpoint_bytes = 48 * 1024;
  o.preallocate_bytes = 64 * 1024;
  return o;
}

[[noreturn]] void JournalChildMain(const std::string& dir, int round, int fd) {
  auto opened = LogManager::Open(JournalOptions(dir));
  if (!opened.ok()) {
    std::fprintf(stderr, "child open failed: %s\n", opened.status().ToString().c_str());
    _exit(2);
  }
  auto m = std::move(opened).value();
  if (m->DescribeTopic("t") == std::nullopt && !m->CreateTopic("t", 4, {{"segment.bytes", "65536"}}).ok()) _exit(5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto log = m->GetPartition("t", t);
      for (int seq = 0;; ++seq) {
        RecordBatchBuilder b;
        int n = 1 + (seq % 5);
        for (int i = 0; i < n; ++i) b.Add("k", ValueFor(round, t, seq, i), seq);
        // Every third append durable; the others are covered by the next journal sync.
        const bool sync = seq % 3 == 0;
        AppendResult r = log->Append(std::move(b.Build()).value(), {sync ? Durability::kSync : Durability::kWritten});
        if (!r.ok()) _exit(3);
        char line[128];
        int len = std::snprintf(line, sizeof line, "%d %d %d %lld %lld\n", round, t, seq,
                                static_cast<long long>(r.base_offset), static_cast<long long>(r.last_offset));
        if (write(fd, line, static_cast<size_t>(len)) != len) _exit(4);  // < PIPE_BUF: atomic
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

TEST(Kill9, JournaledAppendsSurvive) {
  const char* l = std::getenv("EC_TEST_LONG");
  const int kills = l && std::string(l) == "1" ? 40 : 3;
  TempDir tmp;
  const std::string dir = tmp.path() + "/data";
  std::vector<Acked> acked;
  std::mt19937 rng(777);
  for (int round = 0; round < kills; ++round) {
    const size_t added = RunChildAndKill([&](int fd) { JournalChildMain(dir, round, fd); }, rng, &acked);
    ASSERT_FALSE(HasFailure());
    EXPECT_GT(added, 0u) << "round " << round << ": child acknowledged nothing";
    auto opened = LogManager::Open(JournalOptions(dir));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto m = std::move(opened).value();
    for (int t = 0; t < 4; ++t) {
      auto values = testing::ReadValues(*m->GetPartition("t", t));
      for (const Acked& a : acked) {
        if (a.thread != t) continue;
        for (int64_t off = a.base; off <= a.last; ++off) {
          auto it = values.find(off);
          ASSERT_NE(it, values.end()) << "acknowledged offset " << off << " of t-" << t << " (round " << a.round
                                      << ") lost after kill " << round;
          ASSERT_EQ(it->second, ValueFor(a.round, a.thread, a.seq, static_cast<int>(off - a.base))) << "offset " << off;
        }
      }
    }
    std::printf("journal kill %d: %zu acknowledged batches so far\n", round, acked.size());
  }
}

}  // namespace
}  // namespace ec::log
