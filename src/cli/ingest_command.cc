// `eventception ingest FILE...`: bulk-loads NDJSON and HAR files, to a running server's HTTP
// ingest (--server URL: batches, retries with back-off) or offline into a data dir (--data-dir:
// raw records the next `serve` decodes, redacts and processes). --follow tails the files
// instead (rotation-safe, positions kept under --position-dir) until SIGINT/SIGTERM.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "capture/ingest_sink.h"
#include "cli/commands.h"
#include "json/document.h"
#include "json/writer.h"
#include "log/log_manager.h"
#include "log/record_batch_builder.h"
#include "pipeline/exchange.h"
#include "server/config.h"
#include "server/file_source.h"
#include "server/ingest.h"
#include "server/pipeline_runner.h"
#include "server/topic_writer.h"

namespace ec::cli {
namespace {

struct IngestArgs {
  std::vector<std::string> files;
  std::string format = "detect";
  std::string server;
  std::string data_dir;
  std::string position_dir = ".eventception-ingest";
  size_t batch = 500;
  int attempts = 8;
  bool follow = false;
  bool quiet = false;
};

// Where records go: a server's HTTP ingest or a data dir's raw topic.
class Target {
 public:
  virtual ~Target() = default;
  virtual Status Send(std::span<const std::string> records, std::string_view format) = 0;
};

class ServerTarget : public Target {
 public:
  ServerTarget(std::string base, int attempts) : base_(std::move(base)), attempts_(attempts) {
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }
  Status Send(std::span<const std::string> records, std::string_view format) override {
    auto& sink = sinks_[std::string(format)];
    if (!sink) sink = capture::MakeIngestSink({base_ + "/v1/exchanges?format=" + std::string(format)});
    int backoff_ms = 100;
    Status s;
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      s = sink->Ship(records);
      if (s.ok() || s.code() != ErrorCode::kUnavailable) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
    }
    return s;
  }

 private:
  std::string base_;
  int attempts_;
  std::map<std::string, std::unique_ptr<capture::CaptureSink>> sinks_;
};

// Raw records with the format header: `serve` decodes and redacts them with its specs.
class DataDirTarget : public Target {
 public:
  static Result<std::unique_ptr<DataDirTarget>> Open(const std::string& dir) {
    auto t = std::unique_ptr<DataDirTarget>(new DataDirTarget());
    t->config_.data_dir = dir;
    log::LogManagerOptions lo;
    lo.data_dir = dir;
    EC_ASSIGN_OR_RETURN(t->logs_, log::LogManager::Open(lo));
    t->writer_ = std::make_unique<server::TopicWriter>(t->logs_.get(), &t->config_);
    EC_ASSIGN_OR_RETURN(t->partitions_, t->writer_->EnsureTopic(t->config_.raw_topic));
    return t;
  }
  Status Send(std::span<const std::string> records, std::string_view format) override {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    log::RecordBatchBuilder builder;
    const log::RecordHeader headers[] = {{server::kFormatHeader, format}};
    for (const std::string& r : records) builder.Add(std::nullopt, std::string_view(r), now, headers);
    EC_ASSIGN_OR_RETURN(std::string batch, builder.Build());
    int32_t p = static_cast<int32_t>(next_++ % static_cast<uint32_t>(partitions_));
    auto log = logs_->GetPartition(config_.raw_topic, p);
    if (log == nullptr) return Unavailable("raw topic partition missing");
    log::AppendResult ar = log->Append(std::move(batch), {log::Durability::kSync});
    if (!ar.ok()) return IoError("append to " + config_.raw_topic + ": " + ar.message);
    return Status::Ok();
  }

