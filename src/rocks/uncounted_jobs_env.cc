#include "rocks/uncounted_jobs_env.h"

#include <rocksdb/env.h>
#include <rocksdb/perf_level.h>

namespace ec::rocks {
namespace {

// One scheduled call, as RocksDB handed it over.
struct Job {
  void (*function)(void*);
  void* arg;
  void (*unschedule)(void*);
};

class UncountedJobsEnv final : public rocksdb::EnvWrapper {
 public:
  explicit UncountedJobsEnv(rocksdb::Env* base) : rocksdb::EnvWrapper(base) {}
  const char* Name() const override { return "ec.UncountedJobsEnv"; }

  // The job runs through Run; a job taken off the queue before it ran (UnSchedule, when a DB
  // closes: RocksDB's jobs are tagged by their DB) goes through Unschedule, which hands the
  // original argument to RocksDB's own callback. Either way the Job is freed exactly once.
  void Schedule(void (*function)(void*), void* arg, Priority pri, void* tag,
                void (*unschedule)(void*)) override {
    target()->Schedule(&Run, new Job{function, arg, unschedule}, pri, tag, &Unschedule);
  }

 private:
  static void Run(void* p) {
    Job* job = static_cast<Job*>(p);
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    job->function(job->arg);
    delete job;
  }
  static void Unschedule(void* p) {
    Job* job = static_cast<Job*>(p);
    if (job->unschedule != nullptr) job->unschedule(job->arg);
    delete job;
  }
};

}  // namespace

std::unique_ptr<rocksdb::Env> NewUncountedJobsEnv(rocksdb::Env* base) {
  return std::make_unique<UncountedJobsEnv>(base);
}

}  // namespace ec::rocks
