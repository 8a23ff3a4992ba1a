#include "server/replay_job.h"

#include <condition_variable>

#include "base/clock.h"
#include "json/writer.h"
#include "server/http/router.h"
#include "server/pipeline_runner.h"
#include "server/spec_registry.h"
#include "spec/spec.h"

namespace ec::server {
namespace {

constexpr size_t kKeepJobs = 16;

// Holds the pipeline's state writes: OnMatched waits while the gate is closed, then runs the
// real stage. Swapped in between two passes, it stops the next pass before its first state
// read, so nothing the pass does is lost or seen half.
class GateStage final : public pipeline::ExchangeStage {
 public:
  explicit GateStage(pipeline::ExchangeStage* inner) : inner_(inner) {}
  void OnMatched(const pipeline::MatchedExchange& m, Arena* arena, std::vector<pipeline::OutputRecord>* out) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return open_; });
    }
    inner_->OnMatched(m, arena, out);
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  pipeline::ExchangeStage* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

void AppendBound(std::string_view name, const ReplayBound& b, std::string* out) {
  if (!b.set()) return;
  *out += ",\"";
  *out += name;
  *out += "\":";
  if (b.offset) {
    *out += std::to_string(*b.offset);
  } else {
    json::AppendQuoted(pipeline::FormatRfc3339Ms(*b.time_ms), out);
  }
}

HttpResponse ErrorResponse(const Status& s) {
  int status = s.code() == ErrorCode::kUnavailable ? 409 : InfoOf(s.code()).http_status;
  return HttpResponse::Error(status, InfoOf(s.code()).name, s.message());
}

}  // namespace

struct ReplayJobs::Job {
  std::string id;
  ReplayRequest request;
  ReplayProgress progress;
  std::string state = "running";  // running, done, failed, cancelled; under mu_
  std::string error;              // under mu_
  int64_t started_ms = 0;
  int64_t finished_ms = 0;        // under mu_
};

ReplayJobs::ReplayJobs(ReplayContext context) : context_(std::move(context)) {}

ReplayJobs::~ReplayJobs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& j : jobs_) j->progress.cancel = true;
  }
  if (thread_.joinable()) thread_.join();
}

Result<std::string> ReplayJobs::Start(const ReplayRequest& request) {
  EC_RETURN_IF_ERROR(ValidateReplayRequest(request, *context_.specs->current()));
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : jobs_) {
    if (j->state == "running") {
      return Status(ErrorCode::kUnavailable, "replay " + j->id + " is running; GET /v1/replay/" + j->id +
                                                 " says when it is done");
    }
  }
  if (thread_.joinable()) thread_.join();  // the previous job has finished
  auto job = std::make_unique<Job>();
  job->id = "r" + std::to_string(WallClockMs()) + "-" + std::to_string(next_id_++);
  job->request = request;
  job->started_ms = WallClockMs();
  Job* raw = job.get();
  jobs_.push_back(std::move(job));
  while (jobs_.size() > kKeepJobs) jobs_.pop_front();
  thread_ = std::thread([this, raw] { Run(raw); });
  return raw->id;
}

void ReplayJobs::Run(Job* job) {
  ReplayEnv env;
  env.logs = context_.logs;
  env.writer = context_.writer;
  env.processor = context_.processor;
  env.raw_topic = context_.raw_topic;
  env.store = context_.store;
  Status s;
  {
    std::unique_lock<std::mutex> reloads = context_.specs->LockReloads();
    env.specs = context_.specs->current();
    if (job->request.resource.empty()) {
      // Up to where the running spec took effect: after that the live pipeline ran it.
      env.default_end = context_.specs->last_switch();
      if (env.default_end.empty()) env.default_end = CommittedPositions(context_.logs, context_.raw_topic);
      s = RunReplay(job->request, env, &job->progress);
    } else {
      // Pause state writes between two passes, rebuild up to the committed position, resume.
      std::vector<std::unique_ptr<GateStage>> gates;
      pipeline::Processor gated(env.specs, context_.processor);
      for (pipeline::ExchangeStage* stage : context_.specs->hooks().stages) {
        gates.push_back(std::make_unique<GateStage>(stage));
        gated.AddStage(gates.back().get());
      }
      const pipeline::Processor* live = context_.runner->SwapProcessor(&gated);
      env.default_end = CommittedPositions(context_.logs, context_.raw_topic);
      s = RunReplay(job->request, env, &job->progress);
      for (auto& g : gates) g->Open();
      context_.runner->SwapProcessor(live);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  job->state = s.ok() ? "done" : (job->progress.cancel.load() ? "cancelled" : "failed");
  if (!s.ok()) job->error = s.message();
  job->finished_ms = WallClockMs();
}

std::optional<std::string> ReplayJobs::StatusJson(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& j : jobs_) {
    if (j->id != id) continue;
    std::string out = "{\"id\":";
    json::AppendQuoted(j->id, &out);
    out += ",\"state\":";
    json::AppendQuoted(j->state, &out);
    out += ",\"request\":{\"snapshot\":";
    out += j->request.snapshot ? "true" : "false";
    AppendBound("from", j->request.from, &out);
    AppendBound("to", j->request.to, &out);
    for (auto [k, v] : {std::pair<const char*, const std::string*>{"event", &j->request.event_type},
                        {"resource", &j->request.resource},
                        {"into", &j->request.into}}) {
      if (v->empty()) continue;
      out += ",\"";
      out += k;
      out += "\":";
      json::AppendQuoted(*v, &out);
    }
    out += "},\"raw_records\":" + std::to_string(j->progress.raw_records.load());
    out += ",\"exchanges\":" + std::to_string(j->progress.exchanges.load());
    out += ",\"written\":" + std::to_string(j->progress.written.load());
    out += ",\"skipped\":" + std::to_string(j->progress.skipped.load());
    out += ",\"dead_letters\":" + std::to_string(j->progress.dead_letters.load());
    out += ",\"started\":";
    json::AppendQuoted(pipeline::FormatRfc3339Ms(j->started_ms), &out);
    if (j->finished_ms != 0) {
      out += ",\"finished\":";
      json::AppendQuoted(pipeline::FormatRfc3339Ms(j->finished_ms), &out);
    }
    if (!j->error.empty()) {
      out += ",\"error\":";
      json::AppendQuoted(j->error, &out);
    }
    out += "}";
    return out;
  }
  return std::nullopt;
}

void ReplayJobs::AddRoutes(Router* router) {
  router->Add("POST", "/v1/replay", [this](HttpRequest& r) {
    Result<ReplayRequest> req = ParseReplayJson(r.body);
    if (!req.ok()) return ErrorResponse(req.status());
    Result<std::string> id = Start(*req);
    if (!id.ok()) return ErrorResponse(id.status());
    std::string body = "{\"id\":";
    json::AppendQuoted(*id, &body);
    body += ",\"status_url\":";
    json::AppendQuoted("/v1/replay/" + *id, &body);
    body += "}";
    HttpResponse resp = HttpResponse::Json(202, body);
    resp.headers.emplace_back("Location", "/v1/replay/" + *id);
    return resp;
  });
  router->Add("GET", "/v1/replay/{id}", [this](HttpRequest& r) {
    std::optional<std::string> s = StatusJson(std::string(r.Param("id")));
    if (!s) return HttpResponse::Error(404, "not_found", "no replay job \"" + std::string(r.Param("id")) + "\" (the last 16 are kept)");
    return HttpResponse::Json(200, *s);
  });
}

}  // namespace ec::server