 private:
  DataDirTarget() = default;
  server::ServerConfig config_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<server::TopicWriter> writer_;
  int32_t partitions_ = 1;
  uint32_t next_ = 0;
};

// A progress bar on a terminal, plain lines otherwise.
class Progress {
 public:
  Progress(bool quiet) : tty_(isatty(2) == 1), quiet_(quiet) {}
  void Update(const std::string& file, uint64_t done, uint64_t total, uint64_t records, bool last) {
    if (quiet_) return;
    auto now = std::chrono::steady_clock::now();
    if (!last && now - shown_ < std::chrono::milliseconds(tty_ ? 100 : 2000)) return;
    shown_ = now;
    double frac = total ? double(done) / double(total) : 1.0;
    if (tty_) {
      constexpr int kWidth = 30;
      int fill = static_cast<int>(frac * kWidth);
      std::string bar(fill, '=');
      if (fill < kWidth) bar += '>' + std::string(kWidth - fill - 1, ' ');
      std::fprintf(stderr, "\r%-24.24s [%s] %3d%% %llu records", file.c_str(), bar.c_str(),
                   int(frac * 100), static_cast<unsigned long long>(records));
      if (last) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s: %d%% (%llu of %llu bytes), %llu records\n", file.c_str(), int(frac * 100),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                   static_cast<unsigned long long>(records));
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
  bool quiet_;
  std::chrono::steady_clock::time_point shown_{};
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// One file: HAR (one document, sent entry by entry) or NDJSON (one record per line).
Status LoadFile(const std::string& path, const IngestArgs& args, Target* target, Progress* progress,
                uint64_t* sent, uint64_t* bad) {
  std::string text;
  if (!ReadFile(path, &text)) return IoError("cannot read '" + path + "'; check the path");
  size_t first = text.find_first_not_of(" \t\r\n");
  bool har = args.format == "har";
  Arena arena(1 << 20);
  std::vector<std::string> batch;
  uint64_t records = 0;
  std::string format = args.format;
  auto flush = [&](uint64_t done) -> Status {
    if (!batch.empty()) {
      Status s = target->Send(batch, format);
      if (!s.ok()) return Status(s.code(), path + ": " + s.message());
      records += batch.size();
      *sent += batch.size();
      batch.clear();
    }
    progress->Update(path, done, text.size(), records, done == text.size());
    return Status::Ok();
  };
  if (!har && args.format == "detect" && first != std::string::npos) {
    // A whole-file JSON document with log.entries is a HAR file.
    size_t nl = text.find('\n', first);
    std::string_view first_line = std::string_view(text).substr(first, nl == std::string::npos ? std::string::npos : nl - first);
    // Pretty-printed (the first line alone is not JSON) or one line with a top-level "log".
    json::Value probe;
    bool one_line = json::ParseInto(first_line, &arena, &probe).ok();
    har = text[first] == '{' && text.find("\"entries\"") != std::string::npos &&
          (!one_line || (probe.is_object() && probe.Find("log") != nullptr));
  }
  if (har) {
    json::Value doc;
    json::ParseOptions po;
    po.max_depth = 128;
    Status s = json::ParseInto(text, &arena, &doc, po);
    if (!s.ok()) return Status(s.code(), path + ": " + s.message());
    const json::Value* log = doc.is_object() ? doc.Find("log") : nullptr;
    const json::Value* entries = log != nullptr && log->is_object() ? log->Find("entries") : nullptr;
    if (entries == nullptr || !entries->is_array()) {
      return InvalidArgument(path + ": not a HAR file (no log.entries array); use --format for NDJSON");
    }
    format = "har";
    // Each entry travels as a one-entry HAR document, so no record exceeds the record limit.
    for (const json::Value& e : entries->array()) {
      std::string one = "{\"log\":{\"version\":\"1.2\",\"entries\":[";
      json::AppendJson(e, &one);
      one += "]}}";
      batch.push_back(std::move(one));
      if (batch.size() >= args.batch) EC_RETURN_IF_ERROR(flush(text.size() / 2));
    }
    return flush(text.size());
  }
  size_t pos = 0, line_no = 0;
  Arena line_arena(64 << 10);
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line = std::string_view(text).substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    json::Value v;
    Status s = json::ParseInto(line, &line_arena, &v);
    if (!s.ok()) {
      std::fprintf(stderr, "%s:%zu: skipped: %s\n", path.c_str(), line_no, s.message().c_str());
      ++*bad;
      continue;
    }
    batch.emplace_back(line);
    if (batch.size() >= args.batch) {
      EC_RETURN_IF_ERROR(flush(std::min(pos, text.size())));
      line_arena = Arena(64 << 10);  // parsed lines were only checked; their memory goes
    }
  }
  return flush(text.size());
}

int RunFollow(const IngestArgs& args, Target* target) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::vector<std::unique_ptr<server::FileTailer>> tailers;
  std::mutex target_mu;  // one target, shared by the tailer threads
  for (const std::string& f : args.files) {
    server::FileTailerOptions o;
    o.path = f;
    o.position_file = server::PositionFileFor(args.position_dir, f);
    o.max_batch_lines = args.batch;
    std::string format = args.format;
    auto t = std::make_unique<server::FileTailer>(o, [target, &target_mu, format](std::span<const std::string> lines) {
      std::lock_guard<std::mutex> lock(target_mu);
      return target->Send(lines, format);
    });
    if (Status s = t->Start(); !s.ok()) {
      std::cerr << "eventception ingest: " << f << ": " << s.message() << "\n";
      return 1;
    }
    tailers.push_back(std::move(t));
  }
  std::cerr << "eventception ingest: following " << args.files.size() << " file(s); positions in "
            << args.position_dir << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  uint64_t total = 0;
  for (auto& t : tailers) {
    t->Stop();
    total += t->lines_shipped();
  }
  std::cerr << "eventception ingest: stopped; " << total << " records sent" << std::endl;
  return 0;
}

int RunIngest(const IngestArgs& args) {
  if (args.server.empty() == args.data_dir.empty()) {
    std::cerr << "eventception ingest: give exactly one of --server URL (a running serve) or --data-dir DIR\n";
    return 2;
  }
  if (Status s = server::Ingest::CheckFormat(args.format); !s.ok()) {
    std::cerr << "eventception ingest: --format: " << s.message() << "\n";
    return 2;
  }
  std::unique_ptr<Target> target;
  if (!args.server.empty()) {
    target = std::make_unique<ServerTarget>(args.server, args.attempts);
  } else {
    if (args.follow) {
      std::cerr << "eventception ingest: --follow needs --server; to tail files into a data dir, list them under files: in the serve config\n";
      return 2;
    }
    auto t = DataDirTarget::Open(args.data_dir);
    if (!t.ok()) {
      std::cerr << "eventception ingest: --data-dir " << args.data_dir << ": " << t.status().message() << "\n";
      return 1;
    }
    target = std::move(t).value();
  }
  if (args.follow) return RunFollow(args, target.get());
  Progress progress(args.quiet);
  uint64_t sent = 0, bad = 0;
  for (const std::string& f : args.files) {
    Status s = LoadFile(f, args, target.get(), &progress, &sent, &bad);
    if (!s.ok()) {
      std::cerr << "eventception ingest: " << s.message() << "\n";
      return 1;
    }
  }
  std::cerr << "eventception ingest: " << sent << " records sent from " << args.files.size() << " file(s)";
  if (bad) std::cerr << ", " << bad << " lines skipped (not JSON)";
  std::cerr << std::endl;
  return bad ? 3 : 0;
}

}  // namespace

void AddIngestCommand(CLI::App& app) {
  auto args = std::make_shared<IngestArgs>();
  auto* cmd = app.add_subcommand("ingest", "Bulk-load (or --follow) NDJSON and HAR files of exchanges");
  cmd->add_option("files", args->files, "NDJSON or HAR files")->required()->expected(1, -1);
  cmd->add_option("--format", args->format, "decoder of the records (detect, canonical, kong, har, ...)")
      ->capture_default_str();
  cmd->add_option("--server", args->server, "base URL of a running serve, e.g. http://127.0.0.1:8080");
  cmd->add_option("--data-dir", args->data_dir, "write into this data dir instead (serve must not be running on it)");
  cmd->add_option("--batch", args->batch, "records per request / append")->capture_default_str();
  cmd->add_option("--attempts", args->attempts, "tries per batch when the server is busy or down")->capture_default_str();
  cmd->add_flag("--follow", args->follow, "tail the files (rotation-safe) until SIGINT/SIGTERM");
  cmd->add_option("--position-dir", args->position_dir, "where --follow keeps file positions")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->callback([args] {
    int rc = RunIngest(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
